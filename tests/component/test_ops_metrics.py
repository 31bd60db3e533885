"""The metrics added for operations: freshness and processing time per message, per-zone
gauges computed at scrape time, delivery outcomes and latencies, outbox size."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from alerts.errors import DeliveryError
from alerts.metrics import NotifierMetrics
from alerts.notifier import DeliveryPolicy, Notifier
from alerts.retry import Backoff
from alerts.routing import Router
from alerts.routing_config import ChannelSpec, RoutingConfig, Rule
from streams.codec import encode_event
from streams.metrics import TrackerMetrics, nearby_box
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from streams.zones import load_zones
from tests.fakes.clock import VirtualClock

pytestmark = pytest.mark.timeout(30)

T0 = 1_700_000_000.0


def test_freshness_and_processing_time_are_recorded_per_message() -> None:
    registry = CollectorRegistry()
    now = [T0]
    metrics = TrackerMetrics(registry, clock=lambda: now[0])
    metrics.processed(2, took_s=0.010, positions=2000, now_s=T0)
    metrics.processed(3, took_s=0.001, positions=0, now_s=T0)  # a watermark: no position
    now[0] = T0 + 42.0
    sample = registry.get_sample_value
    assert sample("skyfence_seconds_since_last_position", {"partition": "2"}) == 42.0
    assert sample("skyfence_seconds_since_last_position", {"partition": "3"}) is None
    assert sample("skyfence_batch_processing_seconds_count") == 2
    assert sample("skyfence_position_processing_seconds_count") == 1
    assert sample("skyfence_position_processing_seconds_sum") == pytest.approx(5e-6)


@dataclass
class State:
    ts: float
    lat: float
    lon: float
    visits: dict[str, Any] = field(default_factory=dict)
    approach: dict[str, Any] = field(default_factory=dict)
    lost: list[str] = field(default_factory=list)


def test_zone_gauges_count_states_at_scrape_time() -> None:
    registry = CollectorRegistry()
    metrics = TrackerMetrics(registry)
    zones = load_zones(["dprk"])
    wm = T0
    part0 = [
        State(wm, 39.0, 126.0, visits={"dprk": object()}),  # inside, heard now
        State(wm - 100, 37.9, 124.0, approach={"dprk": (0, 0, 0)}),  # over the Yellow Sea
        State(wm - 4000, 40.0, 127.0, lost=["dprk"]),  # lost an hour ago
        State(wm - 10, 52.0, 4.0),  # Amsterdam: not near
    ]
    states: list[tuple[float, list[State]]] = [(wm, part0)]
    metrics.watch_zones(lambda: states, zones)
    sample = registry.get_sample_value
    assert sample("skyfence_zone_aircraft_inside", {"zone": "dprk"}) == 1
    assert sample("skyfence_zone_aircraft_approaching", {"zone": "dprk"}) == 1
    assert sample("skyfence_zone_aircraft_lost", {"zone": "dprk"}) == 1
    assert sample("skyfence_zone_aircraft_nearby", {"zone": "dprk"}) == 2  # lost one is old
    states.clear()  # the partition moved away: the gauges follow at the next scrape
    assert sample("skyfence_zone_aircraft_inside", {"zone": "dprk"}) == 0


def test_nearby_box_grows_by_about_100_km() -> None:
    x0, y0, _x1, y1 = nearby_box((124.0, 38.0, 130.0, 43.0))
    assert y0 == pytest.approx(38.0 - 0.898, abs=0.01) and y1 == pytest.approx(43.0 + 0.898, abs=0.01)
    assert 124.0 - x0 > 1.2  # a degree of longitude is shorter up north


class Scripted:
    def __init__(self, name: str, errors: list[DeliveryError]) -> None:
        self.name, self.errors, self.sent = name, list(errors), 0

    async def send(self, event: AirspaceEvent) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.sent += 1

    async def close(self) -> None:
        pass


def _event(icao24: str, observed_ts: float = T0) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id(icao24, "dprk", "entered", observed_ts),
        type=EventType.ENTERED, icao24=icao24, zone="dprk", ts=observed_ts,
        lat=40.1, lon=124.4, observed_ts=observed_ts, callsign=None,
        confidence=Confidence.OBSERVED,
    )  # fmt: skip


async def test_delivery_outcomes_latency_and_outbox_size() -> None:
    clock = VirtualClock(T0 + 1.0)
    slack = Scripted("slack", [
        DeliveryError("slack", "rate_limited", retriable=True, retry_after_s=2.0),
        DeliveryError("slack", "http_502", retriable=True),
    ])  # fmt: skip
    hook = Scripted("hook", [DeliveryError("hook", "http_404", retriable=False)])
    registry = CollectorRegistry()
    routing = RoutingConfig(
        channels={n: ChannelSpec(name=n, kind="console") for n in ("slack", "hook")},
        rules=(Rule(name="all", channels=("slack", "hook")),),
        cooldown_s=600.0,
    )
    notifier = Notifier(
        [slack, hook], NotifierMetrics(registry), router=Router(routing),
        policy=DeliveryPolicy(backoff=Backoff(base_s=1.0, max_s=8.0, give_up_after_s=600.0)),
        clock=clock.time, monotonic=clock.monotonic, sleep=clock.sleep, rand=lambda: 0.5,
    )  # fmt: skip
    await notifier.start()
    await notifier.handle(encode_event(_event("1551e0")))
    await notifier.handle(encode_event(_event("1551e0", T0 + 30)))  # same aircraft: cooldown
    assert await notifier.drain(5)
    await notifier.close()
    out = {
        (s.labels["channel"], s.labels["outcome"]): s.value
        for m in registry.collect() if m.name == "skyfence_deliveries"
        for s in m.samples if s.name.endswith("_total")
    }  # fmt: skip
    assert out == {
        ("slack", "rate_limited"): 1, ("slack", "retried"): 1, ("slack", "sent"): 1,
        ("hook", "rejected"): 1, ("hook", "dead_lettered"): 1,
        ("slack", "suppressed"): 1, ("hook", "suppressed"): 1,
    }  # fmt: skip
    sample = registry.get_sample_value
    assert sample("skyfence_delivery_latency_seconds_count", {"channel": "slack"}) == 1
    # rate-limited for 2 s, then backoff: the delivery path's own time, in virtual seconds
    assert sample("skyfence_delivery_latency_seconds_sum", {"channel": "slack"}) >= 2.0
    # two delivery entries + one dead + the cooldown record + two suppressed records
    assert sample("skyfence_outbox_entries") == len(list(notifier.outbox.scan())) >= 3


def test_ingest_metrics_count_by_source_and_report_freshness() -> None:
    from streams.metrics import IngestMetrics

    registry = CollectorRegistry()
    now = [T0]
    ingest = IngestMetrics(registry, clock=lambda: now[0])
    ingest.accepted("readsb", 500)
    ingest.accepted("readsb", 0)  # an empty flush is not news
    ingest.reject("readsb", "json")
    now[0] = T0 + 9.0
    sample = registry.get_sample_value
    assert sample("skyfence_ingest_positions_total", {"source": "readsb", "outcome": "accepted"}) == 500
    assert sample("skyfence_ingest_positions_total", {"source": "readsb", "outcome": "rejected"}) == 1
    assert sample("skyfence_ingest_rejected_total", {"source": "readsb", "reason": "json"}) == 1
    assert sample("skyfence_ingest_seconds_since_last_position", {"source": "readsb"}) == 9.0
