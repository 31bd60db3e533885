"""Publish positions to Kafka: keyed by icao24, Kafka timestamp = publish time.

The record timestamp is left to the producer (the wall clock when it is sent), never the
position's own time, which travels in the payload. Brokers delete by record timestamp
(``retention.ms`` against CreateTime): a replayed recording from 2023 stamped with its event
time would be deleted at the broker's next retention check, minutes after it was written,
under a consumer still reading it (the consumer's offset is then out of range and resets past
the lost positions).

:class:`PositionPublisher` wraps an injected, started ``AIOKafkaProducer``. :func:`replay`
streams a recording into the positions topic, either paced by event time (``speed`` times
real time) or as fast as the producer goes (``speed=None``), and returns counters.

With ``batch_max_positions > 1`` (what ``skyfence replay`` uses) positions go out in
batches (see :mod:`streams.codec`): one message per
partition holds up to ``BATCH_MAX_POSITIONS`` raw positions of aircraft that partition owns
(Kafka's default murmur2 partitioner, computed here), so the worker pays Faust's per-message
cost once per batch. A batch is sent when full, before a paced replay sleeps (so live
positions never wait for a batch to fill), before each watermark and at the end. A batch of
one goes out as a plain keyed v1 message. The default, ``batch_max_positions=1``, sends
every position alone, keyed by icao24: the form any third-party producer uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from streams.codec import (
    BATCH_MAX_BYTES,
    encode_batch,
    encode_watermark,
    partition_of,
)
from streams.models import BadLine, PositionReport

__all__ = ["PositionPublisher", "ReplayStats", "replay"]

log = logging.getLogger(__name__)

#: Sends in flight before waiting for their acknowledgements: enough to fill aiokafka's
#: batches, bounded so memory stays flat on a recording of any size.
_MAX_IN_FLIGHT = 5000
#: Batch messages in flight (each up to ``BATCH_MAX_BYTES``): enough to keep every
#: partition's produce requests pipelined.
_MAX_BATCHES_IN_FLIGHT = 10


class PositionPublisher:
    """Sends raw position lines (record timestamp: publish time, see the module docstring):
    alone (keyed by icao24, :meth:`publish`) or in per-partition batches (:meth:`add` and
    :meth:`flush`)."""

    def __init__(
        self,
        producer: Any,
        topic: str,
        *,
        batch_max_positions: int = 1,
        batch_max_bytes: int = BATCH_MAX_BYTES,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self.batch_max_positions = max(1, batch_max_positions)
        self._batch_max_bytes = batch_max_bytes
        self._partition_count = 0
        self._owners: dict[str, int] = {}
        #: Per partition: raw positions waiting, their bytes, first report.
        self._buffers: dict[int, list[bytes]] = {}
        self._buffer_bytes: dict[int, int] = {}
        self._buffer_first: dict[int, PositionReport] = {}
        #: Messages sent (a batch counts once).
        self.messages = 0

    @property
    def batched(self) -> bool:
        """Whether :func:`replay` should use :meth:`add`/:meth:`flush`."""
        return self.batch_max_positions > 1

    async def publish_watermark(self, ts: float) -> int:
        """Send a watermark (all positions up to ``ts`` are sent) to every partition.

        Returns how many messages that took (the topic's partition count).
        """
        partitions = sorted(await self._producer.partitions_for(self._topic))
        value = encode_watermark(ts)
        futures = [
            await self._producer.send(self._topic, value=value, partition=p) for p in partitions
        ]
        await asyncio.gather(*futures)
        self.messages += len(partitions)
        return len(partitions)

    async def publish(self, report: PositionReport, raw: bytes) -> Awaitable[Any]:
        """Queue one position alone (recording format v1, keyed by icao24); returns the
        future of its acknowledgement."""
        self.messages += 1
        return await self._producer.send(self._topic, value=raw, key=report.icao24.encode())

    async def add(self, report: PositionReport, raw: bytes) -> Awaitable[Any] | None:
        """Put one position in its partition's batch; returns the future of the batch's
        acknowledgement when that filled it up (and it was sent), else ``None``."""
        icao24 = report.icao24
        partition = self._owners.get(icao24)
        if partition is None:
            if not self._partition_count:
                self._partition_count = len(await self._producer.partitions_for(self._topic))
            partition = self._owners[icao24] = partition_of(icao24, self._partition_count)
        buffer = self._buffers.get(partition)
        if buffer is None:
            buffer = self._buffers[partition] = []
            self._buffer_bytes[partition] = 0
            self._buffer_first[partition] = report
        buffer.append(raw)
        self._buffer_bytes[partition] += len(raw) + 1
        if (
            len(buffer) >= self.batch_max_positions
            or self._buffer_bytes[partition] >= self._batch_max_bytes
        ):
            return await self._send_buffer(partition)
        return None

    async def flush(self) -> list[Awaitable[Any]]:
        """Send every partition's pending batch; returns their acknowledgement futures."""
        return [await self._send_buffer(p) for p in list(self._buffers)]

    async def _send_buffer(self, partition: int) -> Awaitable[Any]:
        raws = self._buffers.pop(partition)
        del self._buffer_bytes[partition]
        first = self._buffer_first.pop(partition)
        if len(raws) == 1:
            return await self.publish(first, raws[0])
        self.messages += 1
        return await self._producer.send(self._topic, value=encode_batch(raws), partition=partition)


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
    on_progress: Callable[[ReplayStats], None] | None = None,
) -> ReplayStats:
    """Publish ``(report, raw line)`` pairs in order.

    ``speed=None`` sends as fast as possible; ``speed=X`` keeps event time X times faster
    than wall time (``clock``, default the loop's monotonic clock). Bad lines are counted and
    skipped (the caller reports them); they are never sent. Every ``watermark_every_s`` of
    wall time, and once at the end, a watermark with the last position time sent goes to every
    partition, so idle partitions move their timers on and the stream's end is marked.
    ``on_progress(stats)`` is called after each of those watermarks and at the end.
    """
    loop = asyncio.get_running_loop()
    clock = clock or loop.time
    stats = ReplayStats()
    pending: list[Awaitable[Any]] = []
    batched = publisher.batched
    # Batches are acknowledged in fewer, larger futures: bound the batches in flight.
    max_in_flight = _MAX_BATCHES_IN_FLIGHT if batched else _MAX_IN_FLIGHT
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
                if batched:  # live positions never wait for a batch to fill
                    pending.extend(await publisher.flush())
                await sleep(delay)
        if batched:
            sent = await publisher.add(item, raw)
            if sent is not None:
                pending.append(sent)
        else:
            pending.append(await publisher.publish(item, raw))
        stats.sent += 1
        stats.last_ts = item.ts
        if len(pending) >= max_in_flight:
            await asyncio.gather(*pending)
            pending.clear()
        if clock() - last_watermark_wall >= watermark_every_s:
            if batched:
                pending.extend(await publisher.flush())
            await asyncio.gather(*pending)  # positions first, then the promise about them
            pending.clear()
            stats.watermarks += await publisher.publish_watermark(item.ts)
            last_watermark_wall = clock()
            if on_progress is not None:
                on_progress(stats)
    if batched:
        pending.extend(await publisher.flush())
    if pending:
        await asyncio.gather(*pending)
    if stats.last_ts is not None:
        stats.watermarks += await publisher.publish_watermark(stats.last_ts)
    if on_progress is not None:
        on_progress(stats)
    return stats
