"""The whole pipeline against real brokers: seed scenario -> Kafka -> Faust -> alerts.

Runs against both the embedded Tansu broker and Apache Kafka (fixtures in conftest.py).
Every test uses its own app id and topic names, so tests sharing a broker never interfere.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from alerts.channels.base import ListChannel
from alerts.runner import TANSU_SESSION_TIMEOUT_S, Pipeline, start_pipeline
from streams.codec import encode_event
from streams.config import StreamSettings
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.conftest import SEED_SCENARIO, golden_as_delivered

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture(params=["tansu", "kafka"])
def broker(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each test runs once per broker."""
    return request.getfixturevalue(f"{request.param}_broker")


def _settings(broker, tmp_path: Path) -> StreamSettings:  # type: ignore[no-untyped-def]
    run = uuid.uuid4().hex[:8]
    return StreamSettings(
        broker=broker.bootstrap,
        # Tansu holds a group's first join for half the session timeout; Kafka needs >= 6 s.
        session_timeout_s=TANSU_SESSION_TIMEOUT_S if broker.name == "tansu" else 10.0,
        app_id=f"it-{run}",
        positions_topic=f"it-{run}.positions",
        events_topic=f"it-{run}.events",
        dead_letter_topic=f"it-{run}.dlq",
        partitions=4,
        data_dir=str(tmp_path / "faust"),
    )


async def _drain(pipeline: Pipeline, handled: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    bundle, notifier = pipeline.bundle, pipeline.notifier
    # The notifier must also have handled what it read and sent what it queued: a stop
    # leaves queued alerts pending in the outbox (for the next start), so asserting on a
    # channel right after the stop raced the last alert (seen on Apache Kafka, ~1 run in 10).
    while not (bundle.handled >= handled and notifier.read >= bundle.emitted and notifier.idle()):
        if time.monotonic() > deadline:
            raise AssertionError(
                f"pipeline did not drain: handled {bundle.handled}/{handled}, "
                f"notifier read {notifier.read}/{bundle.emitted}, handled {notifier.handled}, "
                f"idle {notifier.idle()}"
            )
        await asyncio.sleep(0.05)


def _sort_key(line: bytes) -> tuple:
    obj = orjson.loads(line)
    return (obj["observed_ts"], obj["icao24"], obj["zone"], obj["type"])


async def test_seed_scenario_gives_exactly_the_golden_events(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(broker, tmp_path)
    channel = ListChannel()
    pipeline = await start_pipeline(settings, broker.bootstrap, [channel])
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5, acks="all")
        await producer.start()
        try:
            stats = await replay(read_recording_raw(SEED_SCENARIO), PositionPublisher(producer, settings.positions_topic))
        finally:
            await producer.stop()
        await _drain(pipeline, stats.sent + stats.watermarks, timeout_s=180)
    finally:
        await pipeline.stop()
    got = sorted((encode_event(e) for e in channel.events), key=_sort_key)
    want = sorted(golden_as_delivered(), key=_sort_key)
    assert got == want, (
        f"Kafka path gave {len(got)} events, golden file has {len(want)}. If detection changed on "
        "purpose, regenerate the golden file with `make golden` and review the diff."
    )


async def test_bad_messages_are_dead_lettered_and_unkeyed_ones_rekeyed(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(broker, tmp_path)
    channel = ListChannel()
    pipeline = await start_pipeline(settings, broker.bootstrap, [channel])
    t0 = 1_695_690_000.0
    # An aircraft flying from the Dandong side into DPRK airspace, 10 s between fixes.
    track = [
        orjson.dumps(
            {"icao24": "7278a2", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i, "lon": 124.0 + 0.025 * i, "alt_ft": 30000}
        )
        for i in range(40)
    ]
    # Another aircraft far from any zone, its fixes unkeyed and on random partitions.
    stray = [orjson.dumps({"icao24": "a00002", "ts": t0 + 10 * i, "lat": 10.0, "lon": 10.0 + 0.02 * i}) for i in range(8)]
    bad = [b"{not json", b'{"icao24":"zzzzzz","ts":1695690000,"lat":1,"lon":2}', b'{"icao24":"7278a2","ts":1695690000,"lat":95,"lon":2}']
    try:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            # First let the worker take one keyed position and so be consuming live.
            warm = orjson.dumps({"icao24": "a00001", "ts": t0, "lat": 10.0, "lon": 10.0})
            await producer.send_and_wait(settings.positions_topic, value=warm, key=b"a00001")
            await _drain(pipeline, 1, timeout_s=60)
            for raw in bad:
                await producer.send_and_wait(settings.positions_topic, value=raw, key=b"junk")
            # No key at all, as kcat or another team's producer might send: rekeyed, not lost.
            # The track goes to one partition (as a sticky partitioner sends a burst), so its
            # order survives the re-keying and the events are exact. Unkeyed fixes spread over
            # several partitions are re-keyed in whatever order the worker reads them (see the
            # README's Operations, "Keys"): the stray's are only counted.
            for raw in track:
                await producer.send_and_wait(settings.positions_topic, value=raw, partition=0)
            for raw in stray:
                await producer.send_and_wait(settings.positions_topic, value=raw)
        finally:
            await producer.stop()
        # Each unkeyed message is handled twice: once to rekey it, once under its own key.
        await _drain(pipeline, 1 + len(bad) + 2 * (len(track) + len(stray)), timeout_s=120)
        registry = pipeline.registry
        assert registry.get_sample_value("skyfence_dead_letters_total", {"reason": "json"}) == 1
        assert registry.get_sample_value("skyfence_dead_letters_total", {"reason": "bad_icao24"}) == 1
        assert registry.get_sample_value("skyfence_dead_letters_total", {"reason": "bad_lat"}) == 1
        assert registry.get_sample_value("skyfence_positions_total", {"outcome": "rekeyed"}) == len(track) + len(stray)
    finally:
        await pipeline.stop()
    assert [(e.type.value, e.icao24) for e in channel.events] == [("approaching", "7278a2"), ("entered", "7278a2")]

    consumer = AIOKafkaConsumer(
        settings.dead_letter_topic, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        got = []
        deadline = time.monotonic() + 30
        while len(got) < len(bad) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                got.extend(records)
    finally:
        await consumer.stop()
    assert [r.value for r in got] == bad
    reasons = [dict(r.headers)["skyfence-reason"] for r in got]
    assert reasons == [b"json", b"bad_icao24", b"bad_lat"]
