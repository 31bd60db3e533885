"""Acknowledge and escalate through the notifier, without Kafka: an injected clock, restarts
on the same (in-memory) tables, the button handler, and fake Slack and Telegram servers."""

from __future__ import annotations

import dataclasses
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from alerts.acks import AckHandler
from alerts.channels.base import ListChannel
from alerts.channels.slack import SlackApiChannel
from alerts.channels.telegram import TelegramChannel
from alerts.escalation import EscalationState, button_from_slack, button_from_telegram
from alerts.interact import Actor, ButtonPress
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier
from alerts.outbox import DictOutbox, EntryState
from alerts.routing import Router
from alerts.routing_config import RoutingConfig
from alerts.secrets import Secret
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from tests.fakes import FakeSlackApi, FakeTelegram
from tests.fakes.clock import VirtualClock

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_000_000.0

ROUTING = """
[channels.desk]
kind = "console"
[channels.duty]
kind = "console"

[[rules]]
name = "state aircraft into dprk"
zones = ["dprk"]
callsign = "RSD*"
channels = ["desk"]
priority = true
escalate_after = "10m"
escalate_to = ["duty"]
stop = true

[[rules]]
name = "the rest"
channels = ["desk"]
"""


def _event(observed_ts: float = T0, callsign: str = "RSD352", icao24: str = "1551e0") -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id(icao24, "dprk", "entered", observed_ts), type=EventType.ENTERED,
        icao24=icao24, zone="dprk", ts=observed_ts - 5, lat=40.13685, lon=124.40787,
        observed_ts=observed_ts, callsign=callsign, confidence=Confidence.OBSERVED, alt_ft=30000,
    )  # fmt: skip


class Tables:
    """The notifier's two tables, kept across "restarts" (as their changelogs would be)."""

    def __init__(self) -> None:
        self.outbox = DictOutbox()
        self.escalations = DictOutbox()


def _notifier(
    channels: list[Any], clock: VirtualClock, tables: Tables, routing: str = ROUTING,
    registry: CollectorRegistry | None = None,
) -> Notifier:  # fmt: skip
    config = RoutingConfig.from_toml(routing)
    # Same channel names as the routing file; ListChannels record what they were given.
    notifier = Notifier(
        channels, NotifierMetrics(registry or CollectorRegistry()), router=Router(config), outbox=tables.outbox,
        clock=clock.time, monotonic=clock.monotonic, sleep=clock.sleep, rand=lambda: 0.5,
    )  # fmt: skip
    notifier.escalations = tables.escalations
    return notifier


def _channels() -> tuple[ListChannel, ListChannel]:
    return ListChannel("desk"), ListChannel("duty")


async def test_priority_alert_carries_the_button_and_others_do_not() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    await notifier.start()
    priority, plain = _event(), _event(T0 + 1, callsign="AFL123", icao24="155555")
    await notifier.handle(encode_event(priority))
    await notifier.handle(encode_event(plain))
    assert await notifier.drain(5)
    await notifier.close()
    assert [e.event_id for e in desk.events] == [priority.event_id, plain.event_id]
    assert desk.buttons == [priority.event_id]
    record = notifier.escalation(priority.event_id)
    assert record is not None and record.state is EscalationState.WAITING
    assert record.deadline_s == T0 + 600 and record.escalate_to == ("duty",)
    assert record.refs == {"desk": "desk:1"}  # the delivered message, where replies go
    assert notifier.escalation(plain.event_id) is None


async def test_unacknowledged_alert_escalates_once_at_its_deadline() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    await notifier.start()
    event = _event()
    await notifier.handle(encode_event(event))
    assert await notifier.drain(5)
    assert notifier.fire_escalations(T0 + 599.9) == 0
    assert notifier.fire_escalations(T0 + 600.0) == 1
    assert notifier.fire_escalations(T0 + 600.0) == 0
    assert notifier.fire_escalations(T0 + 9999) == 0
    assert await notifier.drain(5)
    await notifier.close()
    # The escalation, with the button, in the second channel ...
    assert duty.events == [] and len(duty.notes) == 1
    text, reply_to, ack_id = duty.notes[0]
    assert text.startswith("ESCALATED, not acknowledged within 10 min: ") and "RSD352" in text
    assert (reply_to, ack_id) == (None, event.event_id)
    # ... and a note in the alert's thread.
    assert desk.notes == [("Escalated to duty: not acknowledged within 10 min", "desk:1", None)]
    record = notifier.escalation(event.event_id)
    assert record is not None and record.state is EscalationState.ESCALATED
    assert {e.event_id: e.state for e in notifier.entries()} == {
        event.event_id: EntryState.DELIVERED,
        f"{event.event_id}~esc": EntryState.DELIVERED,
        f"{event.event_id}~escnote": EntryState.DELIVERED,
    }


@pytest.mark.parametrize("restart_at_s", [1.0, 300.0, 599.0])
async def test_restart_between_alert_and_deadline_escalates_exactly_once(restart_at_s: float) -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    first = _notifier([desk, duty], clock, tables)
    await first.start()
    event = _event()
    await first.handle(encode_event(event))
    assert await first.drain(5)
    assert first.fire_escalations(T0 + restart_at_s) == 0
    await first.close()  # the worker goes away before the deadline

    clock.now_s = T0 + restart_at_s + 1
    second = _notifier([desk, duty], clock, tables)  # a new process, the same tables
    second.restore()
    await second.start()
    await second.handle(encode_event(event))  # the event read again (offset not committed)
    assert second.fire_escalations(T0 + 599.0) == 0
    assert second.fire_escalations(T0 + 600.0) == 1  # not never
    assert await second.drain(5)
    await second.close()

    third = _notifier([desk, duty], clock, tables)  # and once more, after the escalation
    third.restore()
    await third.start()
    assert third.fire_escalations(T0 + 10_000) == 0  # not twice
    assert await third.drain(5)
    await third.close()
    assert len(desk.events) == 1 and len(duty.notes) == 1 and len(desk.notes) == 1


async def test_crash_after_queueing_the_escalation_does_not_send_it_twice() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    first = _notifier([desk, duty], clock, tables)
    await first.start()
    event = _event()
    await first.handle(encode_event(event))
    assert await first.drain(5)
    await first.stop()  # delivery tasks gone: what fires now stays pending in the outbox
    # The record write is lost (the crash came between the outbox entries and the record).
    record_before = tables.escalations.get(event.event_id.encode())
    assert first.fire_escalations(T0 + 600) == 1
    assert record_before is not None
    tables.escalations.put(0, event.event_id.encode(), record_before)

    second = _notifier([desk, duty], clock, tables)
    assert second.restore() == 2  # the escalation and its thread note, still pending
    await second.start()
    assert second.fire_escalations(T0 + 601) == 1  # the record said waiting: fires again ...
    assert await second.drain(5)
    await second.close()
    assert len(duty.notes) == 1 and len(desk.notes) == 1  # ... but the entries exist: sent once


async def test_acknowledge_cancels_the_escalation_and_posts_in_the_thread() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    handler = AckHandler(notifier, allowed_chats=[("telegram", "-100")], clock=clock.time)
    await notifier.start()
    event = _event()
    await notifier.handle(encode_event(event))
    assert await notifier.drain(5)
    kim = Actor("telegram", "-100", "42", "kim")

    stranger = await handler.on_button(ButtonPress(Actor("telegram", "-999", "7", "eve"), "ack", event.event_id))
    assert not stranger.ok and notifier.escalation(event.event_id).state is EscalationState.WAITING  # type: ignore[union-attr]
    unknown = await handler.on_button(ButtonPress(kim, "ack", "0" * 20))
    assert not unknown.ok and "No priority alert" in unknown.text
    other = await handler.on_button(ButtonPress(kim, "mute", event.event_id))
    assert not other.ok
    assert handler.refused == 3

    clock.now_s = T0 + 120
    reply = await handler.on_button(ButtonPress(kim, "ack", event.event_id))
    assert (reply.ok, reply.text, reply.extra.get("posted")) == (True, "Acknowledged by kim", "thread")
    again = await handler.on_button(ButtonPress(Actor("telegram", "-100", "43", "lee"), "ack", event.event_id))
    assert (again.ok, again.text) == (True, "Already acknowledged by kim") and "posted" not in again.extra
    assert notifier.fire_escalations(T0 + 600) == 0
    assert await notifier.drain(5)
    await notifier.close()
    assert desk.notes == [("Acknowledged by kim", "desk:1", None)]
    assert duty.notes == [] and duty.events == []
    record = notifier.escalation(event.event_id)
    assert record is not None
    assert (record.state, record.acked_by, record.acked_s) == (EscalationState.ACKNOWLEDGED, "kim", T0 + 120)


async def test_acknowledge_after_escalation_tells_both_channels() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    handler = AckHandler(notifier, allowed_users=[("slack", "U1")], clock=clock.time)
    await notifier.start()
    event = _event()
    await notifier.handle(encode_event(event))
    assert await notifier.drain(5)
    assert notifier.fire_escalations(T0 + 600) == 1
    reply = await handler.on_button(ButtonPress(Actor("slack", "CX", "U1", "duty officer"), "ack", event.event_id))
    assert reply.ok and reply.text == "Acknowledged by duty officer"
    assert await notifier.drain(5)
    await notifier.close()
    assert [n[0] for n in desk.notes] == [
        "Escalated to duty: not acknowledged within 10 min", "Acknowledged by duty officer",
    ]  # fmt: skip
    assert [n[0].split(":")[0] for n in duty.notes] == ["ESCALATED, not acknowledged within 10 min", "Acknowledged by duty officer"]


# --- real HTTP channels against fake Telegram and Slack servers ---------------------------------


async def test_telegram_button_reply_and_callback_query_end_to_end() -> None:
    clock, tables = VirtualClock(T0), Tables()
    async with aiohttp.ClientSession() as session, FakeTelegram() as tg, FakeSlackApi() as slack:
        routing = f"""
[channels.tg]
kind = "telegram"
token_env = "TG"
chat_id = "{tg.chat_id}"
[channels.slack]
kind = "slack_api"
token_env = "SLACK"
channel_id = "{slack.channel}"
[[rules]]
name = "p"
channels = ["tg"]
priority = true
escalate_after = "90s"
escalate_to = ["slack"]
"""
        telegram = TelegramChannel(Secret(tg.token), tg.chat_id, session, base_url=tg.url, name="tg")
        slack_api = SlackApiChannel(Secret(slack.token), slack.channel, session, base_url=slack.api_url, name="slack")
        notifier = _notifier([telegram, slack_api], clock, tables, routing)
        handler = AckHandler(notifier, clock=clock.time)  # default: the channels' own chats
        await notifier.start()
        event = _event()
        await notifier.handle(encode_event(event))
        assert await notifier.drain(5)
        [alert] = tg.requests
        assert alert.json["reply_markup"] == {
            "inline_keyboard": [[{"text": "Acknowledge", "callback_data": f"ack:{event.event_id}"}]]
        }
        assert notifier.escalation(event.event_id).refs == {"tg": f"{tg.chat_id}:1"}  # type: ignore[union-attr]

        assert notifier.fire_escalations(T0 + 90) == 1
        assert await notifier.drain(5)
        [note] = tg.requests[1:]
        assert note.json["reply_to_message_id"] == 1 and "Escalated to slack" in note.json["text"]
        [escalation] = slack.routed("chat.postMessage")
        assert escalation.json["blocks"][-1]["elements"][0]["value"] == event.event_id
        assert "thread_ts" not in escalation.json

        # The press arrives as Telegram sends it.
        update = {
            "update_id": 1,
            "callback_query": {
                "id": "1", "from": {"id": 42, "username": "kim"}, "data": f"ack:{event.event_id}",
                "message": {"message_id": 1, "date": int(T0 + 100), "chat": {"id": int(tg.chat_id)}},
            },
        }  # fmt: skip
        press = button_from_telegram(update)
        assert press is not None
        reply = await handler.on_button(press)
        assert reply.ok and reply.text == "Acknowledged by kim"
        # A Slack press of the escalation's button: that channel is allowed too.
        slack_press = button_from_slack({
            "type": "block_actions", "user": {"id": "U9", "username": "lee"}, "channel": {"id": slack.channel},
            "container": {"message_ts": "1700000000.000100"},
            "actions": [{"action_id": "ack", "value": event.event_id}],
        })  # fmt: skip
        assert slack_press is not None
        again = await handler.on_button(slack_press)
        assert again.text == "Already acknowledged by kim"
        assert await notifier.drain(5)
        await notifier.close()
    ack_note = tg.requests[-1].json
    assert ack_note["text"] == "Acknowledged by kim" and ack_note["reply_to_message_id"] == 1
    slack_ack = slack.routed("chat.postMessage")[-1].json
    assert slack_ack["text"].startswith("Acknowledged by kim: ")


async def test_slack_api_alert_threads_follow_ups_under_the_alert() -> None:
    clock, tables = VirtualClock(T0), Tables()
    async with aiohttp.ClientSession() as session, FakeSlackApi() as slack:
        routing = f"""
[channels.slack]
kind = "slack_api"
token_env = "SLACK"
channel_id = "{slack.channel}"
[channels.duty]
kind = "console"
[[rules]]
name = "p"
channels = ["slack"]
priority = true
escalate_after = 60
escalate_to = ["duty"]
"""
        api = SlackApiChannel(Secret(slack.token), slack.channel, session, base_url=slack.api_url, name="slack")
        duty = ListChannel("duty")
        notifier = _notifier([api, duty], clock, tables, routing)
        await notifier.start()
        event = _event()
        await notifier.handle(encode_event(event))
        assert await notifier.drain(5)
        [alert] = slack.routed("chat.postMessage")
        assert alert.json["blocks"][-1] == {
            "type": "actions", "block_id": "skyfence_ack",
            "elements": [{"type": "button", "action_id": "ack", "value": event.event_id, "style": "primary",
                          "text": {"type": "plain_text", "text": "Acknowledge", "emoji": False}}],
        }  # fmt: skip
        assert notifier.fire_escalations(T0 + 60) == 1
        assert await notifier.drain(5)
        await notifier.close()
    note = slack.routed("chat.postMessage")[-1].json
    assert note["thread_ts"] == "1700000000.000100" and note["text"].startswith("Escalated to duty")
    assert duty.notes[0][2] == event.event_id


async def test_backlog_events_open_no_escalation_and_metrics_count_outcomes() -> None:
    clock, tables = VirtualClock(T0 + 3600), Tables()  # the event is an hour old: a backlog
    desk, duty = ListChannel("desk", local=False), ListChannel("duty", local=False)
    registry = CollectorRegistry()
    notifier = _notifier([desk, duty], clock, tables, registry=registry)
    await notifier.start()
    old = _event()
    await notifier.handle(encode_event(old))
    fresh = _event(T0 + 3600, icao24="155556")
    await notifier.handle(encode_event(fresh))
    assert await notifier.drain(5)
    assert notifier.escalation(old.event_id) is None  # held from the desk: nobody is asked
    assert notifier.fire_escalations(T0 + 3600 + 600) == 1  # the live one escalates
    handler = AckHandler(notifier, allowed_users=[("slack", "U1")], clock=clock.time)
    assert (await handler.on_button(ButtonPress(Actor("slack", "C", "U1", "kim"), "ack", fresh.event_id))).ok
    assert await notifier.drain(5)
    await notifier.close()
    counts = {
        o: registry.get_sample_value("skyfence_escalations_total", {"outcome": o})
        for o in ("opened", "escalated", "acknowledged")
    }
    assert counts == {"opened": 1.0, "escalated": 1.0, "acknowledged": 1.0}
    assert [e.event_id for e in desk.events] == [fresh.event_id]


async def test_a_rebalance_hands_the_deadline_to_the_new_owner() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk_a, duty_a = _channels()
    desk_b, duty_b = _channels()
    a = _notifier([desk_a, duty_a], clock, tables)
    b = _notifier([desk_b, duty_b], clock, tables)  # another worker; the tables' changelog
    a.owned, b.owned = set(), set()
    await a.start()
    await b.start()
    event = _event()
    await a.handle(encode_event(event), partition=2)
    assert await a.drain(5)
    a.revoke({2})  # partition 2 moves from a to b
    b.restore({2})
    assert a.fire_escalations(T0 + 600) == 0  # not a's any more
    assert b.fire_escalations(T0 + 599) == 0
    assert b.fire_escalations(T0 + 600) == 1
    assert await b.drain(5)
    await a.close()
    await b.close()
    assert (len(duty_a.notes), len(duty_b.notes)) == (0, 1)
    assert desk_b.notes[0][1] == "desk:1"  # the thread a's delivery recorded


async def test_a_stalled_notifier_escalates_nothing_until_the_fence_lifts() -> None:
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    notifier.policy = dataclasses.replace(notifier.policy, stall_s=10.0, stall_hold_s=30.0)
    await notifier.handle(encode_event(_event()))
    assert not notifier.fenced()
    clock.now_s = T0 + 600  # the process did not run for 10 minutes (SIGSTOP, a VM freeze)
    assert notifier.fire_escalations() == 0 and notifier.stalls == 1
    for t in range(602, 632, 2):  # the stall watch ticks again while the hold runs
        clock.now_s = T0 + t
        notifier.fenced()
    clock.now_s = T0 + 632  # the hold is over (or a rebalance completed)
    assert notifier.fire_escalations() == 1 and notifier.stalls == 1


async def test_a_chat_transport_press_acknowledges_through_the_chat_allow_lists() -> None:
    """The wiring a worker with chat configured uses (``ChatRuntime.start``): Telegram's
    ``getUpdates`` -> the chat handler (its allow lists) -> :class:`AckHandler` -> the
    notifier. The presser gets the toast; the thread note goes through the outbox, so the
    transport posts no second message."""
    from alerts.chat.handler import ChatCommands
    from alerts.chat.store import MemoryDeskStore
    from alerts.chat.telegram import TelegramPoller
    from alerts.commands import Access, CommandDesk, DeskState
    from tests.fakes.chat import FakeTelegramBot

    token = "123456:telegram-test-token"
    clock, tables = VirtualClock(T0), Tables()
    desk, duty = _channels()
    notifier = _notifier([desk, duty], clock, tables)
    await notifier.start()
    event = _event()
    await notifier.handle(encode_event(event))
    assert await notifier.drain(5)
    access = Access.parse("-1001")
    acks = AckHandler(notifier, clock=clock.time, access=access.allows)
    handler = ChatCommands(
        CommandDesk(access, DeskState(), None),  # type: ignore[arg-type]
        MemoryDeskStore(), clock=clock.time, on_button=acks.on_button,
    )  # fmt: skip

    def press(update_id: int, chat: int) -> dict[str, Any]:
        return {
            "update_id": update_id,
            "callback_query": {
                "id": f"cbq-{update_id}", "data": f"ack:{event.event_id}",
                "from": {"id": 42, "username": "kim"},
                "message": {"message_id": 900, "chat": {"id": chat}},
            },
        }  # fmt: skip

    clock.now_s = T0 + 60
    async with aiohttp.ClientSession() as session, FakeTelegramBot(token) as bot:
        bot.batches.append([press(1, -77), press(2, -1001), press(3, -1001)])
        await TelegramPoller(Secret(token), session, handler, api_url=bot.url).run(max_polls=1)
    assert [a["text"] for a in bot.answered] == [
        "You are not allowed to act on skyfence alerts here.",
        "Acknowledged by kim",
        "Already acknowledged by kim",
    ]
    # The acknowledgement itself is not sent again as a chat message: it is the thread note.
    assert [m["text"] for m in bot.sent] == [
        "You are not allowed to act on skyfence alerts here.",
        "Already acknowledged by kim",
    ]
    record = notifier.escalation(event.event_id)
    assert record is not None and record.state is EscalationState.ACKNOWLEDGED
    assert notifier.fire_escalations(T0 + 600) == 0
    assert await notifier.drain(5)
    await notifier.close()
    assert desk.notes == [("Acknowledged by kim", "desk:1", None)] and duty.events == []
