"""Fake Slack, Telegram and webhook peers: real aiohttp servers on 127.0.0.1, in process.

Each fake is an async context manager that listens on a free loopback port::

    async with FakeSlackWebhook() as slack:
        channel = SlackWebhookChannel(Secret(slack.webhook_url), session)
        await channel.send(event)
        assert slack.requests[0].json["blocks"]

It records every request it receives (:class:`Recorded`: method, path, query, headers and the
parsed body) and answers from a *script*: :class:`Reply` objects returned in order (per route
first, then the shared queue), after which it behaves like the documented API and succeeds.
A reply can also be slow (``delay_s``, to trip a client timeout) or reset the connection
(``reset=True``). The server stops on ``__aexit__``, and by itself after ``lifetime_s`` if a
test forgets to exit (so a hung test cannot leave a listener behind).

What each fake mimics (the parts skyfence relies on):

- :class:`FakeSlackWebhook`: incoming webhooks: ``200 ok``; ``400 invalid_payload`` for a
  body that is not JSON, ``400 no_text`` without ``text``/``blocks``.
- :class:`FakeSlackApi`: ``chat.postMessage`` (``{"ok":true,"ts":...,"channel":...}``,
  ``invalid_auth``/``not_authed`` for a wrong/missing bearer token, ``channel_not_found``),
  ``files.getUploadURLExternal`` -> an ``upload_url`` on this same server,
  the upload itself, ``files.completeUploadExternal``.
- :class:`FakeTelegram`: ``/bot<token>/sendMessage`` and ``sendPhoto``: ``{"ok":true,
  "result":{...}}``; ``401 Unauthorized`` for a wrong token, ``400 Bad Request: chat not
  found`` for another chat. :meth:`FakeTelegram.error` / :meth:`FakeTelegram.flood` build
  scripted failures (``parameters.retry_after``).
- :class:`FakeWebhookReceiver`: verifies ``X-Skyfence-Signature`` with
  :func:`alerts.signing.verify_webhook` and answers 401 when it does not verify.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl

import orjson
from aiohttp import BodyPartReader, web

from alerts.signing import verify_webhook

__all__ = [
    "FakePeer",
    "FakeSlackApi",
    "FakeSlackWebhook",
    "FakeTelegram",
    "FakeWebhookReceiver",
    "Recorded",
    "Reply",
    "Upload",
    "accepted_event_ids",
]

#: A fake that was never exited stops after this long: longer than any component test.
LIFETIME_S = 120.0


@dataclass(frozen=True)
class Reply:
    """One scripted answer. ``body``: bytes, text, or a JSON-ready object (sent as JSON)."""

    status: int = 200
    body: bytes | str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Wait this long before answering (trips a client timeout when longer than it).
    delay_s: float = 0.0
    #: Abort the TCP connection instead of answering.
    reset: bool = False


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str
    data: bytes


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    #: Raw body (empty for multipart, whose parts are in ``form`` and ``files``).
    body: bytes = b""
    json: Any = None
    form: dict[str, str] = field(default_factory=dict)
    files: dict[str, Upload] = field(default_factory=dict)
    #: Route name the fake gave it (e.g. ``"chat.postMessage"``, ``"sendPhoto"``).
    route: str = ""
    #: Webhook receiver only: whether the signature verified.
    verified: bool | None = None
    #: The HTTP status the fake answered with (None for a reset).
    status: int | None = None

    def event_id(self) -> str | None:
        """The skyfence event id this request carries (Slack context, Telegram text or
        caption, webhook header), or None."""
        header = self.headers.get("X-Skyfence-Event-Id")
        if header:
            return header
        text = self.body.decode("utf-8", "replace") + " ".join(self.form.values())
        found = _EVENT_ID.search(text)
        return found[1] if found else None


_EVENT_ID = re.compile(r"event (?:`|<code>)([0-9a-f]{20})")


def accepted_event_ids(peer: FakePeer, route: str | None = None) -> list[str]:
    """Event ids of the requests the fake accepted (status 200), in arrival order."""
    return [
        eid
        for r in peer.requests
        if r.status == 200 and (route is None or r.route == route) and (eid := r.event_id())
    ]


def _response(reply: Reply) -> web.Response:
    body = reply.body
    headers = dict(reply.headers)
    if isinstance(body, dict | list):
        headers.setdefault("Content-Type", "application/json")
        data = orjson.dumps(body)
    elif isinstance(body, str):
        headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        data = body.encode()
    else:
        data = body or b""
    return web.Response(status=reply.status, body=data, headers=headers)


class FakePeer:
    """Base of the fakes: server lifecycle, recording and scripting."""

    def __init__(self, script: Iterable[Reply] = (), *, lifetime_s: float = LIFETIME_S) -> None:
        self.requests: list[Recorded] = []
        self._queues: dict[str | None, deque[Reply]] = {None: deque(script)}
        #: Consulted before the script: a reply (e.g. 503 while an outage lasts) or None.
        self.outage: Callable[[Recorded], Reply | None] | None = None
        self._lifetime_s = lifetime_s
        self._runner: web.AppRunner | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._stopping: asyncio.Task[None] | None = None
        self.port = 0

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def add_routes(self, app: web.Application) -> None:
        """Subclasses register their routes here."""
        app.router.add_route("*", "/{tail:.*}", self.handle)

    async def __aenter__(self) -> Self:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        self.add_routes(app)
        # handler_cancellation: a slow handler is cancelled when the client gives up, so
        # cleanup does not wait for it; short shutdown timeouts for the same reason.
        self._runner = web.AppRunner(
            app, handler_cancellation=True, shutdown_timeout=0.5, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        loop = asyncio.get_running_loop()
        self._watchdog = loop.call_later(self._lifetime_s, self._expire)
        return self

    def _expire(self) -> None:
        self._stopping = asyncio.ensure_future(self.stop())

    async def stop(self) -> None:
        """Stop listening (idempotent)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------ scripting

    def enqueue(self, *replies: Reply, route: str | None = None) -> None:
        """Answer the next requests (to ``route`` only, when given) with ``replies``."""
        self._queues.setdefault(route, deque()).extend(replies)

    def _scripted(self, route: str) -> Reply | None:
        for key in (route, None):
            queue = self._queues.get(key)
            if queue:
                return queue.popleft()
        return None

    def routed(self, route: str) -> list[Recorded]:
        """The recorded requests to ``route``."""
        return [r for r in self.requests if r.route == route]

    # ------------------------------------------------------------------ handling

    def route_of(self, request: web.Request) -> str:
        """The route name of ``request`` (default: its path)."""
        return request.path

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        """The documented success (or natural error) answer; subclasses override."""
        return Reply(200, "ok")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """Record, then answer from the script or :meth:`default`."""
        rec = await self._record(request)
        self.requests.append(rec)
        reply = (
            (self.outage(rec) if self.outage is not None else None)
            or self._scripted(rec.route)
            or await self.default(request, rec)
        )
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        rec.status = None if reply.reset else reply.status
        if reply.reset:
            transport = request.transport
            if transport is not None:
                transport.abort()  # an RST, as far as the client can tell
            raise asyncio.CancelledError
        return _response(reply)

    async def _record(self, request: web.Request) -> Recorded:
        rec = Recorded(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            headers=dict(request.headers),
            route=self.route_of(request),
        )
        ctype = request.content_type
        if ctype.startswith("multipart/"):
            reader = await request.multipart()
            while True:
                part = await reader.next()
                if part is None:
                    break
                if not isinstance(part, BodyPartReader):
                    continue  # nested multipart: not used by the peers we fake
                name = part.name or ""
                if part.filename is not None:
                    ptype = part.headers.get("Content-Type", "application/octet-stream")
                    rec.files[name] = Upload(part.filename, ptype, bytes(await part.read()))
                else:
                    rec.form[name] = await part.text()
            return rec
        rec.body = await request.read()
        if ctype == "application/json":
            with contextlib.suppress(orjson.JSONDecodeError):
                rec.json = orjson.loads(rec.body)
        elif ctype == "application/x-www-form-urlencoded":
            rec.form = dict(parse_qsl(rec.body.decode("utf-8", "replace")))
        return rec


class FakeSlackWebhook(FakePeer):
    """A Slack incoming webhook at :attr:`webhook_url`."""

    #: The path Slack gives a webhook; its last segment is the secret part.
    PATH = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

    @property
    def webhook_url(self) -> str:
        """The full webhook URL (a credential in real life)."""
        return self.url + self.PATH

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        if request.path != self.PATH:
            return Reply(404, "no_service")
        if not isinstance(rec.json, dict):
            return Reply(400, "invalid_payload")
        if not rec.json.get("text") and not rec.json.get("blocks"):
            return Reply(400, "no_text")
        return Reply(200, "ok")

    @staticmethod
    def error(status: int, code: str, retry_after_s: float | None = None) -> Reply:
        """A scripted plain-text error (``400 invalid_payload``, ``429 rate_limited`` ...)."""
        headers = {"Retry-After": f"{retry_after_s:g}"} if retry_after_s is not None else {}
        return Reply(status, code, headers)


class FakeSlackApi(FakePeer):
    """The Slack Web API under ``/api``: chat.postMessage and the external-upload flow."""

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        token: str = "xoxb-test-token",
        channel: str = "C1",
        lifetime_s: float = LIFETIME_S,
    ) -> None:
        super().__init__(script, lifetime_s=lifetime_s)
        self.token = token
        self.channel = channel
        self._ts = itertools.count(1)
        self._file_ids = itertools.count(1)
        #: file id -> declared length, and file id -> uploaded bytes.
        self.pending: dict[str, int] = {}
        self.uploads: dict[str, bytes] = {}

    @property
    def api_url(self) -> str:
        """The base URL to give the client (``.../api``)."""
        return self.url + "/api"

    def route_of(self, request: web.Request) -> str:
        if request.path.startswith("/upload/"):
            return "upload"
        return request.path.rsplit("/", 1)[-1]

    @staticmethod
    def api_error(error: str, status: int = 200, retry_after_s: float | None = None) -> Reply:
        """``{"ok": false, "error": error}``; with ``Retry-After`` when given."""
        headers = {"Retry-After": f"{retry_after_s:g}"} if retry_after_s is not None else {}
        return Reply(status, {"ok": False, "error": error}, headers)

    @classmethod
    def ratelimited(cls, retry_after_s: float = 30) -> Reply:
        """What Slack sends past a method's rate limit: 429 + Retry-After."""
        return cls.api_error("ratelimited", 429, retry_after_s)

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        if rec.route == "upload":
            return self._upload(request, rec)
        auth = rec.headers.get("Authorization")
        if auth is None:
            return self.api_error("not_authed")
        if auth != f"Bearer {self.token}":
            return self.api_error("invalid_auth")
        if rec.route == "chat.postMessage":
            return self._post_message(rec)
        if rec.route == "files.getUploadURLExternal":
            return self._get_upload_url(rec)
        if rec.route == "files.completeUploadExternal":
            return self._complete_upload(rec)
        return self.api_error("unknown_method", 404)

    def _post_message(self, rec: Recorded) -> Reply:
        msg = rec.json if isinstance(rec.json, dict) else rec.form
        if not msg:
            return self.api_error("invalid_arguments")
        if msg.get("channel") != self.channel:
            return self.api_error("channel_not_found")
        if not msg.get("text") and not msg.get("blocks"):
            return self.api_error("no_text")
        ts = f"1700000000.{next(self._ts) * 100:06d}"
        message = {"type": "message", "ts": ts, "text": msg.get("text", "")}
        if msg.get("thread_ts"):
            message["thread_ts"] = msg["thread_ts"]
        return Reply(200, {"ok": True, "channel": self.channel, "ts": ts, "message": message})

    def _get_upload_url(self, rec: Recorded) -> Reply:
        filename, length = rec.form.get("filename"), rec.form.get("length")
        if not filename or not length or not length.isdigit():
            return self.api_error("invalid_arguments")
        file_id = f"F{next(self._file_ids):08d}"
        self.pending[file_id] = int(length)
        return Reply(
            200, {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}
        )

    def _upload(self, request: web.Request, rec: Recorded) -> Reply:
        file_id = request.path.rsplit("/", 1)[-1]
        declared = self.pending.get(file_id)
        if declared is None:
            return Reply(404, "not found")
        data = rec.body or next((u.data for u in rec.files.values()), b"")
        if len(data) != declared:
            return Reply(400, "length mismatch")
        self.uploads[file_id] = data
        return Reply(200, f"OK - {len(data)}")

    def _complete_upload(self, rec: Recorded) -> Reply:
        try:
            files = orjson.loads(rec.form.get("files", ""))
        except orjson.JSONDecodeError:
            return self.api_error("invalid_arguments")
        if not isinstance(files, list) or not files:
            return self.api_error("invalid_arguments")
        if rec.form.get("channel_id", self.channel) != self.channel:
            return self.api_error("channel_not_found")
        out = []
        for item in files:
            if not isinstance(item, dict) or item.get("id") not in self.uploads:
                return self.api_error("file_not_found")
            out.append({"id": item["id"], "title": item.get("title", "")})
        return Reply(200, {"ok": True, "files": out})


class FakeTelegram(FakePeer):
    """The Telegram Bot API: ``/bot<token>/sendMessage`` and ``/bot<token>/sendPhoto``."""

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        token: str = "123456:TEST-token_abcdefghijklmnopqrstuvw",
        chat_id: str = "-1001234567890",
        lifetime_s: float = LIFETIME_S,
    ) -> None:
        super().__init__(script, lifetime_s=lifetime_s)
        self.token = token
        self.chat_id = chat_id
        self._message_ids = itertools.count(1)

    def route_of(self, request: web.Request) -> str:
        return request.path.rsplit("/", 1)[-1]

    @staticmethod
    def error(
        code: int,
        description: str,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> Reply:
        """``{"ok": false, "error_code": code, "description": ..., "parameters": {...}}``."""
        body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
        params: dict[str, int] = {}
        if retry_after is not None:
            params["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            params["migrate_to_chat_id"] = migrate_to_chat_id
        if params:
            body["parameters"] = params
        return Reply(code, body)

    @classmethod
    def flood(cls, retry_after: int = 5) -> Reply:
        """Telegram's flood control answer."""
        return cls.error(
            429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
        )

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        if request.path != f"/bot{self.token}/{rec.route}":
            return self.error(401, "Unauthorized")
        fields: dict[str, Any] = rec.json if isinstance(rec.json, dict) else rec.form
        if str(fields.get("chat_id")) != self.chat_id:
            return self.error(400, "Bad Request: chat not found")
        result: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": 1700000000,
            "chat": {"id": int(self.chat_id), "type": "supergroup"},
        }
        if rec.route == "sendMessage":
            if not fields.get("text"):
                return self.error(400, "Bad Request: message text is empty")
            result["text"] = fields["text"]
        elif rec.route == "sendPhoto":
            if "photo" not in rec.files:
                return self.error(400, "Bad Request: there is no photo in the request")
            result["photo"] = [{"file_id": "AgAD", "width": 640, "height": 480}]
            result["caption"] = fields.get("caption", "")
        else:
            return self.error(404, "Not Found")
        return Reply(200, {"ok": True, "result": result})


class FakeWebhookReceiver(FakePeer):
    """A webhook receiver that verifies ``X-Skyfence-Signature`` (when it has a secret)."""

    PATH = "/hooks/skyfence"

    def __init__(
        self,
        script: Iterable[Reply] = (),
        *,
        secret: bytes | None = None,
        clock: Callable[[], float] = time.time,
        lifetime_s: float = LIFETIME_S,
    ) -> None:
        super().__init__(script, lifetime_s=lifetime_s)
        self.secret = secret
        self._clock = clock

    @property
    def hook_url(self) -> str:
        """The URL to deliver to."""
        return self.url + self.PATH

    async def _record(self, request: web.Request) -> Recorded:
        rec = await super()._record(request)
        if self.secret is not None:
            header = rec.headers.get("X-Skyfence-Signature", "")
            rec.verified = verify_webhook(rec.body, self.secret, header, self._clock())
        return rec

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        if request.path != self.PATH:
            return Reply(404, {"error": "not found"})
        if rec.verified is False:
            return Reply(401, {"error": "bad signature"})
        if not isinstance(rec.json, dict):
            return Reply(400, {"error": "not json"})
        return Reply(200, {"received": True})
