"""Publish positions to Kafka: keyed by icao24, Kafka timestamp = position time.

:class:`PositionPublisher` wraps an injected, started ``AIOKafkaProducer``. :func:`replay`
streams a recording into the positions topic, either paced by event time (``speed`` times
real time) or as fast as the producer goes (``speed=None``), and returns counters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streams.codec import encode_watermark
from streams.models import PositionReport
from streams.replay import BadLine

__all__ = ["PositionPublisher", "ReplayStats", "replay"]

log = logging.getLogger(__name__)

#: Sends in flight before waiting for their acknowledgements: enough to fill aiokafka's
#: batches, bounded so memory stays flat on a recording of any size.
_MAX_IN_FLIGHT = 5000


class PositionPublisher:
    """Sends raw position lines keyed by icao24 with the position time as Kafka timestamp."""

    def __init__(self, producer: Any, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def publish_watermark(self, ts: float) -> int:
        """Send a watermark (all positions up to ``ts`` are sent) to every partition.

        Returns how many messages that took (the topic's partition count).
        """
        partitions = sorted(await self._producer.partitions_for(self._topic))
        value = encode_watermark(ts)
        futures = [
            await self._producer.send(
                self._topic, value=value, partition=p, timestamp_ms=int(ts * 1000)
            )
            for p in partitions
        ]
        await asyncio.gather(*futures)
        return len(partitions)

    async def publish(self, report: PositionReport, raw: bytes) -> Awaitable[Any]:
        """Queue one position; returns the future of its acknowledgement."""
        return await self._producer.send(
            self._topic,
            value=raw,
            key=report.icao24.encode(),
            timestamp_ms=int(report.ts * 1000),
        )


@dataclass(slots=True)
class ReplayStats:
    """What a replay did."""

    sent: int = 0
    bad_lines: int = 0
    #: Watermark messages sent (one per partition each time).
    watermarks: int = 0
    first_ts: float | None = None
    last_ts: float | None = None


async def replay(
    items: Iterable[tuple[PositionReport | BadLine, bytes]],
    publisher: PositionPublisher,
    *,
    speed: float | None = None,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    watermark_every_s: float = 1.0,
) -> ReplayStats:
    """Publish ``(report, raw line)`` pairs in order.

    ``speed=None`` sends as fast as possible; ``speed=X`` keeps event time X times faster
    than wall time (``clock``, default the loop's monotonic clock). Bad lines are counted and
    skipped (the caller reports them); they are never sent. Every ``watermark_every_s`` of
    wall time, and once at the end, a watermark with the last position time sent goes to every
    partition, so idle partitions move their timers on and the stream's end is marked.
    """
    loop = asyncio.get_running_loop()
    clock = clock or loop.time
    stats = ReplayStats()
    pending: list[Awaitable[Any]] = []
    start_wall = clock()
    last_watermark_wall = start_wall
    for item, raw in items:
        if isinstance(item, BadLine):
            stats.bad_lines += 1
            log.warning("skipping line %d: %s (%s)", item.line_no, item.reason, item.detail)
            continue
        if stats.first_ts is None:
            stats.first_ts = item.ts
        if speed is not None:
            due = start_wall + (item.ts - stats.first_ts) / speed
            delay = due - clock()
            if delay > 0:
                await sleep(delay)
        pending.append(await publisher.publish(item, raw))
        stats.sent += 1
        stats.last_ts = item.ts
        if len(pending) >= _MAX_IN_FLIGHT:
            await asyncio.gather(*pending)
            pending.clear()
        if clock() - last_watermark_wall >= watermark_every_s:
            await asyncio.gather(*pending)  # positions first, then the promise about them
            pending.clear()
            stats.watermarks += await publisher.publish_watermark(item.ts)
            last_watermark_wall = clock()
    if pending:
        await asyncio.gather(*pending)
    if stats.last_ts is not None:
        stats.watermarks += await publisher.publish_watermark(stats.last_ts)
    return stats
