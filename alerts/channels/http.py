"""What every HTTP channel shares: one exchange, and the :class:`HttpChannel` base.

:func:`exchange` is the thin transport under the Slack (webhook and Web API), Telegram and
webhook channels: one request on an injected :class:`aiohttp.ClientSession` with a
per-request timeout, no redirects followed, **no retries** (the caller retries using
``DeliveryError.retriable`` and ``retry_after_s``). Transport failures become
``DeliveryError(reason="timeout")`` or ``DeliveryError(reason="connection")``, both retriable
(``bad_url`` is not). aiohttp's own exceptions carry the request URL (which holds a Telegram
bot token or a Slack webhook secret), so they are never chained, logged or formatted: the
``DeliveryError`` is raised outside the ``except`` block, with neither ``__cause__`` nor
``__context__``.

:class:`HttpChannel` holds what the channels' constructors shared (name, session, timeout,
clock, context factory) and the post plumbing: :meth:`HttpChannel._post` sends one request
and lets :func:`alerts.responses.classify` judge the answer by the channel's ``kind``. A
subclass supplies ``kind``, ``send`` and its ``repr`` (which masks its credential); it
satisfies the :class:`~alerts.channels.base.Channel` protocol.

Out of scope: retries, rate limiting (:mod:`alerts.ratelimit`), dedupe (the dispatcher).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import aiohttp

from alerts.errors import DeliveryError
from alerts.render import AlertContext, build_context
from alerts.responses import classify
from streams.models import AirspaceEvent

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "USER_AGENT",
    "ContextFactory",
    "HttpChannel",
    "HttpReply",
    "default_context",
    "exchange",
]

log = logging.getLogger(__name__)

#: Per-request timeout: Slack and Telegram answer in well under a second; 10 s rides out a
#: slow moment but keeps one stuck peer from holding an alert worker for long.
DEFAULT_TIMEOUT_S = 10.0
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


class HttpChannel:
    """Base of the channels that deliver over HTTP on a caller-owned session."""

    #: Which response rules apply (:func:`alerts.responses.classify`): set by each subclass.
    kind: ClassVar[str]

    def __init__(
        self,
        name: str,
        session: aiohttp.ClientSession,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        context_factory: ContextFactory | None = None,
    ) -> None:
        self.name = name
        self._session = session
        self._timeout_s = timeout_s
        self._clock = clock
        self._context = context_factory or default_context

    async def _exchange(self, url: str, label: str, **kwargs: Any) -> HttpReply:
        """POST once (see :func:`exchange`); the answer is not judged."""
        return await exchange(
            self._session, self.name, "POST", url, timeout_s=self._timeout_s, label=label, **kwargs
        )

    async def _post(
        self, url: str, label: str, *, now_s: float | None = None, **kwargs: Any
    ) -> HttpReply:
        """POST once and judge the answer: the reply when the peer accepted the alert, else
        ``DeliveryError``. ``now_s`` (for a ``Retry-After`` date) defaults to the clock read
        after the answer came."""
        status, headers, body = await self._exchange(url, label, **kwargs)
        when = self._clock() if now_s is None else now_s
        classify(self.name, status, headers, body, now_s=when, kind=self.kind)
        return status, headers, body

    async def close(self) -> None:
        """Nothing to release: the session belongs to the caller."""
