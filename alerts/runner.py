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
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.channels.base import Channel
from alerts.chat.runtime import ChatRuntime
from alerts.config import (
    ALERTS_DEAD_LETTER_TOPIC,
    AlertSettings,
    Channels,
    build_channels,
    watchlist_specs,
)
from alerts.desk_http import DeskServer, desk_token
from alerts.enrich import Enricher, open_enrichment
from alerts.formatting import console_line
from alerts.metrics import NotifierMetrics
from alerts.notifier import DeliveryPolicy, Notifier, NotifierApp, create_notifier_app
from alerts.ratelimit import MultiLimit
from alerts.reload import Reloader
from alerts.render import plain_text
from alerts.retry import Backoff
from alerts.routing import Router
from alerts.secrets import Secret
from streams.app import TrackerApp, create_tracker_app
from streams.config import StreamSettings
from streams.errors import ConfigError
from streams.health import Operations, serve_operations
from streams.kafka_auth import client_kwargs
from streams.metrics import TrackerMetrics
from streams.models import AirspaceEvent, EventType
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from streams.replay_controls import ReplayControls
from streams.sources import read_source_raw
from streams.topics import ensure_topics
from streams.tracking import Tracker
from streams.zones import Zone, load_zones

__all__ = [
    "ROLES",
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
    from streams.embedded import TansuBroker

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
        await asyncio.to_thread(broker.close)  # stop, and delete its temporary directory


#: What a worker process runs: the tracker's app, the notifier's app, or both (the default).
ROLES = ("all", "tracker", "notifier")


@dataclass
class Pipeline:
    """The apps running in this process: the tracker's, the notifier's, or both.

    Each is a Faust app of its own (consumer group, tables), so ``--role tracker`` and
    ``--role notifier`` in two processes do what ``--role all`` does in one.
    """

    registry: CollectorRegistry
    tracker_app: TrackerApp | None = None
    notifier_app: NotifierApp | None = None

    @property
    def bundle(self) -> TrackerApp:
        """The tracker's app (roles ``all`` and ``tracker``)."""
        if self.tracker_app is None:
            raise RuntimeError("this pipeline runs no tracker (role notifier)")
        return self.tracker_app

    @property
    def notifier(self) -> Notifier:
        """The notifier (roles ``all`` and ``notifier``)."""
        if self.notifier_app is None:
            raise RuntimeError("this pipeline runs no notifier (role tracker)")
        return self.notifier_app.notifier

    async def stop(self) -> None:
        """Stop gracefully: alerts in flight finish and are recorded, then the Faust apps stop
        (flushing the outbox changelog and committing), then the channels close."""
        if self.notifier_app is not None:
            await self.notifier_app.notifier.stop()
        apps = [a.app for a in (self.tracker_app, self.notifier_app) if a is not None]
        await asyncio.gather(*(app.stop() for app in apps))
        if self.notifier_app is not None:
            await self.notifier_app.notifier.close()
        if self.tracker_app is not None and self.tracker_app.offset_watch is not None:
            self.tracker_app.offset_watch.remove()


async def start_pipeline(
    settings: StreamSettings,
    bootstrap: str,
    channels: Sequence[Channel],
    *,
    role: str = "all",
    registry: CollectorRegistry | None = None,
    tracker: Tracker | None = None,
    router: Router | None = None,
    limits: Mapping[str, MultiLimit] | None = None,
    enricher: Enricher | None = None,
    policy: DeliveryPolicy | None = None,
    alerts_dead_letter_topic: str = ALERTS_DEAD_LETTER_TOPIC,
) -> Pipeline:
    """Create topics, build the apps ``role`` names (tracker, notifier or both), start them.

    Without ``router`` every channel gets every event; without ``policy`` the notifier holds
    back events older than 5 minutes from non-local channels (see :mod:`alerts.notifier`).
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    registry = registry or CollectorRegistry()
    zones = (
        tracker.zones
        if tracker is not None
        else load_zones(settings.zones, **settings.zone_limits())
    )
    await ensure_topics(bootstrap, settings, extra=[(alerts_dead_letter_topic, 1)])
    pipeline = Pipeline(registry=registry)
    if role in ("all", "tracker"):
        tracker = tracker or Tracker(zones)
        bundle = create_tracker_app(settings, bootstrap, tracker, TrackerMetrics(registry))
        bundle.app.finalize()
        pipeline.tracker_app = bundle
    if role in ("all", "notifier"):
        notifier = Notifier(
            channels,
            NotifierMetrics(registry),
            router=router,
            limits=limits,
            enricher=enricher or Enricher(zones),
            policy=policy,
        )
        pipeline.notifier_app = create_notifier_app(
            settings, bootstrap, notifier, dead_letter_topic=alerts_dead_letter_topic
        )
    # The tables' changelogs too, before the groups join: created by Faust on start, a
    # changelog could be missing from the consumer's metadata when the group assigned, and
    # the table then had no changelog partitions for the whole generation (every write
    # failed with PartitionsMismatch; found by tests/chaos scenario 4, issue 13).
    tables = [b.table for b in (pipeline.tracker_app, pipeline.notifier_app) if b is not None]
    if pipeline.notifier_app is not None and pipeline.notifier_app.escalations is not None:
        tables.append(pipeline.notifier_app.escalations)  # acknowledge / escalate (issue 17)
    await ensure_topics(
        bootstrap,
        settings,
        compacted=[(t.changelog_topic.get_topic_name(), settings.partitions) for t in tables],
    )
    starts = []
    if pipeline.notifier_app is not None:
        starts.append(pipeline.notifier_app.start())
    if pipeline.tracker_app is not None:
        starts.append(pipeline.tracker_app.app.start())
    await asyncio.gather(*starts)  # the two groups join in parallel
    return pipeline


@contextlib.asynccontextmanager
async def desk_channels(
    alert_settings: AlertSettings,
    zones: Sequence[Zone],
    *,
    secrets: Mapping[str, Secret] | None = None,
    console_stream: Any = None,
    enrichment: bool = True,
) -> AsyncIterator[tuple[Channels, Enricher]]:
    """The configured channels (routing file or quick flags) on one HTTP session, and the
    enricher; ``enrichment=False`` (a tracker-only worker) loads no watchlist or database."""
    import aiohttp

    lists, aircraft_db = (
        open_enrichment(watchlist_specs(alert_settings), alert_settings.aircraft_db or None)
        if enrichment
        else ([], None)
    )
    enricher = Enricher(
        zones, watchlists=lists, aircraft_db=aircraft_db, images=alert_settings.maps
    )
    # Watchlists and the aircraft database are re-read in the background when they change.
    reloader = Reloader(enricher.reloading, interval_s=alert_settings.enrich_reload_s)
    reloader.start()
    try:
        async with aiohttp.ClientSession() as session:
            built = build_channels(
                alert_settings,
                session,
                enricher,
                zone_ids=[z.id for z in zones],
                secrets=secrets,
                console_stream=console_stream,
            )
            yield built, enricher
    finally:
        await asyncio.to_thread(reloader.stop)


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> Any:
    """Serve ``registry`` at ``http://host:port/metrics``; returns the runner to clean up.

    A port that cannot be bound (in use, not allowed) raises
    :class:`~streams.errors.ConfigError` naming it."""
    from aiohttp import web
    from prometheus_client.aiohttp import make_aiohttp_handler

    app = web.Application()
    app.router.add_get("/metrics", make_aiohttp_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError as exc:
        await runner.cleanup()
        raise ConfigError(f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}") from None
    return runner


async def worker(
    settings: StreamSettings,
    alert_settings: AlertSettings | None = None,
    *,
    secrets: Mapping[str, Secret] | None = None,
    role: str = "all",
) -> int:
    """``skyfence worker``: run the apps ``role`` names until SIGINT/SIGTERM, then stop
    gracefully. ``tracker`` detects, ``notifier`` delivers, ``all`` (the default) does both.

    The metrics port is bound first, so a port in use fails before any broker or Faust
    service starts (:class:`~streams.errors.ConfigError`, one line, exit 2). The graceful
    stop is bounded by ``settings.shutdown_timeout_s``; a second signal stops at once.
    """
    alert_settings = alert_settings or AlertSettings()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def _on_signal() -> None:
        if stop.is_set():  # a second signal: the operator means it
            _stderr("skyfence worker: second signal, stopping now")
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _on_signal)
    say = _stderr
    zones = load_zones(settings.zones, **settings.zone_limits())
    registry = CollectorRegistry()
    ops = None
    desk = DeskServer(zones, token=desk_token())  # the live page, beside /metrics
    chat = ChatRuntime.from_settings(alert_settings)  # None unless chat is configured
    if settings.metrics_port:  # bound first: a port in use fails before any broker work
        ops = await serve_operations(
            registry, [], settings.metrics_host, settings.metrics_port,
            stall_after_s=settings.stall_after_s, role=role,
            extensions=[desk.install, *([chat.install] if chat else [])],
        )  # fmt: skip
    try:
        async with (
            desk_channels(alert_settings, zones, secrets=secrets, enrichment=role != "tracker") as (
                built,
                enricher,
            ),
            embedded_or_given_broker(settings, say=say) as (bootstrap, settings),
        ):
            pipeline = await _start_desk(
                settings, bootstrap, built, enricher, alert_settings, role=role, registry=registry
            )
            try:
                if ops is not None:
                    ops.watch_apps(_apps(pipeline))
                    if pipeline.tracker_app is not None:
                        desk.attach(pipeline.tracker_app, enrich=enricher.enrich)
                    base = f"http://{settings.metrics_host}:{settings.metrics_port}"
                    say(f"serving {base}/metrics, {base}/healthz, {base}/readyz")
                    say(f"the desk's live page: {base}/")
                if chat is not None:
                    await chat.start(
                        settings, bootstrap, desk=desk, enricher=enricher, registry=registry,
                        notifier=pipeline.notifier_app.notifier if pipeline.notifier_app else None,
                        say=say,
                    )  # fmt: skip
                channels = ", ".join(c.name for c in built.channels) or "(none)"
                say(
                    f"worker ({role}) running on {bootstrap}, zones {', '.join(settings.zones)}"
                    + (f", channels {channels}" if role != "tracker" else "")
                    + "; Ctrl-C stops"
                )
                await stop.wait()
            finally:
                if chat is not None:
                    await chat.stop()
                await stop_within(pipeline, settings.shutdown_timeout_s)
    finally:
        if ops is not None:
            await ops.stop()
    return 0


async def stop_within(pipeline: Pipeline, timeout_s: float) -> None:
    """Stop ``pipeline`` gracefully, but give up after ``timeout_s`` (logged): a stop that
    hangs (a broker gone, a producer that cannot flush) must not keep the process alive."""
    try:
        await asyncio.wait_for(pipeline.stop(), timeout=timeout_s)
    except TimeoutError:
        log.error("graceful stop did not finish within %.0f s; stopping anyway", timeout_s)


def _apps(pipeline: Pipeline) -> list[Any]:
    """The Faust apps a pipeline runs (the tracker's, the notifier's, or both)."""
    return [a.app for a in (pipeline.tracker_app, pipeline.notifier_app) if a is not None]


async def _serve_ops(
    pipeline: Pipeline,
    settings: StreamSettings,
    say: Any,
    desk: DeskServer | None = None,
    chat: ChatRuntime | None = None,
) -> Operations:
    """/metrics, /healthz, /readyz and the progress watchdog over the pipeline's apps, and
    the desk's live page at / when given."""
    ops = await serve_operations(
        pipeline.registry,
        _apps(pipeline),
        settings.metrics_host,
        settings.metrics_port,
        stall_after_s=settings.stall_after_s,
        extensions=[
            *([desk.install] if desk is not None else []),
            *([chat.install] if chat is not None else []),
        ],
    )
    base = f"http://{settings.metrics_host}:{settings.metrics_port}"
    say(f"serving {base}/metrics, {base}/healthz, {base}/readyz")
    if desk is not None:
        say(f"the desk's live page: {base}/")
    return ops


#: Where ``skyfence demo --serve`` serves when no port is set.
DEMO_SERVE_PORT = 9108


async def _serve_until_stopped(
    pipeline: Pipeline,
    settings: StreamSettings,
    say: Any,
    desk: DeskServer | None = None,
    chat: ChatRuntime | None = None,
) -> None:
    """``demo --serve``: the endpoints and the running worker until SIGINT or SIGTERM."""
    settings = dataclasses.replace(settings, metrics_port=settings.metrics_port or DEMO_SERVE_PORT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    ops = await _serve_ops(pipeline, settings, say, desk, chat)
    say("the worker keeps running; Ctrl-C stops")
    try:
        await stop.wait()
    finally:
        await ops.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _start_desk(
    settings: StreamSettings,
    bootstrap: str,
    built: Channels,
    enricher: Enricher,
    alert_settings: AlertSettings,
    *,
    replay: bool | None = None,
    role: str = "all",
    registry: CollectorRegistry | None = None,
) -> Pipeline:
    """:func:`start_pipeline` with the configured channels, routing, limits and policy."""
    return await start_pipeline(
        settings,
        bootstrap,
        built.channels,
        role=role,
        registry=registry,
        tracker=Tracker(list(enricher.zones.values())),
        router=built.router,
        limits=built.limits,
        enricher=enricher,
        policy=_policy(alert_settings, replay=replay),
        alerts_dead_letter_topic=alert_settings.alerts_dead_letter_topic,
    )


def _policy(alert_settings: AlertSettings, *, replay: bool | None = None) -> DeliveryPolicy:
    return DeliveryPolicy(
        max_lag_s=alert_settings.alert_max_lag_s,
        replay=alert_settings.alert_replay if replay is None else replay,
        backoff=Backoff(
            base_s=1.0,
            max_s=alert_settings.alert_retry_max_s,
            give_up_after_s=alert_settings.alert_give_up_s,
        ),
    )


async def replay_file(
    settings: StreamSettings,
    path: Path,
    speed: float | None,
    *,
    fmt: str | None = None,
    start_ts: float = 0.0,
    controls: ReplayControls | None = None,
    reference: tuple[float, float] | None = None,
) -> int:
    """``skyfence replay``: publish a recording to the positions topic (window, shift to
    now, loop and progress: :mod:`streams.replay_controls`)."""
    from aiokafka import AIOKafkaProducer

    from streams.codec import BATCH_MAX_POSITIONS
    from streams.replay_controls import controlled, make_progress, scan

    def read() -> Any:
        return read_source_raw(path, fmt, start_ts=start_ts, reference=reference)

    controls = controls or ReplayControls()
    # The total for a progress bar's ETA costs a pass over the file: only on a terminal.
    span = scan(read(), controls) if controls.active or sys.stderr.isatty() else None
    progress = make_progress(None if controls.loop or span is None else span.positions, sys.stderr)
    items = controlled(read, controls, now_s=time.time(), span=span) if controls.active else read()

    if not settings.broker:
        _stderr("skyfence replay: --broker (or SKYFENCE_BROKER) is required")
        return 2
    await ensure_topics(settings.broker, settings)
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.broker, linger_ms=5, acks="all", **client_kwargs(settings)
    )
    await producer.start()
    try:
        started = time.monotonic()
        stats = await replay(
            items,
            PositionPublisher(
                producer, settings.positions_topic, batch_max_positions=BATCH_MAX_POSITIONS
            ),
            speed=speed,
            on_progress=lambda s: progress.update(s.sent, s.last_ts),
        )
    finally:
        progress.close()
        await producer.stop()
    took = time.monotonic() - started
    _stderr(
        f"replayed {stats.sent} positions in {took:.2f} s ({stats.sent / max(took, 1e-9):,.0f}/s), "
        f"{stats.bad_lines} bad lines skipped"
    )
    return 0


async def test_alert(
    settings: StreamSettings,
    alert_settings: AlertSettings,
    *,
    secrets: Mapping[str, Secret] | None = None,
    out: Any = None,
    clock: Any = time.time,
) -> int:
    """``skyfence test-alert``: send one clearly marked test alert to every configured
    channel (no routing, no Kafka) and say what each answered. 0 when all delivered."""
    from alerts.errors import DeliveryError
    from streams.models import Confidence, make_event_id

    out = out or sys.stdout
    zones = load_zones(settings.zones, **settings.zone_limits())
    zone = zones[0]
    point = zone.geometry.representative_point()
    now_s = float(int(clock()))
    event = AirspaceEvent(
        event_id=make_event_id("000000", zone.id, "entered", now_s),
        type=EventType.ENTERED,
        icao24="000000",
        zone=zone.id,
        ts=now_s,
        lat=round(point.y, 5),
        lon=round(point.x, 5),
        observed_ts=now_s,
        callsign="TEST",
        confidence=Confidence.OBSERVED,
        zone_name=f"{zone.name} (skyfence test alert, not a real aircraft)",
    )
    failed = 0
    async with desk_channels(alert_settings, zones, secrets=secrets, console_stream=out) as (
        built,
        enricher,
    ):
        for channel in built.channels:
            try:
                if getattr(channel, "accepts_image", False):
                    await channel.send(event, image_png=enricher.image(event))  # type: ignore[call-arg]
                else:
                    await channel.send(event)
            except DeliveryError as exc:
                failed += 1
                how = "retriable" if exc.retriable else "not retriable"
                out.write(f"-- {channel.name}: FAILED ({exc.reason}, {how})\n")
            else:
                out.write(f"-- {channel.name}: delivered\n")
    if not built.channels:
        out.write("-- no channels configured\n")
    return 1 if failed else 0


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def demo(
    settings: StreamSettings,
    scenario: Path,
    *,
    timeout_s: float = 120.0,
    channels: Sequence[Channel] | None = None,
    out: Any = None,
    alert_settings: AlertSettings | None = None,
    secrets: Mapping[str, Secret] | None = None,
    maps_dir: Path | None = None,
    serve: bool = False,
) -> int:
    """``skyfence demo``: embedded broker, worker and replay in one process; prints alerts.

    With ``serve`` the worker keeps running after the replay, with /metrics, /healthz and
    /readyz on ``settings.metrics_host:metrics_port`` (127.0.0.1:9108 unless set), until
    SIGINT or SIGTERM.

    The seed is a 2023 recording, so the notifier runs in replay mode (flood control off):
    with ``--slack-webhook`` or ``--telegram-*`` the alerts really go out, rate-limited.
    """
    out = out or sys.stdout
    alert_settings = alert_settings or AlertSettings()

    def say(text: str) -> None:
        out.write(f"-- {text}\n")
        out.flush()

    from aiokafka import AIOKafkaProducer

    t_start = time.monotonic()
    first_alert: list[float] = []
    events: list[AirspaceEvent] = []
    zones = load_zones(settings.zones, **settings.zone_limits())
    chat = ChatRuntime.from_settings(alert_settings) if serve else None
    async with (
        desk_channels(alert_settings, zones, secrets=secrets, console_stream=out) as (
            built,
            enricher,
        ),
        embedded_or_given_broker(settings, say=say) as (bootstrap, settings),
    ):
        if channels is not None:  # tests: exactly these channels, every event to each
            built = Channels(channels=list(channels), router=None, limits={})
        t_broker = time.monotonic()
        pipeline = await _start_desk(
            settings, bootstrap, built, enricher, alert_settings, replay=True
        )
        say(
            f"worker started in {time.monotonic() - t_broker:.1f} s; channels "
            f"{', '.join(c.name for c in built.channels)}; replaying {scenario.name} at full speed"
        )

        def on_event(event: AirspaceEvent) -> None:
            events.append(event)
            if not first_alert:
                first_alert.append(time.monotonic())

        pipeline.bundle.listeners.append(on_event)
        desk = None
        if serve:  # the live page keeps the replay's alerts in its history
            desk = DeskServer(zones, token=desk_token())
            desk.attach(pipeline.bundle, enrich=enricher.enrich)
        try:
            producer = AIOKafkaProducer(
                bootstrap_servers=bootstrap, linger_ms=5, acks="all", **client_kwargs(settings)
            )
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
            if serve:
                if chat is not None:
                    await chat.start(
                        settings, bootstrap, desk=desk, enricher=enricher,
                        registry=pipeline.registry, notifier=pipeline.notifier, say=say,
                    )  # fmt: skip
                try:
                    await _serve_until_stopped(pipeline, settings, say, desk, chat)
                finally:
                    if chat is not None:
                        await chat.stop()
        finally:
            await pipeline.stop()
    bundle, notifier = pipeline.bundle, pipeline.notifier
    by_type = Counter(e.type.value for e in events)
    say(
        f"summary: {stats.sent} positions replayed, {bundle.handled - bundle.watermarks} processed, "
        f"{bundle.tracked} aircraft tracked, {len(events)} events "
        f"({', '.join(f'{k} {v}' for k, v in sorted(by_type.items())) or 'none'}), "
        f"{notifier.delivered} alerts delivered, {notifier.dead} dead-lettered"
    )
    if first_alert:
        say(f"first alert {first_alert[0] - t_broker:.1f} s after the broker started")
    # Partitions deliver in parallel, so alerts arrive interleaved; recap the crossings in
    # event-time order.
    crossings = sorted(
        (
            e
            for e in events
            if e.type in (EventType.ENTERED, EventType.EXITED, EventType.FIRST_SEEN_INSIDE)
        ),
        key=lambda e: (e.ts, e.icao24),
    )
    if crossings:
        say("crossings in time order:")
        for event in crossings:
            out.write(f"   {console_line(event)}\n")
        out.flush()
        _show_desk_alert(crossings, enricher, out, say)
        if maps_dir is not None:
            written = _save_maps(crossings, enricher, maps_dir)
            say(f"{written} map(s) written to {maps_dir}")
    if not done:
        say(f"timed out after {timeout_s:.0f} s before the pipeline drained")
        return 1
    return 0


def _show_desk_alert(
    crossings: Sequence[AirspaceEvent], enricher: Enricher, out: Any, say: Any
) -> None:
    """Print the first entry as the desk reads it in Slack or Telegram (without markup)."""
    entry = next((e for e in crossings if e.type is EventType.ENTERED), crossings[0])
    say("the first entry as the desk reads it (Slack and Telegram carry the same fields):")
    for line in plain_text(enricher.context(entry)).splitlines():
        out.write(f"   | {line}\n")
    out.flush()


def _save_maps(events: Sequence[AirspaceEvent], enricher: Enricher, maps_dir: Path) -> int:
    """Write each event's map as ``<time>-<callsign or icao24>-<type>.png``; returns how many."""
    maps_dir.mkdir(parents=True, exist_ok=True)
    written = 0
    for event in events:
        png = enricher.image(event)
        if png is None:
            continue
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(event.ts))
        name = f"{stamp}-{event.callsign or event.icao24}-{event.type.value}.png"
        (maps_dir / "".join(c if c.isalnum() or c in "-_." else "_" for c in name)).write_bytes(png)
        written += 1
    return written


async def _wait_until_drained(pipeline: Pipeline, sent: int, *, deadline: float) -> bool:
    """Wait until the tracker handled every sent position and the notifier every event."""
    bundle, notifier = pipeline.bundle, pipeline.notifier
    while time.monotonic() < deadline:
        if bundle.handled >= sent and notifier.read >= bundle.emitted and not notifier.pending:
            return True
        await asyncio.sleep(0.05)
    return False
