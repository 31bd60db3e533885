"""Slack commands: Socket Mode (no inbound endpoint) or a signed HTTP endpoint.

Both turn Slack payloads into :mod:`alerts.interact` values with the same pure functions:

- :func:`slash_command`: a slash command's form fields (``command``, ``text``, ``user_id``,
  ``user_name``, ``channel_id``) -> :class:`~alerts.interact.Command`. Register each command
  (``/inside``, ``/mute``, ...) or one umbrella ``/skyfence`` whose first word is the command
  (``/skyfence mute 1551e0 6h``);
- :func:`button_presses`: an ``interactive`` ``block_actions`` payload -> one
  :class:`~alerts.interact.ButtonPress` per action (``action_id`` is the action, ``value``
  the alert's ``event_id``; the message is ``"channel:ts"``).

**Socket Mode** (:class:`SlackSocketMode`): slack_sdk's aiohttp ``SocketModeClient`` opens
``apps.connections.open`` with the app-level token (``xapp-...``) and keeps the WebSocket.
Every envelope is acknowledged with its ``envelope_id``; a slash command's answer travels in
the acknowledgement itself, a button's answer is posted to the payload's ``response_url``
(or, without one, with ``chat.postMessage`` in the alert's thread, using the bot token).

**HTTP** (:class:`SlackHttpEndpoint`, on the worker's operations server):
``POST /slack/commands`` (form-encoded slash commands) and ``POST /slack/interactive``
(``payload=`` JSON). Each request's ``X-Slack-Signature`` is checked against the signing
secret and ``X-Slack-Request-Timestamp`` must be within 5 minutes of the injected clock
(slack_sdk's ``SignatureVerifier``); anything else gets a 401, reaches no handler, and is
audit-logged as ``refused`` with the actor it claims (unverified).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import orjson
from aiohttp import web
from slack_sdk.signature import Clock, SignatureVerifier

from alerts.commands import parse_command
from alerts.interact import Actor, ButtonPress, Command, InteractionHandler, Reply
from alerts.secrets import Secret

__all__ = [
    "SLACK_HTTP_ROUTES",
    "SlackHttpEndpoint",
    "SlackSocketMode",
    "button_presses",
    "slash_command",
    "slash_response",
]

log = logging.getLogger(__name__)

#: The HTTP endpoint's routes.
SLACK_HTTP_ROUTES = ("/slack/commands", "/slack/interactive")
#: The umbrella slash command: ``/skyfence <command> args...``.
UMBRELLA = "/skyfence"
#: Largest request body the HTTP endpoint reads (Slack's are a few kB).
MAX_BODY_BYTES = 64 * 1024


def slash_command(form: Mapping[str, Any], at_s: float = 0.0) -> Command | None:
    """The command in a slash command's fields, or None when it is not one of ours."""
    name = str(form.get("command", "")).strip()
    text = str(form.get("text", "")).strip()
    umbrella = name.lower() == UMBRELLA
    line = ("/" + text if text else "/help") if umbrella else f"{name} {text}"
    actor = Actor(
        "slack",
        str(form.get("channel_id", "")),
        str(form.get("user_id", "")),
        str(form.get("user_name", "")),
    )
    return parse_command(line, actor, at_s=at_s)


def button_presses(payload: Mapping[str, Any], at_s: float = 0.0) -> list[ButtonPress]:
    """The button presses in a ``block_actions`` payload (empty for anything else)."""
    if payload.get("type") != "block_actions":
        return []
    user = payload.get("user") or {}
    channel = payload.get("channel") or {}
    container = payload.get("container") or {}
    if not isinstance(user, dict) or not isinstance(channel, dict):
        return []
    if not isinstance(container, dict):
        container = {}
    channel_id = str(channel.get("id") or container.get("channel_id") or "")
    ts = str(container.get("message_ts") or (payload.get("message") or {}).get("ts") or "")
    actor = Actor(
        "slack",
        channel_id,
        str(user.get("id", "")),
        str(user.get("username") or user.get("name") or ""),
    )
    presses = []
    for action in payload.get("actions") or []:
        if not isinstance(action, dict):
            continue
        presses.append(
            ButtonPress(
                actor=actor,
                action=str(action.get("action_id", ""))[:32],
                event_id=str(action.get("value", ""))[:64],
                message_ref=f"{channel_id}:{ts}" if ts else "",
                at_s=at_s,
            )
        )
    return presses


def slash_response(reply: Reply) -> dict[str, Any]:
    """A slash command's answer: shown to the channel when it did something, only to the
    person who typed it when refused or wrong."""
    return {"response_type": "in_channel" if reply.ok else "ephemeral", "text": reply.text}


class _InjectedClock(Clock):
    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()


async def _post_response_url(
    session: aiohttp.ClientSession, url: str, reply: Reply, timeout_s: float
) -> None:
    """Answer a button press through its ``response_url`` (a new message in the thread of
    the alert; the alert itself is left as it is)."""
    if not url.startswith(("https://", "http://")):
        return
    # Already posted in the alert's thread by the handler: only the presser sees this answer.
    shown = "ephemeral" if reply.extra.get("posted") == "thread" or not reply.ok else "in_channel"
    body = {"response_type": shown, "replace_original": False, "text": reply.text}
    try:
        async with session.post(
            url, json=body, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            if response.status >= 300:
                log.warning("slack response_url answered HTTP %s", response.status)
    except (aiohttp.ClientError, TimeoutError) as exc:  # the URL is a credential: not logged
        log.warning("slack response_url failed: %s", type(exc).__name__)


class SlackHttpEndpoint:
    """Slash commands and interactivity over HTTP, verified by the signing secret."""

    def __init__(
        self,
        signing_secret: Secret,
        handler: InteractionHandler,
        session: aiohttp.ClientSession,
        *,
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
    ) -> None:
        self._verifier = SignatureVerifier(signing_secret.reveal(), _InjectedClock(clock))
        self.handler = handler
        self._session = session
        self._clock = clock
        self.timeout_s = timeout_s
        self._tasks: set[asyncio.Task[None]] = set()
        #: Requests refused (bad or stale signature).
        self.refused = 0

    def __repr__(self) -> str:
        return "SlackHttpEndpoint(signing_secret=***)"

    def install(self, app: web.Application) -> None:
        """Add the routes to ``app`` (the operations app)."""
        app.router.add_post(SLACK_HTTP_ROUTES[0], self.commands)
        app.router.add_post(SLACK_HTTP_ROUTES[1], self.interactive)
        app.on_shutdown.append(self._shutdown)

    async def _verified(self, request: web.Request) -> tuple[bytes, bool]:
        """The body (at most :data:`MAX_BODY_BYTES`) and whether its signature verifies."""
        if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
            return b"", False
        body = await request.content.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            return b"", False
        return body, self._verifier.is_valid_request(body, dict(request.headers))

    async def _refuse(self, request: web.Request, body: bytes) -> web.Response:
        """401, a warning, and a ``refused`` audit record naming the actor *as claimed* (the
        request is not Slack's, so nothing in it is trusted; it reaches no handler)."""
        self.refused += 1
        log.warning("slack: refused a request to %s (bad or stale signature)", request.path)
        audit = getattr(self.handler, "audit_refused", None)
        if audit is not None:
            form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
            claimed = Actor(
                "slack",
                form.get("channel_id", "")[:32],
                form.get("user_id", "")[:32],
                form.get("user_name", "")[:64],
            )
            name = form.get("command", "").lstrip("/")[:32] or (
                "interactive" if "payload" in form else "?"
            )
            args = tuple(a[:64] for a in form.get("text", "").split()[:8])
            try:
                await audit(claimed, name, args, "bad or stale Slack signature (actor unverified)")
            except Exception:
                log.exception("slack: could not audit a refused request")
        return web.Response(status=401, text="invalid or stale Slack signature\n")

    async def commands(self, request: web.Request) -> web.Response:
        """``POST /slack/commands``: a slash command, answered in the response."""
        body, verified = await self._verified(request)
        if not verified:
            return await self._refuse(request, body)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        command = slash_command(form, self._clock())
        if command is None:
            return web.json_response(
                slash_response(Reply("Not a skyfence command. Try /skyfence help.", ok=False))
            )
        reply = await self.handler.on_command(command)
        return web.json_response(slash_response(reply))

    async def interactive(self, request: web.Request) -> web.Response:
        """``POST /slack/interactive``: button presses, answered through ``response_url``."""
        body, verified = await self._verified(request)
        if not verified:
            return await self._refuse(request, body)
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        try:
            payload = orjson.loads(form.get("payload", ""))
        except orjson.JSONDecodeError:
            return web.Response(status=400, text="payload is not JSON\n")
        if not isinstance(payload, dict):
            return web.Response(status=400, text="payload is not an object\n")
        presses = button_presses(payload, self._clock())
        if presses:  # answer Slack at once (3 s limit); reply through response_url
            task = asyncio.create_task(self._press(presses, str(payload.get("response_url", ""))))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return web.Response(status=200)

    async def _press(self, presses: list[ButtonPress], response_url: str) -> None:
        for press in presses:
            try:
                reply = await self.handler.on_button(press)
            except Exception:
                log.exception("slack: button %s failed", press.action)
                continue
            await _post_response_url(self._session, response_url, reply, self.timeout_s)

    async def drain(self) -> None:
        """Wait for the button answers in flight (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _shutdown(self, _: web.Application) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.drain(), timeout=self.timeout_s)


class SlackSocketMode:
    """Slack over Socket Mode: no inbound endpoint (module docstring)."""

    def __init__(
        self,
        app_token: Secret,
        handler: InteractionHandler,
        session: aiohttp.ClientSession,
        *,
        bot_token: Secret | None = None,
        api_url: str = "https://slack.com/api",
        clock: Callable[[], float] = time.time,
        timeout_s: float = 10.0,
        ping_interval_s: float = 10.0,
    ) -> None:
        self._app_token = app_token
        self._bot_token = bot_token
        self.handler = handler
        self._session = session
        self._api_url = api_url.rstrip("/") + "/"
        self._clock = clock
        self.timeout_s = timeout_s
        self.ping_interval_s = ping_interval_s
        self.client: Any = None
        #: Envelopes received and acknowledged.
        self.envelopes = 0

    def __repr__(self) -> str:
        return "SlackSocketMode(app_token=***)"

    async def start(self) -> None:
        """Open the Socket Mode connection (``apps.connections.open``, then the WebSocket)."""
        from slack_sdk.socket_mode.aiohttp import SocketModeClient
        from slack_sdk.web.async_client import AsyncWebClient

        web_client = AsyncWebClient(
            token=self._bot_token.reveal() if self._bot_token else None,
            base_url=self._api_url,
            timeout=int(self.timeout_s),
        )
        self.client = SocketModeClient(
            app_token=self._app_token.reveal(),
            web_client=web_client,
            logger=logging.getLogger(__name__ + ".sdk"),
            ping_interval=self.ping_interval_s,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        await self.client.connect()

    async def stop(self) -> None:
        """Close the connection."""
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
            self.client = None

    async def _post_message(self, client: Any, press: ButtonPress, reply: Reply) -> None:
        """Without a ``response_url``: ``chat.postMessage`` in the alert's thread (needs the
        bot token)."""
        if self._bot_token is None or not press.actor.chat_id:
            log.warning("slack: no response_url and no bot token; button answer not posted")
            return
        _, _, ts = press.message_ref.partition(":")
        try:
            await client.web_client.chat_postMessage(
                channel=press.actor.chat_id, text=reply.text, thread_ts=ts or None
            )
        except Exception as exc:  # SlackApiError and transport errors; no token in them
            log.warning("slack chat.postMessage failed: %s", type(exc).__name__)

    async def _ack(self, client: Any, envelope_id: str, payload: dict[str, Any] | None) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        await client.send_socket_mode_response(
            SocketModeResponse(envelope_id=envelope_id, payload=payload)
        )

    async def _on_request(self, client: Any, request: Any) -> None:
        self.envelopes += 1
        try:
            if request.type == "slash_commands":
                command = slash_command(request.payload, self._clock())
                if command is None:
                    reply = Reply("Not a skyfence command. Try /skyfence help.", ok=False)
                else:
                    reply = await self.handler.on_command(command)
                await self._ack(client, request.envelope_id, slash_response(reply))
                return
            await self._ack(client, request.envelope_id, None)
            if request.type == "interactive":
                payload = request.payload
                url = str(payload.get("response_url", ""))
                for press in button_presses(payload, self._clock()):
                    reply = await self.handler.on_button(press)
                    if url:
                        await _post_response_url(self._session, url, reply, self.timeout_s)
                    else:
                        await self._post_message(client, press, reply)
        except Exception:  # one bad envelope must not end the connection's listener
            log.exception("slack socket mode: envelope %s failed", request.type)
