"""The positions topic keeps accepting recording format v1, one position per message, from
any Kafka producer, alongside skyfence's own batches.

The producer on Apache Kafka is ``kcat`` (librdkafka), as another team or a shell script
would use it: keyed by icao24 with Kafka's default partitioner (``-X
partitioner=murmur2_random``) the seed scenario gives exactly the golden events; unkeyed,
positions are re-keyed, not lost. Without kcat those skip (``make tools`` installs it),
except under ``CI=true``. Tansu v0.6 drops librdkafka's ApiVersions request (kcat 1.7.1
cannot connect), so on Tansu a plain aiokafka producer sends the same single messages.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from alerts.channels.base import ListChannel
from alerts.runner import start_pipeline
from streams.codec import encode_event, encode_watermark
from streams.models import PositionReport
from streams.replay import read_recording_raw
from tests.conftest import SEED_SCENARIO, golden_as_delivered
from tests.integration.test_pipeline import _drain, _settings, _sort_key, broker  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


def _kcat() -> str:
    path = shutil.which("kcat") or shutil.which("kafkacat")
    if path is None:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail("kcat missing under CI=true: `make tools` installs Debian's kcat", pytrace=False)
        pytest.skip("kcat not installed (Debian package kcat; `make tools` installs it)")
    return path


async def _produce(
    target: Any, topic: str, messages: list[tuple[bytes | None, bytes]], partition: int | None = None
) -> None:
    """Send one message per (key, value), in order, and wait until all are acknowledged:
    with kcat on Apache Kafka, with a plain aiokafka producer on Tansu."""
    if target.name == "tansu":
        producer = AIOKafkaProducer(bootstrap_servers=target.bootstrap, acks="all", linger_ms=5)
        await producer.start()
        try:
            futures = [await producer.send(topic, value=v, key=k, partition=partition) for k, v in messages]
            await asyncio.gather(*futures)
        finally:
            await producer.stop()
        return
    args = ["-X", "partitioner=murmur2_random"]
    if partition is not None:
        args = ["-p", str(partition)]
    keyed = messages[0][0] is not None
    if keyed:
        args += ["-K", "\t"]
    lines = b"".join((k + b"\t" + v if keyed and k else v) + b"\n" for k, v in messages)
    proc = await asyncio.create_subprocess_exec(
        _kcat(), "-P", "-b", target.bootstrap, "-t", topic, *args,
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    _out, err = await proc.communicate(lines)
    assert proc.returncode == 0, err.decode(errors="replace")


async def test_kcat_keyed_single_positions_give_the_golden_events(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    if broker.name != "tansu":
        _kcat()
    settings = _settings(broker, tmp_path)
    channel = ListChannel()
    pipeline = await start_pipeline(settings, broker.bootstrap, [channel])
    try:
        items = [(r, raw) for r, raw in read_recording_raw(SEED_SCENARIO) if isinstance(r, PositionReport)]
        await _produce(broker, settings.positions_topic, [(r.icao24.encode(), raw) for r, raw in items])
        # The producer's promise at the end ("everything up to here was sent"), per partition.
        last_ts = max(r.ts for r, _ in items)
        for partition in range(settings.partitions):
            await _produce(broker, settings.positions_topic, [(None, encode_watermark(last_ts))], partition)
        await _drain(pipeline, len(items) + settings.partitions, timeout_s=180)
        assert pipeline.registry.get_sample_value("skyfence_positions_total", {"outcome": "rekeyed"}) is None
        assert pipeline.bundle.messages == len(items) + settings.partitions  # one position each
    finally:
        await pipeline.stop()
    got = sorted((encode_event(e) for e in channel.events), key=_sort_key)
    want = sorted(golden_as_delivered(), key=_sort_key)
    assert got == want


async def test_kcat_unkeyed_single_positions_are_rekeyed(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    if broker.name != "tansu":
        _kcat()
    settings = _settings(broker, tmp_path)
    channel = ListChannel()
    pipeline = await start_pipeline(settings, broker.bootstrap, [channel])
    t0 = 1_695_690_000.0
    track = [
        orjson.dumps({"icao24": "7278a2", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i,
                      "lon": 124.0 + 0.025 * i, "alt_ft": 30000})
        for i in range(40)
    ]
    try:
        # One partition for the unkeyed messages keeps them in order (kcat would otherwise
        # spread them at random, and an aircraft's fixes must stay in order to be tracked).
        await _produce(broker, settings.positions_topic, [(None, line) for line in track], 0)
        await _drain(pipeline, 2 * len(track), timeout_s=120)
        rekeyed = pipeline.registry.get_sample_value("skyfence_positions_total", {"outcome": "rekeyed"})
        assert rekeyed == len(track)
    finally:
        await pipeline.stop()
    assert [(e.type.value, e.icao24) for e in channel.events] == [("approaching", "7278a2"), ("entered", "7278a2")]
