"""What every live source shares: reconnect backoff, per-source counters, freshness checks.

The live sources themselves are small shells around pure parsers:

- :class:`streams.sources.tcp.TcpSource`: SBS text (port 30003) and Beast binary (30005)
  over TCP, reconnecting with :class:`Backoff`;
- :class:`streams.sources.http.PollSource`: readsb ``aircraft.json`` (HTTP or a watched
  file), ADSBx v2 REST APIs and OpenSky ``/states/all``, rate-limited, backing off on 429
  and 5xx, with OAuth2 client credentials for OpenSky.

Each counts what it does in a :class:`SourceStats` (plain counters by default;
``skyfence ingest`` injects one backed by Prometheus): reconnects, bytes, messages (lines,
frames, snapshot entries), positions, and rejections by reason. Each validates its positions
against the wall clock (:func:`streams.sources.normalize.validate_live`: future and stale
times, implausible values), the one place a source reads the clock, which it is given.

Time: ``clock`` returns epoch seconds (wall time: positions are dated with it) and ``sleep``
waits; both are injected so tests drive them.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from streams.models import BadLine, PositionReport
from streams.sources.normalize import DEFAULT_MAX_AGE_S, validate_live

__all__ = [
    "Backoff",
    "Clock",
    "CountingStats",
    "LiveOptions",
    "LiveShell",
    "Sleep",
    "SourceStats",
    "check_items",
]

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with jitter: attempt n waits uniform(cap/2, cap), cap =
    min(max_s, base_s * 2^n).

    The jitter ("equal jitter", AWS architecture blog, "Exponential Backoff And Jitter")
    spreads clients reconnecting to one receiver after its restart, while the lower half
    keeps a dead peer from being hammered. :meth:`reset` after a success.
    """

    base_s: float = 0.5
    max_s: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def next_delay(self) -> float:
        """The wait before the next attempt (and count this attempt)."""
        cap = min(self.max_s, self.base_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self.rng.uniform(cap / 2, cap) if cap > 0 else 0.0

    def reset(self) -> None:
        """The last attempt succeeded: start again from ``base_s``."""
        self.attempt = 0


class SourceStats(Protocol):
    """Where a live source counts what it does (labels: the source's name only)."""

    def reconnected(self) -> None:
        """A connection or request failed and the source will try again."""

    def received(self, n_bytes: int) -> None:
        """Bytes read from the feed."""

    def messages(self, n: int) -> None:
        """Records read: SBS lines, Beast frames, snapshot entries."""

    def position(self, n: int = 1) -> None:
        """``n`` positions passed every check (counted per chunk, not per position)."""

    def rejected(self, reason: str) -> None:
        """A record was set aside, with its bounded reason."""


@dataclass
class CountingStats:
    """A :class:`SourceStats` with plain counters (the default, and tests' fake)."""

    reconnects: int = 0
    bytes: int = 0
    message_count: int = 0
    positions: int = 0
    rejections: Counter[str] = field(default_factory=Counter)

    def reconnected(self) -> None:
        self.reconnects += 1

    def received(self, n_bytes: int) -> None:
        self.bytes += n_bytes

    def messages(self, n: int) -> None:
        self.message_count += n

    def position(self, n: int = 1) -> None:
        self.positions += n

    def rejected(self, reason: str) -> None:
        self.rejections[reason] += 1


@dataclass(frozen=True, slots=True)
class LiveOptions:
    """Options every live source takes (from the command line or a test)."""

    #: Positions older than this (s, against the wall clock) are rejected (``stale_ts``);
    #: 0 turns the check off.
    max_age_s: float = DEFAULT_MAX_AGE_S
    #: Seconds to wait for a TCP connection or an HTTP answer.
    timeout_s: float = 10.0
    #: A TCP feed silent this long is taken for dead and reconnected: a receiver sends
    #: several messages a second whenever one aircraft is in range.
    idle_timeout_s: float = 120.0
    #: First and longest reconnect waits (s).
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    #: The receiver's (lat, lon), for Mode S sources (``beast://``): places an aircraft's
    #: first messages before an even/odd pair arrives (``--ref-lat/--ref-lon``).
    reference: tuple[float, float] | None = None


def check_items(
    items: list[PositionReport | BadLine],
    now_s: float,
    stats: SourceStats,
    *,
    max_age_s: float | None,
    keep: Callable[[PositionReport], bool] | None = None,
) -> list[PositionReport | BadLine]:
    """Validate parsed items against ``now_s``, count them, and drop repeats (``keep``).

    ``keep`` (e.g. :meth:`SnapshotFilter.is_new`) returns False for a position already
    emitted; such a position is neither counted nor returned.
    """
    out: list[PositionReport | BadLine] = []
    positions = 0
    for item in items:
        checked = validate_live(item, now_s, max_age_s=max_age_s)
        if isinstance(checked, BadLine):
            stats.rejected(checked.reason)
        elif keep is not None and not keep(checked):
            continue
        else:
            positions += 1
        out.append(checked)
    if positions:
        stats.position(positions)  # one metric update per chunk: this is the hot path
    return out


def wall_clock() -> float:
    """Epoch seconds (the default ``clock`` of live sources)."""
    return time.time()


async def default_sleep(delay_s: float) -> None:
    """``asyncio.sleep`` (the default ``sleep`` of live sources)."""
    await asyncio.sleep(delay_s)


class LiveShell:
    """What every live source's I/O shell holds: its name, options, counters, injected clock
    and sleep, and its reconnect/retry backoff (TCP readers and HTTP pollers share it)."""

    def __init__(
        self,
        name: str,
        *,
        options: LiveOptions | None = None,
        stats: SourceStats | None = None,
        clock: Clock = wall_clock,
        sleep: Sleep = default_sleep,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.options = options or LiveOptions()
        self.stats: SourceStats = stats if stats is not None else CountingStats()
        self._clock = clock
        self._sleep = sleep
        self._backoff = backoff or Backoff(self.options.backoff_base_s, self.options.backoff_max_s)
        self._closed = False
        self._created_s = clock()
        #: Clock time of the last successful read or poll (``None``: none yet).
        self.last_progress_s: float | None = None

    def progressed(self) -> None:
        """A read or poll succeeded (the liveness probe's notion of progress)."""
        self.last_progress_s = self._clock()

    def progress_age_s(self) -> float:
        """Seconds since the last successful read or poll (or since the source was made)."""
        since = self.last_progress_s if self.last_progress_s is not None else self._created_s
        return max(0.0, self._clock() - since)

    @property
    def reconnecting(self) -> bool:
        """True while the last connection or request failed and a retry is pending."""
        return self._backoff.attempt > 0
