"""HTTP channels against in-process fakes of Slack, Telegram and a webhook receiver.

Real HTTP on loopback: success, every error class -> the right ``DeliveryError`` (reason,
retriable, retry_after_s), timeouts and resets retriable, Block Kit validated by slack_sdk,
Slack threads and uploads, Telegram multipart, webhook signatures verified by the receiver,
and credentials never in exceptions or logs.
"""

from __future__ import annotations

import logging
import socket
import traceback
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest
from slack_sdk.models.blocks import Block

from alerts.channels.slack import SlackApiChannel, SlackWebhookChannel
from alerts.channels.telegram import TelegramChannel
from alerts.channels.webhook import WebhookChannel
from alerts.errors import DeliveryError
from alerts.render import build_context, telegram_caption, telegram_html, webhook_json
from alerts.secrets import Secret
from streams.models import AirspaceEvent, Confidence, EventType
from tests.fakes import FakeSlackApi, FakeSlackWebhook, FakeTelegram, FakeWebhookReceiver, Reply

pytestmark = pytest.mark.timeout(30)

#: A minimal valid PNG (1x1, transparent): the bytes matter, not the picture.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
)
#: Client timeout for the slow-peer tests, and how slow the peer is.
SHORT_TIMEOUT_S = 0.3
SLOW_S = 2.0
NOW_S = 1_700_000_000.0


def _event(**over: Any) -> AirspaceEvent:
    base: dict[str, Any] = {
        "event_id": "5b923ef3734ac632be67",
        "type": EventType.ENTERED,
        "icao24": "1551e0",
        "zone": "dprk",
        "ts": 1695690867.0,
        "lat": 39.5,
        "lon": 124.3,
        "observed_ts": 1695690870.0,
        "callsign": "RSD352",
        "confidence": Confidence.OBSERVED,
        "zone_name": "DPRK airspace",
        "alt_ft": 35100,
        "gs_kt": 465.3,
        "track_deg": 166.4,
    }
    base.update(over)
    return AirspaceEvent(**base)


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def _closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _assert_no_leak(secret: str, exc: BaseException, logs: str = "") -> None:
    """``secret`` is nowhere in the exception, its chain, its traceback or the logs."""
    assert exc.__cause__ is None and exc.__context__ is None
    rendered = "".join(traceback.format_exception(exc))
    for text in (str(exc), repr(exc), rendered, logs):
        assert secret not in text


def _validate_blocks(payload: dict[str, Any]) -> None:
    assert payload["text"]
    assert payload["blocks"]
    for raw in payload["blocks"]:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()  # raises SlackObjectFormationError when invalid


# --------------------------------------------------------------------------- Slack webhook


async def test_slack_webhook_delivers_valid_block_kit(session: aiohttp.ClientSession) -> None:
    async with FakeSlackWebhook() as slack:
        channel = SlackWebhookChannel(Secret(slack.webhook_url), session)
        await channel.send(_event())
    [req] = slack.requests
    assert req.method == "POST"
    assert req.headers["Content-Type"] == "application/json"
    _validate_blocks(req.json)


@pytest.mark.parametrize(
    ("reply", "reason", "retriable", "retry_after_s"),
    [
        (FakeSlackWebhook.error(400, "invalid_payload"), "invalid_payload", False, None),
        (FakeSlackWebhook.error(404, "channel_not_found"), "channel_not_found", False, None),
        (FakeSlackWebhook.error(410, "channel_is_archived"), "channel_is_archived", False, None),
        (FakeSlackWebhook.error(403, "action_prohibited"), "action_prohibited", False, None),
        (FakeSlackWebhook.error(429, "rate_limited", 7), "rate_limited", True, 7.0),
        (FakeSlackWebhook.error(500, "internal error"), "server_error", True, None),
        (FakeSlackWebhook.error(503, "unavailable", 2), "server_error", True, 2.0),
    ],
)
async def test_slack_webhook_errors(
    session: aiohttp.ClientSession,
    reply: Reply,
    reason: str,
    retriable: bool,
    retry_after_s: float | None,
) -> None:
    async with FakeSlackWebhook([reply]) as slack:
        channel = SlackWebhookChannel(Secret(slack.webhook_url), session, name="slack:ops")
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
        await channel.send(_event())  # the script is used up: back to success
    err = info.value
    assert (err.channel, err.reason, err.retriable, err.retry_after_s) == (
        "slack:ops",
        reason,
        retriable,
        retry_after_s,
    )
    _assert_no_leak(slack.PATH, err)


async def test_slack_webhook_timeout_is_retriable(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlackWebhook([Reply(delay_s=SLOW_S)]) as slack:
        channel = SlackWebhookChannel(Secret(slack.webhook_url), session, timeout_s=SHORT_TIMEOUT_S)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    assert (info.value.reason, info.value.retriable) == ("timeout", True)
    _assert_no_leak(slack.PATH, info.value, caplog.text)


async def test_slack_webhook_reset_is_retriable(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlackWebhook([Reply(reset=True)]) as slack:
        channel = SlackWebhookChannel(Secret(slack.webhook_url), session)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    assert (info.value.reason, info.value.retriable) == ("connection", True)
    _assert_no_leak(slack.PATH, info.value, caplog.text)


async def test_slack_webhook_refused_is_retriable(session: aiohttp.ClientSession) -> None:
    url = f"http://127.0.0.1:{_closed_port()}{FakeSlackWebhook.PATH}"
    channel = SlackWebhookChannel(Secret(url), session)
    with pytest.raises(DeliveryError) as info:
        await channel.send(_event())
    assert (info.value.reason, info.value.retriable) == ("connection", True)
    _assert_no_leak(FakeSlackWebhook.PATH, info.value)


# --------------------------------------------------------------------------- Slack Web API


async def test_slack_api_posts_with_bearer_and_valid_blocks(
    session: aiohttp.ClientSession,
) -> None:
    async with FakeSlackApi() as api:
        channel = SlackApiChannel(Secret(api.token), "C1", session, base_url=api.api_url)
        await channel.send(_event())
    [req] = api.requests
    assert req.path == "/api/chat.postMessage"
    assert req.headers["Authorization"] == f"Bearer {api.token}"
    assert req.json["channel"] == "C1"
    assert "thread_ts" not in req.json
    _validate_blocks(req.json)


async def test_slack_api_threads_one_visit(session: aiohttp.ClientSession) -> None:
    async with FakeSlackApi() as api:
        channel = SlackApiChannel(Secret(api.token), "C1", session, base_url=api.api_url)
        await channel.send(_event())
        await channel.send(_event(type=EventType.SIGNAL_LOST, event_id="e2"))
        await channel.send(_event(icao24="71be10", event_id="other"))  # another visit
        await channel.send(_event(type=EventType.EXITED, event_id="e3"))
        await channel.send(_event(event_id="e4", ts=1695790000.0))  # a new visit
    first, lost, other, exited, again = (r.json for r in api.requests)
    assert "thread_ts" not in first
    assert lost["thread_ts"] == "1700000000.000100"
    assert "thread_ts" not in other
    assert exited["thread_ts"] == "1700000000.000100"
    assert "thread_ts" not in again
    assert channel.threads.get("1551e0|dprk") == "1700000000.000500"


@pytest.mark.parametrize(
    ("script", "token", "channel_id", "reason", "retriable", "retry_after_s"),
    [
        ([FakeSlackApi.ratelimited(30)], None, "C1", "ratelimited", True, 30.0),
        ([], None, "C404", "channel_not_found", False, None),
        ([], "xoxb-wrong", "C1", "invalid_auth", False, None),
        ([FakeSlackApi.api_error("internal_error")], None, "C1", "internal_error", True, None),
        ([Reply(503, "upstream down")], None, "C1", "server_error", True, None),
    ],
)
async def test_slack_api_errors(
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    script: list[Reply],
    token: str | None,
    channel_id: str,
    reason: str,
    retriable: bool,
    retry_after_s: float | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlackApi(script) as api:
        secret = token or api.token
        channel = SlackApiChannel(Secret(secret), channel_id, session, base_url=api.api_url)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    err = info.value
    assert (err.reason, err.retriable, err.retry_after_s) == (reason, retriable, retry_after_s)
    assert channel.threads.get("1551e0|dprk") is None  # nothing posted, no thread
    _assert_no_leak(secret, err, caplog.text)


async def test_slack_api_timeout_and_reset(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeSlackApi([Reply(delay_s=SLOW_S), Reply(reset=True)]) as api:
        channel = SlackApiChannel(
            Secret(api.token), "C1", session, base_url=api.api_url, timeout_s=SHORT_TIMEOUT_S
        )
        reasons = []
        for _ in range(2):
            with pytest.raises(DeliveryError) as info:
                await channel.send(_event())
            assert info.value.retriable
            _assert_no_leak(api.token, info.value, caplog.text)
            reasons.append(info.value.reason)
    assert reasons == ["timeout", "connection"]


async def test_slack_api_uploads_png_into_the_thread(session: aiohttp.ClientSession) -> None:
    async with FakeSlackApi() as api:
        channel = SlackApiChannel(Secret(api.token), "C1", session, base_url=api.api_url)
        await channel.send(_event())
        await channel.send(_event(type=EventType.EXITED, event_id="e2"), image_png=PNG)
    routes = [r.route for r in api.requests]
    assert routes == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "upload",
        "chat.postMessage",
        "files.completeUploadExternal",
    ]
    get_url, upload, _, complete = api.requests[1:]
    assert get_url.form == {"filename": "track.png", "length": str(len(PNG))}
    assert "Authorization" not in upload.headers  # the token stays with slack.com
    assert list(api.uploads.values()) == [PNG]
    [file_id] = api.uploads
    assert complete.form["channel_id"] == "C1"
    assert complete.form["thread_ts"] == "1700000000.000100"
    files = orjson.loads(complete.form["files"])
    assert files[0]["id"] == file_id and files[0]["title"]
    assert channel.image_failures == 0


async def test_slack_api_upload_failure_before_posting_raises(
    session: aiohttp.ClientSession,
) -> None:
    script = [FakeSlackApi.ratelimited(20)]
    async with FakeSlackApi() as api:
        api.enqueue(*script, route="files.getUploadURLExternal")
        channel = SlackApiChannel(Secret(api.token), "C1", session, base_url=api.api_url)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event(), image_png=PNG)
    assert (info.value.reason, info.value.retry_after_s) == ("ratelimited", 20.0)
    assert api.routed("chat.postMessage") == []  # nothing posted: a retry cannot duplicate


async def test_slack_api_share_failure_after_posting_is_logged_not_raised(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    async with FakeSlackApi() as api:
        api.enqueue(FakeSlackApi.api_error("internal_error"), route="files.completeUploadExternal")
        channel = SlackApiChannel(Secret(api.token), "C1", session, base_url=api.api_url)
        await channel.send(_event(), image_png=PNG)
    assert len(api.routed("chat.postMessage")) == 1
    assert channel.image_failures == 1
    assert "map image not shared (internal_error)" in caplog.text
    assert api.token not in caplog.text


# --------------------------------------------------------------------------- Telegram


async def test_telegram_send_message(session: aiohttp.ClientSession) -> None:
    async with FakeTelegram() as tg:
        channel = TelegramChannel(Secret(tg.token), tg.chat_id, session, base_url=tg.url)
        await channel.send(_event())
    [req] = tg.requests
    assert req.path == f"/bot{tg.token}/sendMessage"
    assert req.json == {
        "chat_id": tg.chat_id,
        "text": telegram_html(build_context(_event())),
        "parse_mode": "HTML",
        "disable_web_page_preview": True,
    }


async def test_telegram_send_photo_multipart(session: aiohttp.ClientSession) -> None:
    async with FakeTelegram() as tg:
        channel = TelegramChannel(Secret(tg.token), tg.chat_id, session, base_url=tg.url)
        await channel.send(_event(), image_png=PNG)
    [req] = tg.requests
    assert req.route == "sendPhoto"
    assert req.headers["Content-Type"].startswith("multipart/form-data")
    assert req.form == {
        "chat_id": tg.chat_id,
        "caption": telegram_caption(build_context(_event())),
        "parse_mode": "HTML",
    }
    photo = req.files["photo"]
    assert (photo.filename, photo.content_type, photo.data) == ("track.png", "image/png", PNG)


@pytest.mark.parametrize(
    ("reply", "chat_id", "reason", "retriable", "retry_after_s"),
    [
        (FakeTelegram.flood(5), None, "rate_limited", True, 5.0),
        (None, "-100999", "bad_request", False, None),  # the fake's own "chat not found"
        (
            FakeTelegram.error(403, "Forbidden: bot was blocked by the user"),
            None,
            "forbidden",
            False,
            None,
        ),
        (FakeTelegram.error(502, "Bad Gateway"), None, "server_error", True, None),
        (
            FakeTelegram.error(400, "Bad Request: group chat was upgraded", migrate_to_chat_id=-1),
            None,
            "chat_migrated",
            False,
            None,
        ),
    ],
)
async def test_telegram_errors(
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    reply: Reply | None,
    chat_id: str | None,
    reason: str,
    retriable: bool,
    retry_after_s: float | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeTelegram([reply] if reply else []) as tg:
        channel = TelegramChannel(Secret(tg.token), chat_id or tg.chat_id, session, base_url=tg.url)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    err = info.value
    assert (err.reason, err.retriable, err.retry_after_s) == (reason, retriable, retry_after_s)
    _assert_no_leak(tg.token, err, caplog.text)


async def test_telegram_wrong_token_is_unauthorized(session: aiohttp.ClientSession) -> None:
    async with FakeTelegram() as tg:
        channel = TelegramChannel(Secret("999:wrong"), tg.chat_id, session, base_url=tg.url)
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    assert (info.value.reason, info.value.retriable) == ("unauthorized", False)
    _assert_no_leak("999:wrong", info.value)


@pytest.mark.parametrize("failure", ["slow", "reset", "refused"])
async def test_telegram_transport_failures_hide_the_token(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture, failure: str
) -> None:
    caplog.set_level(logging.DEBUG)
    script = {"slow": [Reply(delay_s=SLOW_S)], "reset": [Reply(reset=True)], "refused": []}
    async with FakeTelegram(script[failure]) as tg:
        base = tg.url if failure != "refused" else f"http://127.0.0.1:{_closed_port()}"
        channel = TelegramChannel(
            Secret(tg.token), tg.chat_id, session, base_url=base, timeout_s=SHORT_TIMEOUT_S
        )
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event(), image_png=PNG if failure == "reset" else None)
    expected = "timeout" if failure == "slow" else "connection"
    assert (info.value.reason, info.value.retriable) == (expected, True)
    _assert_no_leak(tg.token, info.value, caplog.text)
    logging.getLogger("test").error("failed: %s %r", info.value, info.value, exc_info=info.value)
    assert tg.token not in caplog.text


# --------------------------------------------------------------------------- webhook


async def test_webhook_signature_verified_by_receiver(session: aiohttp.ClientSession) -> None:
    key = b"whsec-test"
    async with FakeWebhookReceiver(secret=key, clock=lambda: NOW_S + 5) as hook:
        channel = WebhookChannel(
            Secret(hook.hook_url), Secret(key.decode()), session, clock=lambda: NOW_S
        )
        await channel.send(_event())
    [req] = hook.requests
    assert req.verified is True
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Skyfence-Event-Id"] == "5b923ef3734ac632be67"
    assert req.headers["X-Skyfence-Signature"].startswith(f"t={int(NOW_S)},v1=")
    assert req.body == webhook_json(_event(), build_context(_event()))


async def test_webhook_wrong_secret_is_rejected(session: aiohttp.ClientSession) -> None:
    async with FakeWebhookReceiver(secret=b"right", clock=lambda: NOW_S) as hook:
        channel = WebhookChannel(
            Secret(hook.hook_url), Secret("wrong"), session, clock=lambda: NOW_S
        )
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    assert hook.requests[0].verified is False
    assert (info.value.reason, info.value.retriable) == ("http_401", False)


async def test_webhook_without_secret_is_unsigned(session: aiohttp.ClientSession) -> None:
    async with FakeWebhookReceiver() as hook:
        channel = WebhookChannel(Secret(hook.hook_url), None, session)
        await channel.send(_event())
    assert "X-Skyfence-Signature" not in hook.requests[0].headers


@pytest.mark.parametrize(
    ("reply", "reason", "retriable", "retry_after_s"),
    [
        (Reply(503, "busy", {"Retry-After": "12"}), "server_error", True, 12.0),
        (Reply(429, "slow down", {"Retry-After": "3"}), "rate_limited", True, 3.0),
        (Reply(302, "", {"Location": "http://elsewhere/"}), "redirect", False, None),
        (Reply(404, "nope"), "http_404", False, None),
        (Reply(delay_s=SLOW_S), "timeout", True, None),
        (Reply(reset=True), "connection", True, None),
    ],
)
async def test_webhook_errors(
    session: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
    reply: Reply,
    reason: str,
    retriable: bool,
    retry_after_s: float | None,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with FakeWebhookReceiver([reply]) as hook:
        url = hook.hook_url + "?token=hook-secret-123"
        channel = WebhookChannel(
            Secret(url), Secret("sig-secret-456"), session, timeout_s=SHORT_TIMEOUT_S
        )
        with pytest.raises(DeliveryError) as info:
            await channel.send(_event())
    err = info.value
    assert (err.reason, err.retriable, err.retry_after_s) == (reason, retriable, retry_after_s)
    for secret in ("hook-secret-123", "sig-secret-456"):
        _assert_no_leak(secret, err, caplog.text)


# --------------------------------------------------------------------------- no leaks in logs


async def test_logging_channels_never_shows_credentials(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    channels = [
        SlackWebhookChannel(Secret("https://hooks.slack.com/services/T/B/hook-secret"), session),
        SlackApiChannel(Secret("xoxb-api-secret"), "C1", session),
        TelegramChannel(Secret("123:tg-secret"), "42", session),
        WebhookChannel(Secret("https://example.com/h?k=url-secret"), Secret("sig-secret"), session),
    ]
    log = logging.getLogger("test.channels")
    with caplog.at_level(logging.DEBUG):
        for ch in channels:
            log.info("channel %s %r", ch, ch)
            log.info(f"channel {ch} {ch!r} {vars(ch)}")
    for secret in ("hook-secret", "xoxb-api-secret", "tg-secret", "url-secret", "sig-secret"):
        assert secret not in caplog.text
    assert "Secret('***')" in caplog.text


async def test_invalid_url_is_not_retriable_and_not_shown(
    session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = WebhookChannel(Secret("no-scheme/secret-path-789"), None, session)
    with pytest.raises(DeliveryError) as info:
        await channel.send(_event())
    assert (info.value.reason, info.value.retriable) == ("bad_url", False)
    _assert_no_leak("secret-path-789", info.value, caplog.text)
