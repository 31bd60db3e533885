"""A real Prometheus (Debian's ``prometheus``) on 127.0.0.1 scrapes a running worker during a
seed replay on Tansu; its HTTP API must return the series an operator watches, including
``entered`` events for dprk and a delivery latency histogram with samples. The scrape passes
``promtool check metrics``; every metric family the Grafana dashboard and the alert rules
query is in it. Then a simulated stall (the agent hangs, records keep arriving) fails
``/healthz`` on the real consumer."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from alerts.channels.base import ListChannel
from alerts.notifier import DeliveryPolicy
from alerts.runner import TANSU_SESSION_TIMEOUT_S, start_pipeline
from streams.config import StreamSettings
from streams.health import serve_operations
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.conftest import SEED_SCENARIO
from tests.support.brokers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
#: PromQL words that are not metric names.
_PROMQL_WORDS = {
    "sum", "by", "max", "min", "rate", "increase", "delta", "deriv", "histogram_quantile",
    "max_over_time", "and", "unless", "or", "on", "le", "without", "avg", "count",
}  # fmt: skip


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} missing under CI=true: `make tools` installs Debian's prometheus")
        pytest.skip(f"{name} not installed (Debian package prometheus; `make tools` installs it)")
    return path


def queried_families() -> dict[str, set[str]]:
    """Metric families named by every PromQL expression of the dashboard and the rules."""
    exprs: dict[str, str] = {}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "skyfence.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            exprs[f"dashboard: {panel['title']}"] = target["expr"]
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            exprs[f"rule: {rule['alert']}"] = rule["expr"]
    out: dict[str, set[str]] = {}
    for where, expr in exprs.items():
        expr = re.sub(r"\{[^}]*\}|\[[^]]*\]|\"[^\"]*\"", "", expr)  # selectors, ranges, strings
        words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr)) - _PROMQL_WORDS
        names = {w for w in words if w.startswith("skyfence_")}
        assert names, f"{where}: no skyfence metric in {expr!r}"
        for name in names:
            out.setdefault(name, set()).add(where)
    return out


def _family_of(sample_name: str, families: set[str]) -> bool:
    for suffix in ("", "_bucket", "_sum", "_count", "_total", "_created"):
        if sample_name.endswith(suffix) and sample_name[: len(sample_name) - len(suffix)] in families:
            return True
    return False


async def _query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, Any]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def test_prometheus_scrapes_a_worker_during_a_seed_replay(tansu_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    prometheus, promtool = _tool("prometheus"), _tool("promtool")
    run = uuid.uuid4().hex[:8]
    settings = StreamSettings(
        broker=tansu_broker.bootstrap, session_timeout_s=TANSU_SESSION_TIMEOUT_S,
        app_id=f"prom-{run}", positions_topic=f"prom-{run}.positions",
        events_topic=f"prom-{run}.events", dead_letter_topic=f"prom-{run}.dlq",
        partitions=2, data_dir=str(tmp_path / "faust"),
    )  # fmt: skip
    channel = ListChannel("desk")
    pipeline = await start_pipeline(
        settings, tansu_broker.bootstrap, [channel], policy=DeliveryPolicy(replay=True)
    )
    port, prom_port = free_port(), free_port()
    apps = [pipeline.bundle.app, pipeline.notifier_app.app]  # type: ignore[union-attr]
    ops = await serve_operations(pipeline.registry, apps, "127.0.0.1", port, stall_after_s=1.0, interval_s=0.2)
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "skyfence", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}],
    }))  # fmt: skip
    prom = subprocess.Popen(
        [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
        stdout=subprocess.DEVNULL,
        stderr=open(tmp_path / "prometheus.log", "w"),  # noqa: SIM115 - closed with the process
    )  # fmt: skip
    base = f"http://127.0.0.1:{prom_port}"
    producer = AIOKafkaProducer(bootstrap_servers=tansu_broker.bootstrap, linger_ms=5, acks="all")
    try:
        await producer.start()
        stats = await replay(
            read_recording_raw(SEED_SCENARIO),
            PositionPublisher(producer, settings.positions_topic, batch_max_positions=2000),
        )
        bundle, notifier = pipeline.bundle, pipeline.notifier
        deadline = time.monotonic() + 90
        while not (bundle.handled >= stats.sent + stats.watermarks and notifier.read >= bundle.emitted
                   and not notifier.pending):  # fmt: skip
            assert time.monotonic() < deadline, "pipeline did not drain"
            await asyncio.sleep(0.1)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            # Prometheus has scraped the drained worker when it sees every delivery.
            want = float(notifier.delivered)
            while True:
                try:
                    got = await _query(session, base, "sum(skyfence_deliveries_total{outcome='sent'})")
                except aiohttp.ClientError:
                    got = []
                if got and float(got[0]["value"][1]) == want:
                    break
                assert time.monotonic() < deadline, (tmp_path / "prometheus.log").read_text()
                await asyncio.sleep(0.5)
            entered = await _query(session, base, "skyfence_events_total{zone='dprk',type='entered'}")
            assert float(entered[0]["value"][1]) > 0
            latency = await _query(session, base, "skyfence_delivery_latency_seconds_count{channel='desk'}")
            assert float(latency[0]["value"][1]) == want > 0
            buckets = await _query(session, base, "skyfence_delivery_latency_seconds_bucket{channel='desk',le='+Inf'}")
            assert float(buckets[0]["value"][1]) == want
            for promql in (
                "skyfence_positions_total{outcome='accepted'}",
                "skyfence_seconds_since_last_position",
                "skyfence_consumer_lag_messages",
                "skyfence_batch_processing_seconds_count",
                "skyfence_position_processing_seconds_count",
                "skyfence_zone_aircraft_inside{zone='dprk'}",
                "skyfence_outbox_entries",
                "skyfence_build_info",
                "skyfence_watchdog_stalled",
            ):
                assert await _query(session, base, promql), promql
            async with session.get(f"http://127.0.0.1:{port}/metrics") as resp:
                scraped = await resp.text()
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert resp.status == 200, await resp.text()
                ready = await resp.json()
            assert set(ready["apps"]) == {settings.app_id, settings.app_id + "-notifier"}
            assert all(a["partitions_assigned"] >= 2 and a["broker"] for a in ready["apps"].values())
        check = subprocess.run([promtool, "check", "metrics"], input=scraped, capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stdout + check.stderr
        families = {f.name for f in text_string_to_metric_families(scraped)}
        for name, where in queried_families().items():
            assert _family_of(name, families), f"{name} (queried by {sorted(where)}) is not exported"

        # A simulated stall: the agent hangs on its next message while records keep coming.
        hang = asyncio.Event()

        async def hung(*args: Any) -> None:
            await hang.wait()

        bundle.handle = hung  # type: ignore[method-assign]
        publisher = PositionPublisher(producer, settings.positions_topic)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            deadline = time.monotonic() + 30
            n = 0
            while True:
                for _ in range(20):  # keep records arriving: the lag grows
                    n += 1
                    await publisher.publish_watermark(1_700_000_000.0 + n)
                await producer.flush()
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 503:
                        body = await resp.json()
                        break
                assert time.monotonic() < deadline, "the watchdog never fired"
                await asyncio.sleep(0.3)
        reason = body["apps"][settings.app_id]["reason"]
        assert body["status"] == "stalled" and "no progress" in reason, body
        assert pipeline.registry.get_sample_value("skyfence_watchdog_stalled", {"app": settings.app_id}) == 1
        hang.set()
    finally:
        prom.terminate()
        prom.wait(timeout=10)
        await producer.stop()
        await ops.stop()
        await pipeline.stop()
