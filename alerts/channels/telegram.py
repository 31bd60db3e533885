"""Telegram channel: ``sendMessage`` (HTML) or ``sendPhoto`` (a map with an HTML caption).

A thin shell: :func:`alerts.render.telegram_html` / :func:`alerts.render.telegram_caption`
make the text, :class:`~alerts.channels.http.HttpChannel` sends it on the injected session
(one request, a per-request timeout, no retries) and :func:`alerts.responses.classify` judges
the answer (``ok``; 429 with ``parameters.retry_after``; ``migrate_to_chat_id``; 400/403 ...).

The Bot API puts the token in the URL path (``/bot<token>/sendMessage``), so every URL here
is a credential. aiohttp's exceptions and ``repr`` of requests include the URL; the shared
:func:`~alerts.channels.http.exchange` never chains, formats or logs them, and this
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

from alerts.channels.http import DEFAULT_TIMEOUT_S, USER_AGENT, ContextFactory, HttpChannel
from alerts.render import telegram_ack_markup, telegram_caption, telegram_html, telegram_note
from alerts.secrets import Secret
from streams.models import AirspaceEvent

__all__ = ["TELEGRAM_API_URL", "TelegramChannel"]

#: The Bot API root; injectable so tests (or a local Bot API server) can replace it.
TELEGRAM_API_URL = "https://api.telegram.org"


class TelegramChannel(HttpChannel):
    """Posts alerts to one Telegram chat through a bot."""

    kind = "telegram"
    #: The notifier passes a map PNG to ``send`` (sent with ``sendPhoto``).
    accepts_image = True

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
        super().__init__(
            name, session, timeout_s=timeout_s, clock=clock, context_factory=context_factory
        )
        self.chat_id = str(chat_id)
        self._token = token
        self._base = base_url.rstrip("/")
        self._photo_filename = photo_filename

    def __repr__(self) -> str:
        return (
            f"TelegramChannel(name={self.name!r}, chat_id={self.chat_id!r}, token={self._token!r})"
        )

    #: Priority alerts get the Acknowledge button (an inline keyboard, ``callback_query``).
    accepts_buttons = True

    async def _call(self, method: str, **kwargs: Any) -> str:
        """Call ``method``; returns ``"<chat_id>:<message_id>"`` of the message sent (``""``
        when the answer names none)."""
        _status, _headers, body = await self._post(
            f"{self._base}/bot{self._token.reveal()}/{method}", method, **kwargs
        )
        try:
            result = orjson.loads(body).get("result")
            message_id = result.get("message_id") if isinstance(result, dict) else None
        except (orjson.JSONDecodeError, AttributeError):
            message_id = None
        if isinstance(message_id, int) and not isinstance(message_id, bool):
            return f"{self.chat_id}:{message_id}"
        return ""

    async def send(
        self, event: AirspaceEvent, image_png: bytes | None = None, *, ack_button: bool = False
    ) -> str:
        """Deliver one alert: a photo with a caption when ``image_png`` is given, else a
        message; with the Acknowledge button when ``ack_button``. Returns the message's
        ``"<chat_id>:<message_id>"`` (replies go under it). Raises ``DeliveryError`` on
        failure; never retries."""
        ctx = self._context(event)
        markup = telegram_ack_markup(event.event_id) if ack_button else None
        if image_png is None:
            message: dict[str, Any] = {
                "chat_id": self.chat_id,
                "text": telegram_html(ctx),
                "parse_mode": "HTML",
                "disable_web_page_preview": True,
            }
            if markup is not None:
                message["reply_markup"] = markup
            return await self._call(
                "sendMessage",
                data=orjson.dumps(message),
                headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
            )
        form = aiohttp.FormData()
        form.add_field("chat_id", self.chat_id)
        form.add_field("caption", telegram_caption(ctx))
        form.add_field("parse_mode", "HTML")
        if markup is not None:
            form.add_field("reply_markup", orjson.dumps(markup).decode())
        form.add_field("photo", image_png, filename=self._photo_filename, content_type="image/png")
        return await self._call("sendPhoto", data=form, headers={"User-Agent": USER_AGENT})

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """Post a follow-up (escalation, acknowledgement), as a reply to ``reply_to``
        (``"<chat_id>:<message_id>"``) when given; with the Acknowledge button when
        ``ack_event_id``. Returns the note's ``"<chat_id>:<message_id>"``."""
        message: dict[str, Any] = {
            "chat_id": self.chat_id,
            "text": telegram_note(text),
            "parse_mode": "HTML",
            "disable_web_page_preview": True,
        }
        if reply_to:
            chat, _, message_id = reply_to.rpartition(":")
            if chat == self.chat_id and message_id.lstrip("-").isdigit():
                message["reply_to_message_id"] = int(message_id)
                message["allow_sending_without_reply"] = True
        if ack_event_id is not None:
            message["reply_markup"] = telegram_ack_markup(ack_event_id)
        return await self._call(
            "sendMessage",
            data=orjson.dumps(message),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )
