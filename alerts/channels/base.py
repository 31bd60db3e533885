"""The channel protocol every destination implements, and the in-memory fake for tests.

A channel turns one event into one delivered alert. It raises
:class:`~alerts.errors.DeliveryError` when it cannot, with ``retriable`` and ``retry_after_s``
set so the caller decides what to do; it never retries on its own (the notifier's
:class:`~alerts.delivery.ChannelWorker` does, with backoff and rate limits).

Optional attributes the notifier reads: ``kind`` (``slack_webhook``, ``telegram``...: which
response rules apply), ``local`` (True for the console: a local log that flood control never
holds back), ``accepts_image`` (True when ``send`` takes ``image_png=``: the map), ``threads``
(a Slack thread store, which the notifier keeps in its outbox), ``accepts_buttons`` (True
when ``send`` takes ``ack_button=``: the Acknowledge button of a priority alert), and the
optional method ``post_note(text, *, reply_to, ack_event_id)`` (a follow-up: escalation,
acknowledgement). ``send`` and ``post_note`` may return the posted message's reference
(``"channel:ts"``, ``"chat_id:message_id"``) so follow-ups can reply to it.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from streams.models import AirspaceEvent

__all__ = ["Channel", "ListChannel"]


@runtime_checkable
class Channel(Protocol):
    """A destination for alerts."""

    #: Bounded, human name of the channel (used in logs and as a metric label).
    name: str

    async def send(self, event: AirspaceEvent) -> object:
        """Deliver one alert for ``event``; raise ``DeliveryError`` on failure. May return
        the posted message's reference (a ``str``)."""
        ...

    async def close(self) -> None:
        """Release resources (sessions, files)."""
        ...


class ListChannel:
    """A channel that keeps every event it is given, in order: the fake tests use."""

    def __init__(self, name: str = "list", *, local: bool = True) -> None:
        self.name = name
        self.kind = "list"
        #: Local channels (the console, this fake) are not held back by flood control; pass
        #: ``local=False`` to test flood control with it.
        self.local = local
        self.events: list[AirspaceEvent] = []
        #: Event ids sent with the Acknowledge button.
        self.buttons: list[str] = []
        #: Follow-ups: (text, reply_to, ack_event_id).
        self.notes: list[tuple[str, str | None, str | None]] = []
        self.accepts_buttons = True

    async def send(self, event: AirspaceEvent, *, ack_button: bool = False) -> str:
        """Record ``event``; returns ``"<name>:<n>"`` (n counts messages from 1)."""
        self.events.append(event)
        if ack_button:
            self.buttons.append(event.event_id)
        return f"{self.name}:{len(self.events) + len(self.notes)}"

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """Record a follow-up."""
        self.notes.append((text, reply_to, ack_event_id))
        return f"{self.name}:{len(self.events) + len(self.notes)}"

    async def close(self) -> None:
        """Nothing to release."""
