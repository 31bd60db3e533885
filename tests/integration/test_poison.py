"""Poison messages on real brokers (Tansu and Apache Kafka), issue 12.

A worker process (``skyfence worker``) reads a positions topic that first receives every
class of hostile message the probe found (a 5 MB callsign, watermarks far ahead, numbers
beyond range, garbage bytes, empty and null values, NaN, wrong and missing keys, a 900 KB
batch...), then one valid track entering DPRK airspace. Afterwards the track has raised
exactly its ``entered`` alert (and no false ``signal_lost``/``first_seen_inside``), every
poison message is in the dead-letter topic with its reason, and the worker stops cleanly on
SIGTERM within its shutdown timeout.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.codec import decode_event

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
#: Large enough for the 5 MB message on both brokers (Kafka's default is 1 MB).
TOPIC_MAX_MESSAGE_BYTES = 8 * 1024 * 1024


@pytest.fixture(params=["tansu", "kafka"])
def broker(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Each test runs once per broker."""
    return request.getfixturevalue(f"{request.param}_broker")


def _poison(now: float) -> list[tuple[bytes | None, bytes | None, str]]:
    """(key, value, expected dead-letter reason) for each hostile message."""
    pos = {"icao24": "1551e0", "ts": now - 600, "lat": 45.0, "lon": 100.0}

    def j(**extra: object) -> bytes:
        return orjson.dumps({**pos, **extra})

    batch_item = orjson.dumps({**pos, "callsign": "BATCH"})
    big_batch = b"[" + b",".join([batch_item] * (900_000 // (len(batch_item) + 1))) + b"]"
    return [
        (b"1551e0", j(callsign="A" * 5_000_000), "too_large"),
        (b"1551e0", j(callsign="B" * 1000), "bad_field"),
        (b"1551e0", j(squawk="77777"), "bad_field"),
        (b"1551e0", j(source="s" * 100), "bad_field"),
        (None, b'{"watermark": 1e308}', "bad_ts"),
        (None, orjson.dumps({"watermark": now + 86_400 * 365}), "watermark_ahead"),
        (b"1551e0", j(alt_ft=1e30), "bad_field"),
        (b"1551e0", j(gs_kt=1e308, track_deg=90), "bad_field"),
        (b"1551e0", j(vrate_fpm=-1e300), "bad_field"),
        (b"junk", os.urandom(300).replace(b"{", b"(").replace(b"[", b"("), "json"),
        (b"1551e0", b"", "json"),
        (b"1551e0", None, "json"),
        (b"1551e0", b'{"icao24":"1551e0","ts":1695690000,"lat":NaN,"lon":1}', "json"),
        (b"wrong!", b'{"icao24":"1551e0","lat":1,"lon":2}', "missing_field"),
        (None, b'{"ts":1695690000,"lat":1,"lon":2}', "missing_field"),
        (b"1551e0", b'"just a string"', "not_object"),
        (b"1551e0", j(ts=now * 1000), "bad_ts"),
        (None, big_batch, "too_large"),
    ]


def _track(now: float) -> list[bytes]:
    """A track from the Dandong side into DPRK airspace, 10 s between fixes, ending now."""
    t0 = now - 400
    return [
        orjson.dumps(
            {"icao24": "7278a2", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i,
             "lon": 124.0 + 0.025 * i, "alt_ft": 30000, "callsign": "KOR123"}
        )
        for i in range(40)
    ]  # fmt: skip


async def _read_all(bootstrap: str, topic: str, want: int, timeout_s: float) -> list:  # type: ignore[type-arg]
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None,
        max_partition_fetch_bytes=TOPIC_MAX_MESSAGE_BYTES, fetch_max_bytes=TOPIC_MAX_MESSAGE_BYTES,
    )  # fmt: skip
    await consumer.start()
    got = []
    try:
        deadline = time.monotonic() + timeout_s
        while len(got) < want and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                got.extend(records)
    finally:
        await consumer.stop()
    return got


async def test_poison_messages_never_stop_the_worker(broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = uuid.uuid4().hex[:8]
    positions, events, dlq = f"poison-{run}.positions", f"poison-{run}.events", f"poison-{run}.dlq"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        big = {"max.message.bytes": str(TOPIC_MAX_MESSAGE_BYTES)}
        await admin.create_topics(
            [NewTopic(positions, 4, 1, topic_configs=big), NewTopic(dlq, 1, 1, topic_configs=big)]
        )
    finally:
        await admin.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFENCE_")}
    env.update(
        SKYFENCE_BROKER=broker.bootstrap,
        SKYFENCE_APP_ID=f"poison-{run}",
        SKYFENCE_POSITIONS_TOPIC=positions,
        SKYFENCE_EVENTS_TOPIC=events,
        SKYFENCE_DEAD_LETTER_TOPIC=dlq,
        SKYFENCE_PARTITIONS="4",
        SKYFENCE_SESSION_TIMEOUT_S="2" if broker.name == "tansu" else "10",
        SKYFENCE_DATA_DIR=str(tmp_path / "faust"),
        SKYFENCE_SHUTDOWN_TIMEOUT_S="20",
        PYTHONUNBUFFERED="1",
    )
    out, err = open(tmp_path / "out", "wb"), open(tmp_path / "err", "wb")  # noqa: SIM115
    worker = subprocess.Popen(
        [sys.executable, "-m", "alerts.cli", "worker"], cwd=ROOT, env=env, stdout=out, stderr=err
    )
    now = time.time()
    poison = _poison(now)
    try:
        deadline = time.monotonic() + 90
        while b" running on " not in (tmp_path / "err").read_bytes():
            assert worker.poll() is None, (tmp_path / "err").read_text()
            assert time.monotonic() < deadline, "worker did not start"
            await asyncio.sleep(0.2)
        producer = AIOKafkaProducer(
            bootstrap_servers=broker.bootstrap, acks="all",
            max_request_size=TOPIC_MAX_MESSAGE_BYTES,
        )  # fmt: skip
        await producer.start()
        try:
            for key, value, _reason in poison:
                await producer.send_and_wait(positions, value=value, key=key, partition=0)
            for raw in _track(now):
                await producer.send_and_wait(positions, value=raw, key=b"7278a2")
        finally:
            await producer.stop()
        got = await _read_all(broker.bootstrap, events, want=2, timeout_s=90)
        types = [decode_event(r.value).type.value for r in got]
        assert types.count("entered") == 1, types
        assert not {"signal_lost", "first_seen_inside", "exited"} & set(types), types
        dead = await _read_all(broker.bootstrap, dlq, want=len(poison), timeout_s=60)
        reasons = [dict(r.headers)["skyfence-reason"].decode() for r in dead]
        assert reasons == [reason for _k, _v, reason in poison]
        assert all(len(r.value or b"") <= 512 * 1024 for r in dead)
        # The console channel shows the alert (the notifier reads the events topic).
        deadline = time.monotonic() + 60
        while b"ENTERED" not in (tmp_path / "out").read_bytes() and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        # The worker is still alive and answers SIGTERM within its shutdown timeout.
        assert worker.poll() is None
        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=40) == 0
        assert time.monotonic() - started < 25
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        out.close()
        err.close()
    alerts = [line for line in (tmp_path / "out").read_text().splitlines() if "ENTERED" in line]
    assert len(alerts) == 1, alerts
