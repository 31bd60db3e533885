"""The notifier: reads events, delivers each to every channel once.

:class:`Notifier` is transport-free (``handle`` takes the raw event bytes), so tests drive it
directly; :func:`attach_notifier` adds it as a Faust agent on the events topic.

Duplicates (the same ``event_id`` read twice, e.g. after a tracker restart replayed part of
its input) are dropped while their id is in a bounded in-memory window. Durable, cross-restart
idempotency and retries with backoff belong to the delivery issue; here a failed delivery is
logged and counted, and the next channel still gets the alert.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from alerts.channels.base import Channel
from alerts.errors import DeliveryError
from alerts.metrics import NotifierMetrics
from streams.app import TrackerApp
from streams.codec import decode_event
from streams.errors import DecodeError
from streams.models import AirspaceEvent

__all__ = ["Notifier", "attach_notifier"]

log = logging.getLogger(__name__)

#: Event ids remembered for de-duplication: a day of busy DPRK traffic is a few hundred
#: events, so 100,000 ids (~10 MB) covers any realistic redelivery window.
DEDUPE_WINDOW = 100_000


class Notifier:
    """Delivers events to channels, once per event id."""

    def __init__(self, channels: Sequence[Channel], metrics: NotifierMetrics) -> None:
        self.channels = list(channels)
        self.metrics = metrics
        self._seen: OrderedDict[str, None] = OrderedDict()
        #: Events read (including duplicates and undecodable ones) and deliveries made.
        self.read = 0
        self.delivered = 0

    async def handle(self, value: bytes) -> AirspaceEvent | None:
        """Decode and deliver one event; returns it, or None when skipped."""
        self.read += 1
        try:
            event = decode_event(value)
        except DecodeError as exc:
            log.error("undecodable event skipped: %s", exc)
            self.metrics.events.labels("undecodable").inc()
            return None
        if event.event_id in self._seen:
            self.metrics.events.labels("duplicate").inc()
            return None
        self._seen[event.event_id] = None
        if len(self._seen) > DEDUPE_WINDOW:
            self._seen.popitem(last=False)
        self.metrics.events.labels("new").inc()
        for channel in self.channels:
            try:
                await channel.send(event)
            except DeliveryError as exc:
                log.error("delivery to %s failed: %s", channel.name, exc.reason)
                self.metrics.deliveries.labels(channel.name, "failed").inc()
            else:
                self.metrics.deliveries.labels(channel.name, "delivered").inc()
                self.delivered += 1
        return event

    async def close(self) -> None:
        """Close every channel."""
        for channel in self.channels:
            await channel.close()


def attach_notifier(bundle: TrackerApp, notifier: Notifier) -> None:
    """Run ``notifier`` as a Faust agent on the events topic of ``bundle``'s app."""

    async def notifier_agent(stream: Any) -> None:
        async for value in stream:
            try:
                await notifier.handle(value)
            except Exception:  # a channel bug must not stop alerting
                log.exception("notifier failed on an event")

    bundle.app.agent(bundle.events, name="notifier")(notifier_agent)
