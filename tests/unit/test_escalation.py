"""Acknowledge and escalate, the pure part: the state machine, deadlines as data, the record
codec, the due heap, the routing keys and the button payloads (render and platform)."""

from __future__ import annotations

import orjson
import pytest

from alerts.errors import RoutingConfigError
from alerts.escalation import (
    DueHeap,
    EscalationState,
    acknowledge,
    button_from_slack,
    button_from_telegram,
    decode_escalation,
    due,
    encode_escalation,
    escalate,
    format_duration,
    new_escalation,
    with_ref,
)
from alerts.render import (
    TELEGRAM_CALLBACK_DATA_MAX,
    slack_ack_block,
    slack_note,
    telegram_ack_markup,
    telegram_note,
)
from alerts.routing import Router
from alerts.routing_config import RoutingConfig
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id

T0 = 1_700_000_000.0
EID = make_event_id("1551e0", "dprk", "entered", T0)


def _record(after_s: float | None = 600.0, to: tuple[str, ...] = ("duty",)):  # type: ignore[no-untyped-def]
    return new_escalation(
        EID, 3, accepted_s=T0, escalate_after_s=after_s, escalate_to=to,
        channels=("desk",), headline="RSD352 entered DPRK", event=b'{"v":1}',
    )  # fmt: skip


# --- the state machine ------------------------------------------------------------------


def test_waiting_alert_is_due_at_its_deadline_and_escalates_once() -> None:
    rec = _record()
    assert rec.state is EscalationState.WAITING and rec.deadline_s == T0 + 600
    assert not due(rec, T0 + 599.999)
    assert due(rec, T0 + 600) and due(rec, T0 + 10_000)
    escalated = escalate(rec, T0 + 601)
    assert escalated.state is EscalationState.ESCALATED and escalated.escalated_s == T0 + 601
    # Never due again: a second tick, a restart or a rebalance cannot escalate twice.
    assert not due(escalated, T0 + 10_000)
    with pytest.raises(ValueError, match="not due"):
        escalate(escalated, T0 + 10_000)
    with pytest.raises(ValueError, match="not due"):
        escalate(rec, T0 + 1)


def test_acknowledgement_cancels_escalation_and_is_idempotent() -> None:
    first = acknowledge(_record(), "kim", T0 + 60)
    assert first.changed and first.text == "Acknowledged by kim"
    assert first.record.state is EscalationState.ACKNOWLEDGED
    assert not due(first.record, T0 + 10_000)
    second = acknowledge(first.record, "lee", T0 + 70)
    assert not second.changed and second.record == first.record
    assert second.text == "Already acknowledged by kim"


def test_acknowledgement_after_escalation_keeps_when_it_escalated() -> None:
    escalated = escalate(_record(), T0 + 600)
    taken = acknowledge(escalated, "duty officer", T0 + 700).record
    assert taken.state is EscalationState.ACKNOWLEDGED
    assert (taken.escalated_s, taken.acked_by, taken.acked_s) == (T0 + 600, "duty officer", T0 + 700)


def test_priority_without_escalation_never_falls_due() -> None:
    for rec in (_record(after_s=None), _record(to=())):
        assert rec.deadline_s is None and rec.escalate_to == ()
        assert not due(rec, T0 + 1e9)


def test_record_round_trips_and_garbage_is_a_value_error() -> None:
    rec = with_ref(escalate(_record(), T0 + 600), "desk", "C123:1700000000.000100")
    rec = acknowledge(rec, "kim", T0 + 601).record
    assert decode_escalation(encode_escalation(rec)) == rec
    assert encode_escalation(rec).startswith(b"3|")
    plain = _record(after_s=None)
    assert decode_escalation(encode_escalation(plain)) == plain
    for bad in (b"", b"no-partition", b"1|{", b"1|[]", b'1|{"id": "x"}', b'x|{"id":"x","st":"waiting","a":1}',
                b'1|{"id":"x","st":"nope","a":1}', b'1|{"id":"x","st":"waiting","a":1,"refs":[1]}'):  # fmt: skip
        with pytest.raises(ValueError):
            decode_escalation(bad)


def test_due_heap_pops_each_due_id_once_in_deadline_order() -> None:
    heap = DueHeap()
    heap.push(T0 + 20, "b")
    heap.push(T0 + 10, "a")
    heap.push(T0 + 10, "a")  # pushed again on restore: popped once
    heap.push(T0 + 30, "c")
    assert heap.pop_due(T0 + 5) == []
    assert heap.pop_due(T0 + 20) == ["a", "b"]
    assert len(heap) == 1 and heap.pop_due(T0 + 1e6) == ["c"] and len(heap) == 0


def test_durations_read_as_a_desk_says_them() -> None:
    assert [format_duration(s) for s in (600, 90, 7200, 45, 2.5)] == [
        "10 min", "90 s", "2 h", "45 s", "2.5 s",
    ]  # fmt: skip


# --- routing keys -----------------------------------------------------------------------

_CHANNELS = """
[channels.desk]
kind = "console"
[channels.duty]
kind = "console"
"""


def _routing(rule: str) -> RoutingConfig:
    return RoutingConfig.from_toml(_CHANNELS + '[[rules]]\nname = "r"\nchannels = ["desk"]\n' + rule)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [('"10m"', 600.0), ('"90s"', 90.0), ('"1h"', 3600.0), ('"2.5min"', 150.0), ("30", 30.0), ("0.5", 0.5)],
)
def test_escalate_after_accepts_durations(value: str, seconds: float) -> None:
    rule = _routing(f'priority = true\nescalate_after = {value}\nescalate_to = ["duty"]\n').rules[0]
    assert (rule.priority, rule.escalate_after_s, rule.escalate_to) == (True, seconds, ("duty",))


def test_rules_without_the_new_keys_are_unchanged() -> None:
    rule = _routing("").rules[0]
    assert (rule.priority, rule.escalate_after_s, rule.escalate_to) == (False, None, ())
    rule = _routing("priority = true\n").rules[0]
    assert (rule.priority, rule.escalate_after_s, rule.escalate_to) == (True, None, ())


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ('priority = "yes"\n', "priority", "bad_type"),
        ('escalate_after = "10m"\nescalate_to = ["duty"]\n', "escalate_after", "bad_value"),
        ('priority = true\nescalate_after = "10m"\n', "escalate_to", "missing_key"),
        ('priority = true\nescalate_to = ["duty"]\n', "escalate_after", "missing_key"),
        ('priority = true\nescalate_after = "10 fortnights"\nescalate_to = ["duty"]\n', "escalate_after", "bad_value"),
        ('priority = true\nescalate_after = 0\nescalate_to = ["duty"]\n', "escalate_after", "bad_value"),
        ('priority = true\nescalate_after = true\nescalate_to = ["duty"]\n', "escalate_after", "bad_value"),
        ('priority = true\nescalate_after = "10m"\nescalate_to = ["dutty"]\n', "escalate_to", "unknown_channel"),
        ('priority = true\nescalate_after = "10m"\nescalate_to = []\n', "escalate_to", "bad_type"),
    ],
)
def test_bad_escalation_keys_are_clear_errors(text: str, key: str, reason: str) -> None:
    with pytest.raises(RoutingConfigError) as info:
        _routing(text)
    assert (info.value.key, info.value.reason) == (key, reason)
    if reason == "unknown_channel":
        assert "did you mean 'duty'" in str(info.value)


def _event(zone: str = "dprk", callsign: str = "RSD352") -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id("1551e0", zone, "entered", T0), type=EventType.ENTERED,
        icao24="1551e0", zone=zone, ts=T0, lat=40.0, lon=125.0, observed_ts=T0,
        callsign=callsign, confidence=Confidence.OBSERVED,
    )  # fmt: skip


def test_router_names_the_first_matching_priority_rule_respecting_stop_and_mutes() -> None:
    config = RoutingConfig.from_toml(
        _CHANNELS
        + """
[[rules]]
name = "quiet zone"
zones = ["quiet"]
channels = ["desk"]
stop = true
[[rules]]
name = "everything"
channels = ["desk"]
[[rules]]
name = "priority"
callsign = "RSD*"
channels = ["desk"]
priority = true
escalate_after = "10m"
escalate_to = ["duty"]
[mute]
callsigns = ["TEST*"]
"""
    )
    router = Router(config)
    rule = router.priority(_event(), country=None, aircraft=None)
    assert rule is not None and rule.name == "priority"
    assert router.priority(_event(zone="quiet"), country=None, aircraft=None) is None
    assert router.priority(_event(callsign="AFL1"), country=None, aircraft=None) is None
    assert router.priority(_event(callsign="TEST1"), country=None, aircraft=None) is None


# --- buttons ----------------------------------------------------------------------------


def test_slack_button_is_valid_block_kit() -> None:
    from slack_sdk.models.blocks import ActionsBlock, Block, ButtonElement

    raw = slack_ack_block(EID)
    block = Block.parse(raw)
    assert isinstance(block, ActionsBlock)
    block.validate_json()
    [button] = block.elements
    assert isinstance(button, ButtonElement)
    assert (button.action_id, button.value, button.text.text) == ("ack", EID, "Acknowledge")
    note = slack_note("Escalated to <!channel> & co", EID)
    for raw_block in note["blocks"]:
        parsed = Block.parse(raw_block)
        assert parsed is not None
        parsed.validate_json()
    assert "&lt;!channel&gt; &amp; co" in note["text"]  # no forged mention
    assert [b["type"] for b in slack_note("x")["blocks"]] == ["section"]


def test_telegram_button_fits_64_bytes_and_longer_ids_are_refused() -> None:
    markup = telegram_ack_markup(EID)
    [[button]] = markup["inline_keyboard"]
    assert button == {"text": "Acknowledge", "callback_data": f"ack:{EID}"}
    assert len(button["callback_data"].encode()) <= TELEGRAM_CALLBACK_DATA_MAX
    assert len(telegram_ack_markup("x" * 60)["inline_keyboard"][0][0]["callback_data"]) == 64
    with pytest.raises(ValueError, match="64"):
        telegram_ack_markup("x" * 61)
    assert telegram_note("a <b> & c") == "a &lt;b&gt; &amp; c"


def test_telegram_callback_query_reads_as_a_button_press() -> None:
    update = {
        "update_id": 7,
        "callback_query": {
            "id": "4382",
            "from": {"id": 42, "is_bot": False, "first_name": "Kim", "username": "kim_duty"},
            "message": {"message_id": 99, "date": 1700000123, "chat": {"id": -1001234567890}},
            "chat_instance": "1",
            "data": f"ack:{EID}",
        },
    }
    press = button_from_telegram(update)
    assert press is not None
    assert (press.action, press.event_id, press.message_ref) == ("ack", EID, "-1001234567890:99")
    assert (press.actor.platform, press.actor.chat_id, press.actor.user_id, press.actor.user_name) == (
        "telegram", "-1001234567890", "42", "kim_duty",
    )  # fmt: skip
    assert press.at_s == 1700000123.0
    for bad in ({}, {"message": {}}, {"callback_query": "x"}, {"callback_query": {"data": 5}},
                {"callback_query": {"data": "noseparator"}}, {"callback_query": {"data": "ack:"}}):  # fmt: skip
        assert button_from_telegram(bad) is None


def test_slack_block_actions_reads_as_a_button_press() -> None:
    payload = {
        "type": "block_actions",
        "user": {"id": "U024BE7LH", "username": "kim", "name": "kim"},
        "channel": {"id": "C123", "name": "desk"},
        "container": {"type": "message", "message_ts": "1700000000.000200", "channel_id": "C123"},
        "actions": [
            {"action_id": "other", "value": "x"},
            {"action_id": "ack", "block_id": "skyfence_ack", "value": EID, "action_ts": "1700000100.5"},
        ],
    }
    press = button_from_slack(payload)
    assert press is not None
    assert (press.actor.platform, press.actor.chat_id, press.actor.user_id) == ("slack", "C123", "U024BE7LH")
    assert (press.event_id, press.message_ref, press.at_s) == (EID, "C123:1700000000.000200", 1700000100.5)
    assert orjson.dumps(payload)  # a plain JSON payload, as Slack sends it
    for bad in ({"type": "view_submission"}, {"type": "block_actions"},
                {"type": "block_actions", "actions": [{"action_id": "ack"}]},
                {"type": "block_actions", "actions": [{"action_id": "ack", "value": ""}]}):  # fmt: skip
        assert button_from_slack(bad) is None


def test_the_example_routing_files_escalation_keys_parse_when_uncommented() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "deploy" / "routing.example.toml"
    text = path.read_text(encoding="utf-8")
    assert RoutingConfig.from_toml(text).rules[0].priority is False  # off as shipped
    for key in ("priority", "escalate_after", "escalate_to"):
        text = text.replace(f"# {key} =", f"{key} =")
    rule = RoutingConfig.from_toml(text).rules[0]
    assert (rule.priority, rule.escalate_after_s, rule.escalate_to) == (True, 600.0, ("airspace",))
