"""The front stage (streams.front) with a fake consumer and producer: validation and dead
letters, batches by owning partition in order, commits only after acknowledgement, and the
watermark it forwards."""

from __future__ import annotations

import asyncio
from collections import namedtuple
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams.codec import decode_positions, encode_watermark, partition_of
from streams.front import FrontMetrics, FrontStage, parse_kafka_url
from streams.models import Watermark

TP = namedtuple("TP", "topic partition")
Rec = namedtuple("Rec", "offset key value")
PARTITIONS = 4


T0 = 1_695_690_000.0


def _pos(icao24: str, ts: float, lat: float = 40.0) -> bytes:
    """A position ``ts`` seconds after T0 (the tests' times are offsets, for short asserts)."""
    return orjson.dumps(
        {"icao24": icao24, "ts": T0 + ts, "lat": lat, "lon": 124.0, "alt_ft": 30000}
    )


class FakeConsumer:
    def __init__(self, rounds: list[dict[Any, list[Rec]]], assigned: set[Any]) -> None:
        self.rounds = rounds
        self.assigned = assigned
        self.commits: list[dict[Any, int]] = []

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[Any, list[Rec]]:
        return self.rounds.pop(0) if self.rounds else {}

    async def commit(self, offsets: dict[Any, int]) -> None:
        self.commits.append(dict(offsets))

    def assignment(self) -> set[Any]:
        return self.assigned


class FakeProducer:
    """Records sends; acknowledgements are futures the test resolves (or fails)."""

    def __init__(self, *, fail: bool = False) -> None:
        self.sent: list[dict[str, Any]] = []
        self.futures: list[asyncio.Future[None]] = []
        self.fail = fail

    async def partitions_for(self, topic: str) -> set[int]:
        return set(range(PARTITIONS))

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        partition: int | None = None,
        headers: Any = None,
    ) -> asyncio.Future[None]:
        self.sent.append(
            {
                "topic": topic,
                "value": value,
                "key": key,
                "partition": partition,
                "headers": dict(headers or ()),
            }
        )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.fail:
            fut.set_exception(RuntimeError("broker refused"))
        else:
            fut.set_result(None)
        self.futures.append(fut)
        return fut


def _stage(consumer: FakeConsumer, producer: FakeProducer, **kw: Any) -> FrontStage:
    return FrontStage(
        consumer,
        producer,
        positions_topic="pos",
        dead_letter_topic="dlq",
        metrics=FrontMetrics(CollectorRegistry()),
        **kw,
    )


def _positions_out(producer: FakeProducer) -> list[tuple[int | None, list[str]]]:
    """(partition, [icao24 ts...]) of each message sent to the positions topic."""
    out = []
    for sent in producer.sent:
        if sent["topic"] != "pos":
            continue
        decoded = decode_positions(sent["value"])
        if isinstance(decoded, Watermark):
            out.append((sent["partition"], [f"watermark {decoded.ts - T0:g}"]))
            continue
        reports = getattr(decoded, "reports", None) or [decoded]
        out.append((sent["partition"], [f"{r.icao24} {r.ts - T0:g}" for r in reports]))
    return out


async def test_positions_go_out_batched_by_owner_in_order_then_the_round_is_committed() -> None:
    icaos = ["7278a2", "a1b2c3", "0d0e0f", "4b1805", "71c001"]
    tp0, tp1 = TP("raw", 0), TP("raw", 1)
    records = {tp0: [], tp1: []}  # type: dict[Any, list[Rec]]
    for i in range(30):
        icao = icaos[i % len(icaos)]
        tp = tp0 if (i % len(icaos)) % 2 else tp1  # keyed: one aircraft, one input partition
        records[tp].append(Rec(len(records[tp]) + 10, icao.encode(), _pos(icao, 1000.0 + i)))
    consumer = FakeConsumer([records], {tp0, tp1})
    producer = FakeProducer()
    stage = _stage(consumer, producer)
    assert await stage.run_round() == 30
    out = _positions_out(producer)
    seen: dict[str, list[float]] = {}
    for partition, items in out:
        for item in items:
            icao, ts = item.split()
            # Every position on the partition that owns its aircraft...
            assert partition is None or partition == partition_of(icao, PARTITIONS)
            seen.setdefault(icao, []).append(float(ts))
    # ...each aircraft's positions in the order read, none lost.
    assert {icao: sorted(ts) for icao, ts in seen.items()} == seen
    assert sum(len(v) for v in seen.values()) == 30
    assert len(out) <= PARTITIONS  # batches, not one message each
    assert consumer.commits == [{tp0: 22, tp1: 28}]  # last offset + 1 of each partition
    assert stage.stats.positions == 30


async def test_bad_messages_are_dead_lettered_with_reasons_and_the_rest_go_on() -> None:
    tp = TP("raw", 0)
    bad_batch = b"[" + _pos("7278a2", 1001.0) + b',{"icao24":"zz"}]'
    records = [
        Rec(0, None, b"not json"),
        Rec(1, b"k", orjson.dumps({"icao24": "7278a2", "ts": T0, "lat": 95.0, "lon": 1.0})),
        Rec(2, None, _pos("7278a2", 1000.5)),
        Rec(3, None, bad_batch),
        Rec(4, None, None),
    ]
    consumer = FakeConsumer([{tp: records}], {tp})
    producer = FakeProducer()
    stage = _stage(consumer, producer)
    await stage.run_round()
    dead = [s for s in producer.sent if s["topic"] == "dlq"]
    reasons = [s["headers"]["skyfence-reason"].decode() for s in dead]
    assert reasons[0] == "json" and len(dead) == 4
    assert all(s["headers"]["skyfence-detail"] for s in dead)
    assert dead[0]["value"] == b"not json"
    # The good position alone and the good element of the batch, in order, unkeyed input or not.
    assert [items for _, items in _positions_out(producer)] == [["7278a2 1000.5", "7278a2 1001"]]
    assert consumer.commits == [{tp: 5}]


async def test_nothing_is_committed_when_the_broker_refuses() -> None:
    tp = TP("raw", 0)
    consumer = FakeConsumer([{tp: [Rec(0, None, _pos("7278a2", 1000.0))]}], {tp})
    stage = _stage(consumer, FakeProducer(fail=True))
    with pytest.raises(RuntimeError, match="broker refused"):
        await stage.run_round()
    assert consumer.commits == []


async def test_watermark_forwarded_is_the_lowest_over_owned_partitions_after_positions() -> None:
    tp0, tp1 = TP("raw", 0), TP("raw", 1)
    first = {
        tp0: [Rec(0, None, _pos("7278a2", 1000.0)), Rec(1, None, encode_watermark(T0 + 1000.0))]
    }
    second = {tp1: [Rec(0, None, encode_watermark(T0 + 990.0))]}
    third = {
        tp0: [Rec(2, None, encode_watermark(T0 + 1010.0))],
        tp1: [Rec(1, None, encode_watermark(T0 + 1005.0))],
    }
    consumer = FakeConsumer([first, second, third], {tp0, tp1})
    producer = FakeProducer()
    stage = _stage(consumer, producer)
    await stage.run_round()
    assert all("watermark" not in i[0] for _, i in _positions_out(producer))  # tp1 has none yet
    # Not committed past tp0's watermark until it is forwarded: a crash must re-read it.
    assert consumer.commits[-1] == {tp0: 1}
    await stage.run_round()
    # 990 forwarded: it covers tp1's promise, not tp0's (1000), which stays held.
    assert consumer.commits[-1] == {tp0: 1, tp1: 1}
    out = _positions_out(producer)
    assert out[0][1] == ["7278a2 1000"]  # positions before the promise about them
    assert [i for _, i in out[1:]] == [["watermark 990"]] * PARTITIONS
    await stage.run_round()
    assert consumer.commits[-1] == {tp0: 2, tp1: 2}  # 1005: tp0 now held at its 1010
    assert [i for _, i in _positions_out(producer)[1 + PARTITIONS :]] == [
        ["watermark 1005"]
    ] * PARTITIONS


def test_kafka_url() -> None:
    assert parse_kafka_url("kafka://raw.positions") == "raw.positions"
    for bad in ("kafka://", "sbs://host:1", "kafka://a/b"):
        with pytest.raises(ValueError):
            parse_kafka_url(bad)


class LogConsumer(FakeConsumer):
    """A raw topic of one partition read in rounds of ``size`` from the committed offset."""

    def __init__(self, values: list[bytes], size: int, committed: int = 0) -> None:
        super().__init__([], {TP("raw", 0)})
        self.values, self.size, self.position = values, size, committed

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[Any, list[Rec]]:
        start, self.position = self.position, min(len(self.values), self.position + self.size)
        recs = [Rec(i, None, self.values[i]) for i in range(start, self.position)]
        return {TP("raw", 0): recs} if recs else {}


async def test_a_crash_before_commit_resends_a_round_and_the_worker_still_gives_the_golden_events() -> (
    None
):
    """A front stage killed after publishing rounds it had not committed: the next one starts
    from the last commit and publishes them again. The tracker drops the repeats, so the
    seed's events are exactly the golden ones."""
    from streams.app import TrackerApp
    from streams.codec import encode_event
    from streams.config import StreamSettings
    from streams.metrics import TrackerMetrics
    from streams.models import PositionReport
    from streams.replay import read_recording_raw
    from streams.tracking import Tracker
    from streams.zones import load_zones
    from tests.conftest import SEED_GOLDEN, SEED_SCENARIO

    items = [
        (r, raw) for r, raw in read_recording_raw(SEED_SCENARIO) if isinstance(r, PositionReport)
    ]
    values = [raw for _, raw in items] + [encode_watermark(max(r.ts for r, _ in items))]
    producer = FakeProducer()
    first = LogConsumer(values, 700)
    stage = _stage(first, producer)
    for _ in range(10):
        await stage.run_round()
    committed = first.commits[-1][TP("raw", 0)]
    for _ in range(3):  # published, then killed before these rounds' commits
        await stage.run_round()
    assert first.position > committed
    second = LogConsumer(values, 700, committed)
    stage = _stage(second, producer)
    while second.position < len(values):
        await stage.run_round()

    class Sink:
        async def send(self, **kwargs: Any) -> None:
            return None

    registry = CollectorRegistry()
    bundle = TrackerApp(
        app=None,  # type: ignore[arg-type]
        settings=StreamSettings(partitions=PARTITIONS),
        tracker=Tracker(load_zones(["dprk"])),
        metrics=TrackerMetrics(registry),
        positions=Sink(), events=Sink(), dead_letters=Sink(), table={},
        clock=lambda: 0.0, partitions={}, listeners=[],
    )  # fmt: skip
    events: list[Any] = []
    bundle.listeners.append(events.append)
    for sent in producer.sent:
        assert sent["topic"] == "pos"
        partition = sent["partition"]
        if partition is None:  # a batch of one goes out keyed, to its owner
            partition = partition_of(sent["key"].decode(), PARTITIONS)
        await bundle.handle(sent["key"], sent["value"], partition)
    repeats = sum(
        registry.get_sample_value("skyfence_positions_total", {"outcome": o}) or 0
        for o in ("duplicate", "out_of_order")
    )
    # Every position, the re-sent ones again, and the end-of-stream watermark on each partition.
    assert bundle.handled == len(items) + (first.position - committed) + PARTITIONS
    assert repeats >= first.position - committed
    key = lambda line: orjson.loads(line)["event_id"]  # noqa: E731
    got = sorted((encode_event(e) for e in events), key=key)
    assert got == sorted(SEED_GOLDEN.read_bytes().splitlines(), key=key)
