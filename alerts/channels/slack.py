"""Slack channels: an incoming webhook, and the Web API with threads and map images.

Both are thin shells: :func:`alerts.render.slack_blocks` makes the body,
:class:`~alerts.channels.http.HttpChannel` sends it on the injected session (one request, a
per-request timeout, no retries) and :func:`alerts.responses.classify` judges the answer.

:class:`SlackWebhookChannel` POSTs the blocks to an incoming-webhook URL (the URL is the
credential, so it is a :class:`~alerts.secrets.Secret`).

:class:`SlackApiChannel` calls ``chat.postMessage`` with a bot token (``Authorization: Bearer``)
and keeps one thread per *visit* (one aircraft in one zone): the first alert of a visit
starts a thread and its ``ts`` is remembered under ``"<icao24>|<zone>"``; later alerts of the
visit (exit, signal lost, ...) are posted with ``thread_ts``. An ``exited`` alert ends the
visit, so the next entry starts a new thread. The map is a :class:`ThreadStore` (a dict,
bounded, by default) so a deployment can keep it somewhere that survives restarts.

An optional PNG (a map of the track) is uploaded with Slack's external-upload flow
(docs.slack.dev/reference/methods/files.getUploadURLExternal):

1. ``files.getUploadURLExternal`` (form: ``filename``, ``length``) -> ``upload_url``, ``file_id``;
2. POST the bytes to ``upload_url`` (pre-signed: the token is *not* sent there);
3. ``chat.postMessage`` (the alert itself);
4. ``files.completeUploadExternal`` (``files=[{"id", "title"}]``, ``channel_id``,
   ``thread_ts`` = the visit's thread) shares the image under the alert.

Steps 1-2 come first so that a failure there raises before anything is posted (a retry then
cannot duplicate the alert). A failure at step 4 happens after the alert was delivered: it is
logged and counted in ``image_failures``, not raised, for the same reason.

Out of scope: retries, rate limiting (:mod:`alerts.ratelimit`), editing or deleting messages.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

import aiohttp
import orjson

from alerts.channels.http import DEFAULT_TIMEOUT_S, USER_AGENT, ContextFactory, HttpChannel
from alerts.errors import DeliveryError
from alerts.render import slack_ack_block, slack_blocks, slack_note
from alerts.responses import classify
from alerts.secrets import Secret
from streams.models import AirspaceEvent, EventType

__all__ = [
    "SLACK_API_URL",
    "DictThreadStore",
    "SlackApiChannel",
    "SlackWebhookChannel",
    "ThreadStore",
    "visit_key",
]

log = logging.getLogger(__name__)

#: The Web API root; injectable so tests point it at a fake.
SLACK_API_URL = "https://slack.com/api"
#: Threads remembered by the default store: far more visits than a desk sees in a day, small
#: enough (a few MB) that a leak of visits cannot grow without bound.
THREADS_MAX = 10_000
#: Events that end a visit: after them the next alert for the aircraft starts a new thread.
_VISIT_ENDS = frozenset({EventType.EXITED})


def visit_key(event: AirspaceEvent) -> str:
    """The thread key of the visit ``event`` belongs to: ``"<icao24>|<zone>"``."""
    return f"{event.icao24.lower()}|{event.zone}"


class ThreadStore(Protocol):
    """Where visit keys map to the ``ts`` of their thread's first message."""

    def get(self, key: str) -> str | None:
        """The thread ``ts`` for ``key``, or ``None``."""
        ...

    def set(self, key: str, ts: str) -> None:
        """Remember ``ts`` as the thread of ``key``."""
        ...

    def discard(self, key: str) -> None:
        """Forget ``key`` (the visit ended)."""
        ...


class DictThreadStore:
    """In-memory :class:`ThreadStore`, least recently used keys evicted past ``max_entries``."""

    def __init__(self, max_entries: int = THREADS_MAX) -> None:
        self._threads: OrderedDict[str, str] = OrderedDict()
        self._max = max_entries

    def get(self, key: str) -> str | None:
        """The thread ``ts`` for ``key``, or ``None``."""
        ts = self._threads.get(key)
        if ts is not None:
            self._threads.move_to_end(key)
        return ts

    def set(self, key: str, ts: str) -> None:
        """Remember ``ts`` for ``key``; evict the oldest key when full."""
        self._threads[key] = ts
        self._threads.move_to_end(key)
        while len(self._threads) > self._max:
            self._threads.popitem(last=False)

    def discard(self, key: str) -> None:
        """Forget ``key``."""
        self._threads.pop(key, None)

    def __len__(self) -> int:
        return len(self._threads)


class SlackWebhookChannel(HttpChannel):
    """Posts Block Kit alerts to a Slack incoming webhook."""

    kind = "slack_webhook"

    def __init__(
        self,
        webhook_url: Secret,
        session: aiohttp.ClientSession,
        name: str = "slack",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        context_factory: ContextFactory | None = None,
    ) -> None:
        super().__init__(
            name, session, timeout_s=timeout_s, clock=clock, context_factory=context_factory
        )
        self._url = webhook_url

    def __repr__(self) -> str:
        return f"SlackWebhookChannel(name={self.name!r}, webhook_url={self._url!r})"

    #: Priority alerts get the Acknowledge button (it needs a Slack app with interactivity).
    accepts_buttons = True

    async def send(self, event: AirspaceEvent, *, ack_button: bool = False) -> str:
        """Deliver one alert; raise ``DeliveryError`` on failure (never retries). Returns
        ``""``: an incoming webhook tells nothing about the message it posted, so follow-ups
        cannot be threaded under it."""
        message = slack_blocks(self._context(event))
        if ack_button:
            message["blocks"].append(slack_ack_block(event.event_id))
        await self._hook(message)
        return ""

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """Post a follow-up (escalation, acknowledgement) as a plain message: a webhook
        cannot reply in a thread, so ``reply_to`` is ignored."""
        await self._hook(slack_note(text, ack_event_id))
        return ""

    async def _hook(self, message: dict[str, Any]) -> None:
        await self._post(
            self._url.reveal(),
            "incoming-webhook",
            data=orjson.dumps(message),
            headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
        )


class SlackApiChannel(HttpChannel):
    """Posts alerts with ``chat.postMessage``, threading each visit; uploads map images."""

    kind = "slack_api"
    #: The notifier passes a map PNG to ``send`` (uploaded into the alert's thread).
    accepts_image = True

    def __init__(
        self,
        token: Secret,
        channel_id: str,
        session: aiohttp.ClientSession,
        base_url: str = SLACK_API_URL,
        name: str = "slack_api",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        clock: Callable[[], float] = time.time,
        context_factory: ContextFactory | None = None,
        threads: ThreadStore | None = None,
        image_filename: str = "track.png",
    ) -> None:
        super().__init__(
            name, session, timeout_s=timeout_s, clock=clock, context_factory=context_factory
        )
        self.channel_id = channel_id
        self._token = token
        self._base = base_url.rstrip("/")
        self.threads: ThreadStore = threads if threads is not None else DictThreadStore()
        self._image_filename = image_filename
        #: Images whose final share step failed after the alert was posted.
        self.image_failures = 0

    def __repr__(self) -> str:
        return (
            f"SlackApiChannel(name={self.name!r}, channel_id={self.channel_id!r}, "
            f"token={self._token!r})"
        )

    def _auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._token.reveal()}", "User-Agent": USER_AGENT}

    async def _call(
        self, method: str, data: bytes | dict[str, str], *, json_body: bool = False
    ) -> dict[str, Any]:
        """POST one Web API method (a form, or JSON bytes when ``json_body``); return its JSON
        object or raise ``DeliveryError``."""
        headers = self._auth()
        if json_body:
            headers["Content-Type"] = "application/json; charset=utf-8"
        _status, _headers, body = await self._post(
            f"{self._base}/{method}", method, headers=headers, data=data
        )
        obj = orjson.loads(body)  # classify accepted it, so it is a JSON object with ok=true
        return obj if isinstance(obj, dict) else {}

    async def _upload(self, image_png: bytes) -> str:
        """Steps 1-2 of the upload flow; returns the file id."""
        got = await self._call(
            "files.getUploadURLExternal",
            {"filename": self._image_filename, "length": str(len(image_png))},
        )
        upload_url, file_id = got.get("upload_url"), got.get("file_id")
        if not isinstance(upload_url, str) or not isinstance(file_id, str):
            raise DeliveryError(self.name, "bad_response", retriable=False)
        status, headers, body = await self._exchange(
            upload_url,
            "file upload",
            data=image_png,
            headers={"Content-Type": "application/octet-stream", "User-Agent": USER_AGENT},
        )
        if not 200 <= status < 300:
            classify(self.name, status, headers, body, now_s=self._clock(), kind=self.kind)
            raise DeliveryError(self.name, f"http_{status}", retriable=False)
        return file_id

    #: Priority alerts get the Acknowledge button (Slack interactivity, ``block_actions``).
    accepts_buttons = True

    async def send(
        self, event: AirspaceEvent, image_png: bytes | None = None, *, ack_button: bool = False
    ) -> str:
        """Deliver one alert (in its visit's thread), with ``image_png`` attached when given
        and the Acknowledge button when ``ack_button``. Returns ``"<channel>:<thread ts>"``,
        where follow-ups go (``""`` if Slack gave no ``ts``).

        Raises ``DeliveryError`` when the alert was not posted; never retries.
        """
        ctx = self._context(event)
        file_id = await self._upload(image_png) if image_png else None
        key = visit_key(event)
        thread_ts = self.threads.get(key)
        message: dict[str, Any] = {
            "channel": self.channel_id,
            **slack_blocks(ctx),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if ack_button:
            message["blocks"].append(slack_ack_block(event.event_id))
        if thread_ts is not None:
            message["thread_ts"] = thread_ts
        posted = await self._call(
            "chat.postMessage",
            orjson.dumps(message),
            json_body=True,
        )
        ts = posted.get("ts")
        if thread_ts is None and isinstance(ts, str):
            thread_ts = ts
            self.threads.set(key, ts)
        if event.type in _VISIT_ENDS:
            self.threads.discard(key)
        if file_id is not None:
            await self._share(file_id, ctx.headline, thread_ts)
        channel = posted.get("channel")
        channel = channel if isinstance(channel, str) and channel else self.channel_id
        return f"{channel}:{thread_ts}" if thread_ts else ""

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """Post a follow-up (escalation, acknowledgement), in the thread ``reply_to``
        (``"<channel>:<ts>"``) when given. Returns the note's own ``"<channel>:<ts>"``."""
        message: dict[str, Any] = {
            "channel": self.channel_id,
            **slack_note(text, ack_event_id),
            "unfurl_links": False,
            "unfurl_media": False,
        }
        if reply_to:
            channel, _, ts = reply_to.rpartition(":")
            if channel and ts:
                message["channel"] = channel
                message["thread_ts"] = ts
        posted = await self._call("chat.postMessage", orjson.dumps(message), json_body=True)
        ts_posted = posted.get("ts")
        return f"{message['channel']}:{ts_posted}" if isinstance(ts_posted, str) else ""

    async def _share(self, file_id: str, title: str, thread_ts: str | None) -> None:
        """Step 4: share the uploaded file under the alert; failures are logged, not raised."""
        form = {
            "files": orjson.dumps([{"id": file_id, "title": title}]).decode(),
            "channel_id": self.channel_id,
        }
        if thread_ts is not None:
            form["thread_ts"] = thread_ts
        try:
            await self._call("files.completeUploadExternal", form)
        except DeliveryError as exc:
            self.image_failures += 1
            log.warning(
                "%s: map image not shared (%s); the alert was posted", self.name, exc.reason
            )
