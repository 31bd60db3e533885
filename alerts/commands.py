"""Chat commands, pure part: parse, authorise and answer what a desk types in chat.

The chat transports (:mod:`alerts.chat`) turn a Telegram message or a Slack slash command
into an :class:`~alerts.interact.Command`; this module decides what happens:

- :func:`parse_command`: ``"/mute@SkyfenceBot 1551e0 6h"`` -> ``Command(name="mute",
  args=("1551e0", "6h"))`` (None for text that is not a command, or a command addressed to
  another bot);
- :class:`Access`: which chats and users may command (configured; everyone else is refused);
- :class:`DeskState`: the desk's mutes and its own watchlist, rebuilt from and written to a
  compacted Kafka topic as ``(key, value)`` records (:meth:`DeskState.apply`);
- :class:`CommandDesk`: answers one command from a read-only :class:`DeskView` of what the
  worker holds, at a given time, and says what changed and what to audit-log
  (:class:`Outcome`). It never changes :class:`DeskState` itself: the shell applies the
  changes once they are written to Kafka (:mod:`alerts.chat.handler`).

The commands: ``/inside [zone]``, ``/approaching``, ``/lost``, ``/aircraft HEX|REG|CALLSIGN``,
``/mute HEX|CALLSIGN DURATION`` (``30m``, ``6h``, ``2d``; at most :data:`MAX_MUTE_S`),
``/unmute HEX|CALLSIGN``, ``/watch HEX|REG``, ``/unwatch HEX|REG``, ``/status``, ``/help``.

Pure: standard library, orjson and :mod:`alerts` pure modules only; time is passed in.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from alerts.interact import Actor, ButtonPress, Command, Reply
from alerts.watchlist import Aircraft, Watchlist, normalise_registration

__all__ = [
    "COMMANDS",
    "MAX_MUTE_S",
    "Access",
    "CommandDesk",
    "DeskState",
    "DeskView",
    "Outcome",
    "audit_record",
    "parse_command",
    "parse_duration_s",
]

#: The commands and their one-line help, in the order ``/help`` lists them.
COMMANDS: dict[str, str] = {
    "inside": "/inside [zone]: aircraft inside a zone now",
    "approaching": "/approaching: aircraft predicted to enter a zone",
    "lost": "/lost: aircraft whose signal was lost inside or on the way in",
    "aircraft": "/aircraft HEX|REG|CALLSIGN: one aircraft's status and timeline",
    "mute": "/mute HEX|CALLSIGN 6h: no alerts for it until then",
    "unmute": "/unmute HEX|CALLSIGN: alerts again",
    "watch": "/watch HEX|REG: add to the desk's own watchlist",
    "unwatch": "/unwatch HEX|REG: remove from the desk's own watchlist",
    "status": "/status: consumer lag, feed freshness, deliveries",
    "help": "/help: this list",
}
#: Longest mute a command may set (a forgotten mute must run out).
MAX_MUTE_S = 7 * 86400.0
#: Lines of a list answer at most (chat messages are read by people).
MAX_LINES = 20
#: Arguments kept at most, and characters per argument (hostile input stays small).
MAX_ARGS = 8
MAX_ARG_CHARS = 64
#: Name of the desk's own watchlist as routing and alerts see it.
DESK_LIST = "desk-chat"

MUTE_PREFIX = "mute:"
WATCH_PREFIX = "watch:"

_COMMAND = re.compile(r"^/([A-Za-z][A-Za-z0-9_]{0,31})(?:@([A-Za-z0-9_]{1,64}))?$")
_DURATION = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_S = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
#: What each command method returns: the reply and the state records to write.
_Result = tuple[Reply, list[tuple[str, bytes | None]]]
_HEX6 = re.compile(r"^[0-9a-fA-F]{6}$")
_CALLSIGN = re.compile(r"^[A-Z0-9]{2,8}$")


def _iso(ts: float | None) -> str:
    if ts is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_command(
    text: str, actor: Actor, *, at_s: float = 0.0, bot_name: str = ""
) -> Command | None:
    """The command in ``text``, or None when it is not one (plain chat) or names another bot
    (``/inside@OtherBot``). ``bot_name`` is this bot's username (Telegram), compared
    without case; without it any ``@name`` is accepted."""
    words = text.strip().split()
    if not words:
        return None
    match = _COMMAND.match(words[0])
    if match is None:
        return None
    name, addressed = match.group(1).lower(), match.group(2)
    if addressed and bot_name and addressed.lower() != bot_name.lstrip("@").lower():
        return None
    args = tuple(w[:MAX_ARG_CHARS] for w in words[1 : 1 + MAX_ARGS])
    return Command(actor=actor, name=name, args=args, at_s=at_s)


def parse_duration_s(text: str) -> float:
    """``"30m"`` -> 1800.0; ``s``, ``m``, ``h``, ``d``; ValueError otherwise or beyond
    :data:`MAX_MUTE_S`."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 6h or 2d")
    seconds = int(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError("a duration must be positive")
    if seconds > MAX_MUTE_S:
        raise ValueError(f"at most {int(MAX_MUTE_S // 86400)} days")
    return seconds


@dataclass(frozen=True, slots=True)
class Access:
    """Who may command: chat ids and user ids, each bare (``-1001234``, ``C0123``) or with
    its platform (``telegram:-1001234``, ``slack:U0123``). An actor is allowed when its chat
    or its user is listed; with both lists empty nobody is."""

    chats: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, chats: str | Iterable[str] = "", users: str | Iterable[str] = "") -> Access:
        """From comma-separated lists (settings) or iterables."""

        def split(value: str | Iterable[str]) -> frozenset[str]:
            items = value.split(",") if isinstance(value, str) else value
            return frozenset(s.strip() for s in items if s.strip())

        return cls(chats=split(chats), users=split(users))

    def allows(self, actor: Actor) -> bool:
        """Whether ``actor`` may command."""
        chat, user = actor.chat_id, actor.user_id
        return bool(
            (chat and (chat in self.chats or f"{actor.platform}:{chat}" in self.chats))
            or (user and (user in self.users or f"{actor.platform}:{user}" in self.users))
        )


def _target(text: str) -> tuple[str, str] | None:
    """A mute target: ``("icao24", "1551e0")`` for six hex digits, else
    ``("callsign", "RSD352")``; None when it is neither."""
    if _HEX6.match(text):
        return "icao24", text.lower()
    callsign = text.strip().upper()
    if _CALLSIGN.match(callsign):
        return "callsign", callsign
    return None


@dataclass
class DeskState:
    """Mutes (target -> until, epoch seconds) and the desk's own watchlist (target -> who
    added it and when), as kept in the compacted desk-state topic.

    Keys: ``mute:<icao24 or CALLSIGN>`` and ``watch:<icao24 or REG>``; values JSON; a
    tombstone (None) removes. :meth:`apply` takes records in topic order.
    """

    mutes: dict[str, float] = field(default_factory=dict)
    watches: dict[str, dict[str, Any]] = field(default_factory=dict)

    def apply(self, key: str, value: bytes | None) -> bool:
        """Take in one record of the topic; False when it is not one of ours (ignored)."""
        if key.startswith(MUTE_PREFIX):
            target = key[len(MUTE_PREFIX) :]
            if value is None:
                self.mutes.pop(target, None)
                return True
            try:
                self.mutes[target] = float(orjson.loads(value)["until_s"])
            except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
                return False
            return True
        if key.startswith(WATCH_PREFIX):
            target = key[len(WATCH_PREFIX) :]
            if value is None:
                self.watches.pop(target, None)
                return True
            try:
                record = orjson.loads(value)
            except orjson.JSONDecodeError:
                return False
            if not isinstance(record, dict):
                return False
            self.watches[target] = record
            return True
        return False

    def muted(self, icao24: str, callsign: str | None, now_s: float) -> bool:
        """Whether alerts about this aircraft are muted at ``now_s``."""
        until = self.mutes.get(icao24.lower())
        if until is not None and until > now_s:
            return True
        if callsign:
            until = self.mutes.get(callsign.strip().upper())
            if until is not None and until > now_s:
                return True
        return False

    def expired(self, now_s: float) -> list[str]:
        """Keys of mutes that ran out by ``now_s`` (the shell writes their tombstones)."""
        return [MUTE_PREFIX + t for t, until in self.mutes.items() if until <= now_s]

    def watchlist(self) -> Watchlist:
        """The desk's own watchlist as the enricher and routing read watchlists."""
        by_icao: dict[str, Aircraft] = {}
        by_reg: dict[str, Aircraft] = {}
        for target, record in self.watches.items():
            note = f"added by {record.get('by', '?')} in chat"
            if _HEX6.match(target):
                by_icao[target] = Aircraft(
                    target, record.get("registration"), None, None, None, None,
                    list_name=DESK_LIST, note=note,
                )  # fmt: skip
            else:
                by_reg[target] = Aircraft(
                    "", target, None, None, None, None, list_name=DESK_LIST, note=note
                )
        return Watchlist(by_icao, name=DESK_LIST, by_registration=by_reg)


class DeskView(Protocol):
    """What the worker holds, read-only, as the commands need it."""

    def aircraft(self) -> list[dict[str, Any]]:
        """The aircraft inside, approaching or lost (:func:`alerts.desk.aircraft_views`)."""
        ...

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        """One aircraft's events, oldest first (:meth:`alerts.desk.DeskBoard.timeline`)."""
        ...

    def by_registration(self, registration: str) -> str | None:
        """The address of a registration, if a watchlist or the database knows it."""
        ...

    def describe(self, icao24: str) -> str:
        """Who the aircraft is in a few words (registration, type, operator, country)."""
        ...

    def status(self) -> Mapping[str, Any]:
        """Lag, freshness and deliveries (``lag_messages``, ``since_last_position_s``,
        ``deliveries`` by outcome, ``tracked_aircraft``, ``partitions``)."""
        ...


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one command did: the reply, the state records to write (key, value or None
    for a tombstone), and the audit record."""

    reply: Reply
    changes: tuple[tuple[str, bytes | None], ...] = ()
    audit: dict[str, Any] = field(default_factory=dict)


def audit_record(
    actor: Actor, command: str, args: Sequence[str], outcome: str, at_s: float, detail: str = ""
) -> dict[str, Any]:
    """One audit-log record (JSON-ready): who, what, with which arguments, the outcome
    (``ok``, ``refused``, ``error``), when (epoch seconds and ISO 8601)."""
    return {
        "actor": {
            "platform": actor.platform,
            "chat_id": actor.chat_id,
            "user_id": actor.user_id,
            "user_name": actor.user_name,
        },
        "command": command,
        "args": list(args),
        "outcome": outcome,
        "detail": detail,
        "at_s": at_s,
        "time": _iso(at_s),
    }


class CommandDesk:
    """Answers commands (module docstring). ``state`` is read, never written here."""

    def __init__(self, access: Access, state: DeskState, view: DeskView) -> None:
        self.access = access
        self.state = state
        self.view = view

    def authorise_button(self, press: ButtonPress, now_s: float) -> Outcome | None:
        """A refusal for a button pressed by someone not allowed, else None (pass it on)."""
        if self.access.allows(press.actor):
            return None
        return Outcome(
            Reply("You are not allowed to act on skyfence alerts here.", ok=False),
            audit=audit_record(
                press.actor, f"button:{press.action}", (press.event_id,), "refused", now_s,
                "chat/user not allowed",
            ),
        )  # fmt: skip

    def handle(self, command: Command, now_s: float) -> Outcome:
        """Answer ``command`` at ``now_s`` (epoch seconds)."""
        actor = command.actor
        if not self.access.allows(actor):
            return self._done(
                command, now_s, Reply("You are not allowed to command skyfence here.", ok=False),
                "refused", "chat/user not allowed",
            )  # fmt: skip
        method = getattr(self, f"_cmd_{command.name}", None)
        if command.name not in COMMANDS or method is None:
            return self._done(
                command, now_s,
                Reply(f"Unknown command /{command.name}. Try /help.", ok=False), "error",
                "unknown command",
            )  # fmt: skip
        try:
            reply, changes = method(command, now_s)
        except ValueError as exc:
            text = f"/{command.name}: {exc}\n{COMMANDS[command.name]}"
            return self._done(command, now_s, Reply(text, ok=False), "error", str(exc))
        return Outcome(
            reply, tuple(changes), audit_record(actor, command.name, command.args, "ok", now_s)
        )

    @staticmethod
    def _done(command: Command, now_s: float, reply: Reply, outcome: str, detail: str) -> Outcome:
        return Outcome(
            reply,
            audit=audit_record(command.actor, command.name, command.args, outcome, now_s, detail),
        )

    # -- the commands: each returns (reply, changes) or raises ValueError -----------------

    def _cmd_help(self, command: Command, now_s: float) -> _Result:
        return Reply("skyfence commands:\n" + "\n".join(COMMANDS.values())), []

    def _listing(self, status: str, title: str, zone: str | None = None) -> Reply:
        shown = [a for a in self.view.aircraft() if a["status"] == status]
        if zone:
            shown = [a for a in shown if zone in a["zones"]]
        if not shown:
            where = f" {zone}" if zone else ""
            return Reply(f"No aircraft {title}{where} now.")
        lines = [self._line(a) for a in shown[:MAX_LINES]]
        if len(shown) > MAX_LINES:
            lines.append(f"... and {len(shown) - MAX_LINES} more")
        return Reply(f"{len(shown)} aircraft {title}:\n" + "\n".join(lines))

    @staticmethod
    def _line(view: Mapping[str, Any]) -> str:
        country = view.get("country") or {}
        alt = view.get("alt_ft")
        parts = [
            view["icao24"],
            (view.get("callsign") or "").strip() or "-",
            ",".join(view.get("zones", ())),
            f"{alt} ft" if alt is not None else "alt ?",
            country.get("code", "??"),
            f"seen {view.get('time') or '-'}",
        ]
        if view.get("eta"):
            parts.append(f"ETA {view['eta']}")
        return " | ".join(parts)

    def _cmd_inside(self, command: Command, now_s: float) -> _Result:
        zone = command.args[0].lower() if command.args else None
        return self._listing("inside", "inside", zone), []

    def _cmd_approaching(self, command: Command, now_s: float) -> _Result:
        return self._listing("approaching", "approaching"), []

    def _cmd_lost(self, command: Command, now_s: float) -> _Result:
        return self._listing("lost", "lost"), []

    def _resolve(self, text: str) -> str | None:
        """The address a hex, registration or callsign (among shown aircraft) names."""
        if _HEX6.match(text):
            return text.lower()
        registration = normalise_registration(text)
        if registration:
            found = self.view.by_registration(registration)
            if found:
                return found
        callsign = text.strip().upper()
        for view in self.view.aircraft():
            if (view.get("callsign") or "").strip().upper() == callsign:
                return str(view["icao24"])
        return None

    def _cmd_aircraft(self, command: Command, now_s: float) -> _Result:
        if len(command.args) != 1:
            raise ValueError("name one aircraft")
        icao24 = self._resolve(command.args[0])
        if icao24 is None:
            return Reply(f"No aircraft known as {command.args[0]} (not shown now, not listed)."), []
        current = next((a for a in self.view.aircraft() if a["icao24"] == icao24), None)
        lines = [f"{icao24}: {self.view.describe(icao24)}"]
        lines.append(
            "now: "
            + (
                f"{current['status']}: {self._line(current)}"
                if current
                else "not inside, approaching or lost"
            )
        )
        if self.state.muted(icao24, (current or {}).get("callsign"), now_s):
            lines.append("alerts: muted")
        timeline = self.view.timeline(icao24)[-MAX_LINES:]
        for event in timeline:
            lines.append(f"{event['time']} {event['type']} {event['zone']}")
        if not timeline:
            lines.append("no events kept for it")
        return Reply("\n".join(lines)), []

    def _cmd_mute(self, command: Command, now_s: float) -> _Result:
        if len(command.args) != 2:
            raise ValueError("name the aircraft and how long")
        target = _target(command.args[0])
        if target is None:
            raise ValueError(f"{command.args[0]!r} is neither a hex address nor a callsign")
        until_s = now_s + parse_duration_s(command.args[1])
        value = orjson.dumps(
            {"until_s": until_s, "by": _who(command.actor), "at_s": now_s, "kind": target[0]}
        )
        return (
            Reply(f"Muted {target[1]} until {_iso(until_s)}."),
            [(MUTE_PREFIX + target[1], value)],
        )

    def _cmd_unmute(self, command: Command, now_s: float) -> _Result:
        if len(command.args) != 1:
            raise ValueError("name the aircraft")
        target = _target(command.args[0])
        if target is None:
            raise ValueError(f"{command.args[0]!r} is neither a hex address nor a callsign")
        if target[1] not in self.state.mutes:
            return Reply(f"{target[1]} was not muted."), []
        return Reply(f"Unmuted {target[1]}."), [(MUTE_PREFIX + target[1], None)]

    def _watch_target(self, command: Command) -> tuple[str, str | None]:
        if len(command.args) != 1:
            raise ValueError("name one aircraft")
        text = command.args[0]
        if _HEX6.match(text):
            return text.lower(), None
        registration = normalise_registration(text)
        if registration is None:
            raise ValueError(f"{text!r} is neither a hex address nor a registration")
        found = self.view.by_registration(registration)
        return (found, registration) if found else (registration, registration)

    def _cmd_watch(self, command: Command, now_s: float) -> _Result:
        target, registration = self._watch_target(command)
        if target in self.state.watches:
            return Reply(f"{target} is on the desk's watchlist already."), []
        value = orjson.dumps(
            {"by": _who(command.actor), "at_s": now_s, "registration": registration}
        )
        return (
            Reply(f"Added {target} to the desk's watchlist ({DESK_LIST})."),
            [(WATCH_PREFIX + target, value)],
        )

    def _cmd_unwatch(self, command: Command, now_s: float) -> _Result:
        target, _ = self._watch_target(command)
        if target not in self.state.watches:
            return Reply(f"{target} is not on the desk's watchlist."), []
        return Reply(f"Removed {target} from the desk's watchlist."), [
            (WATCH_PREFIX + target, None)
        ]

    def _cmd_status(self, command: Command, now_s: float) -> _Result:
        status = self.view.status()
        deliveries = status.get("deliveries") or {}
        fresh = status.get("since_last_position_s")
        lines = [
            f"consumer lag: {_num(status.get('lag_messages'))} messages",
            "last position: "
            + (f"{fresh:.0f} s ago" if isinstance(fresh, int | float) else "none yet"),
            f"aircraft tracked: {_num(status.get('tracked_aircraft'))}",
            "deliveries: "
            + (", ".join(f"{k} {int(v)}" for k, v in sorted(deliveries.items())) or "none yet"),
            f"mutes: {sum(1 for u in self.state.mutes.values() if u > now_s)}, "
            f"desk watchlist: {len(self.state.watches)}",
        ]
        partitions = status.get("partitions")
        if partitions is not None:
            lines.append(f"partitions held: {partitions}")
        return Reply("\n".join(lines)), []


def _who(actor: Actor) -> str:
    return f"{actor.platform}:{actor.user_name or actor.user_id}"


def _num(value: Any) -> str:
    return "?" if value is None else f"{value:.0f}" if isinstance(value, float) else str(value)
