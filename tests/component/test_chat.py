"""Chat commands end to end against local fakes: Telegram getUpdates, Slack's signed HTTP
endpoint, Slack Socket Mode; and the notifier honouring a chat mute.

Every transport runs for real on 127.0.0.1 (aiohttp servers, slack_sdk's SocketModeClient);
the handler writes to an in-memory desk store, so each test asserts both the answer and what
changed (mutes, the desk watchlist) and what was audit-logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import io
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.channels.console import ConsoleChannel
from alerts.chat.handler import ChatCommands, status_from_registry
from alerts.chat.slack import SlackHttpEndpoint, SlackSocketMode
from alerts.chat.store import MemoryDeskStore
from alerts.chat.telegram import ALLOWED_UPDATES, TelegramPoller
from alerts.commands import Access, CommandDesk, DeskState
from alerts.interact import Actor, ButtonPress, Reply
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier
from alerts.outbox import EntryState
from alerts.retry import Backoff
from alerts.secrets import Secret
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from tests.fakes.chat import FakeSlack, FakeTelegramBot
from tests.fakes.clock import VirtualClock

pytestmark = pytest.mark.timeout(30)

NOW_S = 1_700_000_000.0
TOKEN = "123456:telegram-test-token"
SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
APP_TOKEN = "xapp-1-test"
DESK_CHAT = "-1001"
SLACK_CHANNEL = "C0DESK"
SLACK_USER_ACTOR = Actor("slack", SLACK_CHANNEL, "U42")


class View:
    """An empty worker: nothing shown, no figures."""

    def aircraft(self) -> list[dict[str, Any]]:
        return []

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        return []

    def by_registration(self, registration: str) -> str | None:
        return None

    def describe(self, icao24: str) -> str:
        return "?"

    def status(self) -> dict[str, Any]:
        return {}


def _handler(clock: Any = lambda: NOW_S, **kwargs: Any) -> tuple[ChatCommands, MemoryDeskStore]:
    state = DeskState()
    store = MemoryDeskStore()
    access = Access.parse(f"{DESK_CHAT},slack:{SLACK_CHANNEL}")
    return ChatCommands(CommandDesk(access, state, View()), store, clock=clock, **kwargs), store


def _message(update_id: int, chat: str, text: str, user: int = 42) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": 500 + update_id, "date": int(NOW_S), "text": text,
            "chat": {"id": int(chat), "type": "group"},
            "from": {"id": user, "is_bot": False, "username": f"user{user}"},
        },
    }  # fmt: skip


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


# -- Telegram ------------------------------------------------------------------------------


async def test_telegram_allowed_chat_mutes_unknown_chat_is_refused(
    session: aiohttp.ClientSession,
) -> None:
    handler, store = _handler()
    async with FakeTelegramBot(TOKEN) as bot:
        bot.batches.append(
            [
                _message(10, "-999", "/mute 1551e0 6h", user=666),  # a stranger first
                _message(11, DESK_CHAT, "/mute@SkyfenceBot 1551e0 6h"),
                _message(12, DESK_CHAT, "just chatting"),  # not a command: ignored
                {"update_id": 13, "message": "garbage"},  # malformed: skipped
                _message(14, DESK_CHAT, "/watch@OtherBot 1551e0"),  # another bot's
            ]
        )
        poller = TelegramPoller(
            Secret(TOKEN),
            session,
            handler,
            api_url=bot.url,
            bot_name="SkyfenceBot",
            poll_timeout_s=1,
        )
        await poller.run(max_polls=2)
    # Offsets confirm each batch; allowed_updates asks for messages and button presses.
    assert bot.get_updates[0].get("offset") is None and bot.get_updates[1]["offset"] == 15
    assert bot.get_updates[0]["allowed_updates"] == list(ALLOWED_UPDATES)
    assert [(m["chat_id"], m["reply_to_message_id"]) for m in bot.sent] == [
        ("-999", 510),
        (DESK_CHAT, 511),
    ]
    assert "not allowed" in bot.sent[0]["text"] and "Muted 1551e0" in bot.sent[1]["text"]
    # Only the allowed command changed anything; both were audited.
    assert [k for k, _ in store.records] == ["mute:1551e0"]
    assert handler.state.muted("1551e0", None, NOW_S + 3600)
    assert [(a["actor"]["chat_id"], a["command"], a["outcome"]) for a in store.audits] == [
        ("-999", "mute", "refused"),
        (DESK_CHAT, "mute", "ok"),
    ]


async def test_telegram_unknown_chat_changes_nothing(session: aiohttp.ClientSession) -> None:
    handler, store = _handler()
    async with FakeTelegramBot(TOKEN) as bot:
        bot.batches.append(
            [_message(1, "-5", "/watch 1551e0"), _message(2, "-5", "/unmute RSD352")]
        )
        await TelegramPoller(Secret(TOKEN), session, handler, api_url=bot.url).run(max_polls=1)
    assert handler.state == DeskState() and store.records == []
    assert [a["outcome"] for a in store.audits] == ["refused", "refused"]
    assert all("not allowed" in m["text"] for m in bot.sent)


async def test_telegram_button_press_is_answered_and_passed_on(
    session: aiohttp.ClientSession,
) -> None:
    pressed: list[ButtonPress] = []

    async def on_button(press: ButtonPress) -> Reply:
        pressed.append(press)
        return Reply("Acknowledged by user42.")

    handler, store = _handler(on_button=on_button)
    query = {
        "update_id": 7,
        "callback_query": {
            "id": "cbq-1", "data": "ack:5b923ef3734ac632be67",
            "from": {"id": 42, "username": "user42"},
            "message": {"message_id": 900, "chat": {"id": int(DESK_CHAT)}},
        },
    }  # fmt: skip
    stranger = orjson.loads(orjson.dumps(query))
    stranger["update_id"] = 8
    stranger["callback_query"]["message"]["chat"]["id"] = -77
    async with FakeTelegramBot(TOKEN) as bot:
        bot.batches.append([query, stranger])
        await TelegramPoller(Secret(TOKEN), session, handler, api_url=bot.url).run(max_polls=1)
    assert [(p.action, p.event_id, p.message_ref) for p in pressed] == [
        ("ack", "5b923ef3734ac632be67", f"{DESK_CHAT}:900")
    ]
    assert [a["text"] for a in bot.answered] == [
        "Acknowledged by user42.",
        "You are not allowed to act on skyfence alerts here.",
    ]
    assert bot.answered[0]["callback_query_id"] == "cbq-1"
    assert bot.sent[0]["reply_to_message_id"] == 900
    assert [a["outcome"] for a in store.audits] == ["ok", "refused"]


async def test_telegram_default_button_handler_says_not_enabled(
    session: aiohttp.ClientSession,
) -> None:
    handler, _ = _handler()
    reply = await handler.on_button(ButtonPress(_actor(), "ack", "e1"))
    assert not reply.ok and "not enabled" in reply.text


def _actor() -> Any:
    return Actor("telegram", DESK_CHAT, "42")


async def test_telegram_429_waits_retry_after_and_errors_back_off(
    session: aiohttp.ClientSession,
) -> None:
    handler, _ = _handler()
    waits: list[float] = []

    async def sleep(delay_s: float) -> None:
        waits.append(delay_s)

    async with FakeTelegramBot(TOKEN) as bot:
        bot.batches.extend(
            [
                (429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                       "parameters": {"retry_after": 7}}),
                (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
                (409, {"ok": False, "error_code": 409, "description": "Conflict"}),
                [_message(3, DESK_CHAT, "/help")],
            ]
        )  # fmt: skip
        poller = TelegramPoller(
            Secret(TOKEN), session, handler, api_url=bot.url, sleep=sleep, rand=lambda: 0.5,
            backoff=Backoff(base_s=1.0, max_s=60.0, jitter="none", give_up_after_s=None),
        )  # fmt: skip
        await poller.run(max_polls=4)
        # A wrong token is a failure too, and the token is in no log line or repr.
        wrong = TelegramPoller(Secret("0:wrong"), session, handler, api_url=bot.url, sleep=sleep)
        await wrong.run(max_polls=1)
    assert waits[:3] == [7.0, 1.0, 2.0]  # retry_after, then 1 s, 2 s backoff
    assert poller.failures == 3 and wrong.failures == 1
    assert "/help" in bot.sent[0]["text"] or "skyfence commands" in bot.sent[0]["text"]
    assert TOKEN not in repr(poller)


# -- Slack over HTTP -----------------------------------------------------------------------


def _sign(body: bytes, ts: float, secret: str = SIGNING) -> dict[str, str]:
    base = f"v0:{int(ts)}:".encode() + body
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": str(int(ts)),
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


@pytest.fixture
async def slack_http(
    session: aiohttp.ClientSession,
) -> AsyncIterator[tuple[str, ChatCommands, MemoryDeskStore, SlackHttpEndpoint]]:
    clock = VirtualClock(NOW_S)
    handler, store = _handler(clock=clock.time)
    endpoint = SlackHttpEndpoint(Secret(SIGNING), handler, session, clock=clock.time)
    app = web.Application()
    endpoint.install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", handler, store, endpoint
    finally:
        await runner.cleanup()


def _slash(text: str, channel: str = SLACK_CHANNEL, command: str = "/mute", **more: str) -> bytes:
    fields = {
        "command": command, "text": text, "channel_id": channel, "user_id": "U42",
        "user_name": "duty", "team_id": "T1", "response_url": "https://hooks.slack.invalid/x",
        **more,
    }  # fmt: skip
    return urlencode(fields).encode()


async def test_slack_signed_command_mutes(session: aiohttp.ClientSession, slack_http: Any) -> None:
    url, handler, store, _ = slack_http
    body = _slash("1551e0 6h")
    async with session.post(
        f"{url}/slack/commands", data=body, headers=_sign(body, NOW_S - 10)
    ) as r:
        assert r.status == 200
        answer = await r.json()
    assert answer["response_type"] == "in_channel" and "Muted 1551e0" in answer["text"]
    assert handler.state.muted("1551e0", None, NOW_S + 60)
    assert store.audits[-1]["outcome"] == "ok" and store.audits[-1]["actor"]["platform"] == "slack"
    # The umbrella command: /skyfence watch 1551e0
    body = _slash("watch 1551e0", command="/skyfence")
    async with session.post(f"{url}/slack/commands", data=body, headers=_sign(body, NOW_S)) as r:
        assert "desk's watchlist" in (await r.json())["text"]
    assert set(handler.state.watches) == {"1551e0"}


@pytest.mark.parametrize(
    "forge",
    ["wrong_secret", "stale", "future", "tampered", "unsigned"],
)
async def test_slack_forged_or_stale_requests_get_401_and_change_nothing(
    session: aiohttp.ClientSession, slack_http: Any, forge: str
) -> None:
    url, handler, store, endpoint = slack_http
    body = _slash("1551e0 6h")
    headers = {
        "wrong_secret": _sign(body, NOW_S, secret="not-the-secret"),
        "stale": _sign(body, NOW_S - 301),  # a replay from more than 5 minutes ago
        "future": _sign(body, NOW_S + 301),
        "tampered": _sign(_slash("780a1b 6h"), NOW_S),
        "unsigned": {"Content-Type": "application/x-www-form-urlencoded"},
    }[forge]
    for route in ("/slack/commands", "/slack/interactive"):
        async with session.post(f"{url}{route}", data=body, headers=headers) as r:
            assert r.status == 401
    assert handler.state == DeskState() and store.records == []
    assert endpoint.refused == 2
    # Audited as refused, naming the actor the request claims (not trusted).
    assert [(a["command"], a["outcome"], a["actor"]["user_id"]) for a in store.audits] == [
        ("mute", "refused", "U42")
    ] * 2
    assert all("signature" in a["detail"] for a in store.audits)


async def test_slack_signed_command_from_unknown_channel_is_refused(
    session: aiohttp.ClientSession, slack_http: Any
) -> None:
    url, handler, store, _ = slack_http
    body = _slash("1551e0 6h", channel="C0OTHER")
    async with session.post(f"{url}/slack/commands", data=body, headers=_sign(body, NOW_S)) as r:
        assert r.status == 200
        answer = await r.json()
    assert answer["response_type"] == "ephemeral" and "not allowed" in answer["text"]
    assert handler.state == DeskState() and store.records == []
    assert [(a["command"], a["outcome"], a["actor"]["chat_id"]) for a in store.audits] == [
        ("mute", "refused", "C0OTHER")
    ]


async def test_slack_signed_button_press_answers_on_response_url(
    session: aiohttp.ClientSession, slack_http: Any
) -> None:
    url, _, store, endpoint = slack_http
    async with FakeSlack(APP_TOKEN) as slack:
        payload = {
            "type": "block_actions", "user": {"id": "U42", "username": "duty"},
            "channel": {"id": SLACK_CHANNEL}, "container": {"message_ts": "1700000000.000100"},
            "response_url": slack.response_url(),
            "actions": [{"action_id": "ack", "value": "5b923ef3734ac632be67", "type": "button"}],
        }  # fmt: skip
        body = urlencode({"payload": orjson.dumps(payload).decode()}).encode()
        async with session.post(
            f"{url}/slack/interactive", data=body, headers=_sign(body, NOW_S)
        ) as r:
            assert r.status == 200
        await endpoint.drain()
    assert len(slack.responses) == 1 and "not enabled" in slack.responses[0]["text"]
    assert slack.responses[0]["replace_original"] is False
    assert store.audits[-1]["command"] == "button:ack" and store.audits[-1]["args"] == [
        "5b923ef3734ac632be67"
    ]


# -- Slack Socket Mode ---------------------------------------------------------------------


async def test_slack_socket_mode_acks_envelopes_and_answers(session: aiohttp.ClientSession) -> None:
    handler, store = _handler()
    async with FakeSlack(APP_TOKEN) as slack:
        socket = SlackSocketMode(Secret(APP_TOKEN), handler, session, api_url=slack.api_url)
        await socket.start()
        try:
            allowed = slack.envelope(
                "slash_commands",
                {"command": "/mute", "text": "RSD352 2h", "channel_id": SLACK_CHANNEL,
                 "user_id": "U42", "user_name": "duty"},
            )  # fmt: skip
            refused = slack.envelope(
                "slash_commands",
                {"command": "/watch", "text": "1551e0", "channel_id": "C0OTHER", "user_id": "U9"},
            )
            pressed = slack.envelope(
                "interactive",
                {"type": "block_actions", "user": {"id": "U42"}, "channel": {"id": SLACK_CHANNEL},
                 "response_url": slack.response_url(),
                 "actions": [{"action_id": "ack", "value": "e1"}]},
            )  # fmt: skip
            deadline = time.monotonic() + 10
            while (len(slack.acks) < 3 or not slack.responses) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            await socket.stop()
    acks = {a["envelope_id"]: a for a in slack.acks}
    assert set(acks) == {allowed, refused, pressed}
    assert "Muted RSD352" in acks[allowed]["payload"]["text"]
    assert acks[refused]["payload"]["response_type"] == "ephemeral"
    assert "not allowed" in acks[refused]["payload"]["text"]
    assert "payload" not in acks[pressed] or not acks[pressed]["payload"]
    assert "not enabled" in slack.responses[0]["text"]
    assert set(handler.state.mutes) == {"RSD352"} and handler.state.watches == {}
    assert [a["outcome"] for a in store.audits] == ["ok", "refused", "error"]  # no ack handler yet
    assert slack.opens == 1


# -- the notifier honours a chat mute ------------------------------------------------------


def _event(icao24: str, observed_ts: float) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id(icao24, "dprk", "entered", observed_ts), type=EventType.ENTERED,
        icao24=icao24, zone="dprk", ts=observed_ts - 5, lat=40.1, lon=124.4,
        observed_ts=observed_ts, callsign="RSD352" if icao24 == "1551e0" else "CCA123",
        confidence=Confidence.OBSERVED, alt_ft=30000,
    )  # fmt: skip


async def test_notifier_suppresses_muted_aircraft_until_the_mute_ends() -> None:
    clock = VirtualClock(NOW_S)
    handler, _ = _handler(clock=clock.time)
    desk = ListChannel("slack", local=False)
    console = io.StringIO()
    registry = CollectorRegistry()
    notifier = Notifier(
        [desk, ConsoleChannel(console)], NotifierMetrics(registry),
        clock=clock.time, monotonic=clock.monotonic, sleep=clock.sleep,
    )  # fmt: skip
    notifier.mutes = lambda event, now_s: handler.state.muted(event.icao24, event.callsign, now_s)
    await notifier.start()
    reply = await handler.on_command(_cmd("/mute 1551e0 1h"))
    assert reply.ok
    await notifier.handle(encode_event(_event("1551e0", NOW_S)))
    await notifier.handle(encode_event(_event("780a1b", NOW_S)))
    clock.now_s += 3601  # the mute has run out
    await notifier.handle(encode_event(_event("1551e0", NOW_S + 3601)))
    assert await notifier.drain(5)
    await notifier.close()
    assert [(e.icao24, e.observed_ts) for e in desk.events] == [
        ("780a1b", NOW_S),
        ("1551e0", NOW_S + 3601),
    ]
    assert console.getvalue().count("ENTERED") == 3  # the operator's log still shows it
    suppressed = [e for e in notifier.entries() if e.state is EntryState.SUPPRESSED]
    assert [(e.channel, e.reason) for e in suppressed] == [("slack", "muted")]
    assert (
        registry.get_sample_value(
            "skyfence_deliveries_total", {"channel": "slack", "outcome": "suppressed"}
        )
        == 1
    )
    assert (
        registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "suppressed_muted"})
        == 1
    )
    assert status_from_registry(registry)["deliveries"]["suppressed"] == 1


def _cmd(text: str) -> Any:
    from alerts.commands import parse_command

    return parse_command(text, _actor(), at_s=NOW_S)


# -- settings: off by default, secrets required when enabled, redacted ---------------------


def test_chat_is_off_unless_configured_and_needs_its_secrets(tmp_path: Any) -> None:
    from alerts.chat.runtime import ChatRuntime
    from alerts.config import AlertSettings
    from streams.errors import ConfigError

    assert ChatRuntime.from_settings(AlertSettings(), env={}) is None
    with pytest.raises(ConfigError, match="SKYFENCE_SLACK_SIGNING_SECRET"):
        ChatRuntime.from_settings(AlertSettings(chat_slack_http=True), env={})
    with pytest.raises(ConfigError, match="SKYFENCE_TELEGRAM_TOKEN"):
        ChatRuntime.from_settings(AlertSettings(chat_telegram=True), env={})
    secret_file = tmp_path / "signing"
    secret_file.write_text(SIGNING + "\n")
    runtime = ChatRuntime.from_settings(
        AlertSettings(chat_slack_http=True, chat_allowed_chats="slack:C0DESK"),
        env={"SKYFENCE_SLACK_SIGNING_SECRET_FILE": str(secret_file)},
    )
    assert runtime is not None and runtime.desk.access.allows(SLACK_USER_ACTOR)


async def test_slack_routes_answer_503_until_the_runtime_starts(
    session: aiohttp.ClientSession,
) -> None:
    from alerts.chat.runtime import ChatRuntime
    from alerts.config import AlertSettings

    runtime = ChatRuntime.from_settings(
        AlertSettings(chat_slack_http=True, chat_allowed_chats="C0DESK"),
        env={"SKYFENCE_SLACK_SIGNING_SECRET": SIGNING},
    )
    assert runtime is not None
    app = web.Application()
    runtime.install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/slack/commands"
        body = _slash("1551e0 6h")
        async with session.post(url, data=body, headers=_sign(body, time.time())) as r:
            assert r.status == 503
    finally:
        await runner.cleanup()
    assert runtime.state == DeskState()


def test_config_check_redacts_the_chat_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.cli import main

    values = {
        "SKYFENCE_SLACK_APP_TOKEN": "xapp-1-FAKE-app-token-77",
        "SKYFENCE_SLACK_SIGNING_SECRET": "FAKE-signing-secret-88",
        "SKYFENCE_SLACK_BOT_TOKEN": "xoxb-FAKE-bot-token-99",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SKYFENCE_CHAT_SLACK_SOCKET", "true")
    monkeypatch.setenv("SKYFENCE_CHAT_ALLOWED_CHATS", "slack:C0DESK")
    assert main(["config", "check"]) == 0
    out, err = capsys.readouterr()
    for name, value in values.items():
        assert f"{name}=<set>" in out
        assert value not in out + err
    assert "SKYFENCE_CHAT_SLACK_SOCKET=true" in out
    monkeypatch.delenv("SKYFENCE_SLACK_APP_TOKEN")
    assert main(["config", "check"]) == 2
    assert (
        "SKYFENCE_SLACK_APP_TOKEN: SKYFENCE_CHAT_SLACK_SOCKET needs it" in capsys.readouterr().err
    )


async def test_slack_socket_mode_button_without_response_url_posts_in_thread(
    session: aiohttp.ClientSession,
) -> None:
    handler, _ = _handler()
    async with FakeSlack(APP_TOKEN, bot_token="xoxb-desk") as slack:
        socket = SlackSocketMode(
            Secret(APP_TOKEN),
            handler,
            session,
            api_url=slack.api_url,
            bot_token=Secret("xoxb-desk"),
        )
        await socket.start()
        try:
            slack.envelope(
                "interactive",
                {"type": "block_actions", "user": {"id": "U42"}, "channel": {"id": SLACK_CHANNEL},
                 "container": {"message_ts": "1700000000.000100"},
                 "actions": [{"action_id": "ack", "value": "e1"}]},
            )  # fmt: skip
            await asyncio.wait_for(slack.responded.wait(), 10)
        finally:
            await socket.stop()
    assert slack.posted == [
        {
            "channel": SLACK_CHANNEL,
            "text": slack.posted[0]["text"],
            "thread_ts": "1700000000.000100",
        }
    ]
    assert "not enabled" in slack.posted[0]["text"]


async def test_expired_mutes_are_swept_with_tombstones() -> None:
    from alerts.chat.runtime import ChatRuntime
    from alerts.config import AlertSettings

    clock = VirtualClock(NOW_S)
    runtime = ChatRuntime(AlertSettings(chat_allowed_chats=DESK_CHAT), clock=clock.time)
    store = MemoryDeskStore()
    runtime._store.target = store  # what start() does with the Kafka store
    assert (await runtime.handler.on_command(_cmd("/mute 1551e0 1h"))).ok
    assert (await runtime.handler.on_command(_cmd("/mute RSD352 2h"))).ok
    assert await runtime.sweep_expired() == 0
    clock.now_s += 3600
    assert await runtime.sweep_expired() == 1
    assert store.records[-1] == ("mute:1551e0", None)
    assert set(runtime.state.mutes) == {"RSD352"}


async def test_watch_feeds_the_enricher_and_the_worker_view_answers() -> None:
    from alerts.chat.handler import WorkerView
    from alerts.chat.runtime import ChatRuntime
    from alerts.config import AlertSettings
    from alerts.desk_http import DeskServer
    from alerts.enrich import Enricher
    from streams.zones import load_zones

    zones = load_zones(["dprk"])
    enricher = Enricher(zones)
    desk = DeskServer(zones)
    desk.on_event(_event("1551e0", NOW_S))
    runtime = ChatRuntime(AlertSettings(chat_allowed_chats=DESK_CHAT), clock=lambda: NOW_S)
    runtime._store.target = MemoryDeskStore()
    runtime.attach_enricher(enricher)
    runtime.desk.view = WorkerView(desk, enricher, lambda: {"lag_messages": 3})
    assert enricher.facts("1551e0").entries == ()
    assert (await runtime.handler.on_command(_cmd("/watch 1551e0"))).ok
    facts = enricher.facts("1551e0")
    assert [e.list_name for e in facts.entries] == ["desk-chat"]
    answer = (await runtime.handler.on_command(_cmd("/aircraft 1551e0"))).text
    assert "on desk-chat" in answer and "entered dprk" in answer and "Russia" in answer
    assert "consumer lag: 3" in (await runtime.handler.on_command(_cmd("/status"))).text
    assert (await runtime.handler.on_command(_cmd("/unwatch 1551e0"))).ok
    assert enricher.facts("1551e0").entries == ()


# -- the transports' parsing of hostile payloads -------------------------------------------


@pytest.mark.parametrize(
    "update",
    [
        None, [], {"update_id": 1}, {"message": None}, {"message": {"text": 5, "chat": {"id": 1}}},
        {"message": {"text": "/inside", "chat": "x"}}, {"message": {"text": "/inside", "chat": {}}},
        {"callback_query": {"data": 5, "from": {"id": 1}}}, {"callback_query": {"data": "ack:x"}},
        {"callback_query": {"data": "ack:x", "from": "me"}}, {"edited_message": {"text": "/mute"}},
    ],
)  # fmt: skip
def test_telegram_malformed_updates_are_ignored(update: Any) -> None:
    from alerts.chat.telegram import parse_update

    assert parse_update(update) is None


def test_telegram_offsets_and_bounded_fields() -> None:
    from alerts.chat.telegram import next_offset, parse_update

    assert next_offset([{"update_id": 5}, {"update_id": 9}, {"x": 1}, "junk"], None) == 10
    assert next_offset([], 7) == 7 and next_offset([{"update_id": 3}], 7) == 7
    press = parse_update(
        {
            "callback_query": {
                "data": "a" * 100 + ":" + "e" * 200,
                "from": {"id": 1},
                "message": {"chat": {"id": 2}},
            }
        }
    )
    assert isinstance(press, ButtonPress) and len(press.action) == 32 and len(press.event_id) == 64
    assert press.message_ref == ""  # no message id: nothing to reply to


def test_slack_payload_parsing() -> None:
    from alerts.chat.slack import button_presses, slash_command

    command = slash_command(
        {"command": "/skyfence", "text": "mute 1551e0 6h", "channel_id": "C1", "user_id": "U1"}
    )
    assert command is not None and (command.name, command.args) == ("mute", ("1551e0", "6h"))
    empty = slash_command({"command": "/skyfence", "text": ""})
    assert empty is not None and empty.name == "help"
    assert slash_command({"command": "not-a-command", "text": "x"}) is None
    assert button_presses({"type": "view_submission"}) == []
    assert button_presses({"type": "block_actions", "user": "x", "actions": [{}]}) == []
    presses = button_presses(
        {"type": "block_actions", "user": {"id": "U1"}, "container": {"channel_id": "C2", "message_ts": "1.5"},
         "actions": ["junk", {"action_id": "ack", "value": "e9"}]}
    )  # fmt: skip
    assert [(p.action, p.event_id, p.message_ref, p.actor.chat_id) for p in presses] == [
        ("ack", "e9", "C2:1.5", "C2")
    ]
