"""Telegram channel: ``sendMessage`` (HTML) or ``sendPhoto`` (a map with an HTML caption).

A thin shell: :func:`alerts.render.telegram_html` / :func:`alerts.render.telegram_caption`
make the text, :func:`alerts.channels.webhook.exchange` sends it on the injected session (one
request, a per-request timeout, no retries), :func:`alerts.responses.classify` judges the
answer (``ok``; 429 with ``parameters.retry_after``; ``migrate_to_chat_id``; 400/403 ...).

The Bot API puts the token in the URL path (``/bot<token>/sendMessage``), so every URL here
is a credential. aiohttp's exceptions and ``repr`` of requests include the URL; the shared
:func:`~alerts.channels.webhook.exchange` never chains, formats or logs them, and this
module logs only the method name. The channel's ``repr`` masks the token.

Out of scope: retries, rate limiting (:mod:`alerts.ratelimit`: 1/s per chat, 20/min per
group, 30/s per bot), following a ``chat_migrated`` to the new chat id (a config change).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from alerts.channels.webhook import (
    DEFAULT_TIMEOUT_S,
    USER_AGENT,
    ContextFactory,
    default_context,
    exchange,
)
from alerts.render import telegram_caption, telegram_html
from alerts.responses import classify
from alerts.secrets import Secret
from streams.models import AirspaceEvent

__all__ = ["TELEGRAM_API_URL", "TelegramChannel"]

#: The Bot API root; injectable so tests (or a local Bot API server) can replace it.
TELEGRAM_API_URL = "https://api.telegram.org"


class TelegramChannel:
    """Posts alerts to one Telegram chat through a bot."""

    def __init__(
        self,
        token: Secret,
        chat_id: str,
        session: aiohttp.ClientSession,
        base_url: str = TELEGRAM_API_URL,
        name: str = "telegram",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        context_factory: ContextFactory | None = None,
        photo_filename: str = "track.png",
    ) -> None:
        self.name = name
        self.kind = "telegram"
        #: The notifier passes a map PNG to ``send`` (sent with ``sendPhoto``).
        self.accepts_image = True
        self.chat_id = str(chat_id)
        self._token = token
        self._session = session
        self._base = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._clock = clock
        self._context = context_factory or default_context
        self._photo_filename = photo_filename

    def __repr__(self) -> str:
        return (
            f"TelegramChannel(name={self.name!r}, chat_id={self.chat_id!r}, token={self._token!r})"
        )

    async def _call(self, method: str, **kwargs: Any) -> None:
        status, headers, body = await exchange(
            self._session,
            self.name,
            "POST",
            f"{self._base}/bot{self._token.reveal()}/{method}",
            timeout_s=self._timeout_s,
            label=method,
            **kwargs,
        )
        classify(self.name, status, headers, body, now_s=self._clock(), kind=self.kind)

    async def send(self, event: AirspaceEvent, image_png: bytes | None = None) -> None:
        """Deliver one alert: a photo with a caption when ``image_png`` is given, else a
        message. Raises ``DeliveryError`` on failure; never retries."""
        ctx = self._context(event)
        if image_png is None:
            message = {
                "chat_id": self.chat_id,
                "text": telegram_html(ctx),
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            }
            await self._call(
                "sendMessage",
                data=orjson.dumps(message),
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
            return
        form = aiohttp.FormData()
        form.add_field("chat_id", self.chat_id)
        form.add_field("caption", telegram_caption(ctx))
        form.add_field("parse_mode", "HTML")
        form.add_field("photo", image_png, filename=self._photo_filename, content_type="image/png")
        await self._call("sendPhoto", data=form, headers={"User-Agent": USER_AGENT})

    async def close(self) -> None:
        """Nothing to release: the session belongs to the caller."""
