"""Chat commands, pure part: parsing, who may command, answers, mutes and the desk watchlist."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import pytest

from alerts.commands import (
    MAX_MUTE_S,
    Access,
    CommandDesk,
    DeskState,
    parse_command,
    parse_duration_s,
)
from alerts.interact import Actor, ButtonPress, Command

NOW_S = 1_700_000_000.0
DESK = Actor("telegram", "-1001", "42", "duty")
STRANGER = Actor("telegram", "-999", "666", "eve")
SLACK_USER = Actor("slack", "C9", "U7", "ops")


class FakeView:
    """A worker's view with two aircraft shown and one timeline."""

    def __init__(self) -> None:
        self.shown: list[dict[str, Any]] = [
            {
                "icao24": "1551e0", "callsign": "RSD352", "status": "inside", "zones": ["dprk"],
                "alt_ft": 35100, "time": "2023-09-26T01:14:27Z", "country": {"code": "RU"},
            },
            {
                "icao24": "780a1b", "callsign": "CCA123", "status": "approaching",
                "zones": ["dprk"], "alt_ft": 30000, "time": "2023-09-26T01:10:00Z",
                "eta": "2023-09-26T01:20:00Z", "country": {"code": "CN"},
            },
        ]  # fmt: skip
        self.registrations = {"RA86496": "1551e0"}
        self.figures: dict[str, Any] = {
            "lag_messages": 12, "since_last_position_s": 3.2, "tracked_aircraft": 250,
            "deliveries": {"sent": 7, "suppressed": 2},
        }  # fmt: skip

    def aircraft(self) -> list[dict[str, Any]]:
        return self.shown

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        if icao24 != "1551e0":
            return []
        return [{"time": "2023-09-26T01:14:27Z", "type": "entered", "zone": "dprk"}]

    def by_registration(self, registration: str) -> str | None:
        return self.registrations.get(registration)

    def describe(self, icao24: str) -> str:
        return "RA-86496, Ilyushin Il-62M" if icao24 == "1551e0" else "unknown"

    def status(self) -> Mapping[str, Any]:
        return self.figures


def _desk(state: DeskState | None = None) -> CommandDesk:
    return CommandDesk(
        Access.parse("-1001,slack:C9", "telegram:77"), state or DeskState(), FakeView()
    )


def _cmd(text: str, actor: Actor = DESK) -> Command:
    command = parse_command(text, actor, at_s=NOW_S)
    assert command is not None
    return command


def _apply(state: DeskState, changes: Any) -> None:
    for key, value in changes:
        state.apply(key, value)


# -- parsing -------------------------------------------------------------------------------


def test_parse_command_name_args_and_bot_suffix() -> None:
    command = parse_command("/Mute@SkyfenceBot 1551E0   6h", DESK, at_s=5.0, bot_name="skyfencebot")
    assert command == Command(DESK, "mute", ("1551E0", "6h"), 5.0)
    assert parse_command("/inside@OtherBot", DESK, bot_name="SkyfenceBot") is None
    assert parse_command("/inside@AnyBot dprk", DESK) == Command(DESK, "inside", ("dprk",))
    assert parse_command("hello /inside", DESK) is None
    assert parse_command("", DESK) is None
    assert parse_command("/", DESK) is None


def test_parse_command_bounds_hostile_input() -> None:
    command = parse_command("/watch " + " ".join(["x" * 500] * 50), DESK)
    assert command is not None
    assert len(command.args) == 8 and all(len(a) == 64 for a in command.args)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30m", 1800.0), ("6h", 21600.0), ("2d", 172800.0), ("45s", 45.0)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("text", ["6", "h", "-1h", "0h", "8d", "1w", "6 h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_s(text)


# -- access --------------------------------------------------------------------------------


def test_access_by_chat_or_user_with_or_without_platform() -> None:
    access = Access.parse("-1001,slack:C9", "telegram:77")
    assert access.allows(DESK)  # chat listed bare
    assert access.allows(SLACK_USER)  # chat listed with its platform
    assert access.allows(Actor("telegram", "-5", "77"))  # user listed
    assert not access.allows(STRANGER)
    assert not access.allows(Actor("slack", "-1001x", "77"))  # platform prefix must match
    assert not Access().allows(DESK)  # nothing configured: nobody


def test_refused_command_changes_nothing_and_is_audited_as_refused() -> None:
    state = DeskState()
    desk = _desk(state)
    for text in ("/mute 1551e0 6h", "/watch RA-86496", "/inside"):
        outcome = desk.handle(_cmd(text, STRANGER), NOW_S)
        assert not outcome.reply.ok and "not allowed" in outcome.reply.text
        assert outcome.changes == ()
        assert outcome.audit["outcome"] == "refused"
        assert outcome.audit["actor"]["chat_id"] == "-999"
        assert outcome.audit["command"] == text.split()[0][1:]
    assert state == DeskState()


def test_refused_button_is_answered_here_allowed_one_passes_on() -> None:
    desk = _desk()
    press = ButtonPress(STRANGER, "ack", "ev1")
    refused = desk.authorise_button(press, NOW_S)
    assert refused is not None and not refused.reply.ok
    assert refused.audit["command"] == "button:ack" and refused.audit["outcome"] == "refused"
    assert desk.authorise_button(ButtonPress(DESK, "ack", "ev1"), NOW_S) is None


# -- answers -------------------------------------------------------------------------------


def test_inside_approaching_lost_list_what_the_view_shows() -> None:
    desk = _desk()
    inside = desk.handle(_cmd("/inside"), NOW_S).reply
    assert (
        inside.ok and "1 aircraft inside" in inside.text and "1551e0 | RSD352 | dprk" in inside.text
    )
    assert "780a1b" not in inside.text
    assert (
        "No aircraft inside elsewhere" in desk.handle(_cmd("/inside elsewhere"), NOW_S).reply.text
    )
    approaching = desk.handle(_cmd("/approaching"), NOW_S).reply.text
    assert "780a1b" in approaching and "ETA 2023-09-26T01:20:00Z" in approaching
    assert "No aircraft lost" in desk.handle(_cmd("/lost"), NOW_S).reply.text


@pytest.mark.parametrize("query", ["1551E0", "RA-86496", "rsd352"])
def test_aircraft_by_hex_registration_or_callsign(query: str) -> None:
    reply = _desk().handle(_cmd(f"/aircraft {query}"), NOW_S).reply
    assert reply.ok
    assert reply.text.startswith("1551e0: RA-86496, Ilyushin Il-62M")
    assert "inside" in reply.text and "entered dprk" in reply.text


def test_aircraft_unknown_and_missing_argument() -> None:
    desk = _desk()
    assert "No aircraft known as ZZZ999" in desk.handle(_cmd("/aircraft ZZZ999"), NOW_S).reply.text
    outcome = desk.handle(_cmd("/aircraft"), NOW_S)
    assert not outcome.reply.ok and outcome.audit["outcome"] == "error"


def test_mute_writes_a_record_that_mutes_until_then() -> None:
    state = DeskState()
    desk = _desk(state)
    outcome = desk.handle(_cmd("/mute 1551E0 6h"), NOW_S)
    assert outcome.reply.ok and outcome.audit["outcome"] == "ok"
    assert state.mutes == {}  # the desk never writes state itself; the shell applies it
    [(key, value)] = outcome.changes
    assert key == "mute:1551e0"
    assert value is not None and orjson.loads(value)["until_s"] == NOW_S + 6 * 3600
    _apply(state, outcome.changes)
    assert state.muted("1551e0", None, NOW_S + 6 * 3600 - 1)
    assert not state.muted("1551e0", None, NOW_S + 6 * 3600)
    assert not state.muted("780a1b", "CCA123", NOW_S)
    assert "alerts: muted" in desk.handle(_cmd("/aircraft 1551e0"), NOW_S).reply.text
    assert state.expired(NOW_S + 7 * 3600) == ["mute:1551e0"]


def test_mute_by_callsign_and_unmute() -> None:
    state = DeskState()
    desk = _desk(state)
    _apply(state, desk.handle(_cmd("/mute rsd352 30m"), NOW_S).changes)
    assert state.muted("1551e0", "RSD352 ", NOW_S)
    outcome = desk.handle(_cmd("/unmute RSD352"), NOW_S)
    assert outcome.changes == (("mute:RSD352", None),)
    _apply(state, outcome.changes)
    assert not state.muted("1551e0", "RSD352", NOW_S)
    assert desk.handle(_cmd("/unmute RSD352"), NOW_S).changes == ()


@pytest.mark.parametrize(
    "text", ["/mute 1551e0", "/mute 1551e0 forever", "/mute !! 6h", "/mute 1551e0 30d"]
)
def test_bad_mutes_change_nothing(text: str) -> None:
    outcome = _desk().handle(_cmd(text), NOW_S)
    assert not outcome.reply.ok and outcome.changes == () and outcome.audit["outcome"] == "error"


def test_max_mute_is_a_week() -> None:
    assert MAX_MUTE_S == 7 * 86400


def test_watch_resolves_registration_and_feeds_the_desk_watchlist() -> None:
    state = DeskState()
    desk = _desk(state)
    outcome = desk.handle(_cmd("/watch ra-86496"), NOW_S)
    assert outcome.reply.ok and [k for k, _ in outcome.changes] == ["watch:1551e0"]
    _apply(state, outcome.changes)
    _apply(state, desk.handle(_cmd("/watch HL7634"), NOW_S).changes)  # unknown reg: kept as reg
    assert set(state.watches) == {"1551e0", "HL7634"}
    watchlist = state.watchlist()
    entry = watchlist.get("1551e0")
    assert entry is not None and entry.list_name == "desk-chat"
    assert watchlist.by_registration("HL-7634") is not None
    assert "already" in desk.handle(_cmd("/watch 1551e0"), NOW_S).reply.text
    _apply(state, desk.handle(_cmd("/unwatch 1551e0"), NOW_S).changes)
    assert set(state.watches) == {"HL7634"}


def test_state_records_round_trip_and_bad_records_are_ignored() -> None:
    state = DeskState()
    assert state.apply("mute:abc123", orjson.dumps({"until_s": 5.0}))
    assert not state.apply("mute:abc124", b"not json")
    assert not state.apply("other:x", b"{}")
    assert not state.apply("watch:x", b"[1]")
    assert state.mutes == {"abc123": 5.0}
    assert state.apply("mute:abc123", None)
    assert state.mutes == {}


def test_status_help_and_unknown() -> None:
    desk = _desk()
    status = desk.handle(_cmd("/status"), NOW_S).reply.text
    assert "consumer lag: 12 messages" in status and "3 s ago" in status
    assert "sent 7" in status and "suppressed 2" in status
    assert "/mute HEX|CALLSIGN 6h" in desk.handle(_cmd("/help"), NOW_S).reply.text
    unknown = desk.handle(_cmd("/launch"), NOW_S)
    assert not unknown.reply.ok and unknown.audit["outcome"] == "error"


def test_audit_record_fields() -> None:
    audit = _desk().handle(_cmd("/mute 1551e0 6h", SLACK_USER), NOW_S).audit
    assert audit == {
        "actor": {"platform": "slack", "chat_id": "C9", "user_id": "U7", "user_name": "ops"},
        "command": "mute",
        "args": ["1551e0", "6h"],
        "outcome": "ok",
        "detail": "",
        "at_s": NOW_S,
        "time": "2023-11-14T22:13:20Z",
    }
    orjson.dumps(audit)  # JSON-ready
