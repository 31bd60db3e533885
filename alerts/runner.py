"""Process wiring for ``skyfence demo``, ``worker`` and ``replay``: brokers, Faust, channels.

This is the outermost shell: it reads wall time, starts brokers and servers, and owns the
event loop. Everything it runs is built from injected parts, so tests use the same functions
with their own channels and registries.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.channels.base import Channel
from alerts.channels.console import ConsoleChannel
from alerts.formatting import console_line
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier, attach_notifier
from streams.app import TrackerApp, create_tracker_app
from streams.config import StreamSettings
from streams.metrics import TrackerMetrics
from streams.models import AirspaceEvent, EventType
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from streams.sources import read_source_raw
from streams.topics import ensure_topics
from streams.tracking import Tracker
from streams.zones import load_zones

__all__ = [
    "Pipeline",
    "demo",
    "embedded_or_given_broker",
    "replay_file",
    "run",
    "start_pipeline",
    "worker",
]

log = logging.getLogger(__name__)


def run(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro`` on uvloop when available (faster start and steadier latency)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux and macOS
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


#: Session timeout on the embedded Tansu: it holds a group's first join for half of it.
TANSU_SESSION_TIMEOUT_S = 2.0


@contextlib.asynccontextmanager
async def embedded_or_given_broker(
    settings: StreamSettings, *, say: Any = None
) -> AsyncIterator[tuple[str, StreamSettings]]:
    """Yield a bootstrap address and the settings for it: ``settings.broker``, or an
    embedded Tansu started for us (with its short session timeout)."""
    if settings.broker:
        yield settings.broker, settings
        return
    from streams.brokers import TansuBroker

    broker = TansuBroker()
    await asyncio.to_thread(broker.start)
    if say:
        say(f"embedded Tansu broker {broker.version} on {broker.bootstrap}")
    try:
        yield (
            broker.bootstrap,
            dataclasses.replace(settings, session_timeout_s=TANSU_SESSION_TIMEOUT_S),
        )
    finally:
        await asyncio.to_thread(broker.stop)


@dataclass
class Pipeline:
    """A running tracker + notifier in this process."""

    bundle: TrackerApp
    notifier: Notifier
    registry: CollectorRegistry

    async def stop(self) -> None:
        """Stop Faust and close the channels."""
        await self.bundle.app.stop()
        await self.notifier.close()


async def start_pipeline(
    settings: StreamSettings,
    bootstrap: str,
    channels: Sequence[Channel],
    *,
    registry: CollectorRegistry | None = None,
    tracker: Tracker | None = None,
) -> Pipeline:
    """Create topics, build the Faust app with the tracker and notifier agents, start it."""
    registry = registry or CollectorRegistry()
    tracker = tracker or Tracker(load_zones(settings.zones))
    await ensure_topics(bootstrap, settings)
    bundle = create_tracker_app(settings, bootstrap, tracker, TrackerMetrics(registry))
    notifier = Notifier(channels, NotifierMetrics(registry))
    attach_notifier(bundle, notifier)
    bundle.app.finalize()
    await bundle.app.start()
    return Pipeline(bundle=bundle, notifier=notifier, registry=registry)


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve ``registry`` at ``http://host:port/metrics``; returns the runner to clean up."""
    from aiohttp import web
    from prometheus_client.aiohttp import make_aiohttp_handler

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def worker(settings: StreamSettings, channels: Sequence[Channel] | None = None) -> int:
    """``skyfence worker``: run until SIGINT/SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    say = _stderr
    async with embedded_or_given_broker(settings, say=say) as (bootstrap, settings):
        pipeline = await start_pipeline(settings, bootstrap, channels or [ConsoleChannel()])
        metrics_runner = None
        if settings.metrics_port:
            metrics_runner = await serve_metrics(
                pipeline.registry, settings.metrics_host, settings.metrics_port
            )
            say(f"metrics on http://{settings.metrics_host}:{settings.metrics_port}/metrics")
        say(f"worker running on {bootstrap}, zones {', '.join(settings.zones)}; Ctrl-C stops")
        try:
            await stop.wait()
        finally:
            if metrics_runner is not None:
                await metrics_runner.cleanup()
            await pipeline.stop()
    return 0


async def replay_file(
    settings: StreamSettings,
    path: Path,
    speed: float | None,
    *,
    fmt: str | None = None,
    start_ts: float = 0.0,
) -> int:
    """``skyfence replay``: publish a recording to the positions topic."""
    from aiokafka import AIOKafkaProducer

    from streams.codec import BATCH_MAX_POSITIONS

    if not settings.broker:
        _stderr("skyfence replay: --broker (or SKYFENCE_BROKER) is required")
        return 2
    await ensure_topics(settings.broker, settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.broker, linger_ms=5, acks="all")
    await producer.start()
    try:
        started = time.monotonic()
        stats = await replay(
            read_source_raw(path, fmt, start_ts=start_ts),
            PositionPublisher(
                producer, settings.positions_topic, batch_max_positions=BATCH_MAX_POSITIONS
            ),
            speed=speed,
        )
    finally:
        await producer.stop()
    took = time.monotonic() - started
    _stderr(
        f"replayed {stats.sent} positions in {took:.1f} s ({stats.sent / max(took, 1e-9):,.0f}/s), "
        f"{stats.bad_lines} bad lines skipped"
    )
    return 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def demo(
    settings: StreamSettings,
    scenario: Path,
    *,
    timeout_s: float = 120.0,
    channels: Sequence[Channel] | None = None,
    out: Any = None,
) -> int:
    """``skyfence demo``: embedded broker, worker and replay in one process; prints alerts."""
    out = out or sys.stdout

    def say(text: str) -> None:
        out.write(f"-- {text}\n")
        out.flush()

    from aiokafka import AIOKafkaProducer

    t_start = time.monotonic()
    first_alert: list[float] = []
    events: list[AirspaceEvent] = []
    async with embedded_or_given_broker(settings, say=say) as (bootstrap, settings):
        t_broker = time.monotonic()
        pipeline = await start_pipeline(settings, bootstrap, channels or [ConsoleChannel(out)])
        say(
            f"worker started in {time.monotonic() - t_broker:.1f} s; replaying {scenario.name} at full speed"
        )

        def on_event(event: AirspaceEvent) -> None:
            events.append(event)
            if not first_alert:
                first_alert.append(time.monotonic())

        pipeline.bundle.listeners.append(on_event)
        try:
            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
            await producer.start()
            try:
                stats = await replay(
                    read_recording_raw(scenario),
                    PositionPublisher(producer, settings.positions_topic),
                )
            finally:
                await producer.stop()
            done = await _wait_until_drained(
                pipeline, stats.sent + stats.watermarks, deadline=t_start + timeout_s
            )
        finally:
            await pipeline.stop()
    bundle, notifier = pipeline.bundle, pipeline.notifier
    by_type = Counter(e.type.value for e in events)
    say(
        f"summary: {stats.sent} positions replayed, {bundle.handled - bundle.watermarks} processed, "
        f"{bundle.tracked} aircraft tracked, {len(events)} events "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_type.items())) or 'none'}), "
        f"{notifier.delivered} alerts delivered"
    )
    if first_alert:
        say(f"first alert {first_alert[0] - t_broker:.1f} s after the broker started")
    # Partitions deliver in parallel, so alerts arrive interleaved; recap the crossings in
    # event-time order.
    crossings = sorted(
        (e for e in events if e.type in (EventType.ENTERED, EventType.EXITED, EventType.FIRST_SEEN_INSIDE)),
        key=lambda e: (e.ts, e.icao24),
    )
    if crossings:
        say("crossings in time order:")
        for event in crossings:
            out.write(f"   {console_line(event)}\n")
        out.flush()
    if not done:
        say(f"timed out after {timeout_s:.0f} s before the pipeline drained")
        return 1
    return 0


async def _wait_until_drained(pipeline: Pipeline, sent: int, *, deadline: float) -> bool:
    """Wait until the tracker handled every sent position and the notifier every event."""
    bundle, notifier = pipeline.bundle, pipeline.notifier
    while time.monotonic() < deadline:
        if bundle.handled >= sent and notifier.read >= bundle.emitted:
            return True
        await asyncio.sleep(0.05)
    return False
