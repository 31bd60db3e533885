"""Prometheus metrics of the stream side, built on an injected registry.

Names follow Prometheus conventions: ``_total`` for counters, base units (``_seconds``).
Labels are bounded: outcome, reason, event type, zone id (zones are configured, so few),
topic and partition (configured counts), source (a handful of feed names); never an aircraft
address or an event id.

The tracker's batch loop is the hot path (~200k positions/s): nothing here is called per
position. :meth:`TrackerMetrics.processed` is called once per Kafka message (a batch of up to
2,000 positions), and the per-zone gauges are computed when Prometheus scrapes, from the
tracker's in-memory states (:class:`ZoneCollector`).

A message that carries one position (a third-party producer's form) is the other hot path:
there the tracker's per-message series are :class:`LoopCounter` and :class:`LoopHistogram`,
which the event loop updates with plain arithmetic (no lock, no per-call validation; only
that thread writes them) and which Prometheus reads at scrape time, with the same
exposition as ``prometheus_client``'s Counter and Histogram. prometheus_client's locked
updates cost ~10% of a worker's rate on single messages (``make bench``, stage (s)).

Faust's own Prometheus sensor measures in milliseconds; it is not installed, so every
``skyfence_*_seconds`` series here is in seconds.
"""

from __future__ import annotations

import math
import platform
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Sequence
from importlib import metadata
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

__all__ = [
    "IngestMetrics",
    "LoopCounter",
    "LoopHistogram",
    "TrackerMetrics",
    "ZoneCollector",
    "build_info",
    "nearby_box",
]

#: Buckets of the per-message (batch) processing time, seconds: a lone position takes tens
#: of microseconds, a 2,000-position batch ~10 ms, a stalled one seconds.
_BATCH_BUCKETS_S = (0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)
#: Buckets of the mean per-position processing time within a message, seconds (~5 us typical).
_POSITION_BUCKETS_S = (1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2)
#: "Near a zone" for the zone-blind signal: 100 km beyond the zone's bounding box.
NEARBY_KM = 100.0
#: An aircraft counts as heard near a zone when its last fix is at most this old, in event
#: time (its partition's watermark), seconds.
NEARBY_RECENT_S = 300.0
_KM_PER_DEG_LAT = 111.32


class _LoopCounterChild:
    """One labelled series of a :class:`LoopCounter`."""

    __slots__ = ("created", "value")

    def __init__(self) -> None:
        self.value = 0.0
        self.created = time.time()

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` (never negative: a counter only goes up)."""
        if amount < 0:
            raise ValueError("counters can only be incremented by non-negative amounts")
        self.value += amount


class LoopCounter(Collector):
    """A Prometheus counter updated by one thread (the event loop's) with plain arithmetic.

    The subset of ``prometheus_client.Counter`` the tracker uses: ``inc(amount)`` and, with
    label names, ``labels(*values).inc(amount)``; exposed as ``<name>_total`` and
    ``<name>_created`` like a Counter. Read by the scrape (any thread): a float attribute is
    read whole under the GIL.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        registry: CollectorRegistry,
    ) -> None:
        self._name = name.removesuffix("_total")
        self._documentation = documentation
        self._labelnames = tuple(labelnames)
        self._children: dict[tuple[str, ...], _LoopCounterChild] = {}
        if not self._labelnames:
            self._children[()] = _LoopCounterChild()
        registry.register(self)

    def labels(self, *values: str) -> _LoopCounterChild:
        """The series for these label values (created on first use)."""
        if len(values) != len(self._labelnames):
            raise ValueError(f"{self._name}: expected labels {self._labelnames}, got {values}")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = _LoopCounterChild()
        return child

    def inc(self, amount: float = 1.0) -> None:
        """Add ``amount`` to the unlabelled counter."""
        if self._labelnames:
            raise ValueError(f"{self._name}: a labelled counter needs labels(...)")
        self._children[()].inc(amount)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)
        for key, child in list(self._children.items()):
            family.add_metric(list(key), child.value, created=child.created)
        yield family

    def describe(self) -> Iterable[Any]:
        return [CounterMetricFamily(self._name, self._documentation, labels=self._labelnames)]


class LoopHistogram(Collector):
    """A Prometheus histogram updated by one thread (the event loop's) with plain arithmetic.

    ``observe(value)`` as ``prometheus_client.Histogram``'s (a value lands in the first bucket
    whose upper bound is at least it); exposed as ``_bucket`` (cumulative), ``_count``,
    ``_sum`` and ``_created``. The scrape derives ``_count`` from the buckets it read, so
    the ``+Inf`` bucket and the count always agree even mid-update.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: Sequence[float],
        *,
        registry: CollectorRegistry,
    ) -> None:
        uppers = [float(b) for b in buckets]
        if uppers != sorted(uppers) or len(set(uppers)) != len(uppers):
            raise ValueError(f"{name}: buckets must be in increasing order")
        if not uppers or uppers[-1] != math.inf:
            uppers.append(math.inf)
        self._name = name
        self._documentation = documentation
        self._uppers = tuple(uppers)
        self._finite = self._uppers[:-1]
        self._counts = [0] * len(self._uppers)
        self._sum = 0.0
        self._created = time.time()
        registry.register(self)

    def observe(self, value: float) -> None:
        """Count one observation of ``value``."""
        self._counts[bisect_left(self._finite, value)] += 1
        self._sum += value

    def collect(self) -> Iterator[HistogramMetricFamily]:
        counts = list(self._counts)
        total = self._sum
        cumulative, buckets = 0, []
        for upper, count in zip(self._uppers, counts, strict=True):
            cumulative += count
            buckets.append((floatToGoString(upper), cumulative))
        family = HistogramMetricFamily(self._name, self._documentation)
        family.add_metric([], buckets, total)
        family.add_sample(f"{self._name}_created", {}, self._created)
        yield family

    def describe(self) -> Iterable[Any]:
        return [HistogramMetricFamily(self._name, self._documentation)]


class TrackerMetrics:
    """The tracker agent's metrics."""

    def __init__(
        self, registry: CollectorRegistry, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._clock = clock
        self._registry = registry
        #: Wall time a position of each partition was last handled.
        self._last_position_s: dict[int, float] = {}
        registry.register(_Collect(self._freshness))
        self.batch_seconds = LoopHistogram(
            "skyfence_batch_processing_seconds",
            "Time the tracker spent on one positions message (a batch or a lone position).",
            buckets=_BATCH_BUCKETS_S,
            registry=registry,
        )
        self.position_seconds = LoopHistogram(
            "skyfence_position_processing_seconds",
            "Mean time per position within one positions message (observed once per message).",
            buckets=_POSITION_BUCKETS_S,
            registry=registry,
        )
        self.positions = LoopCounter(
            "skyfence_positions_total",
            "Position messages handled by the tracker, by outcome "
            "(accepted, duplicate, out_of_order, suspect, rekeyed, dead_letter).",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "skyfence_dead_letters_total",
            "Position messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events = Counter(
            "skyfence_events_total",
            "Airspace events emitted, by type and zone.",
            ["type", "zone"],
            registry=registry,
        )
        self.state_writes = Counter(
            "skyfence_state_writes_total",
            "Writes of per-aircraft state to the table (and so its changelog).",
            registry=registry,
        )
        self.tracked_aircraft = Gauge(
            "skyfence_tracked_aircraft",
            "Aircraft whose state this worker holds in memory.",
            registry=registry,
        )
        self.position_age = LoopHistogram(
            "skyfence_position_age_seconds",
            "Wall-clock time minus position time when the tracker handles a position "
            "(end-to-end freshness; large during replays of old recordings).",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, float("inf")),
            registry=registry,
        )
        self.produce_failures = Counter(
            "skyfence_produce_failures_total",
            "Messages the tracker could not produce (too large, not authorised...), by what "
            "they were (event, state, rekey, dead_letter); the input is dead-lettered as "
            "produce_failed where it can be. Should stay at zero.",
            ["what"],
            registry=registry,
        )
        self.internal_errors = Counter(
            "skyfence_internal_errors_total",
            "Inputs on which the tracker raised (dead-lettered as 'internal'): a bug in "
            "skyfence, never bad input. Should stay at zero; alert on any increase.",
            registry=registry,
        )
        self.single_messages = LoopCounter(
            "skyfence_single_position_messages_total",
            "Position messages that carried one position (a third-party producer's form): "
            "each costs Faust's per-message overhead. Mostly these? Put the front stage "
            "(skyfence ingest kafka://RAW_TOPIC) in front; see the README's Kafka contract.",
            registry=registry,
        )
        self.offset_resets = Counter(
            "skyfence_consumer_offset_resets_total",
            "Fetch positions found out of range and reset to the earliest retained offset, "
            "by topic: records in between were deleted (retention) before this worker read "
            "them. Should stay at zero.",
            ["topic"],
            registry=registry,
        )

    def watch_zones(self, view: StatesView, zones: Sequence[Any]) -> None:
        """Export the per-zone gauges of :class:`ZoneCollector` over ``view``."""
        self._registry.register(ZoneCollector(view, zones))

    def processed(self, partition: int, took_s: float, positions: int, now_s: float) -> None:
        """Record one handled Kafka message of ``partition`` (a batch or a lone position):
        its processing time, the mean time per position in it, and that the partition
        made progress at wall time ``now_s`` (freshness). Called once per message."""
        self.batch_seconds.observe(took_s)
        if positions > 0:
            self.position_seconds.observe(took_s / positions)
            self._last_position_s[partition] = now_s

    def _freshness(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "skyfence_seconds_since_last_position",
            "Wall-clock seconds since this worker last handled a position of each positions "
            "partition it has handled (freshness; grows while a feed or a partition is silent).",
            labels=["partition"],
        )
        now_s = self._clock()
        for partition, last_s in sorted(self._last_position_s.items()):
            family.add_metric([str(partition)], max(0.0, now_s - last_s))
        yield family


class _Collect(Collector):
    """A registry collector from a callable (for values computed at scrape time)."""

    def __init__(self, collect: Callable[[], Iterable[Any]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Any]:
        return self._collect()

    def describe(self) -> Iterable[Any]:
        return []  # computed at scrape time; no names reserved up front


def nearby_box(
    bounds: tuple[float, float, float, float], km: float = NEARBY_KM
) -> tuple[float, float, float, float]:
    """``bounds`` (min_lon, min_lat, max_lon, max_lat) grown by ``km`` on every side."""
    min_lon, min_lat, max_lon, max_lat = bounds
    dlat = km / _KM_PER_DEG_LAT
    widest = max(abs(min_lat), abs(max_lat)) + dlat
    dlon = km / (_KM_PER_DEG_LAT * max(0.05, math.cos(math.radians(min(widest, 89.0)))))
    return (min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat)


#: What :class:`ZoneCollector` reads: per partition, its watermark (event time) and states.
StatesView = Callable[[], Iterable[tuple[float, Iterable[Any]]]]


class ZoneCollector(Collector):
    """Per-zone gauges computed at scrape time from the tracker's in-memory states:
    aircraft inside, approaching and lost per zone, and aircraft heard near each zone
    (within ``NEARBY_KM`` of it, last fix at most ``NEARBY_RECENT_S`` old by its partition's
    watermark): the zone-blind signal. One pass over the states per scrape, none per position.
    """

    def __init__(self, view: StatesView, zones: Sequence[Any]) -> None:
        self._view = view
        self._zones = [z.id for z in zones]
        self._boxes = [(z.id, nearby_box(z.bounds)) for z in zones]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        inside = dict.fromkeys(self._zones, 0)
        approaching = dict.fromkeys(self._zones, 0)
        lost = dict.fromkeys(self._zones, 0)
        nearby = dict.fromkeys(self._zones, 0)
        boxes = self._boxes
        for watermark, states in self._view():
            recent_ts = watermark - NEARBY_RECENT_S
            for state in states:
                for zone in state.visits:
                    if zone in inside:
                        inside[zone] += 1
                for zone in state.approach:
                    if zone in approaching:
                        approaching[zone] += 1
                for zone in state.lost:
                    if zone in lost:
                        lost[zone] += 1
                if state.ts >= recent_ts:
                    lat, lon = state.lat, state.lon
                    for zone, (x0, y0, x1, y1) in boxes:
                        if y0 <= lat <= y1 and x0 <= lon <= x1:
                            nearby[zone] += 1
        for name, doc, counts in (
            ("skyfence_zone_aircraft_inside", "Aircraft inside each zone.", inside),
            (
                "skyfence_zone_aircraft_approaching",
                "Aircraft predicted to enter each zone (an approach forecast is current).",
                approaching,
            ),
            (
                "skyfence_zone_aircraft_lost",
                "Aircraft whose signal was lost inside or near each zone and not heard since.",
                lost,
            ),
            (
                "skyfence_zone_aircraft_nearby",
                f"Aircraft heard within {NEARBY_KM:.0f} km of each zone in the last "
                f"{NEARBY_RECENT_S:.0f} s of event time; 0 for hours = the zone is blind.",
                nearby,
            ),
        ):
            family = GaugeMetricFamily(name, doc, labels=["zone"])
            for zone, n in counts.items():
                family.add_metric([zone], n)
            yield family

    def describe(self) -> Iterable[Any]:
        return []


class IngestMetrics:
    """Metrics of a process that reads a feed and publishes positions (replay, ingest):
    received, accepted and rejected by source and reason, and freshness by source."""

    def __init__(
        self, registry: CollectorRegistry, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.received = Counter(
            "skyfence_ingest_positions_total",
            "Positions read from a feed, by source and outcome (accepted, rejected).",
            ["source", "outcome"],
            registry=registry,
        )
        self.rejected = Counter(
            "skyfence_ingest_rejected_total",
            "Feed lines or frames rejected before publishing, by source and reason.",
            ["source", "reason"],
            registry=registry,
        )
        self._clock = clock
        self._last_s: dict[str, float] = {}
        registry.register(_Collect(self._freshness))

    def accepted(self, source: str, n: int) -> None:
        """``n`` positions of ``source`` published (call per batch or per flush)."""
        if n:
            self.received.labels(source, "accepted").inc(n)
            self._last_s[source] = self._clock()

    def reject(self, source: str, reason: str) -> None:
        """One line or frame of ``source`` rejected for ``reason``."""
        self.received.labels(source, "rejected").inc()
        self.rejected.labels(source, reason).inc()

    def _freshness(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "skyfence_ingest_seconds_since_last_position",
            "Wall-clock seconds since the last position was read from each source.",
            labels=["source"],
        )
        now_s = self._clock()
        for source, last_s in sorted(self._last_s.items()):
            family.add_metric([source], max(0.0, now_s - last_s))
        yield family


def build_info(registry: CollectorRegistry, role: str = "all") -> Gauge:
    """``skyfence_build_info{version,python,role} 1``: which build runs where."""
    try:
        version = metadata.version("skyfence")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "unknown"
    gauge = Gauge(
        "skyfence_build_info",
        "Build information: skyfence version, Python version and the process role (always 1).",
        ["version", "python", "role"],
        registry=registry,
    )
    gauge.labels(version, platform.python_version(), role).set(1)
    return gauge
