"""The notifier with in-memory channels: once per event id, failures isolated per channel."""

from __future__ import annotations

import io

from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.channels.console import ConsoleChannel
from alerts.errors import DeliveryError
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id


def _event(observed_ts: float = 1695690170.0, type_: EventType = EventType.ENTERED) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id("1551e0", "dprk", type_.value, observed_ts),
        type=type_,
        icao24="1551e0",
        zone="dprk",
        ts=observed_ts - 6.85,
        lat=40.13685,
        lon=124.40787,
        observed_ts=observed_ts,
        callsign="RSD352",
        confidence=Confidence.OBSERVED,
        alt_ft=30000,
    )


class FailingChannel:
    name = "failing"

    async def send(self, event: AirspaceEvent) -> None:
        raise DeliveryError(self.name, "http_503", retriable=True)

    async def close(self) -> None:
        pass


async def test_each_event_is_delivered_once() -> None:
    registry = CollectorRegistry()
    channel = ListChannel()
    notifier = Notifier([channel], NotifierMetrics(registry))
    first, second = _event(), _event(1695690300.0, EventType.EXITED)
    for raw in (encode_event(first), encode_event(first), encode_event(second), b"garbage"):
        await notifier.handle(raw)
    assert channel.events == [first, second]
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "duplicate"}) == 1
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "undecodable"}) == 1
    assert notifier.read == 4 and notifier.delivered == 2


async def test_a_failing_channel_does_not_starve_the_others() -> None:
    registry = CollectorRegistry()
    good = ListChannel()
    notifier = Notifier([FailingChannel(), good], NotifierMetrics(registry))
    await notifier.handle(encode_event(_event()))
    assert len(good.events) == 1
    assert registry.get_sample_value("skyfence_alerts_total", {"channel": "failing", "outcome": "failed"}) == 1


async def test_console_line_is_readable() -> None:
    buf = io.StringIO()
    await ConsoleChannel(buf).send(_event())
    line = buf.getvalue()
    assert line == (
        "ALERT  2023-09-26 01:02:43Z  ENTERED            dprk  RSD352    1551e0  "
        "40.1369N 124.4079E  FL300  observed\n"
    )
