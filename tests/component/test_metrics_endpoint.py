"""The worker's /metrics endpoint: real HTTP on 127.0.0.1, valid exposition format."""

from __future__ import annotations

import os
import shutil
import subprocess

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from alerts.metrics import NotifierMetrics
from alerts.runner import serve_metrics
from streams.metrics import TrackerMetrics
from tests.support.brokers import free_port


async def _scrape() -> str:
    registry = CollectorRegistry()
    tracker, notifier = TrackerMetrics(registry), NotifierMetrics(registry)
    tracker.positions.labels("accepted").inc(3)
    tracker.events.labels("entered", "dprk").inc()
    tracker.position_age.observe(0.4)
    notifier.deliveries.labels("console", "delivered").inc()
    notifier.retries.labels("slack", "http_503").inc()
    notifier.dead_letters.labels("slack", "channel_not_found").inc()
    notifier.pending.labels("slack").set(2)
    notifier.latency.labels("slack").observe(1.3)
    port = free_port()
    runner = await serve_metrics(registry, "127.0.0.1", port)
    try:
        timeout = aiohttp.ClientTimeout(total=5)
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(f"http://127.0.0.1:{port}/metrics") as resp,
        ):
            assert resp.status == 200
            text = await resp.text()
    finally:
        await runner.cleanup()
    return text


async def test_metrics_endpoint_serves_every_skyfence_metric() -> None:
    text = await _scrape()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "skyfence_positions",
        "skyfence_dead_letters",
        "skyfence_events",
        "skyfence_state_writes",
        "skyfence_tracked_aircraft",
        "skyfence_position_age_seconds",
        "skyfence_notifier_events",
        "skyfence_alerts",
        "skyfence_alert_retries",
        "skyfence_alert_dead_letters",
        "skyfence_alerts_pending",
        "skyfence_alert_latency_seconds",
    ):
        assert name in families, name
    accepted = [s for s in families["skyfence_positions"].samples if s.labels.get("outcome") == "accepted"]
    assert accepted[0].value == 3


async def test_promtool_accepts_the_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing under CI=true: `make tools` installs Debian's prometheus")
        pytest.skip("promtool not installed (Debian package prometheus; `make tools` installs it)")
    text = await _scrape()
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
