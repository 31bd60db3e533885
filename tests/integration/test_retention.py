"""Replayed history survives the broker's time-based retention (Apache Kafka).

Kafka deletes a segment once its newest record timestamp is older than ``retention.ms`` (7 days
by default), at each retention check. Records stamped with their event time (a recording
from 2023) would be deleted at the next check, minutes after they were written, while a
worker still reads them: its offset falls out of range, resets to the log end, and the rest
of the replay is silently gone. That is what once looked like a "stalled worker" in
``make bench``. skyfence stamps records with their publish time and keeps event time in the
payload; this test runs the seed (September 2023) through the whole pipeline on a broker that
checks retention every 200 ms, and proves with a control record stamped in 2023 that the
check really ran after the writes.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from alerts.channels.base import ListChannel
from alerts.runner import start_pipeline
from streams.codec import encode_event
from streams.config import StreamSettings
from streams.models import PositionReport
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from streams.topics import ensure_topics
from tests.conftest import SEED_SCENARIO, golden_as_delivered
from tests.integration.conftest import require_apache_kafka
from tests.support.brokers import ApacheKafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka, pytest.mark.timeout(240)]

PARTITIONS = 4
#: How long the broker may take to run a retention check that deletes the control record.
RETENTION_WAIT_S = 30.0


@pytest.fixture(scope="module")
def retention_kafka() -> Iterator[ApacheKafkaBroker]:
    """Apache Kafka that checks retention every 200 ms from the start (default: every 5 min,
    after 30 s), with the default 7-day ``retention.ms``."""
    require_apache_kafka()
    props = {"log.retention.check.interval.ms": "200", "log.initial.task.delay.ms": "0"}
    with ApacheKafkaBroker(properties=props) as broker:
        yield broker


def _settings(bootstrap: str, kind: str, tmp_path: Path) -> StreamSettings:
    """Settings with this test's own app id and topics."""
    name = f"{kind}-{uuid.uuid4().hex[:8]}"
    return StreamSettings(
        broker=bootstrap,
        session_timeout_s=10.0,
        app_id=name,
        positions_topic=f"{name}.positions",
        events_topic=f"{name}.events",
        dead_letter_topic=f"{name}.dlq",
        partitions=PARTITIONS,
        data_dir=str(tmp_path / "faust"),
    )


def _seed_first_ts_ms() -> int:
    report = next(r for r, _ in read_recording_raw(SEED_SCENARIO) if isinstance(r, PositionReport))
    return int(report.ts * 1000)


async def _offsets(bootstrap: str, topic: str, partitions: int) -> tuple[list[int], list[int]]:
    """(beginning offsets, end offsets) of every partition of ``topic``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        begin = await consumer.beginning_offsets(tps)
        end = await consumer.end_offsets(tps)
        return [begin[tp] for tp in tps], [end[tp] for tp in tps]
    finally:
        await consumer.stop()


async def _retention_ran(bootstrap: str, producer: AIOKafkaProducer, topic: str) -> None:
    """Write a record stamped with the seed's own (2023) time to ``topic`` and wait until the
    broker deletes it: from then on, a retention check has run after every earlier write."""
    before = (await _offsets(bootstrap, topic, 1))[1][0]
    await producer.send_and_wait(topic, b"control", partition=0, timestamp_ms=_seed_first_ts_ms())
    deadline = time.monotonic() + RETENTION_WAIT_S
    while (await _offsets(bootstrap, topic, 1))[0][0] <= before:
        assert time.monotonic() < deadline, (
            f"the broker kept a 2023 record for {RETENTION_WAIT_S:.0f} s: retention never ran, "
            "so this test proves nothing"
        )
        await asyncio.sleep(0.2)


async def test_replayed_2023_recording_survives_retention_end_to_end(
    retention_kafka: ApacheKafkaBroker, tmp_path: Path
) -> None:
    bootstrap = retention_kafka.bootstrap
    settings = _settings(bootstrap, "rt", tmp_path)
    control = f"{settings.app_id}.control"
    await ensure_topics(bootstrap, settings, extra=[(control, 1)])

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        # Both message forms: batches (what `skyfence replay` sends) and single messages.
        publisher = PositionPublisher(producer, settings.positions_topic, batch_max_positions=50)
        stats = await replay(read_recording_raw(SEED_SCENARIO), publisher)
        assert stats.sent > 0 and publisher.messages < stats.sent  # batches went out
        await _retention_ran(bootstrap, producer, control)
        begin, end = await _offsets(bootstrap, settings.positions_topic, PARTITIONS)
        assert begin == [0] * PARTITIONS, f"positions deleted by retention: log starts at {begin}"
        assert sum(end) == publisher.messages

        # Only now start the worker: it reads what survived the retention check.
        channel = ListChannel()
        pipeline = await start_pipeline(settings, bootstrap, [channel])
        try:
            want = sorted(golden_as_delivered())
            deadline = time.monotonic() + 120
            while len(channel.events) < len(want):
                assert time.monotonic() < deadline, (
                    f"only {len(channel.events)} of {len(want)} events arrived"
                )
                await asyncio.sleep(0.1)
        finally:
            await pipeline.stop()
        assert sorted(encode_event(e) for e in channel.events) == want

        # The events the tracker emitted (event times in 2023) survive a check too.
        await _retention_ran(bootstrap, producer, control)
        begin, end = await _offsets(bootstrap, settings.events_topic, PARTITIONS)
        assert begin == [0] * PARTITIONS, f"events deleted by retention: log starts at {begin}"
        assert sum(end) == len(want)
    finally:
        await producer.stop()


async def test_an_offset_reset_is_counted_and_logged(
    retention_kafka: ApacheKafkaBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Records deleted under a worker that had not read them yet (what retention did to
    event-time stamps): the worker's fetch position is out of range, the consumer resets to
    the earliest retained offset and goes on from there, and ops see it in
    ``skyfence_consumer_offset_resets_total`` and a warning, not only at aiokafka's INFO."""
    bootstrap = retention_kafka.bootstrap
    settings = _settings(bootstrap, "rs", tmp_path)
    await ensure_topics(bootstrap, settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        await replay(
            read_recording_raw(SEED_SCENARIO), PositionPublisher(producer, settings.positions_topic)
        )
    finally:
        await producer.stop()
    tps = [TopicPartition(settings.positions_topic, p) for p in range(PARTITIONS)]
    _, end = await _offsets(bootstrap, settings.positions_topic, PARTITIONS)
    deleted = 5
    assert min(end) > deleted

    # The group had read one message per partition; then the first `deleted` go.
    group = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=settings.app_id)
    await group.start()
    try:
        group.assign(tps)
        await group.commit({tp: 1 for tp in tps})
    finally:
        await group.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_records({tp: RecordsToDelete(deleted) for tp in tps})
    finally:
        await admin.close()
    assert (await _offsets(bootstrap, settings.positions_topic, PARTITIONS))[0] == [deleted] * 4

    caplog.set_level(logging.WARNING)
    pipeline = await start_pipeline(settings, bootstrap, [ListChannel()])
    try:
        remaining = sum(end) - PARTITIONS * deleted
        deadline = time.monotonic() + 60
        while pipeline.bundle.handled < remaining:
            assert time.monotonic() < deadline, (
                f"handled {pipeline.bundle.handled} of the {remaining} retained messages"
            )
            await asyncio.sleep(0.1)
        resets = pipeline.registry.get_sample_value(
            "skyfence_consumer_offset_resets_total", {"topic": settings.positions_topic}
        )
        # At least once per partition (Faust may seek to the committed offset again before its
        # first commit, which resets again).
        assert resets is not None and resets >= PARTITIONS
        assert pipeline.bundle.handled == remaining  # nothing else was read
    finally:
        await pipeline.stop()
    warned = [
        r
        for r in caplog.records
        if r.name == "aiokafka.consumer.fetcher"
        and r.levelno == logging.WARNING
        and settings.positions_topic in r.getMessage()
    ]
    assert len(warned) == resets, [r.getMessage() for r in warned]
    assert "out of range" in warned[0].getMessage()
