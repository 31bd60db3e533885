"""A watchlist rewritten under a running notifier: the next alert carries the new data; a
broken rewrite keeps the old data, and the failure is counted in the metrics."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.enrich import Enricher, open_enrichment
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier
from alerts.reload import Reloader
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType, WatchlistMatch, make_event_id

pytestmark = pytest.mark.timeout(60)


def _event(observed_ts: float) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id("1551e0", "dprk", "entered", observed_ts), type=EventType.ENTERED,
        icao24="1551e0", zone="dprk", ts=observed_ts, lat=40.0, lon=124.5,
        observed_ts=observed_ts, callsign="RSD352", confidence=Confidence.OBSERVED,
    )  # fmt: skip


def _rewrite(path: Path, text: str) -> None:
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse file-system clocks
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


async def _until(predicate: object, timeout_s: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not predicate() and loop.time() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.01)


async def test_rewritten_watchlist_is_used_by_the_next_alert(tmp_path: Path) -> None:
    desk = tmp_path / "desk.csv"
    desk.write_text("icao24,category,tags\n1551e0,Routine,\n")
    lists, _ = open_enrichment([f"desk={desk}"])
    enricher = Enricher(watchlists=lists, images=False)
    channel = ListChannel()
    registry = CollectorRegistry()
    notifier = Notifier([channel], NotifierMetrics(registry), enricher=enricher)
    reloader = Reloader(enricher.reloading, interval_s=0.02)
    await notifier.start()
    reloader.start()
    try:
        await notifier.handle(encode_event(_event(1.0e9)))
        _rewrite(desk, "icao24,category,tags\n1551e0,Priority,Russia;VIP\n")
        await _until(lambda: lists[0].reloads == 1)
        await notifier.handle(encode_event(_event(1.0e9 + 60)))
        _rewrite(desk, "garbage without the columns\n")
        await _until(lambda: lists[0].failures == 1)
        await notifier.handle(encode_event(_event(1.0e9 + 120)))
        assert await notifier.drain(5)
    finally:
        reloader.stop()
        await notifier.close()
    assert [e.watchlists for e in channel.events] == [
        (WatchlistMatch("desk", "Routine", ()),),
        (WatchlistMatch("desk", "Priority", ("Russia", "VIP")),),
        (WatchlistMatch("desk", "Priority", ("Russia", "VIP")),),  # broken file: old data kept
    ]
    sample = registry.get_sample_value
    labels = {"kind": "watchlist"}
    assert sample("skyfence_enrichment_reloads_total", {**labels, "outcome": "reloaded"}) == 1
    assert sample("skyfence_enrichment_reloads_total", {**labels, "outcome": "failed"}) == 1
