"""Operations endpoints of a long-running process: ``/metrics``, ``/healthz``, ``/readyz``,
consumer lag, and the progress watchdog.

faust-streaming consumers are known to stop silently after hours (faust-streaming issues
#175, #523, #640): partitions stay assigned, records keep arriving, and nothing is processed.
The :class:`ProgressWatchdog` turns that into a failing liveness probe, a metric and a log
line, so an orchestrator restarts the process and an operator is told why.

Pieces, from pure to I/O:

- :class:`ProgressWatchdog` (pure, clock injected): fed samples of (partitions assigned, lag,
  progress), says whether the consumer is stalled: partitions assigned, lag not shrinking
  (growing or stuck above zero), and no progress for ``stall_after_s``.
- :class:`ConsumerView` (protocol) and :class:`FaustConsumerView`: what a Faust app's consumer
  has assigned, how far each partition has been read, its high watermark, and whether the app
  is ready (broker connected, partitions assigned, tables recovered). Tests use a fake view.
- :class:`Operations`: samples the views every ``interval_s``, feeds the watchdog, exports
  ``skyfence_consumer_lag_messages{topic,partition}`` and the watchdog's metrics on the
  injected registry, and serves the three endpoints with aiohttp on ``host:port``
  (127.0.0.1 by default: expose it on purpose, e.g. ``SKYFENCE_METRICS_HOST=0.0.0.0`` in a
  container).

``/healthz`` and ``/readyz`` answer 200 or 503 with a JSON body saying what was checked.
They carry topic names, partition numbers and counts only: no configuration and no secrets.

Units: seconds (``_s``) and messages (offsets). Lag is ``high watermark - committed offset``
per partition of the topics the app consumes (Faust commits every second, and only records
its agents have acknowledged, so a hung agent stops the committed offset). Table changelogs
and Faust's leader topic are left out: the app writes them itself. Nothing here runs per
message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.errors import ConfigError
from streams.metrics import build_info

__all__ = [
    "ConsumerView",
    "FaustConsumerView",
    "HealthProbe",
    "Operations",
    "PartitionLag",
    "ProgressWatchdog",
    "serve_operations",
]

log = logging.getLogger(__name__)

#: Default time without progress (while lag is not shrinking) after which the process is
#: declared stalled: long enough for a rebalance and a table recovery, short enough that a
#: desk misses minutes of alerts, not hours.
DEFAULT_STALL_AFTER_S = 120.0
#: How often the consumers are sampled. Offsets only, no broker request: cheap.
DEFAULT_SAMPLE_INTERVAL_S = 5.0
#: Suffix of Faust's table changelog topics (written by the app itself: not "lag").
_CHANGELOG_SUFFIX = "-changelog"
#: Part of the name of Faust's leader-election topic (``<app>-__assignor-__leader``).
_ASSIGNOR_TOPIC = "__assignor"


@dataclass(frozen=True, slots=True)
class PartitionLag:
    """One assigned partition: how far it has been read and how far it goes."""

    topic: str
    partition: int
    #: Offset of the next record the app will process (its committed offset); None before
    #: any commit.
    position: int | None
    #: The partition's high watermark (offset of the next record to be written); None if
    #: not fetched yet.
    highwater: int | None

    @property
    def lag(self) -> int:
        """Records written and not yet read (0 when unknown)."""
        if self.highwater is None:
            return 0
        return max(0, self.highwater - (self.position or 0))


class ConsumerView(Protocol):
    """What the operations shell reads from one app's consumer."""

    name: str

    def partitions(self) -> list[PartitionLag]:
        """The assigned partitions of consumed topics, with positions and high watermarks."""
        ...

    def readiness(self) -> dict[str, Any]:
        """Checks by name: ``broker`` (bool), ``partitions_assigned`` (int),
        ``tables_recovered`` (bool)."""
        ...


class HealthProbe(Protocol):
    """A process part judged by itself, beside the consumer views (``skyfence ingest``'s
    sources and producer): each answer is (ok, JSON-able detail)."""

    name: str

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness of this part."""
        ...

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Readiness of this part."""
        ...


class FaustConsumerView:
    """A :class:`ConsumerView` over a started Faust app (reads its consumer's state only)."""

    def __init__(self, app: Any, name: str | None = None) -> None:
        self.app = app
        self.name = name or str(app.conf.id)

    def _consumer(self) -> Any:
        return self.app.consumer

    def partitions(self) -> list[PartitionLag]:
        try:
            consumer = self._consumer()
            assigned = consumer.assignment()
        except Exception:  # not started, or stopping: nothing assigned
            return []
        # Committed, not read: Faust commits only records its agents acknowledged, while
        # its read offset runs ahead into the stream buffer even when an agent hangs.
        committed = getattr(consumer, "_committed_offset", {})
        out = []
        for tp in sorted(assigned):
            if tp.topic.endswith(_CHANGELOG_SUFFIX) or _ASSIGNOR_TOPIC in tp.topic:
                continue
            try:
                highwater = consumer.highwater(tp)
            except Exception:
                highwater = None
            out.append(PartitionLag(tp.topic, tp.partition, committed.get(tp), highwater))
        return out

    def readiness(self) -> dict[str, Any]:
        app = self.app
        try:
            assigned = [tp for tp in self._consumer().assignment()]
        except Exception:
            assigned = []
        recovery = getattr(getattr(app, "tables", None), "recovery", None)
        completed = getattr(recovery, "completed", None)
        recovered = bool(completed is not None and completed.is_set()) and not getattr(
            app, "in_recovery", False
        )
        return {
            "broker": _broker_connected(app),
            "partitions_assigned": len(assigned),
            "tables_recovered": recovered,
            "rebalancing": bool(getattr(app, "rebalancing", False)),
        }


def _broker_connected(app: Any) -> bool:
    """Whether the app's Kafka client holds at least one live broker connection."""
    try:
        client = app.consumer._thread._ensure_consumer()._client
        return any(conn.connected() for conn in client._conns.values())
    except Exception:
        return False


@dataclass
class ProgressWatchdog:
    """Decides, from samples, whether a consumer has stopped making progress.

    Stalled when partitions are assigned, the lag has not shrunk since the last progress
    (it grew, or stayed above zero), and progress (the sum of read positions) has not moved
    for ``stall_after_s``. Any progress clears it. Pure: the clock is injected.
    """

    stall_after_s: float = DEFAULT_STALL_AFTER_S
    clock: Callable[[], float] = time.monotonic
    stalled: bool = False
    reason: str = ""
    _progress: int | None = None
    _progress_at_s: float = 0.0
    _lag_at_progress: int = 0
    _last_lag: int = 0
    _assigned: int = 0
    stalls: int = field(default=0)

    def sample(self, assigned: int, lag: int, progress: int) -> bool:
        """Take one sample; returns whether the consumer is stalled now."""
        now_s = self.clock()
        self._assigned, self._last_lag = assigned, lag
        if self._progress is None or progress != self._progress:
            self._progress, self._progress_at_s, self._lag_at_progress = progress, now_s, lag
            self.stalled, self.reason = False, ""
            return False
        idle_s = now_s - self._progress_at_s
        stalled = (
            assigned > 0
            and lag > 0
            and lag >= self._lag_at_progress
            and idle_s >= self.stall_after_s
        )
        if stalled and not self.stalled:
            self.stalls += 1
        self.stalled = stalled
        self.reason = (
            f"no progress for {idle_s:.0f} s (limit {self.stall_after_s:.0f} s) with "
            f"{assigned} partition(s) assigned and lag {lag} (was {self._lag_at_progress})"
            if stalled
            else ""
        )
        return stalled

    def since_progress_s(self) -> float:
        """Seconds since progress was last seen (0 before the first sample)."""
        return 0.0 if self._progress is None else max(0.0, self.clock() - self._progress_at_s)


class Operations:
    """Samples consumer views, runs one watchdog per view, exports lag and watchdog metrics,
    and answers the liveness and readiness probes."""

    def __init__(
        self,
        registry: CollectorRegistry,
        views: Sequence[ConsumerView] = (),
        *,
        stall_after_s: float = DEFAULT_STALL_AFTER_S,
        interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        probes: Sequence[HealthProbe] = (),
    ) -> None:
        self.registry = registry
        self.views: list[ConsumerView] = []
        self.probes = list(probes)
        self.interval_s = interval_s
        self.stall_after_s = stall_after_s
        self._clock = clock
        self.watchdogs: dict[str, ProgressWatchdog] = {}
        self._stalled = Gauge(
            "skyfence_watchdog_stalled",
            "1 while the app's consumer is stalled (partitions assigned, lag not shrinking, "
            "nothing processed for the configured time); liveness fails meanwhile.",
            ["app"],
            registry=registry,
        )
        self._stalls = Counter(
            "skyfence_watchdog_stalls_total",
            "Times the progress watchdog declared the app's consumer stalled.",
            ["app"],
            registry=registry,
        )
        self._idle = Gauge(
            "skyfence_seconds_since_progress",
            "Seconds since the app's consumer last committed progress on a consumed topic.",
            ["app"],
            registry=registry,
        )
        registry.register(_LagCollector(self.views))  # the list, so later views show too
        self._task: asyncio.Task[None] | None = None
        self._runner: Any = None
        self.watch(views)

    def watch_apps(self, apps: Sequence[Any]) -> None:
        """:meth:`watch` started Faust apps."""
        self.watch([FaustConsumerView(app) for app in apps])

    def watch(self, views: Sequence[ConsumerView]) -> None:
        """Sample, report and judge these views too (e.g. the apps, once started: the
        endpoints can be bound before them, so a port in use fails before any broker work)."""
        for view in views:
            self.views.append(view)
            self.watchdogs[view.name] = ProgressWatchdog(self.stall_after_s, self._clock)
            self._stalled.labels(view.name).set(0)
            self._stalls.labels(view.name)

    def sample(self) -> None:
        """Sample every view once and update the watchdogs and their metrics."""
        for view in self.views:
            parts = view.partitions()
            dog = self.watchdogs[view.name]
            was = dog.stalled
            stalled = dog.sample(
                assigned=len(parts),
                lag=sum(p.lag for p in parts),
                progress=sum(p.position or 0 for p in parts),
            )
            self._stalled.labels(view.name).set(1 if stalled else 0)
            self._idle.labels(view.name).set(dog.since_progress_s())
            if stalled and not was:
                self._stalls.labels(view.name).inc()
                log.error("watchdog: %s is stalled: %s; liveness now fails", view.name, dog.reason)
            elif was and not stalled:
                log.warning("watchdog: %s is making progress again", view.name)

    def health(self) -> tuple[bool, dict[str, Any]]:
        """Liveness: every app's consumer makes progress (or has nothing to do)."""
        apps = {
            name: {"stalled": dog.stalled, "reason": dog.reason or None,
                   "seconds_since_progress": round(dog.since_progress_s(), 1)}
            for name, dog in self.watchdogs.items()
        }  # fmt: skip
        ok = not any(a["stalled"] for a in apps.values())
        body: dict[str, Any] = {"apps": apps}
        for probe in self.probes:
            probe_ok, body[probe.name] = probe.health()
            ok = ok and probe_ok
        return ok, {"status": "ok" if ok else "stalled", **body}

    def ready(self) -> tuple[bool, dict[str, Any]]:
        """Readiness: every app is connected, has partitions and has recovered its tables."""
        apps = {v.name: v.readiness() for v in self.views}
        ok = all(
            a["broker"] and a["partitions_assigned"] > 0 and a["tables_recovered"]
            for a in apps.values()
        )
        body: dict[str, Any] = {"apps": apps}
        for probe in self.probes:
            probe_ok, body[probe.name] = probe.ready()
            ok = ok and probe_ok
        return ok, {"status": "ready" if ok else "not ready", **body}

    async def _loop(self) -> None:
        while True:
            try:
                self.sample()
            except Exception:  # a probe must never take the process down
                log.exception("watchdog sample failed")
            await asyncio.sleep(self.interval_s)

    async def start(
        self, host: str, port: int, *, extensions: Sequence[Callable[[Any], None]] = ()
    ) -> None:
        """Start sampling and serve ``/metrics``, ``/healthz`` and ``/readyz`` on host:port.
        Each of ``extensions`` is called with the aiohttp application first, to add routes
        (the desk's live page). A port that cannot be bound raises
        :class:`~streams.errors.ConfigError` naming it."""
        from aiohttp import web

        def respond(result: tuple[bool, dict[str, Any]]) -> web.Response:
            ok, body = result
            return web.Response(
                body=orjson.dumps(body, option=orjson.OPT_INDENT_2),
                status=200 if ok else 503,
                content_type="application/json",
            )

        async def metrics(_: web.Request) -> web.Response:
            # In the event loop, not a thread: the collectors read the apps' live state.
            return web.Response(
                body=generate_latest(self.registry),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

        async def healthz(_: web.Request) -> web.Response:
            return respond(self.health())

        async def readyz(_: web.Request) -> web.Response:
            return respond(self.ready())

        app = web.Application()
        app.router.add_get("/metrics", metrics)
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/readyz", readyz)
        for extend in extensions:
            extend(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        try:
            await web.TCPSite(self._runner, host, port).start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
            ) from None
        self._task = asyncio.create_task(self._loop(), name="skyfence-watchdog")

    async def stop(self) -> None:
        """Stop sampling and serving."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


class _LagCollector(Collector):
    def __init__(self, views: Sequence[ConsumerView]) -> None:
        self._views = views

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "skyfence_consumer_lag_messages",
            "Records in each assigned partition not yet processed by this process "
            "(high watermark - committed offset), by topic and partition.",
            labels=["topic", "partition"],
        )
        for view in self._views:
            for part in view.partitions():
                family.add_metric([part.topic, str(part.partition)], part.lag)
        yield family

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())


async def serve_operations(
    registry: CollectorRegistry,
    apps: Sequence[Any],
    host: str,
    port: int,
    *,
    stall_after_s: float = DEFAULT_STALL_AFTER_S,
    interval_s: float = DEFAULT_SAMPLE_INTERVAL_S,
    role: str = "all",
    extensions: Sequence[Callable[[Any], None]] = (),
) -> Operations:
    """:class:`Operations` over Faust ``apps`` (more later with :meth:`Operations.watch_apps`),
    with build info, serving on ``host:port``; the caller stops it with
    :meth:`Operations.stop`."""
    build_info(registry, role)
    ops = Operations(registry, stall_after_s=stall_after_s, interval_s=interval_s)
    await ops.start(host, port, extensions=extensions)
    ops.watch_apps(apps)
    return ops
