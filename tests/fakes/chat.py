"""Fake chat platforms for the command transports: real aiohttp servers on 127.0.0.1.

- :class:`FakeTelegramBot`: the Bot API's ``getUpdates`` (answers from a queue of update
  batches or scripted errors, records each call's ``offset``, ``timeout`` and
  ``allowed_updates``), ``sendMessage`` and ``answerCallbackQuery`` (recorded); a wrong token
  gets 401.
- :class:`FakeSlack`: ``apps.connections.open`` (needs the app token; returns a
  ``ws://`` URL on this server) and the Socket Mode WebSocket: sends ``hello``, then every
  queued envelope (``envelope_id``, ``type``, ``payload``), and records the acknowledgements
  the client sends back; ``/response/<n>`` records what a client posts to a ``response_url``;
  ``chat.postMessage`` (needs the bot token) is recorded in ``posted``.

Both stop on ``__aexit__`` and by themselves after ``lifetime_s`` (see :class:`FakePeer`).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from tests.fakes.peers import FakePeer

__all__ = ["FakeSlack", "FakeTelegramBot"]


class FakeTelegramBot(FakePeer):
    """The Bot API parts the poller uses."""

    def __init__(self, token: str, *, lifetime_s: float = 60.0) -> None:
        super().__init__(lifetime_s=lifetime_s)
        self.token = token
        #: What each getUpdates returns, in order: a list of updates, or (status, body).
        self.batches: deque[list[dict[str, Any]] | tuple[int, dict[str, Any]]] = deque()
        self.get_updates: list[dict[str, Any]] = []
        self.sent: list[dict[str, Any]] = []
        self.answered: list[dict[str, Any]] = []

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/bot{token}/{method}", self._method)

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        body = orjson.loads(await request.read() or b"{}")
        method = request.match_info["method"]
        if method == "getUpdates":
            self.get_updates.append(body)
            if not self.batches:
                await asyncio.sleep(0.05)  # a short long-poll with nothing new
                return web.json_response({"ok": True, "result": []})
            batch = self.batches.popleft()
            if isinstance(batch, tuple):
                return web.json_response(batch[1], status=batch[0])
            return web.json_response({"ok": True, "result": batch})
        if method == "sendMessage":
            self.sent.append(body)
            return web.json_response({"ok": True, "result": {"message_id": len(self.sent)}})
        if method == "answerCallbackQuery":
            self.answered.append(body)
            return web.json_response({"ok": True, "result": True})
        return web.json_response(
            {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
        )


class FakeSlack(FakePeer):
    """Slack's Socket Mode endpoints and a ``response_url`` sink."""

    def __init__(
        self, app_token: str, *, bot_token: str = "xoxb-fake", lifetime_s: float = 60.0
    ) -> None:
        super().__init__(lifetime_s=lifetime_s)
        self.app_token = app_token
        self.bot_token = bot_token
        #: What chat.postMessage was given (with the bot token).
        self.posted: list[dict[str, str]] = []
        self.envelopes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.acks: list[dict[str, Any]] = []
        self.acked = asyncio.Event()
        self.responses: list[dict[str, Any]] = []
        self.responded = asyncio.Event()
        self.opens = 0
        self._ids = itertools.count(1)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def response_url(self) -> str:
        return f"{self.url}/response/{next(self._ids)}"

    def envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Queue one envelope; returns its id."""
        envelope_id = f"env-{next(self._ids)}"
        self.envelopes.put_nowait(
            {"envelope_id": envelope_id, "type": kind, "payload": payload,
             "accepts_response_payload": kind != "events_api"}
        )  # fmt: skip
        return envelope_id

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/apps.connections.open", self._open)
        app.router.add_get("/link", self._socket)
        app.router.add_post("/response/{n}", self._response)
        app.router.add_post("/api/chat.postMessage", self._post_message)

    async def _post_message(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.bot_token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        body = await request.post() if request.content_type != "application/json" else None
        fields = dict(body) if body is not None else orjson.loads(await request.read())
        self.posted.append({k: str(v) for k, v in fields.items()})
        self.responded.set()
        return web.json_response({"ok": True, "channel": fields.get("channel"), "ts": "1.2"})

    async def _open(self, request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.app_token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        self.opens += 1
        return web.json_response({"ok": True, "url": f"ws://127.0.0.1:{self.port}/link"})

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        await ws.send_str(orjson.dumps({"type": "hello", "num_connections": 1}).decode())

        async def pump() -> None:
            while not ws.closed:
                envelope = await self.envelopes.get()
                await ws.send_str(orjson.dumps(envelope).decode())

        sender = asyncio.create_task(pump())
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    self.acks.append(orjson.loads(message.data))
                    self.acked.set()
                elif message.type in (WSMsgType.CLOSE, WSMsgType.ERROR):
                    break
        finally:
            sender.cancel()
        return ws

    async def _response(self, request: web.Request) -> web.Response:
        self.responses.append({"path": request.path, **orjson.loads(await request.read())})
        self.responded.set()
        return web.Response(text="ok")
