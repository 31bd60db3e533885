"""Live TCP feeds: SBS text (``sbs://host:30003``) and Beast binary (``beast://host:30005``).

:class:`TcpSource` connects, reads chunks, hands them to a pure framer
(:class:`~streams.sources.sbs.SbsFramer` or :class:`~streams.sources.beast.BeastFramer`)
with the receive time, validates what comes out against the clock, and yields it. It never
gives up: a refused connection, a reset, a server that closes (mid-line or not) or that
sends nothing for ``idle_timeout_s`` make it reconnect after a :class:`~streams.sources.live.Backoff`
wait, counted as a reconnect. :meth:`TcpSource.aclose` stops it.

Out of scope: TLS, and sending anything to the receiver (Beast receivers accept settings
commands; skyfence only listens).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from streams.models import BadLine, PositionReport
from streams.sources.beast import BeastFramer
from streams.sources.live import (
    Backoff,
    Clock,
    LiveOptions,
    LiveShell,
    Sleep,
    SourceStats,
    check_items,
    default_sleep,
    wall_clock,
)
from streams.sources.mode_s import ModeSDecoder
from streams.sources.sbs import SbsFramer

__all__ = ["Framer", "TcpSource", "beast_source", "sbs_source"]

log = logging.getLogger(__name__)

#: Bytes per read: a busy receiver's SBS feed is ~100 kB/s.
_READ_BYTES = 65_536


class Framer(Protocol):
    """The pure half of a TCP source (see :class:`~streams.sources.sbs.SbsFramer`)."""

    def feed(self, chunk: bytes, recv_ts: float) -> tuple[list[PositionReport | BadLine], int]:
        """Items of the complete records in the stream so far, and how many records."""
        ...

    def reset(self) -> list[PositionReport | BadLine]:
        """The connection ended: what is left of a partial record, as rejections."""
        ...


class TcpSource(LiveShell):
    """A reconnecting TCP reader of one feed (module docstring). ``name`` is the URL."""

    def __init__(
        self,
        name: str,
        host: str,
        port: int,
        framer: Framer,
        *,
        options: LiveOptions | None = None,
        stats: SourceStats | None = None,
        clock: Clock = wall_clock,
        sleep: Sleep = default_sleep,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            name, options=options, stats=stats, clock=clock, sleep=sleep, backoff=backoff
        )
        self.host = host
        self.port = port
        self.framer = framer
        self._writer: asyncio.StreamWriter | None = None
        #: Connections made (the first one included).
        self.connections = 0

    async def __aiter__(self) -> AsyncIterator[PositionReport | BadLine]:
        opts = self.options
        while not self._closed:
            try:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(self.host, self.port), opts.timeout_s
                )
            except (OSError, TimeoutError) as exc:
                if self._closed:
                    return
                await self._retry(f"connect failed: {exc.__class__.__name__}")
                continue
            self._writer = writer
            self.connections += 1
            log.info("%s: connected", self.name)
            got_data = False
            try:
                while not self._closed:
                    try:
                        chunk = await asyncio.wait_for(
                            reader.read(_READ_BYTES), opts.idle_timeout_s
                        )
                    except TimeoutError:
                        log.warning(
                            "%s: nothing received for %.0f s", self.name, opts.idle_timeout_s
                        )
                        break
                    if not chunk:
                        break
                    if not got_data:
                        got_data = True
                        self._backoff.reset()
                    now = self._clock()
                    self.progressed()
                    self.stats.received(len(chunk))
                    items, records = self.framer.feed(chunk, now)
                    self.stats.messages(records)
                    for item in check_items(items, now, self.stats, max_age_s=opts.max_age_s):
                        yield item
            except OSError as exc:
                log.warning("%s: connection lost: %s", self.name, exc.__class__.__name__)
            finally:
                self._writer = None
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            for item in check_items(
                self.framer.reset(), self._clock(), self.stats, max_age_s=opts.max_age_s
            ):
                yield item
            if self._closed:
                return
            await self._retry("disconnected")

    async def _retry(self, why: str) -> None:
        self.stats.reconnected()
        delay = self._backoff.next_delay()
        log.warning("%s: %s; reconnecting in %.1f s", self.name, why, delay)
        await self._sleep(delay)

    async def aclose(self) -> None:
        """Stop: the iteration ends at the next read."""
        self._closed = True
        if self._writer is not None:
            self._writer.close()


def sbs_source(name: str, host: str, port: int, **kwargs: object) -> TcpSource:
    """An SBS feed (``sbs://host:port``, usually port 30003)."""
    return TcpSource(name, host, port, SbsFramer(source="sbs"), **kwargs)  # type: ignore[arg-type]


def beast_source(name: str, host: str, port: int, **kwargs: object) -> TcpSource:
    """A Beast feed (``beast://host:port``, usually port 30005)."""
    options = kwargs.get("options")
    reference = options.reference if isinstance(options, LiveOptions) else None
    framer = BeastFramer(decoder=ModeSDecoder(reference=reference))
    return TcpSource(name, host, port, framer, **kwargs)  # type: ignore[arg-type]
