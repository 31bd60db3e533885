"""Generic signed webhook channel, and the one HTTP exchange every HTTP channel goes through.

:class:`WebhookChannel` POSTs :func:`alerts.render.webhook_json` with::

    Content-Type: application/json
    X-Skyfence-Event-Id: <event_id>                  (receivers dedupe on it: we deliver
                                                       at least once)
    X-Skyfence-Signature: t=<unix s>,v1=<hex HMAC>   (only when a secret is configured;
                                                       scheme in alerts.render)

and lets :func:`alerts.responses.classify` judge the answer (2xx delivered; 408/425/429/5xx
retriable, honouring ``Retry-After``; anything else not).

:func:`exchange` is the thin transport shared by the Slack, Telegram and webhook channels:
one request on an injected :class:`aiohttp.ClientSession` with a per-request timeout, no
redirects followed, **no retries** (the caller retries using ``DeliveryError.retriable`` and
``retry_after_s``). Transport failures become ``DeliveryError(reason="timeout")`` or
``DeliveryError(reason="connection")``, both retriable. aiohttp's own exceptions carry the
request URL (which holds a Telegram bot token or a Slack webhook secret), so they are never
chained, logged or formatted: the ``DeliveryError`` is raised outside the ``except`` block,
with neither ``__cause__`` nor ``__context__``.

Out of scope: retries, rate limiting (:mod:`alerts.ratelimit`), dedupe (the dispatcher).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from alerts.errors import DeliveryError
from alerts.render import AlertContext, build_context, sign_webhook, webhook_json
from alerts.responses import classify
from alerts.secrets import Secret
from streams.models import AirspaceEvent

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "USER_AGENT",
    "ContextFactory",
    "HttpReply",
    "WebhookChannel",
    "default_context",
    "exchange",
]

log = logging.getLogger(__name__)

#: Per-request timeout: Slack and Telegram answer in well under a second; 10 s rides out a
#: slow moment but keeps one stuck peer from holding an alert worker for long.
DEFAULT_TIMEOUT_S = 10.0
#: Header names of the webhook contract.
SIGNATURE_HEADER = "X-Skyfence-Signature"
EVENT_ID_HEADER = "X-Skyfence-Event-Id"
#: Identifies us to receivers' logs (no version detail an attacker could use).
USER_AGENT = "skyfence-alerts"

#: Turns an event into the alert's context (add watchlist entry, distance, local time).
ContextFactory = Callable[[AirspaceEvent], AlertContext]

#: What :func:`exchange` returns: status, headers (plain dict), body.
HttpReply = tuple[int, dict[str, str], bytes]


def default_context(event: AirspaceEvent) -> AlertContext:
    """The context with nothing but the event (no watchlist entry, distance or local time)."""
    return build_context(event)


async def exchange(
    session: aiohttp.ClientSession,
    channel: str,
    method: str,
    url: str,
    *,
    timeout_s: float,
    label: str,
    **kwargs: Any,
) -> HttpReply:
    """One HTTP request -> (status, headers, body), or ``DeliveryError`` on transport failure.

    ``label`` names the call in logs (``"chat.postMessage"``): the URL never is logged.
    ``kwargs`` go to ``session.request`` (``data=``, ``json=``, ``headers=``).
    """
    reason: str | None = None
    try:
        async with session.request(
            method,
            url,
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            allow_redirects=False,
            **kwargs,
        ) as resp:
            body = await resp.read()
            log.debug("%s: %s -> HTTP %d", channel, label, resp.status)
            return resp.status, dict(resp.headers), body
    except TimeoutError:  # also aiohttp's ServerTimeoutError and asyncio.TimeoutError
        reason = "timeout"
    except aiohttp.InvalidURL:
        reason = "bad_url"
    except (aiohttp.ClientError, OSError):
        # Connection refused/reset, server disconnected, truncated payload, TLS failure...
        reason = "connection"
    # Raised here, not in the except blocks: no chained aiohttp error (and its URL) survives.
    log.debug("%s: %s -> %s", channel, label, reason)
    raise DeliveryError(channel, reason, retriable=reason != "bad_url")


class WebhookChannel:
    """POSTs signed event JSON to one URL (see the module docstring for the contract)."""

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
        self.name = name
        self.kind = "webhook"
        self._url = url
        self._secret = secret
        self._session = session
        self._timeout_s = timeout_s
        self._clock = clock
        self._context = context_factory or default_context

    def __repr__(self) -> str:
        return f"WebhookChannel(name={self.name!r}, url={self._url!r}, signed={self._secret is not None})"

    async def send(self, event: AirspaceEvent) -> None:
        """Deliver one alert; raise ``DeliveryError`` on failure (never retries)."""
        body = webhook_json(event, self._context(event))
        now_s = self._clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            EVENT_ID_HEADER: event.event_id,
        }
        if self._secret is not None:
            headers[SIGNATURE_HEADER] = sign_webhook(
                body, self._secret.reveal().encode(), int(now_s)
            )
        status, resp_headers, resp_body = await exchange(
            self._session,
            self.name,
            "POST",
            self._url.reveal(),
            timeout_s=self._timeout_s,
            label="webhook",
            data=body,
            headers=headers,
        )
        classify(self.name, status, resp_headers, resp_body, now_s=now_s, kind=self.kind)

    async def close(self) -> None:
        """Nothing to release: the session belongs to the caller."""
