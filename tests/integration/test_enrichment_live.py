"""Enrichment under a running worker (tracker + notifier on the embedded Tansu broker): a
watchlist rewritten on disk is used by the next alert, a broken rewrite keeps the old data,
and a persisting 7700 near the DPRK arrives as a squawk_emergency alert routed to its own
channel."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from alerts.channels.base import ListChannel
from alerts.enrich import Enricher, open_enrichment
from alerts.reload import Reloader
from alerts.routing import Router, RoutingConfig
from alerts.runner import start_pipeline
from streams.models import EventType, WatchlistMatch
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from streams.zones import load_zones
from tests.integration.test_pipeline import _settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

T0 = 1_800_000_000.0
ROUTING = """
[channels.desk]
kind = "console"
[channels.emergencies]
kind = "console"
[[rules]]
name = "squawks"
types = ["squawk_emergency"]
channels = ["emergencies"]
stop = true
[[rules]]
name = "watched"
types = ["entered"]
categories = ["Before", "After"]
channels = ["desk"]
"""


def _crossing(icao24: str, t0: float) -> list[dict[str, object]]:
    """Outside then inside the DPRK (Sinuiju), two minutes apart."""
    return [
        {"icao24": icao24, "ts": t0, "lat": 40.25, "lon": 124.35, "alt_ft": 20000, "squawk": "2000"},
        {"icao24": icao24, "ts": t0 + 120, "lat": 40.10, "lon": 124.55, "alt_ft": 18000, "squawk": "2000"},
    ]


async def _publish(bootstrap: str, topic: str, rows: list[dict[str, object]], path: Path) -> None:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        await replay(read_recording_raw(path), PositionPublisher(producer, topic))
    finally:
        await producer.stop()


async def _until(predicate, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse file-system clocks
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def test_reload_under_a_running_worker_and_a_squawk_alert(tansu_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = _settings(tansu_broker, tmp_path)
    desk_csv = tmp_path / "desk.csv"
    desk_csv.write_text("icao24,category,tags\n7c1001,Before,\n7c1002,Before,\n7c1004,Before,\n")
    lists, _ = open_enrichment([f"desk={desk_csv}"])
    enricher = Enricher(load_zones(["dprk"]), watchlists=lists, images=False)
    desk, emergencies = ListChannel("desk"), ListChannel("emergencies")
    router = Router(RoutingConfig.from_toml(ROUTING))
    reloader = Reloader(enricher.reloading, interval_s=0.05)
    pipeline = await start_pipeline(
        settings, tansu_broker.bootstrap, [desk, emergencies], router=router, enricher=enricher
    )
    reloader.start()
    try:
        topic = settings.positions_topic
        await _publish(tansu_broker.bootstrap, topic, _crossing("7c1001", T0), tmp_path / "a.jsonl")
        await _until(lambda: len(desk.events) == 1, "the first alert")
        _rewrite(desk_csv, "icao24,category,tags\n7c1001,After,Edited\n7c1002,After,Edited\n7c1004,After,Edited\n")
        await _until(lambda: lists[0].reloads == 1, "the reload")
        await _publish(tansu_broker.bootstrap, topic, _crossing("7c1002", T0 + 600), tmp_path / "b.jsonl")
        await _until(lambda: len(desk.events) == 2, "the second alert")
        _rewrite(desk_csv, "not, a watchlist\n")
        await _until(lambda: lists[0].failures == 1, "the failed reload")
        # A 7700 for 70 s over Korea Bay, ~9-16 km off the DPRK coast; the third crossing
        # (another aircraft) shows the broken file changed nothing.
        squawk = [
            {"icao24": "7c1003", "ts": T0 + 1200 + t, "lat": 39.50 + t * 0.0005,
             "lon": 124.00 + t * 0.0005, "alt_ft": 9000, "squawk": "7700"}
            for t in (0, 30, 70)
        ]  # fmt: skip
        await _publish(
            tansu_broker.bootstrap, topic, squawk + _crossing("7c1004", T0 + 1500), tmp_path / "c.jsonl"
        )
        await _until(lambda: len(emergencies.events) == 1 and len(desk.events) == 3, "the squawk")
    finally:
        reloader.stop()
        await pipeline.stop()
    assert [(e.type, e.icao24, e.watchlists) for e in desk.events] == [
        (EventType.ENTERED, "7c1001", (WatchlistMatch("desk", "Before", ()),)),
        (EventType.ENTERED, "7c1002", (WatchlistMatch("desk", "After", ("Edited",)),)),
        (EventType.ENTERED, "7c1004", (WatchlistMatch("desk", "After", ("Edited",)),)),
    ]
    sos = emergencies.events[0]
    assert (sos.type, sos.icao24, sos.squawk, sos.zone) == (
        EventType.SQUAWK_EMERGENCY, "7c1003", "7700", "dprk",
    )  # fmt: skip
    assert sos.observed_ts == T0 + 1270  # 70 s after the code was first heard, third fix
    assert sos.country == "AU"  # 7c0000-7fffff: Australia's block
