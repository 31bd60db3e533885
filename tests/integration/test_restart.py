"""Reliability: a worker stopped half-way through the seed and started again loses nothing.

Runs against Apache Kafka (what users deploy): the second worker must restore per-aircraft
state from the table's changelog, rebuild its timers, and together with the first produce
exactly the golden events, each once. (Tansu is memory-only and its ListOffsets answer makes
Faust's changelog recovery miss records; see the README.)
"""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from alerts.channels.base import ListChannel
from alerts.runner import start_pipeline
from streams.codec import encode_event
from streams.config import StreamSettings
from streams.models import PositionReport
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.conftest import SEED_SCENARIO, golden_as_delivered
from tests.integration.test_pipeline import _drain

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: 2023-09-27 07:33 UTC: the Il-62M is on the ground in Pyongyang (state: inside, signal lost)
#: and its exit on the 28th must come from state the first worker left in the table.
SPLIT_TS = 1_695_800_000.0


async def _replay_part(bootstrap: str, topic: str, items: list) -> int:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        stats = await replay(items, PositionPublisher(producer, topic))
    finally:
        await producer.stop()
    return stats.sent + stats.watermarks


async def test_restart_half_way_keeps_state_and_gives_each_event_once(kafka_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = uuid.uuid4().hex[:8]
    settings = StreamSettings(
        broker=kafka_broker.bootstrap,
        app_id=f"restart-{run}",
        positions_topic=f"restart-{run}.positions",
        events_topic=f"restart-{run}.events",
        dead_letter_topic=f"restart-{run}.dlq",
        partitions=4,
        data_dir=str(tmp_path / "faust"),
    )
    items = list(read_recording_raw(SEED_SCENARIO))
    first = [(r, raw) for r, raw in items if isinstance(r, PositionReport) and r.ts < SPLIT_TS]
    second = [(r, raw) for r, raw in items if isinstance(r, PositionReport) and r.ts >= SPLIT_TS]

    channel_a = ListChannel()
    pipeline = await start_pipeline(settings, kafka_broker.bootstrap, [channel_a])
    try:
        await _drain(pipeline, await _replay_part(kafka_broker.bootstrap, settings.positions_topic, first), 180)
    finally:
        await pipeline.stop()

    channel_b = ListChannel()
    pipeline = await start_pipeline(settings, kafka_broker.bootstrap, [channel_b])
    try:
        await _drain(pipeline, await _replay_part(kafka_broker.bootstrap, settings.positions_topic, second), 180)
        assert pipeline.bundle.handled >= len(second)  # the first half was not re-read
    finally:
        await pipeline.stop()

    got = [encode_event(e) for e in channel_a.events + channel_b.events]
    ids = [orjson.loads(line)["event_id"] for line in got]
    assert len(ids) == len(set(ids)), "an alert was delivered twice across the restart"
    want = golden_as_delivered()
    assert sorted(got) == sorted(want)
    # The Il-62M's exit on the 28th was decided by the second worker from restored state.
    assert any(e.icao24 == "1551e0" and e.type.value == "exited" for e in channel_b.events)
