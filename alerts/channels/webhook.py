"""Generic signed webhook channel.

:class:`WebhookChannel` POSTs :func:`alerts.render.webhook_json` with::

    Content-Type: application/json
    X-Skyfence-Event-Id: <event_id>                  (receivers dedupe on it: we deliver
                                                       at least once)
    X-Skyfence-Signature: t=<unix s>,v1=<hex HMAC>   (only when a secret is configured;
                                                       scheme in alerts.signing)

and lets :func:`alerts.responses.classify` judge the answer (2xx delivered; 408/425/429/5xx
retriable, honouring ``Retry-After``; anything else not). The transport and its error
handling are :mod:`alerts.channels.http`'s, shared with the Slack and Telegram channels.

Out of scope: retries, rate limiting (:mod:`alerts.ratelimit`), dedupe (the dispatcher).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import aiohttp
import orjson

from alerts.channels.http import DEFAULT_TIMEOUT_S, USER_AGENT, ContextFactory, HttpChannel
from alerts.render import webhook_json
from alerts.secrets import Secret
from alerts.signing import sign_webhook
from streams.models import AirspaceEvent

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "WebhookChannel"]

#: Header names of the webhook contract.
SIGNATURE_HEADER = "X-Skyfence-Signature"
EVENT_ID_HEADER = "X-Skyfence-Event-Id"


class WebhookChannel(HttpChannel):
    """POSTs signed event JSON to one URL (see the module docstring for the contract)."""

    kind = "webhook"

    def __init__(
        self,
        url: Secret,
        secret: Secret | None,
        session: aiohttp.ClientSession,
        name: str = "webhook",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        context_factory: ContextFactory | None = None,
    ) -> None:
        super().__init__(
            name, session, timeout_s=timeout_s, clock=clock, context_factory=context_factory
        )
        self._url = url
        self._secret = secret

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, url={self._url!r}, signed={self._secret is not None})"

    async def send(self, event: AirspaceEvent) -> None:
        """Deliver one alert; raise ``DeliveryError`` on failure (never retries)."""
        await self._signed(webhook_json(event, self._context(event)), event.event_id)

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """POST a follow-up (escalation, acknowledgement) as signed JSON
        ``{"note": text, "event_id": <alert or null>}``."""
        body = orjson.dumps({"event_id": ack_event_id, "note": text}, option=orjson.OPT_SORT_KEYS)
        await self._signed(body, ack_event_id)
        return ""

    async def _signed(self, body: bytes, event_id: str | None) -> None:
        now_s = self._clock()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        if event_id is not None:
            headers[EVENT_ID_HEADER] = event_id
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign_webhook(
                body, self._secret.reveal().encode(), int(now_s)
            )
        await self._post(self._url.reveal(), "webhook", now_s=now_s, data=body, headers=headers)
