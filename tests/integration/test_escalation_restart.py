"""Escalation across notifier restarts on a real broker (Apache Kafka): a priority alert
is delivered, the notifier stops before the deadline, a new one (same app id, so the same
consumer group and ``escalations`` table changelog) takes over, and its timer, reading an
injected clock, escalates the alert once when the deadline passes; a third notifier started
after that does not escalate it again.

Apache Kafka, not Tansu: Tansu's ListOffsets(LATEST) can return a too-small end offset, so
Faust's table recovery after a worker restart on Tansu misses the newest changelog records
(README, "Tansu is for the demo and fast tests"); on Tansu this test fails by re-sending the
alert, whose ``delivered`` record is the one recovery misses, as tests/integration/
test_restart.py documents for the tracker.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.escalation import EscalationState
from alerts.metrics import NotifierMetrics
from alerts.notifier import DeliveryPolicy, Notifier, NotifierApp, create_notifier_app
from alerts.routing import Router
from alerts.routing_config import RoutingConfig
from streams.codec import encode_event
from streams.config import StreamSettings
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from streams.topics import ensure_topics
from tests.integration.test_pipeline import _settings

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROUTING = """
[channels.desk]
kind = "console"
[channels.duty]
kind = "console"
[[rules]]
name = "state aircraft into dprk"
zones = ["dprk"]
channels = ["desk"]
priority = true
escalate_after = "10m"
escalate_to = ["duty"]
"""


class Clock:
    """Wall time the test moves by hand (the notifier's injected clock)."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


async def _start(
    settings: StreamSettings, bootstrap: str, clock: Clock
) -> tuple[NotifierApp, ListChannel, ListChannel]:
    desk, duty = ListChannel("desk"), ListChannel("duty")
    notifier = Notifier(
        [desk, duty],
        NotifierMetrics(CollectorRegistry()),
        router=Router(RoutingConfig.from_toml(ROUTING)),
        policy=DeliveryPolicy(escalation_tick_s=0.05),
        clock=clock,
    )
    bundle = create_notifier_app(settings, bootstrap, notifier)
    changelogs = [t.changelog_topic.get_topic_name() for t in (bundle.table, bundle.escalations)]
    await ensure_topics(bootstrap, settings, compacted=[(c, settings.partitions) for c in changelogs])
    await bundle.start()
    return bundle, desk, duty


async def _until(predicate, what: str, timeout_s: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _recovered(bundle: NotifierApp, event_id: str) -> bool:
    # Assigned and recovered: the record is back from the changelog and restore has run.
    return bundle.notifier.owned is not None and len(bundle.notifier.owned) > 0 and (
        bundle.notifier.escalation(event_id) is not None
    )


async def test_notifier_restart_between_alert_and_deadline_escalates_exactly_once(
    kafka_broker, tmp_path: Path  # type: ignore[no-untyped-def]
) -> None:
    settings = _settings(kafka_broker, tmp_path)
    bootstrap = kafka_broker.bootstrap
    await ensure_topics(bootstrap, settings)
    clock = Clock(time.time())
    t0 = clock.now_s
    event = AirspaceEvent(
        event_id=make_event_id("1551e0", "dprk", "entered", t0), type=EventType.ENTERED,
        icao24="1551e0", zone="dprk", ts=t0 - 5, lat=40.13685, lon=124.40787, observed_ts=t0,
        callsign="RSD352", confidence=Confidence.OBSERVED, alt_ft=30000,
    )  # fmt: skip
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(settings.events_topic, encode_event(event), key=b"1551e0")
    finally:
        await producer.stop()

    # 1. The alert is delivered with its button; the worker stops two minutes in.
    first, desk, duty = await _start(settings, bootstrap, clock)
    try:
        await _until(lambda: desk.buttons == [event.event_id], "the priority alert")
        await _until(
            lambda: (r := first.notifier.escalation(event.event_id)) is not None and bool(r.refs),
            "the delivered message's reference",
        )
        clock.now_s = t0 + 120
        await asyncio.sleep(0.2)  # a few timer ticks: nothing is due
        assert first.notifier.escalated == 0 and duty.notes == []
    finally:
        await first.stop()

    # 2. A new worker takes over before the deadline; the deadline passes under it.
    clock.now_s = t0 + 300
    second, desk2, duty2 = await _start(settings, bootstrap, clock)
    try:
        await _until(lambda: _recovered(second, event.event_id), "the recovered record")
        record = second.notifier.escalation(event.event_id)
        assert record is not None and record.state is EscalationState.WAITING
        assert record.deadline_s == pytest.approx(t0 + 600, abs=0.01)
        assert record.refs == {"desk": "desk:1"}
        assert desk2.events == []  # the alert itself is not sent again
        await asyncio.sleep(0.2)
        assert second.notifier.escalated == 0
        clock.now_s = t0 + 601
        await _until(lambda: len(duty2.notes) == 1 and len(desk2.notes) == 1, "the escalation")
        await asyncio.sleep(0.3)  # more ticks: still one
        assert second.notifier.escalated == 1
    finally:
        await second.stop()
    assert duty2.notes[0][2] == event.event_id  # the escalation carries the button
    assert desk2.notes[0][1] == "desk:1"  # the thread note replies to the alert

    # 3. Another restart after the escalation: nothing is sent again.
    clock.now_s = t0 + 900
    third, desk3, duty3 = await _start(settings, bootstrap, clock)
    try:
        await _until(lambda: _recovered(third, event.event_id), "the recovered record")
        await asyncio.sleep(0.3)
        record = third.notifier.escalation(event.event_id)
        assert record is not None and record.state is EscalationState.ESCALATED
        assert third.notifier.escalated == 0
    finally:
        await third.stop()
    assert (desk3.events, desk3.notes, duty3.notes) == ([], [], [])
