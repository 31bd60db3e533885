"""``skyfence ingest``: live sources into the positions topic, nothing lost, nothing doubled.

::

    source tasks (TcpSource, PollSource...)          sender task
      item ─► rejection? ─► dead-letter record ─┐
           └► duplicate (other source)? drop     ├─► IngestBuffer (bounded) ─► aiokafka producer
           └► position record (key icao24) ──────┘      (idempotent, acks=all, compressed)

- **Producer.** aiokafka with ``enable_idempotence`` (so its own retries never write a
  batch twice), ``acks=all``, zstd compression and linger. Positions go out as ``replay``
  sends them: in batch messages, one per partition and round of the sender, holding the
  positions of the aircraft that partition owns under Kafka's default (murmur2) partitioner
  of the ``icao24`` key (the batch form of recording format v1); a lone position goes out
  as a plain message keyed by ``icao24``. Under load a round carries thousands of
  positions; when quiet, each position leaves at once (no wait to fill a batch).
  ``batch=False`` (``--no-batch``) sends every position alone, keyed.
  ``idempotence="auto"`` falls back to a plain producer, with a warning, on a broker that
  refuses InitProducerId (Tansu).
- **Bounded buffer.** Every record waits in :class:`IngestBuffer` until the broker has
  acknowledged it; records handed to aiokafka count against the bound too. When the broker is
  unreachable the buffer fills; beyond ``buffer_max`` records new ones are dropped, counted
  (``skyfence_ingest_buffer_overflow_total``) and logged, never silently. aiokafka's
  idempotent producer retries a batch until the broker takes it; a record whose send fails
  outright goes back to the front of the buffer (counted as ``resent``).
- **Rejections** go to the dead-letter topic with ``skyfence-reason``, ``skyfence-detail``
  and ``skyfence-source`` headers (value: the raw record). ``no_position`` is rate-limited
  per (source, icao24): polled APIs list every aircraft heard without a position on every
  poll, so one such aircraft is dead-lettered at most once per
  ``IngestOptions.no_position_every_s`` (10 min); the repeats are counted
  (``skyfence_ingest_dead_letters_suppressed_total{reason}``) and dropped.
- **Dedup** across sources: :class:`~streams.sources.dedup.Deduplicator`.
- **Stop.** :meth:`Ingest.stop` (SIGINT/SIGTERM) stops the sources, then flushes: the
  buffer drains until empty or ``flush_timeout_s`` passes (what is left is logged).
- **Health** (:class:`IngestProbe`, served with ``/metrics`` by
  :class:`~streams.health.Operations` on ``SKYFENCE_METRICS_HOST:PORT`` or
  ``--metrics-port``): ``/healthz`` fails when the sender task died or a source has made no
  progress (no bytes read, no poll answered) for ``SKYFENCE_STALL_AFTER_S`` and is not
  reconnecting with backoff; ``/readyz`` when the producer has not started, the buffer is
  full, or records have been waiting for the broker's ack for :data:`ACK_STALE_S`. Both
  say per source and for the producer what they checked, in JSON.
- **Metrics** (injected registry, label ``source`` = the source URL, a configured and so
  bounded set): ``skyfence_ingest_reconnects_total``, ``_bytes_total``, ``_messages_total``,
  ``_positions_total``, ``_rejections_total{reason}``, ``_duplicates_total``, and
  ``skyfence_ingest_buffered``, ``_buffer_overflow_total``, ``_produced_total{kind}``,
  ``_resent_total``.

- **Watermarks** (live topics only: ``SKYFENCE_LIVE=1``, the setting the worker bounds
  them by): every ``watermark_every_s`` (1 s) ``{"watermark": ts}`` goes to every partition,
  through the buffer (so never ahead of the positions queued before it), when ``ts`` moved
  on. ``ts`` follows the feed, not the wall clock: the oldest of the latest position times
  of the sources that gave a position in the last :data:`SOURCE_ACTIVE_S`, less
  ``watermark_lateness_s`` (5 s: a later position older than that still goes, and reaches
  its aircraft's state, but its partition's timers may have fired). So a partition whose
  aircraft fell silent fires its timers (``signal_lost``) while the feed goes on, and a
  feed that stops altogether (a receiver down: blind, not lost) moves no timer. On a
  replayed topic (``SKYFENCE_LIVE`` unset) the worker would refuse watermarks ahead of an
  idle partition's positions, so none are sent.

Out of scope: transactions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from streams.codec import (
    BATCH_MAX_BYTES,
    BATCH_MAX_POSITIONS,
    encode_batch,
    encode_position,
    encode_watermark,
    partition_of,
)
from streams.config import StreamSettings
from streams.models import BadLine, PositionReport
from streams.sources.base import Source
from streams.sources.dedup import Deduplicator

__all__ = [
    "Ingest",
    "IngestBuffer",
    "IngestMetrics",
    "IngestOptions",
    "IngestProbe",
    "IngestStats",
    "PromSourceStats",
    "Record",
]

log = logging.getLogger(__name__)

#: Rejections dead-lettered at most once per aircraft and source per
#: ``IngestOptions.no_position_every_s`` (see the module docstring).
RATE_LIMITED_REASONS = frozenset({"no_position"})
#: Aircraft remembered by that rate limit before stale entries are swept: a world feed
#: lists ~15,000 aircraft at once, so this bounds memory with room for several sources.
_RATE_LIMIT_MAX_KEYS = 100_000
#: Records taken from the buffer per round of the sender: a few batches' worth.
_TAKE_MAX = 20_000
#: Items taken from one source between two yields to the event loop.
_YIELD_EVERY_ITEMS = 256
#: Log one overflow warning per this many dropped records (and the first).
_OVERFLOW_LOG_EVERY = 10_000
#: A source whose last position arrived longer ago than this (monotonic s) no longer holds
#: the watermark back: a receiver that stopped must not freeze the others' timers. Thrice
#: the slowest poll interval a source keeps by default (OpenSky, 30 s) would be 90 s; 60 s
#: keeps a dead TCP receiver (idle timeout 120 s) from holding timers for two minutes.
SOURCE_ACTIVE_S = 60.0
#: Records in flight with no ack for this long mean the broker is unreachable (not ready):
#: aiokafka's request timeout is 40 s, so a healthy broker acks well within it.
ACK_STALE_S = 30.0


@dataclass(frozen=True, slots=True)
class Record:
    """One Kafka record waiting to be produced."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    #: Sent to every partition of ``topic`` (a watermark), not keyed.
    fanout: bool = False


@dataclass(frozen=True, slots=True)
class IngestOptions:
    """How ``ingest`` produces (defaults are the CLI's)."""

    #: Records held (queued or unacknowledged) at most; beyond, new ones are dropped.
    buffer_max: int = 200_000
    #: "auto" (on, off when the broker refuses it), "on" or "off".
    idempotence: str = "auto"
    #: aiokafka compression ("zstd", "lz4", "snappy", "gzip" or None; cramjam does all but
    #: gzip). zstd: gzip cost ~4 us of CPU per position in the event loop, zstd a tenth.
    compression: str | None = "zstd"
    #: aiokafka linger: ms to wait to fill a batch (latency against throughput).
    linger_ms: int = 20
    #: Seconds a stop waits for the buffer to drain.
    flush_timeout_s: float = 30.0
    #: Positions in batch messages per partition (the form ``replay`` uses; one Kafka
    #: message per partition and round); False: one keyed message per position.
    batch: bool = True
    #: Cross-source dedup tolerances.
    dedup_s: float = 1.0
    dedup_m: float = 250.0
    #: ``no_position`` of one aircraft from one source is dead-lettered at most this often
    #: (s): enough to see which aircraft a feed lists without positions, without one dead
    #: letter per aircraft per poll (an adsb.fi poll a second would send 86,400 a day each).
    no_position_every_s: float = 600.0
    #: Seconds between watermarks (live topics only, see the module docstring); 0: none.
    watermark_every_s: float = 1.0
    #: A watermark trails the sources' latest position times by this much (s).
    watermark_lateness_s: float = 5.0


class IngestMetrics:
    """The ingest process's metrics, built on an injected registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def c(name: str, doc: str, labels: Sequence[str] = ("source",)) -> Counter:
            return Counter(name, doc, list(labels), registry=registry)

        self.reconnects = c("skyfence_ingest_reconnects_total", "Reconnects/retries per source.")
        self.bytes = c("skyfence_ingest_bytes_total", "Bytes read per source.")
        self.messages = c(
            "skyfence_ingest_messages_total", "Records read (lines, frames, snapshot entries)."
        )
        self.positions = c("skyfence_ingest_positions_total", "Positions that passed every check.")
        self.rejections = c(
            "skyfence_ingest_rejections_total",
            "Records set aside, by reason.",
            ("source", "reason"),
        )
        self.duplicates = c(
            "skyfence_ingest_duplicates_total", "Positions dropped as another source's repeats."
        )
        self.buffered = Gauge(
            "skyfence_ingest_buffered",
            "Records queued or awaiting the broker's ack.",
            registry=registry,
        )
        self.overflow = Counter(
            "skyfence_ingest_buffer_overflow_total",
            "Records dropped because the buffer was full (broker unreachable too long).",
            registry=registry,
        )
        self.produced = Counter(
            "skyfence_ingest_produced_total",
            "Records acknowledged by the broker, by kind (position, dead_letter).",
            ["kind"],
            registry=registry,
        )
        self.resent = Counter(
            "skyfence_ingest_resent_total",
            "Records whose send failed and were queued again.",
            registry=registry,
        )
        self.suppressed = c(
            "skyfence_ingest_dead_letters_suppressed_total",
            "Rejections not dead-lettered: the same aircraft's were, recently (rate limit).",
            ("source", "reason"),
        )


class PromSourceStats:
    """A :class:`~streams.sources.live.SourceStats` over :class:`IngestMetrics`."""

    def __init__(self, metrics: IngestMetrics, source: str) -> None:
        self._reconnects = metrics.reconnects.labels(source)
        self._bytes = metrics.bytes.labels(source)
        self._messages = metrics.messages.labels(source)
        self._positions = metrics.positions.labels(source)
        self._rejections = metrics.rejections
        self._source = source

    def reconnected(self) -> None:
        self._reconnects.inc()

    def received(self, n_bytes: int) -> None:
        self._bytes.inc(n_bytes)

    def messages(self, n: int) -> None:
        self._messages.inc(n)

    def position(self, n: int = 1) -> None:
        self._positions.inc(n)

    def rejected(self, reason: str) -> None:
        self._rejections.labels(self._source, reason).inc()


@dataclass
class IngestStats:
    """What an ingest run did (also in the metrics)."""

    positions: int = 0
    rejections: int = 0
    #: Rejections counted but not dead-lettered (the per-aircraft rate limit).
    suppressed: int = 0
    #: Watermarks queued (each goes to every partition).
    watermarks: int = 0
    duplicates: int = 0
    overflow: int = 0
    acked: int = 0
    resent: int = 0
    per_source: dict[str, int] = field(default_factory=dict)


class IngestBuffer:
    """Records not yet acknowledged: queued (``pending``) or with the producer (in flight).

    ``put`` refuses a record (returns False) when ``len(self) >= capacity``.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.pending: deque[Record] = deque()
        self.in_flight = 0
        self.ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self.pending) + self.in_flight

    def put(self, record: Record) -> bool:
        """Queue ``record``; False when full."""
        pending = self.pending
        if len(pending) + self.in_flight >= self.capacity:
            return False
        pending.append(record)
        if not self.ready.is_set():
            self.ready.set()  # Event.set wakes waiters: once per round, not per record
        return True


#: A Kafka message to send: topic, value, key, partition, headers, and the records it carries.
_Message = tuple[str, bytes, bytes | None, int | None, tuple[tuple[str, bytes], ...], list[Record]]


def _messages(
    records: list[Record], positions_topic: str, partitions: int, fanout_to: int = 0
) -> list[_Message]:
    """Group positions into batch messages per partition (the batch form of recording format
    v1, see :mod:`streams.codec`; ``partitions=0``: no batching); anything else, and a batch
    of one, goes out alone and keyed. A ``fanout`` record (a watermark) goes to each of
    ``fanout_to`` partitions, after every batch of the positions before it (its last copy
    carries the record). Order per partition is kept."""
    out: list[_Message] = []
    groups: dict[int, list[Record]] = {}
    sizes: dict[int, int] = {}
    owners = _PARTITION_CACHE
    for rec in records:
        if rec.fanout:
            out.extend(_batch(positions_topic, p, group) for p, group in groups.items())
            groups.clear()
            sizes.clear()
            for to in range(fanout_to):
                last = to == fanout_to - 1
                out.append((rec.topic, rec.value, None, to, (), [rec] if last else []))
            continue
        if not partitions or rec.topic != positions_topic or rec.key is None:
            out.append((rec.topic, rec.value, rec.key, None, rec.headers, [rec]))
            continue
        cache_key = (rec.key, partitions)
        p = owners.get(cache_key)
        if p is None:
            if len(owners) > 200_000:
                owners.clear()
            p = owners[cache_key] = partition_of(rec.key.decode(), partitions)
        group = groups.get(p)
        if group is None:
            group = groups[p] = []
            sizes[p] = 0
        group.append(rec)
        sizes[p] += len(rec.value) + 1
        if len(group) >= BATCH_MAX_POSITIONS or sizes[p] >= BATCH_MAX_BYTES:
            out.append(_batch(positions_topic, p, groups.pop(p)))
            del sizes[p]
    out.extend(_batch(positions_topic, p, group) for p, group in groups.items())
    return out


def _batch(topic: str, partition: int, group: list[Record]) -> _Message:
    if len(group) == 1:
        rec = group[0]
        return (topic, rec.value, rec.key, None, rec.headers, group)
    return (topic, encode_batch([r.value for r in group]), None, partition, (), group)


#: icao24 key -> partition under Kafka's default partitioner (murmur2), per partition count.
_PARTITION_CACHE: dict[tuple[bytes, int], int] = {}


class Ingest:
    """Runs sources into Kafka (module docstring). ``producer_factory(idempotent)`` returns
    an unstarted ``AIOKafkaProducer`` (injected so tests and Tansu can choose)."""

    def __init__(
        self,
        sources: Sequence[Source],
        settings: StreamSettings,
        producer_factory: Callable[[bool], Any],
        *,
        metrics: IngestMetrics,
        options: IngestOptions | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sources = list(sources)
        self.settings = settings
        self.options = options or IngestOptions()
        self.metrics = metrics
        self.stats = IngestStats()
        self.buffer = IngestBuffer(self.options.buffer_max)
        self.dedup = Deduplicator(
            tolerance_s=self.options.dedup_s, tolerance_m=self.options.dedup_m
        )
        #: Cross-source dedup is pointless with one source (it never repeats itself across
        #: sources), and it is the costliest step per position: off then.
        self._dedup_on = len(self.sources) > 1
        #: Whether positions feed watermarks (live topics, module docstring).
        self._watermarking = settings.live and self.options.watermark_every_s > 0
        self._producer_factory = producer_factory
        self._sleep = sleep
        self._clock = clock
        #: (source, reason, icao24) -> when its last dead letter was sent (clock seconds).
        self._dead_lettered_at: dict[tuple[str, str, str], float] = {}
        #: Per source: (latest position time, clock time it arrived), for watermarks.
        self._latest: dict[str, tuple[float, float]] = {}
        self._watermark_sent = float("-inf")
        #: Partitions of the positions topic (0 until the producer has its metadata).
        self.partitions = 0
        #: Clock time of the last ack, or of the last send into an empty pipeline.
        self.last_ack_s = clock()
        self._sender_task: asyncio.Task[None] | None = None
        self._producer: Any = None
        self._stopping = asyncio.Event()
        self._sources_done = asyncio.Event()
        #: Whether the running producer is idempotent (None until started).
        self.idempotent: bool | None = None
        #: Set once the producer has started.
        self.producer_ready = asyncio.Event()

    # -- the source side ----------------------------------------------------------------

    def offer(self, item: PositionReport | BadLine, origin: str) -> None:
        """Route one item of source ``origin``: position, duplicate or rejection."""
        if isinstance(item, BadLine):
            self.stats.rejections += 1
            if item.reason in RATE_LIMITED_REASONS and self._suppress(item, origin):
                self.stats.suppressed += 1
                self.metrics.suppressed.labels(origin, item.reason).inc()
                return
            headers = (
                ("skyfence-reason", item.reason.encode()),
                ("skyfence-detail", item.detail.encode("utf-8", "replace")[:500]),
                ("skyfence-source", origin.encode()),
            )
            self._put(Record(self.settings.dead_letter_topic, item.raw or b"", None, headers))
            return
        if self._dedup_on and self.dedup.is_duplicate(item, origin):
            self.stats.duplicates += 1
            self.metrics.duplicates.labels(origin).inc()
            return
        stats = self.stats
        stats.positions += 1
        stats.per_source[origin] = stats.per_source.get(origin, 0) + 1
        if self._watermarking:
            latest = self._latest.get(origin)
            ts = item.ts if latest is None or item.ts > latest[0] else latest[0]
            self._latest[origin] = (ts, self._clock())
        self._put(
            Record(self.settings.positions_topic, encode_position(item), item.icao24.encode())
        )

    def _suppress(self, item: BadLine, origin: str) -> bool:
        """True when ``item``'s aircraft had a dead letter for this reason and source less
        than ``no_position_every_s`` ago (a rejection without an icao24 always goes)."""
        if item.icao24 is None:
            return False
        now = self._clock()
        every_s = self.options.no_position_every_s
        key = (origin, item.reason, item.icao24)
        last = self._dead_lettered_at.get(key)
        if last is not None and now - last < every_s:
            return True
        if len(self._dead_lettered_at) >= _RATE_LIMIT_MAX_KEYS:
            stale = [k for k, t in self._dead_lettered_at.items() if now - t >= every_s]
            for k in stale or list(self._dead_lettered_at)[: _RATE_LIMIT_MAX_KEYS // 10]:
                del self._dead_lettered_at[k]
        self._dead_lettered_at[key] = now
        return False

    def watermark_due(self) -> float | None:
        """The watermark to send now (module docstring), or ``None`` if it has not moved."""
        now = self._clock()
        active = [ts for ts, at in self._latest.values() if now - at <= SOURCE_ACTIVE_S]
        if not active:
            return None
        ts = min(active) - self.options.watermark_lateness_s
        return ts if ts > self._watermark_sent else None

    def send_watermark(self) -> bool:
        """Queue the due watermark for every partition; False when none was due."""
        ts = self.watermark_due()
        if ts is None or not self.partitions:
            return False
        self._watermark_sent = ts
        self.stats.watermarks += 1
        self._put(Record(self.settings.positions_topic, encode_watermark(ts), fanout=True))
        return True

    async def _watermarks(self) -> None:
        """Queue a watermark every ``watermark_every_s`` until stopped."""
        every_s = self.options.watermark_every_s
        while not self._stopping.is_set():
            await asyncio.sleep(every_s)  # wall pacing, not the injected backoff sleep
            self.send_watermark()

    def _put(self, record: Record) -> None:
        if self.buffer.put(record):
            return
        self.stats.overflow += 1
        self.metrics.overflow.inc()
        if self.stats.overflow % _OVERFLOW_LOG_EVERY == 1:
            log.warning(
                "ingest buffer full (%d records: broker unreachable?): dropped %d record(s) so far",
                self.buffer.capacity, self.stats.overflow,
            )  # fmt: skip

    async def _run_source(self, source: Source) -> None:
        try:
            n = 0
            async for item in source:
                self.offer(item, source.name)
                if self._stopping.is_set():
                    break
                n += 1
                if (
                    n % _YIELD_EVERY_ITEMS == 0
                ):  # a source that never waits must not starve the sender
                    await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception:  # a source bug must not take the others down
            log.exception("%s: source failed; the others go on", source.name)

    # -- the producer side --------------------------------------------------------------

    async def _start_producer(self) -> None:
        from aiokafka.errors import KafkaConnectionError, KafkaError

        mode = self.options.idempotence
        idempotent = mode != "off"
        delay = 0.5
        while True:
            producer = self._producer_factory(idempotent)
            try:
                await producer.start()
            except KafkaConnectionError as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("broker unreachable (%s); retrying in %.1f s", exc, delay)
                await self._sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            except KafkaError as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                if idempotent and mode == "auto":
                    log.warning(
                        "the broker refused an idempotent producer (%s): producing without "
                        "idempotence; a batch retried after a lost ack may be written twice",
                        exc.__class__.__name__,
                    )
                    idempotent = False
                    continue
                raise
            self._producer = producer
            self.idempotent = idempotent
            self.producer_ready.set()
            return

    async def _sender(self) -> None:
        from aiokafka.errors import KafkaError

        await self._start_producer()
        try:
            parts = await self._producer.partitions_for(self.settings.positions_topic)
            self.partitions = len(parts)
        except KafkaError as exc:  # no metadata yet: single messages (the router keys them)
            log.warning(
                "no partition count: no batching, no watermarks (%s)", exc.__class__.__name__
            )
        partitions = self.partitions if self.options.batch else 0
        buf = self.buffer
        delay = 0.1
        while True:
            if not buf.pending:
                if self._sources_done.is_set() and buf.in_flight == 0:
                    return
                buf.ready.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(buf.ready.wait(), 0.2)
                continue
            take = [buf.pending.popleft() for _ in range(min(len(buf.pending), _TAKE_MAX))]
            if buf.in_flight == 0:  # the wait for an ack starts now, not at the last one
                self.last_ack_s = self._clock()
            buf.in_flight += len(take)
            self.metrics.buffered.set(len(buf))
            messages = _messages(take, self.settings.positions_topic, partitions, self.partitions)
            for n, (topic, value, key, partition, headers, records) in enumerate(messages):
                try:
                    future = await self._producer.send(
                        topic, value=value, key=key, partition=partition, headers=list(headers)
                    )
                except KafkaError as exc:  # not appended (accumulator full, no metadata)
                    back = [r for m in messages[n:] for r in m[5]]
                    buf.in_flight -= len(back)
                    buf.pending.extendleft(reversed(back))
                    log.warning(
                        "send failed (%s); retrying in %.1f s", exc.__class__.__name__, delay
                    )
                    await self._sleep(delay)
                    delay = min(delay * 2, 5.0)
                    break
                delay = 0.1
                future.add_done_callback(lambda f, rs=records: self._acked(f, rs))

    def _acked(self, future: asyncio.Future[Any], records: list[Record]) -> None:
        if not records:  # a watermark's copy to another partition: its last copy counts
            return
        buf = self.buffer
        buf.in_flight -= len(records)
        if future.cancelled() or future.exception() is not None:
            exc = None if future.cancelled() else future.exception()
            log.warning(
                "%d record(s) not acknowledged (%s); queued again", len(records), exc.__class__.__name__
            )  # fmt: skip
            self.stats.resent += len(records)
            self.metrics.resent.inc(len(records))
            buf.pending.extendleft(reversed(records))
            buf.ready.set()
        else:
            self.last_ack_s = self._clock()
            self.stats.acked += len(records)
            if records[0].fanout:
                kind = "watermark"
            elif records[0].topic == self.settings.positions_topic:
                kind = "position"
            else:
                kind = "dead_letter"
            self.metrics.produced.labels(kind).inc(len(records))
        self.metrics.buffered.set(len(buf))

    # -- lifecycle ----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the run to end: sources stop, then the buffer is flushed."""
        self._stopping.set()

    async def run(self) -> IngestStats:
        """Run until :meth:`stop` (or until every source ends), then flush and return."""
        sender = self._sender_task = asyncio.create_task(self._sender(), name="ingest-sender")
        tasks = [
            asyncio.create_task(self._run_source(s), name=f"source {s.name}") for s in self.sources
        ]
        watermarks = None
        if self._watermarking:
            watermarks = asyncio.create_task(self._watermarks(), name="ingest-watermarks")
        all_done: asyncio.Future[Any] = asyncio.gather(*tasks)
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            await asyncio.wait({all_done, stopping, sender}, return_when=asyncio.FIRST_COMPLETED)
            if sender.done():
                sender.result()  # a producer that cannot start at all (configuration)
            for s in self.sources:
                await s.aclose()
            for t in tasks:
                t.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await all_done
            if watermarks is not None:  # nothing may be queued once the flush starts
                watermarks.cancel()
            self._sources_done.set()
            self.buffer.ready.set()
            try:
                await asyncio.wait_for(asyncio.shield(sender), self.options.flush_timeout_s)
            except TimeoutError:
                log.error(
                    "stopping with %d record(s) not acknowledged after %.0f s",
                    len(self.buffer), self.options.flush_timeout_s,
                )  # fmt: skip
        finally:
            stopping.cancel()
            if watermarks is not None:
                watermarks.cancel()
            if not sender.done():
                sender.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await sender
            if self._producer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._producer.stop(), 10)
        return self.stats


class IngestProbe:
    """Liveness and readiness of an :class:`Ingest` (a :class:`~streams.health.HealthProbe`;
    the rules are in the module docstring). Sources that are not live shells (no progress
    clock) are reported and never fail it."""

    name = "ingest"

    def __init__(self, ingest: Ingest | None, *, stall_after_s: float) -> None:
        #: ``None`` while the process is still starting (checking topics): live, not ready.
        self.ingest = ingest
        self.stall_after_s = stall_after_s

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Sender alive, and each source progressing or reconnecting."""
        ingest = self.ingest
        if ingest is None:
            return True, {"sender": "starting", "sources": {}}
        task = ingest._sender_task
        sender_ok = task is not None and not task.done()
        sources: dict[str, Any] = {}
        ok = sender_ok
        for source in ingest.sources:
            age = getattr(source, "progress_age_s", None)
            if age is None:
                sources[source.name] = {"state": "unknown"}
                continue
            age_s = float(age())
            reconnecting = bool(getattr(source, "reconnecting", False))
            if age_s <= self.stall_after_s:
                state = "receiving"
            elif reconnecting:
                state = "reconnecting"  # retrying with backoff: alive, and saying why not
            else:
                state = "stalled"
                ok = False
            sources[source.name] = {
                "state": state,
                "seconds_since_progress": round(age_s, 1),
                "reconnecting": reconnecting,
            }
        detail = {
            "sender": "running" if sender_ok else "stopped",
            "stall_after_s": self.stall_after_s,
            "sources": sources,
        }
        return ok, detail

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Producer started, buffer not full, and acks arriving (the broker is reachable)."""
        ingest = self.ingest
        if ingest is None:
            return False, {"producer": "starting"}
        buf = ingest.buffer
        started = ingest.producer_ready.is_set()
        waiting_s = ingest._clock() - ingest.last_ack_s if buf.in_flight else 0.0
        acks_ok = waiting_s < ACK_STALE_S
        full = len(buf) >= buf.capacity
        ok = started and acks_ok and not full
        detail = {
            "producer": "started" if started else "starting",
            "buffered": len(buf),
            "buffer_max": buf.capacity,
            "buffer_full": full,
            "seconds_waiting_for_ack": round(waiting_s, 1),
            "broker": "reachable" if started and acks_ok else "unreachable",
        }
        return ok, detail


def kafka_producer_factory(bootstrap: str, options: IngestOptions) -> Callable[[bool], Any]:
    """``factory(idempotent)`` building the aiokafka producer ``ingest`` uses."""

    def factory(idempotent: bool) -> Any:
        from aiokafka import AIOKafkaProducer

        return AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=idempotent,
            compression_type=options.compression,
            linger_ms=options.linger_ms,
            max_batch_size=256 * 1024,
        )

    return factory


def run_loop(coro: Any) -> int:
    """Run ``coro`` on uvloop when available (without importing the Faust side)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)  # type: ignore[no-any-return]


def env_mapping() -> Mapping[str, str]:
    """The process environment (the composition root's one read of it)."""
    import os

    return os.environ


def wall() -> float:
    """Epoch seconds."""
    return time.time()


@dataclass(frozen=True, slots=True)
class IngestRun:
    """What ``skyfence ingest`` was asked to do (from the command line)."""

    urls: tuple[str, ...]
    options: IngestOptions = IngestOptions()
    max_age_s: float = 600.0
    metrics_port: int = 0
    metrics_host: str = "127.0.0.1"
    #: The receiver's (lat, lon) for Mode S sources (``--ref-lat/--ref-lon``).
    reference: tuple[float, float] | None = None


async def open_sources(
    urls: Sequence[str],
    *,
    session: Any,
    stats_for: Callable[[str], Any] | None = None,
    max_age_s: float = 600.0,
    env: Mapping[str, str] | None = None,
    reference: tuple[float, float] | None = None,
) -> list[Any]:
    """The live sources for ``urls`` (parsed first, so a bad URL fails before anything runs)."""
    from streams.sources.live import LiveOptions
    from streams.sources.spec import build_source, parse_source_url

    specs = [parse_source_url(u) for u in urls]
    live = LiveOptions(max_age_s=max_age_s, reference=reference)
    env = env if env is not None else env_mapping()
    return [
        build_source(
            spec,
            session=session,
            env=env,
            options=live,
            **({"stats": stats_for(spec.name)} if stats_for else {}),
        )
        for spec in specs
    ]


async def run_ingest(settings: StreamSettings, run: IngestRun) -> int:
    """``skyfence ingest``: until SIGINT/SIGTERM; prints a summary on stderr. Exit code."""
    import signal
    import sys

    import aiohttp

    from streams.sources.spec import parse_source_url
    from streams.topics import ensure_topics

    for url in run.urls:  # a bad URL is a usage error before any connection
        parse_source_url(url)
    from streams.health import Operations
    from streams.metrics import build_info

    registry = CollectorRegistry()
    metrics = IngestMetrics(registry)
    build_info(registry, "ingest")
    probe = IngestProbe(None, stall_after_s=settings.stall_after_s)
    ops: Operations | None = None
    port = run.metrics_port or settings.metrics_port
    host = run.metrics_host if run.metrics_host != "127.0.0.1" else settings.metrics_host
    if port:  # /metrics, /healthz, /readyz: bound first, so a port in use fails at once
        ops = Operations(registry, probes=[probe], stall_after_s=settings.stall_after_s)
        await ops.start(host, port)
    try:
        await asyncio.wait_for(ensure_topics(settings.broker, settings, timeout_s=10), 15)
    except Exception as exc:  # the broker may be down now: buffer until it is back
        log.warning("could not check/create topics (%s); producing anyway", exc.__class__.__name__)
    async with aiohttp.ClientSession() as session:
        sources = await open_sources(
            run.urls,
            session=session,
            stats_for=lambda name: PromSourceStats(metrics, name),
            max_age_s=run.max_age_s,
            reference=run.reference,
        )
        ingest = Ingest(
            sources,
            settings,
            kafka_producer_factory(settings.broker, run.options),
            metrics=metrics,
            options=run.options,
        )
        probe.ingest = ingest
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, ingest.stop)
        print(f"skyfence ingest: {', '.join(s.name for s in sources)} -> "
              f"{settings.positions_topic} on {settings.broker}", file=sys.stderr, flush=True)  # fmt: skip
        started = time.monotonic()
        try:
            stats = await ingest.run()
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
            if ops is not None:
                await ops.stop()
    took = time.monotonic() - started
    print(
        f"skyfence ingest: stopped after {took:.1f} s: {stats.positions} positions, "
        f"{stats.acked} records acknowledged, {stats.rejections} rejected, "
        f"{stats.duplicates} duplicates, {stats.overflow} dropped (buffer full), "
        f"{len(ingest.buffer)} unacknowledged",
        file=sys.stderr,
        flush=True,
    )
    return 0 if len(ingest.buffer) == 0 else 1
