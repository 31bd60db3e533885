"""``skyfence demo --serve``: after the replay the worker keeps running with /metrics,
/healthz and /readyz on 127.0.0.1 until SIGINT, then stops cleanly (embedded Tansu)."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import time
from pathlib import Path

import aiohttp
import orjson
import pytest

from alerts.runner import demo
from streams.config import StreamSettings
from tests.support.brokers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_demo_serve_keeps_the_worker_and_endpoints_up_until_interrupted(tmp_path: Path) -> None:
    t0 = 1_695_690_000.0
    recording = tmp_path / "crossing.jsonl"
    recording.write_bytes(b"\n".join(
        orjson.dumps({"icao24": "1551e0", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i, "lon": 124.0 + 0.025 * i})
        for i in range(40)
    ) + b"\n")  # fmt: skip
    port = free_port()
    settings = StreamSettings(broker="", data_dir=str(tmp_path / "faust"), metrics_port=port)
    out = io.StringIO()
    task = asyncio.create_task(demo(settings, recording, timeout_s=60, out=out, serve=True))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        while True:
            assert not task.done(), out.getvalue()
            try:
                async with session.get(f"{base}/readyz") as resp:
                    if resp.status == 200:
                        ready = await resp.json()
                        break
            except aiohttp.ClientConnectionError:
                pass
            assert time.monotonic() < deadline, out.getvalue()
            await asyncio.sleep(0.2)
        assert len(ready["apps"]) == 2 and ready["status"] == "ready"
        async with session.get(f"{base}/healthz") as resp:
            assert resp.status == 200
        async with session.get(f"{base}/metrics") as resp:
            metrics = await resp.text()
        async with session.get(f"{base}/") as resp:  # the desk's live page
            assert resp.status == 200 and "skyfence desk" in await resp.text()
        async with session.get(f"{base}/desk/api/events", params={"type": "entered"}) as resp:
            entered = await resp.json()
    assert [(e["icao24"], e["zone"]) for e in entered] == [("1551e0", "dprk")]
    assert 'skyfence_events_total{type="entered",zone="dprk"} 1.0' in metrics
    assert f"the desk's live page: {base}/" in out.getvalue()
    assert f"serving {base}/metrics" in out.getvalue() and "Ctrl-C stops" in out.getvalue()
    os.kill(os.getpid(), signal.SIGINT)  # the demo's handler, installed before it served
    assert await asyncio.wait_for(task, 30) == 0
    with pytest.raises(aiohttp.ClientConnectionError):  # the endpoints are gone
        async with aiohttp.ClientSession() as session, session.get(f"{base}/healthz"):
            pass
