"""/metrics, /healthz and /readyz over real HTTP on 127.0.0.1, with fake consumer views: a
simulated stall fails liveness with a metric, a log line and a JSON reason; readiness says
which check failed; the whole exposition passes ``promtool check metrics``."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from alerts.metrics import NotifierMetrics
from streams.health import Operations, PartitionLag
from streams.metrics import TrackerMetrics, build_info
from tests.support.brokers import free_port

pytestmark = pytest.mark.timeout(30)


@dataclass
class FakeView:
    """A consumer whose offsets the test moves by hand."""

    name: str = "skyfence"
    positions: list[int] = field(default_factory=lambda: [0, 0])
    highwaters: list[int] = field(default_factory=lambda: [0, 0])
    checks: dict[str, Any] = field(
        default_factory=lambda: {"broker": True, "partitions_assigned": 2, "tables_recovered": True}
    )

    def partitions(self) -> list[PartitionLag]:
        return [
            PartitionLag("skyfence.positions", i, p, h)
            for i, (p, h) in enumerate(zip(self.positions, self.highwaters, strict=True))
        ]

    def readiness(self) -> dict[str, Any]:
        return dict(self.checks)


class Clock:
    def __init__(self) -> None:
        self.now_s = 0.0

    def __call__(self) -> float:
        return self.now_s


async def _get(port: int, path: str) -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with (
        aiohttp.ClientSession(timeout=timeout) as session,
        session.get(f"http://127.0.0.1:{port}{path}") as resp,
    ):
        if path == "/metrics":
            return resp.status, await resp.text()
        return resp.status, await resp.json()


async def test_a_simulated_stall_fails_liveness_with_metric_log_and_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry, clock, view = CollectorRegistry(), Clock(), FakeView()
    ops = Operations(registry, [view], stall_after_s=30.0, interval_s=3600.0, clock=clock)
    port = free_port()
    await ops.start("127.0.0.1", port)
    try:
        # Working: positions follow the high watermarks.
        for step in range(1, 4):
            view.highwaters = [100 * step, 80 * step]
            view.positions = list(view.highwaters)
            clock.now_s += 10.0
            ops.sample()
        status, body = await _get(port, "/healthz")
        assert status == 200 and body["status"] == "ok"
        # Stall: records keep arriving, positions freeze.
        with caplog.at_level(logging.WARNING, logger="streams.health"):
            for step in range(4, 9):
                view.highwaters = [100 * step, 80 * step]
                clock.now_s += 10.0
                ops.sample()
        status, body = await _get(port, "/healthz")
        assert status == 503 and body["status"] == "stalled"
        app = body["apps"]["skyfence"]
        assert app["stalled"] is True and "no progress for 50 s" in app["reason"]
        assert app["seconds_since_progress"] == 50.0
        assert registry.get_sample_value("skyfence_watchdog_stalled", {"app": "skyfence"}) == 1
        assert registry.get_sample_value("skyfence_watchdog_stalls_total", {"app": "skyfence"}) == 1
        stalls = [r for r in caplog.records if "stalled" in r.getMessage()]
        assert len(stalls) == 1 and stalls[0].levelno == logging.ERROR
        status, text = await _get(port, "/metrics")
        lag = {
            s.labels["partition"]: s.value
            for f in text_string_to_metric_families(text)
            if f.name == "skyfence_consumer_lag_messages"
            for s in f.samples
        }
        assert lag == {"0": 500.0, "1": 400.0}
        # It recovers when the consumer moves again.
        view.positions = list(view.highwaters)
        clock.now_s += 10.0
        ops.sample()
        status, body = await _get(port, "/healthz")
        assert status == 200
        assert registry.get_sample_value("skyfence_watchdog_stalled", {"app": "skyfence"}) == 0
    finally:
        await ops.stop()


async def test_readiness_names_the_failing_check() -> None:
    tracker, notifier = FakeView("skyfence"), FakeView("skyfence-notifier")
    ops = Operations(CollectorRegistry(), [tracker, notifier], interval_s=3600.0)
    port = free_port()
    await ops.start("127.0.0.1", port)
    try:
        status, body = await _get(port, "/readyz")
        assert status == 200 and body["status"] == "ready"
        notifier.checks["tables_recovered"] = False
        status, body = await _get(port, "/readyz")
        assert status == 503 and body["status"] == "not ready"
        assert body["apps"]["skyfence-notifier"]["tables_recovered"] is False
        assert body["apps"]["skyfence"]["tables_recovered"] is True
        tracker.checks["partitions_assigned"] = 0
        status, body = await _get(port, "/readyz")
        assert status == 503 and body["apps"]["skyfence"]["partitions_assigned"] == 0
    finally:
        await ops.stop()


def full_registry() -> CollectorRegistry:
    """Every metric a worker exports, with a sample or two in each."""
    registry = CollectorRegistry()
    tracker, notifier = TrackerMetrics(registry), NotifierMetrics(registry)
    build_info(registry)
    tracker.positions.labels("accepted").inc(3)
    tracker.processed(0, 0.004, 2000, 1.0)
    tracker.events.labels("entered", "dprk").inc()
    tracker.watch_zones(lambda: [], [])
    notifier.outcomes.labels("slack", "sent").inc()
    notifier.delivery_latency.labels("slack").observe(0.3)
    notifier.watch_outbox(lambda: 4)
    Operations(registry, [FakeView()])
    return registry


async def test_promtool_accepts_the_full_exposition() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing under CI=true: `make tools` installs Debian's prometheus")
        pytest.skip("promtool not installed (Debian package prometheus; `make tools` installs it)")
    ops = Operations(CollectorRegistry(), [])
    registry = full_registry()
    ops.registry = registry
    port = free_port()
    await ops.start("127.0.0.1", port)
    try:
        status, text = await _get(port, "/metrics")
    finally:
        await ops.stop()
    assert status == 200
    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"skyfence_build_info", "skyfence_consumer_lag_messages", "skyfence_outbox_entries",
            "skyfence_seconds_since_last_position", "skyfence_deliveries"} <= names  # fmt: skip
    check = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30
    )
    assert check.returncode == 0, check.stdout + check.stderr
