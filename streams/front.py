"""The stateless front stage: single-position messages from a raw topic, into the positions
topic in the batch form the tracker is fast on (``skyfence ingest kafka://TOPIC``).

Third-party producers (kcat, a receiver's Kafka output, a connector) send one position per
message. Faust costs the tracker ~80 us per message whatever it carries, so single messages
cap a worker far below what the batch form reaches. The front stage has no state to keep and
no Faust: a plain aiokafka consumer reads the raw topic and, round by round (one ``getmany``):

1. validates every message with the worker's codec (:func:`streams.codec.decode_positions`:
   a v1 position, a producer watermark, or a batch of positions). A bad message, or a bad
   element of a batch, goes to the dead-letter topic with ``skyfence-reason`` and
   ``skyfence-detail`` headers, as the worker does; it never stops the stage;
2. appends each position to the batch of the positions partition that owns its icao24
   (:class:`streams.producer.PositionPublisher`, Kafka's default partitioner), whatever the
   input's key was; a batch goes out when full and at the end of the round. One aircraft's
   positions are in one input partition (keyed by icao24) and in one output partition, in
   the order read: batches of a partition are sent in order, and a round's are acknowledged
   before the next round's are sent;
3. waits until the broker has acknowledged every message of the round (positions, dead
   letters, watermarks), and only then commits the round's input offsets.

So a crash (even SIGKILL) loses nothing: whatever was not committed is read again on restart
and published again. The repeats are harmless: the tracker drops a fix it already has
(``duplicate``) or an older one (``out_of_order``), so its events are unchanged.

Watermarks: a producer watermark on an input partition promises positions up to ``ts`` on
that partition. The stage forwards, to every positions partition, the lowest watermark over
the input partitions it owns, once each of them has sent one and only when it rises (after
the positions read before it are acknowledged). Until a partition's latest watermark is
covered by one forwarded, its committed offset stays at that watermark's record, so a crash
re-reads the promise instead of losing it (only the watermark and what follows it are read
again: the positions before it are committed). With several front-stage processes on one
raw topic each forwards its own partitions' promise; run one per raw topic, or let the
worker's timers move with traffic, when producers send watermarks.

It scales by partitions like the worker: several processes in one consumer group share the
raw topic's partitions.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from prometheus_client import CollectorRegistry, Counter

from streams.codec import (
    BATCH_MAX_POSITIONS,
    MESSAGE_MAX_BYTES,
    PositionBatch,
    decode_positions,
    encode_position,
)
from streams.errors import DecodeError
from streams.models import PositionReport, Watermark
from streams.producer import PositionPublisher

__all__ = ["FrontMetrics", "FrontStage", "FrontStats", "parse_kafka_url", "run_front"]

log = logging.getLogger(__name__)

#: Dead-letter headers: the worker's (streams.app), repeated so this stage needs no Faust.
REASON_HEADER = "skyfence-reason"
DETAIL_HEADER = "skyfence-detail"
SIZE_HEADER = "skyfence-size"
#: Bytes kept of an oversized message in its dead letter (as the worker does).
DEAD_LETTER_HEAD_BYTES = 64 * 1024
#: A valid position whose raw form is longer than this is re-encoded (its known fields only),
#: so batches stay within their byte bound whatever a producer added.
RAW_MAX_BYTES = 1024
#: Messages one round reads at most: bounds the memory held until acknowledgement.
ROUND_MAX_RECORDS = 20_000
#: Consumer group of the front stage (one per raw topic: ``skyfence-front.<topic>``).
GROUP_PREFIX = "skyfence-front"


def parse_kafka_url(url: str) -> str:
    """The raw topic of a ``kafka://TOPIC`` source URL; a :class:`ValueError` otherwise."""
    prefix = "kafka://"
    if not url.startswith(prefix) or not url[len(prefix) :] or "/" in url[len(prefix) :]:
        raise ValueError(f"not a kafka://TOPIC source: {url!r}")
    return url[len(prefix) :]


class FrontMetrics:
    """The front stage's metrics, built on an injected registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "skyfence_front_messages_total", "Messages read from the raw topic.", registry=registry
        )
        self.positions = Counter(
            "skyfence_front_positions_total",
            "Valid positions published to the positions topic (in batches).",
            registry=registry,
        )
        self.dead_letters = Counter(
            "skyfence_front_dead_letters_total",
            "Messages (or batch elements) sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.batches = Counter(
            "skyfence_front_batches_total",
            "Messages published to the positions topic (a batch counts once).",
            registry=registry,
        )
        self.commits = Counter(
            "skyfence_front_commits_total",
            "Input offset commits, each after the round's messages were acknowledged.",
            registry=registry,
        )


@dataclass(slots=True)
class FrontStats:
    """What this process did (for summaries and tests)."""

    messages: int = 0
    positions: int = 0
    dead_letters: int = 0
    watermarks: int = 0
    rounds: int = 0
    commits: int = 0


class FrontStage:
    """One consumer, one producer, the round loop of the module docstring.

    ``consumer`` is a started aiokafka consumer subscribed to the raw topic with automatic
    commits off; ``producer`` a started aiokafka producer (``acks="all"``). Both are
    injected, so tests drive the stage with fakes.
    """

    def __init__(
        self,
        consumer: Any,
        producer: Any,
        *,
        positions_topic: str,
        dead_letter_topic: str,
        metrics: FrontMetrics,
        batch_max_positions: int = BATCH_MAX_POSITIONS,
        round_max_records: int = ROUND_MAX_RECORDS,
    ) -> None:
        self._consumer = consumer
        self._producer = producer
        self._publisher = PositionPublisher(
            producer, positions_topic, batch_max_positions=batch_max_positions
        )
        self._dead_letter_topic = dead_letter_topic
        self._metrics = metrics
        self._round_max_records = round_max_records
        #: Latest producer watermark per input partition (TopicPartition -> ts).
        self._watermarks: dict[Any, float] = {}
        self._forwarded_watermark = float("-inf")
        #: Offset of the latest watermark record not yet covered by a forwarded one, per
        #: input partition: commits stop there (module docstring).
        self._held: dict[Any, int] = {}
        #: Next offset to commit per input partition (last read + 1).
        self._next_offsets: dict[Any, int] = {}
        self.stats = FrontStats()

    async def run_round(self, timeout_ms: int = 200) -> int:
        """Read one round, publish it, wait for its acknowledgements, commit it. Returns the
        number of messages read."""
        batch = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=self._round_max_records
        )
        if not batch:
            return 0
        pending: list[Awaitable[Any]] = []
        offsets: dict[Any, int] = {}
        read = 0
        positions = 0
        add = self._publisher.add
        for tp, records in batch.items():
            for record in records:
                read += 1
                offsets[tp] = record.offset + 1
                value = record.value if record.value is not None else b""
                try:
                    decoded = decode_positions(value)
                except DecodeError as exc:
                    pending.append(
                        await self._dead_letter(record.key, value, exc.reason, exc.detail)
                    )
                    continue
                if type(decoded) is PositionReport:
                    raw = value if len(value) <= RAW_MAX_BYTES else encode_position(decoded)
                    sent = await add(decoded, raw)
                    if sent is not None:
                        pending.append(sent)
                    positions += 1
                elif isinstance(decoded, Watermark):
                    previous = self._watermarks.get(tp, float("-inf"))
                    if decoded.ts > previous:
                        self._watermarks[tp] = decoded.ts
                        if decoded.ts > self._forwarded_watermark:
                            self._held[tp] = record.offset
                elif isinstance(decoded, PositionBatch):
                    for report in decoded.reports:
                        sent = await add(report, encode_position(report))
                        if sent is not None:
                            pending.append(sent)
                    positions += len(decoded.reports)
                    for bad in decoded.bad:
                        pending.append(
                            await self._dead_letter(record.key, bad.raw, bad.reason, bad.detail)
                        )
        pending.extend(await self._publisher.flush())
        batches_before = self._publisher.messages
        if pending:
            await asyncio.gather(*pending)  # raises if the broker refused any: nothing committed
        watermark = self._watermark_to_forward()
        if watermark is not None:
            # After the positions read before it are acknowledged (above).
            await self._publisher.publish_watermark(watermark)
            self._forwarded_watermark = watermark
            self.stats.watermarks += 1
            for held_tp in [t for t in self._held if self._watermarks[t] <= watermark]:
                del self._held[held_tp]
        self._next_offsets.update(offsets)
        await self._consumer.commit(self._commit_offsets())
        self.stats.rounds += 1
        self.stats.commits += 1
        self.stats.messages += read
        self.stats.positions += positions
        self._metrics.messages.inc(read)
        self._metrics.positions.inc(positions)
        self._metrics.batches.inc(batches_before - self._batches_counted)
        self._batches_counted = batches_before
        self._metrics.commits.inc()
        return read

    _batches_counted = 0

    def _commit_offsets(self) -> dict[Any, int]:
        """What may be committed: every owned partition's next offset, but not past a
        watermark that is not forwarded yet."""
        assigned = self._consumer.assignment()
        out = {}
        for tp, offset in self._next_offsets.items():
            if tp in assigned:
                held = self._held.get(tp)
                out[tp] = offset if held is None else min(offset, held)
        return out

    def _watermark_to_forward(self) -> float | None:
        """The lowest watermark over the assigned input partitions, when each has one and it
        rose since the last one forwarded."""
        if not self._watermarks:
            return None
        assigned = self._consumer.assignment()
        if not assigned or any(tp not in self._watermarks for tp in assigned):
            return None
        low = min(self._watermarks[tp] for tp in assigned)
        return low if low > self._forwarded_watermark else None

    async def _dead_letter(
        self, key: bytes | None, value: bytes, reason: str, detail: str
    ) -> Awaitable[Any]:
        headers = [(REASON_HEADER, reason.encode()), (DETAIL_HEADER, detail[:500].encode())]
        if len(value) > MESSAGE_MAX_BYTES:
            headers.append((SIZE_HEADER, str(len(value)).encode()))
            value = value[:DEAD_LETTER_HEAD_BYTES]
        if key is not None and len(key) > DEAD_LETTER_HEAD_BYTES:
            key = key[:DEAD_LETTER_HEAD_BYTES]
        self.stats.dead_letters += 1
        self._metrics.dead_letters.labels(reason).inc()
        future: Awaitable[Any] = await self._producer.send(
            self._dead_letter_topic, value=value, key=key, headers=headers
        )
        return future

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop`` is set (the round under way completes and is committed)."""
        while not stop.is_set():
            await self.run_round()


def kafka_clients(
    bootstrap: str, raw_topic: str, *, group_id: str | None = None
) -> tuple[Any, Any]:
    """The front stage's aiokafka consumer and producer (not started)."""
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    consumer = AIOKafkaConsumer(
        raw_topic,
        bootstrap_servers=bootstrap,
        group_id=group_id or f"{GROUP_PREFIX}.{raw_topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=100,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=5,
        max_batch_size=512 * 1024,
        max_request_size=2 * 1024 * 1024,
    )
    return consumer, producer


async def run_front(
    settings: Any,
    raw_topic: str,
    *,
    stop: asyncio.Event | None = None,
    registry: CollectorRegistry | None = None,
    say: Callable[[str], None] | None = None,
    progress_every_s: float = 0.0,
    on_progress: Callable[[FrontStats], None] | None = None,
    round_max_records: int = ROUND_MAX_RECORDS,
) -> FrontStats:
    """``skyfence ingest kafka://TOPIC``: the front stage until ``stop`` (or SIGINT/SIGTERM
    when ``stop`` is None); returns its counters."""
    import signal

    from streams.topics import ensure_topics

    await ensure_topics(settings.broker, settings)
    consumer, producer = kafka_clients(settings.broker, raw_topic)
    if stop is None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
    await producer.start()
    await consumer.start()
    stage = FrontStage(
        consumer,
        producer,
        positions_topic=settings.positions_topic,
        dead_letter_topic=settings.dead_letter_topic,
        metrics=FrontMetrics(registry or CollectorRegistry()),
        round_max_records=round_max_records,
    )
    if say:
        say(f"front stage: {raw_topic} -> {settings.positions_topic} (batches by icao24)")
    last = time.monotonic()
    try:
        while not stop.is_set():
            await stage.run_round()
            if on_progress is not None and time.monotonic() - last >= progress_every_s:
                on_progress(stage.stats)
                last = time.monotonic()
    finally:
        await consumer.stop()
        await producer.stop()
    return stage.stats


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m streams.front kafka://TOPIC [--broker B] [--progress]``: the front stage
    on its own, until ``skyfence ingest`` (issue 11) dispatches ``kafka://`` sources here.
    Settings (topics, partitions) from the environment (``SKYFENCE_*``) as the worker reads
    them. ``--progress`` prints a JSON line of counters on stdout every 0.2 s."""
    import argparse
    import sys

    from streams.config import StreamSettings

    parser = argparse.ArgumentParser(prog="python -m streams.front")
    parser.add_argument("source", help="kafka://TOPIC: the raw topic of single positions")
    parser.add_argument("--broker", default=None, help="Kafka bootstrap (default SKYFENCE_BROKER)")
    parser.add_argument("--progress", action="store_true", help="JSON counters on stdout")
    parser.add_argument(
        "--round-max-records",
        type=int,
        default=ROUND_MAX_RECORDS,
        help=f"messages read per round (committed together; default {ROUND_MAX_RECORDS})",
    )
    args = parser.parse_args(argv)
    try:
        raw_topic = parse_kafka_url(args.source)
    except ValueError as exc:
        print(f"skyfence front: {exc}", file=sys.stderr)
        return 2
    settings = StreamSettings.from_env(broker=args.broker)
    if not settings.broker:
        print("skyfence front: --broker (or SKYFENCE_BROKER) is required", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )

    def progress(stats: FrontStats) -> None:
        sys.stdout.write(
            _json_line(
                ev="progress",
                t=time.time(),
                messages=stats.messages,
                positions=stats.positions,
                dead_letters=stats.dead_letters,
                commits=stats.commits,
                cpu_s=_cpu_s(),
            )
            + "\n"
        )
        sys.stdout.flush()

    coro = run_front(
        settings,
        raw_topic,
        say=lambda text: print(text, file=sys.stderr, flush=True),
        progress_every_s=0.2 if args.progress else float("inf"),
        round_max_records=args.round_max_records,
        on_progress=progress if args.progress else None,
    )
    try:
        import uvloop
    except ImportError:  # pragma: no cover
        stats = asyncio.run(coro)
    else:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            stats = runner.run(coro)
    print(
        f"front stage: {stats.messages} messages, {stats.positions} positions, "
        f"{stats.dead_letters} dead letters, {stats.commits} commits",
        file=sys.stderr,
    )
    return 0


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _json_line(**fields: Any) -> str:
    return orjson.dumps(fields).decode()


if __name__ == "__main__":
    raise SystemExit(main())
