"""``ingest`` against real brokers: an Apache Kafka outage mid-ingest loses and doubles
nothing; ``skyfence ingest sbs://...`` feeding a running worker raises the Il-62M's entry.

Both serve SBS lines from a local TCP server (:class:`tests.fakes.feeds.FakeTcpFeed`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from streams.config import StreamSettings
from streams.ingest import Ingest, IngestMetrics, IngestOptions, kafka_producer_factory
from streams.models import PositionReport
from streams.replay import read_recording
from streams.sources.live import CountingStats, LiveOptions
from streams.sources.sbs import format_sbs
from streams.sources.tcp import sbs_source
from streams.topics import ensure_topics
from tests.fakes.feeds import FakeTcpFeed, Send, Silence
from tests.integration.conftest import require_apache_kafka
from tests.support.brokers import ApacheKafkaBroker

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
SEED = REPO / "seeds" / "dprk-2023-09.jsonl.gz"
#: The Il-62M's observed entry into DPRK airspace (README, golden events).
ENTRY_TS = 1695690855.0


@pytest.fixture
def own_kafka() -> Iterator[ApacheKafkaBroker]:
    """An Apache Kafka broker of this test's own, to stop and start mid-ingest."""
    require_apache_kafka()
    with ApacheKafkaBroker(
        properties={"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}
    ) as broker:
        yield broker


async def _read_topic(
    bootstrap: str, topic: str, expected: int | None, timeout_s: float = 60, idle_s: float = 3.0
) -> list[tuple[bytes | None, bytes]]:
    """Every record of ``topic``: read until ``expected`` records (then 2 s more, to see
    duplicates), or, with ``expected=None``, until nothing new for ``idle_s``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    out: list[tuple[bytes | None, bytes]] = []
    try:
        deadline = time.monotonic() + timeout_s
        last_new = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                out += [(r.key, r.value) for r in records]
                last_new = time.monotonic()
            if expected is not None and len(out) >= expected:
                extra = await consumer.getmany(timeout_ms=2000)
                for records in extra.values():
                    out += [(r.key, r.value) for r in records]
                break
            if expected is None and out and time.monotonic() - last_new > idle_s:
                break
    finally:
        await consumer.stop()
    return out


@pytest.mark.apache_kafka
async def test_broker_outage_mid_ingest_loses_and_doubles_nothing(
    own_kafka: ApacheKafkaBroker,
) -> None:
    bootstrap = own_kafka.bootstrap
    run = uuid.uuid4().hex[:8]
    settings = StreamSettings(broker=bootstrap, positions_topic=f"ingest-{run}.positions",
                              events_topic=f"ingest-{run}.events", dead_letter_topic=f"ingest-{run}.dlq", partitions=3)  # fmt: skip
    await ensure_topics(bootstrap, settings)
    now = time.time()
    # 400 aircraft, 10 positions each, interleaved as a receiver hears them; ~12 s of feed.
    sent = [
        PositionReport(
            f"{0x500000 + a:06x}",
            round(now - 30 + k * 2 + a * 0.001, 3),
            round(40 + a * 0.01, 5),
            round(124 + k * 0.01, 5),
            30000 + k,
        )
        for k in range(10)
        for a in range(400)
    ]
    data = b"".join(ln.encode() + b"\r\n" for r in sent for ln in format_sbs(r))
    stats = CountingStats()
    async with FakeTcpFeed(
        [[Send(data, chunk=len(data) // 120 + 1, gap_s=0.1), Silence()]]
    ) as feed:
        source = sbs_source(
            "sbs://feed", "127.0.0.1", feed.port, stats=stats, options=LiveOptions(max_age_s=3600)
        )
        ingest = Ingest([source], settings, kafka_producer_factory(bootstrap, IngestOptions()),
                        metrics=IngestMetrics(CollectorRegistry()), options=IngestOptions(flush_timeout_s=120))  # fmt: skip
        task = asyncio.create_task(ingest.run())
        while ingest.stats.acked < 800:
            await asyncio.sleep(0.05)
            assert not task.done()
        await asyncio.to_thread(own_kafka.stop)  # the broker goes away mid-ingest
        outage_started = ingest.stats.positions
        await asyncio.sleep(4)
        during = ingest.stats.positions - outage_started
        await asyncio.to_thread(own_kafka.start)  # and comes back on the same port, same data
        while stats.positions < len(sent):
            await asyncio.sleep(0.1)
            assert not task.done()
        ingest.stop()
        result = await asyncio.wait_for(task, 150)
    assert ingest.idempotent is True
    assert during > 0  # positions kept arriving during the outage and were buffered
    assert result.overflow == 0 and result.positions == len(sent) and len(ingest.buffer) == 0
    records = await _read_topic(bootstrap, settings.positions_topic, None)
    got = [(key, p) for key, value in records for p in _positions(value)]
    # A lone position is keyed by icao24; a batch message (no key) was sent to the partition
    # that owns every aircraft in it.
    assert all(key is None or key == p.icao24.encode() for key, p in got)
    assert any(key is None for key, _ in got)
    as_sent = Counter((r.icao24, r.ts, r.lat, r.lon, r.alt_ft) for r in sent)
    as_read = Counter((p.icao24, p.ts, p.lat, p.lon, p.alt_ft) for _, p in got)
    assert as_read == as_sent  # every position exactly once, record by record
    # Per aircraft (one key, one partition) the order is the receiver's.
    by_aircraft: dict[str, list[float]] = {}
    for _, p in got:
        by_aircraft.setdefault(p.icao24, []).append(p.ts)
    assert all(ts == sorted(ts) for ts in by_aircraft.values())


def _seed_window() -> list[PositionReport]:
    """The seed scenario from 20 min before the Il-62M's entry to 1 min after, shifted so
    the last position is 5 s old."""
    window = [
        r
        for r in read_recording(SEED)
        if isinstance(r, PositionReport) and ENTRY_TS - 1200 <= r.ts <= ENTRY_TS + 60
    ]
    shift = time.time() - 5 - max(r.ts for r in window)
    for r in window:
        r.ts = round(r.ts + shift, 3)
    return sorted(window, key=lambda r: r.ts)


async def test_ingest_cli_feeding_a_worker_raises_the_il62_entry(
    tansu_broker, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    bootstrap = tansu_broker.bootstrap
    run = uuid.uuid4().hex[:8]
    env = {
        **os.environ,
        "SKYFENCE_APP_ID": f"live-{run}",
        "SKYFENCE_POSITIONS_TOPIC": f"live-{run}.positions",
        "SKYFENCE_EVENTS_TOPIC": f"live-{run}.events",
        "SKYFENCE_DEAD_LETTER_TOPIC": f"live-{run}.dlq",
        "SKYFENCE_ALERTS_DEAD_LETTER_TOPIC": f"live-{run}.alerts-dlq",
        "SKYFENCE_PARTITIONS": "2",
        "SKYFENCE_DATA_DIR": str(tmp_path / "faust"),
        "SKYFENCE_SESSION_TIMEOUT_S": "2",
        "PYTHONUNBUFFERED": "1",
    }
    window = _seed_window()
    assert any(r.icao24 == "1551e0" for r in window)
    data = b"".join(ln.encode() + b"\r\n" for r in window for ln in format_sbs(r))
    wout, werr = (tmp_path / "worker.out").open("wb"), (tmp_path / "worker.err").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "alerts.cli", "-v", "worker", "--broker", bootstrap, "--no-maps"],
                              stdout=wout, stderr=werr, env=env, cwd=REPO)  # fmt: skip
    ingest: subprocess.Popen[bytes] | None = None
    try:
        deadline = time.monotonic() + 90
        while ") running on" not in (tmp_path / "worker.err").read_text(errors="replace"):
            assert worker.poll() is None and time.monotonic() < deadline, (
                tmp_path / "worker.err"
            ).read_text()[-5000:]
            await asyncio.sleep(0.2)
        async with FakeTcpFeed([[Send(data, chunk=64 * 1024), Silence()]]) as feed:
            ingest = subprocess.Popen(
                [sys.executable, "-m", "alerts.cli", "ingest", f"sbs://127.0.0.1:{feed.port}",
                 "--broker", bootstrap, "--max-age-s", "3600"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO,
            )  # fmt: skip
            deadline = time.monotonic() + 90
            while True:
                out = (tmp_path / "worker.out").read_text(errors="replace")
                if any("ENTERED" in line and "1551e0" in line for line in out.splitlines()):
                    break
                assert ingest.poll() is None, ingest.stderr.read().decode() if ingest.stderr else ""
                assert time.monotonic() < deadline, (
                    out[-3000:] + (tmp_path / "worker.err").read_text()[-5000:]
                )
                await asyncio.sleep(0.2)
            ingest.send_signal(signal.SIGTERM)
            _, err = await asyncio.to_thread(ingest.communicate, timeout=60)
        assert ingest.returncode == 0, err.decode()
        summary = err.decode()
        assert f"{len(window)} positions" in summary and "0 unacknowledged" in summary, summary
        entered = [ln for ln in out.splitlines() if "ENTERED" in ln and "1551e0" in ln]
        assert "RSD352" in entered[0] and "dprk" in entered[0]
    finally:
        for proc in (ingest, worker):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
        wout.close()
        werr.close()


def _positions(value: bytes) -> list[PositionReport]:
    """The positions of a positions-topic message (single, batch; a watermark has none)."""
    from streams.codec import PositionBatch, decode_positions

    decoded = decode_positions(value)
    if isinstance(decoded, PositionBatch):
        return decoded.reports
    return [decoded] if isinstance(decoded, PositionReport) else []


async def test_replay_window_shift_to_now_and_loop(tansu_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bootstrap = tansu_broker.bootstrap
    run = uuid.uuid4().hex[:8]
    env = {**os.environ, "SKYFENCE_POSITIONS_TOPIC": f"rc-{run}.positions", "SKYFENCE_EVENTS_TOPIC": f"rc-{run}.events",
           "SKYFENCE_DEAD_LETTER_TOPIC": f"rc-{run}.dlq", "SKYFENCE_PARTITIONS": "2"}  # fmt: skip
    before = time.time()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alerts.cli", "replay", str(SEED), "--broker", bootstrap, "--max",
        "--from", "2023-09-26T01:00:00Z", "--to", "2023-09-26T01:20:00Z", "--shift-to-now",
        stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    _, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, err.decode()
    window = [
        r
        for r in read_recording(SEED)
        if isinstance(r, PositionReport) and ENTRY_TS - 855 <= r.ts <= ENTRY_TS + 345
    ]
    records = await _read_topic(bootstrap, f"rc-{run}.positions", None)
    positions = [p for _, v in records for p in _positions(v)]
    assert len(positions) == len(window)
    assert before - 1 <= min(p.ts for p in positions) <= time.time()
    assert max(p.ts for p in positions) - min(p.ts for p in positions) <= 20 * 60

    # --loop: a 3-position file replayed until stopped, time moving on each pass.
    small = tmp_path / "three.jsonl"
    small.write_bytes(b"\n".join(
        b'{"icao24":"1551e0","ts":%d,"lat":40.0,"lon":124.%d}' % (1695690855 + i, i) for i in range(3)
    ))  # fmt: skip
    env["SKYFENCE_POSITIONS_TOPIC"] = f"rc-{run}.loop"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alerts.cli", "replay", str(small), "--broker", bootstrap, "--speed", "20", "--loop",
        stderr=asyncio.subprocess.PIPE, env=env, cwd=REPO,
    )  # fmt: skip
    await asyncio.sleep(6)
    proc.send_signal(signal.SIGINT)
    await asyncio.wait_for(proc.communicate(), 60)
    records = await _read_topic(bootstrap, f"rc-{run}.loop", None, timeout_s=20)
    looped = [p for _, v in records for p in _positions(v)]
    assert len(looped) >= 9
    ts = sorted(p.ts for p in looped)
    assert (
        len(set(ts)) == len(ts) and ts[0] == 1695690855 and ts[3] == 1695690855 + 2 + 1
    )  # span 2 s + 1 s gap
