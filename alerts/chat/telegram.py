"""Telegram bot commands over ``getUpdates`` long polling (no inbound endpoint needed).

:class:`TelegramPoller` asks the Bot API for updates (``allowed_updates``: ``message`` and
``callback_query``; ``timeout`` seconds of long polling), confirms each batch by passing the
next ``offset`` (the last ``update_id`` + 1), and hands each update to the
:class:`~alerts.interact.InteractionHandler`:

- a ``message`` whose text is a command (``/inside``, ``/inside@ThisBot``) ->
  :meth:`on_command`, answered with ``sendMessage`` as a reply to it
  (``reply_to_message_id``); other text is ignored;
- a ``callback_query`` (an inline-keyboard button on an alert; ``data`` is
  ``"<action>:<event_id>"``, e.g. ``ack:5b92...``) -> :meth:`on_button`, answered with
  ``answerCallbackQuery`` (the small toast) and a ``sendMessage`` reply to the alert.

A 429 is waited out for its ``parameters.retry_after``; other failures (network, 5xx, a
``getUpdates`` conflict with another poller) back off exponentially, capped. The token is in
every URL, so nothing here logs a URL or an aiohttp exception's text.

The pure parts (:func:`parse_update`, :func:`next_offset`) are tested alone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson

from alerts.commands import parse_command
from alerts.interact import Actor, ButtonPress, Command, InteractionHandler, Reply
from alerts.retry import Backoff
from alerts.secrets import Secret

__all__ = ["ALLOWED_UPDATES", "TelegramPoller", "next_offset", "parse_update"]

log = logging.getLogger(__name__)

#: What the poller asks Telegram for.
ALLOWED_UPDATES = ("message", "callback_query")
#: Longest text sent in one message (Telegram's limit is 4096 characters).
MAX_TEXT = 4000


def parse_update(update: Any, bot_name: str = "") -> Command | ButtonPress | None:
    """The command or button press in one update, or None (not a command, malformed)."""
    if not isinstance(update, dict):
        return None
    message = update.get("message")
    if isinstance(message, dict):
        text = message.get("text")
        chat, sender = message.get("chat") or {}, message.get("from") or {}
        if not isinstance(text, str) or not isinstance(chat, dict) or "id" not in chat:
            return None
        actor = Actor(
            "telegram",
            str(chat["id"]),
            str(sender.get("id", "")) if isinstance(sender, dict) else "",
            str(sender.get("username", "")) if isinstance(sender, dict) else "",
        )
        date = message.get("date")
        return parse_command(
            text,
            actor,
            at_s=float(date) if isinstance(date, int | float) else 0.0,
            bot_name=bot_name,
        )
    query = update.get("callback_query")
    if isinstance(query, dict):
        data = query.get("data")
        sender = query.get("from") or {}
        message = query.get("message") or {}
        chat = message.get("chat") or {} if isinstance(message, dict) else {}
        if not isinstance(data, str) or not isinstance(sender, dict) or "id" not in sender:
            return None
        action, _, event_id = data.partition(":")
        chat_id = str(chat.get("id", "")) if isinstance(chat, dict) else ""
        message_id = message.get("message_id") if isinstance(message, dict) else None
        return ButtonPress(
            actor=Actor("telegram", chat_id, str(sender["id"]), str(sender.get("username", ""))),
            action=action[:32],
            event_id=event_id[:64],
            message_ref=f"{chat_id}:{message_id}" if message_id is not None else "",
        )
    return None


def next_offset(updates: Sequence[Any], offset: int | None) -> int | None:
    """The ``offset`` that confirms ``updates`` (the highest ``update_id`` + 1)."""
    ids = [
        u["update_id"]
        for u in updates
        if isinstance(u, dict) and isinstance(u.get("update_id"), int)
    ]
    if not ids:
        return offset
    return max(max(ids) + 1, offset or 0)


class _RetryAfter(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s


class _Failed(Exception):
    """A Bot API call failed; ``reason`` is safe to log (no URL, no token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TelegramPoller:
    """Long-polls one bot's updates and answers them (module docstring)."""

    def __init__(
        self,
        token: Secret,
        session: aiohttp.ClientSession,
        handler: InteractionHandler,
        *,
        api_url: str = "https://api.telegram.org",
        bot_name: str = "",
        poll_timeout_s: int = 25,
        request_timeout_s: float = 10.0,
        backoff: Backoff | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self._token = token
        self._session = session
        self.handler = handler
        self._api_url = api_url.rstrip("/")
        self.bot_name = bot_name
        self.poll_timeout_s = poll_timeout_s
        self.request_timeout_s = request_timeout_s
        self.backoff = backoff or Backoff(base_s=1.0, max_s=60.0, give_up_after_s=None)
        self._sleep = sleep
        self._rand = rand
        self.offset: int | None = None
        #: Counters (tests, logs): polls made, updates handled, failures seen.
        self.polls = 0
        self.handled = 0
        self.failures = 0

    def __repr__(self) -> str:
        return f"TelegramPoller(bot={self.bot_name or '?'}, token=***)"

    async def _call(self, method: str, payload: dict[str, Any], timeout_s: float) -> Any:
        url = f"{self._api_url}/bot{self._token.reveal()}/{method}"
        try:
            async with self._session.post(
                url, json=payload, timeout=aiohttp.ClientTimeout(total=timeout_s)
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _Failed(f"{method}: {type(exc).__name__}") from None
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise _Failed(f"{method}: HTTP {status}, not JSON") from None
        if not isinstance(body, dict):
            raise _Failed(f"{method}: HTTP {status}, unexpected body")
        if status == 429 or body.get("error_code") == 429:
            params = body.get("parameters") or {}
            retry = params.get("retry_after", 1) if isinstance(params, dict) else 1
            raise _RetryAfter(float(retry) if isinstance(retry, int | float) else 1.0)
        if status != 200 or not body.get("ok"):
            description = str(body.get("description", ""))[:200]
            raise _Failed(f"{method}: HTTP {status} {description}")
        return body.get("result")

    async def poll_once(self) -> int:
        """One ``getUpdates`` call and the answers to what it brought; returns how many
        updates it handled. Raises on a failed call (``run`` waits and retries)."""
        payload: dict[str, Any] = {
            "timeout": self.poll_timeout_s,
            "allowed_updates": list(ALLOWED_UPDATES),
        }
        if self.offset is not None:
            payload["offset"] = self.offset
        self.polls += 1
        updates = await self._call(
            "getUpdates", payload, self.poll_timeout_s + self.request_timeout_s
        )
        if not isinstance(updates, list):
            raise _Failed("getUpdates: result is not a list")
        self.offset = next_offset(updates, self.offset)
        for update in updates:
            await self._dispatch(update)
        return len(updates)

    async def run(self, *, max_polls: int | None = None) -> None:
        """Poll until cancelled (or ``max_polls`` calls, for tests)."""
        failures = 0
        while max_polls is None or self.polls < max_polls:
            try:
                await self.poll_once()
                failures = 0
            except _RetryAfter as exc:
                self.failures += 1
                log.warning("telegram getUpdates: rate limited, waiting %.0f s", exc.retry_after_s)
                await self._sleep(exc.retry_after_s)
            except _Failed as exc:
                self.failures += 1
                failures += 1
                delay_s = self.backoff.delay_s(failures, rand=self._rand)
                log.warning("telegram %s; retrying in %.1f s", exc.reason, delay_s)
                await self._sleep(delay_s)

    async def _dispatch(self, update: Any) -> None:
        try:
            parsed = parse_update(update, self.bot_name)
        except Exception:  # a malformed update must not stop the poller
            log.exception("telegram: could not read update")
            return
        if parsed is None:
            return
        self.handled += 1
        try:
            if isinstance(parsed, Command):
                reply = await self.handler.on_command(parsed)
                message = update.get("message") or {}
                await self._send(parsed.actor.chat_id, reply, message.get("message_id"))
            else:
                reply = await self.handler.on_button(parsed)
                query = update["callback_query"]
                await self._answer_callback(str(query.get("id", "")), reply)
                tail = parsed.message_ref.rsplit(":", 1)[-1]
                message_id = int(tail) if tail.isdigit() else None
                # "posted": the handler already queued its note to the alert's thread.
                if parsed.actor.chat_id and reply.extra.get("posted") != "thread":
                    await self._send(parsed.actor.chat_id, reply, message_id)
        except (_Failed, _RetryAfter) as exc:
            log.warning("telegram: could not answer update %s: %s", update.get("update_id"), exc)
        except Exception:
            log.exception("telegram: handling update %s failed", update.get("update_id"))

    async def _send(self, chat_id: str, reply: Reply, reply_to: Any = None) -> None:
        payload: dict[str, Any] = {"chat_id": chat_id, "text": reply.text[:MAX_TEXT]}
        if reply_to is not None:
            payload["reply_to_message_id"] = reply_to
            payload["allow_sending_without_reply"] = True
        await self._call("sendMessage", payload, self.request_timeout_s)

    async def _answer_callback(self, query_id: str, reply: Reply) -> None:
        await self._call(
            "answerCallbackQuery",
            {"callback_query_id": query_id, "text": reply.text[:200]},
            self.request_timeout_s,
        )
