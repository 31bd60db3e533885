"""Acknowledge and escalate: the state of one priority alert, and the decisions on it. Pure.

A routing rule with ``priority = true`` (:mod:`alerts.routing_config`) marks its alerts as
ones a person must take: they carry an Acknowledge button, and, when the rule also says
``escalate_after`` / ``escalate_to``, an alert nobody acknowledges in time is sent to the
escalation channels, **exactly once**. One :class:`Escalation` record per priority alert,
keyed by its ``event_id``, moves through::

    waiting ──(ack before the deadline)──────────► acknowledged
       │
       └──(deadline passed, not acknowledged)────► escalated ──(ack later)──► acknowledged
                                                                             (escalated_s kept)

Time is data: the deadline is a wall-clock epoch second written into the record when the
alert is accepted (``accepted_s + escalate_after_s``), and every decision takes ``now_s``
from the caller (the notifier's injected clock). So a restart between the alert and the
deadline changes nothing: the record (a Faust table in the notifier, changelog in Kafka)
comes back with its deadline, and :func:`due` answers the same.

**Exactly once.** The notifier marks the record ``escalated`` (:func:`escalate`) and writes
the escalation's outbox entries in the same step, before anything is sent; the outbox then
delivers them like alerts (at-least-once per entry, idempotent by key). A record already
``escalated`` or ``acknowledged`` is never due again, so a restart, a rebalance or a second
timer tick cannot escalate twice; and a record still ``waiting`` after a restart is due at
its deadline, so a restart cannot lose the escalation either.

:class:`DueHeap` is the timer index (deadline, event_id) the notifier rebuilds from the
records on restore, like :class:`streams.scheduler.DueQueue` for the tracker: entries are not
removed when an alert is acknowledged; the caller re-checks :func:`due` on the record.

:func:`button_from_telegram` and :func:`button_from_slack` read a button press out of what
the platforms send (a Telegram ``callback_query`` update, a Slack ``block_actions`` payload)
into an :class:`alerts.interact.ButtonPress`, for transports and tests.

Record value layout: ``b"<partition>|"`` + JSON, like the outbox, so the records of one
events partition can be told apart after a rebalance.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

import orjson

from alerts.interact import Actor, ButtonPress

__all__ = [
    "ACK_ACTION",
    "AckOutcome",
    "DueHeap",
    "Escalation",
    "EscalationState",
    "acknowledge",
    "button_from_slack",
    "button_from_telegram",
    "decode_escalation",
    "due",
    "encode_escalation",
    "escalate",
    "escalation_key",
    "format_duration",
    "new_escalation",
    "with_ref",
]

#: The button action (Slack ``action_id``, the prefix of Telegram's ``callback_data``).
ACK_ACTION = "ack"


class EscalationState(StrEnum):
    """Where one priority alert stands."""

    WAITING = "waiting"
    ACKNOWLEDGED = "acknowledged"
    ESCALATED = "escalated"


@dataclass(frozen=True, slots=True)
class Escalation:
    """One priority alert. Times are wall-clock epoch seconds."""

    event_id: str
    partition: int
    state: EscalationState
    #: When the alert was accepted.
    accepted_s: float
    #: When it escalates if still waiting (None: a priority alert without escalation).
    deadline_s: float | None
    #: Channels the escalation goes to.
    escalate_to: tuple[str, ...] = ()
    #: Channels the alert itself went to.
    channels: tuple[str, ...] = ()
    #: Delivered message per channel (``"channel_id:ts"``, ``"chat_id:message_id"``, or
    #: ``""`` for a channel without message references, e.g. an incoming webhook).
    refs: Mapping[str, str] = field(default_factory=dict)
    #: The alert's headline (what the escalation and the thread notes say).
    headline: str = ""
    acked_by: str | None = None
    acked_s: float | None = None
    escalated_s: float | None = None
    #: The event (event format v1): what the follow-ups are about, kept while they may be sent.
    event: bytes | None = None

    @property
    def key(self) -> bytes:
        """The table key."""
        return escalation_key(self.event_id)


def escalation_key(event_id: str) -> bytes:
    """The table key of ``event_id``'s record."""
    return event_id.encode()


def new_escalation(
    event_id: str,
    partition: int,
    *,
    accepted_s: float,
    escalate_after_s: float | None,
    escalate_to: tuple[str, ...],
    channels: tuple[str, ...],
    headline: str = "",
    event: bytes | None = None,
) -> Escalation:
    """The record of a priority alert accepted at ``accepted_s``."""
    deadline = (
        None if escalate_after_s is None or not escalate_to else accepted_s + escalate_after_s
    )
    return Escalation(
        event_id=event_id,
        partition=partition,
        state=EscalationState.WAITING,
        accepted_s=accepted_s,
        deadline_s=deadline,
        escalate_to=escalate_to if deadline is not None else (),
        channels=channels,
        headline=headline,
        event=event,
    )


def due(record: Escalation, now_s: float) -> bool:
    """Whether the escalation of ``record`` must be sent now: still waiting, and its deadline
    has come."""
    return (
        record.state is EscalationState.WAITING
        and record.deadline_s is not None
        and now_s >= record.deadline_s
    )


def escalate(record: Escalation, now_s: float) -> Escalation:
    """The record once its escalation is sent (call only when :func:`due`)."""
    if not due(record, now_s):
        raise ValueError(f"escalation of {record.event_id} is not due")
    return replace(record, state=EscalationState.ESCALATED, escalated_s=now_s)


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What an acknowledgement did: ``changed`` False when it was already acknowledged
    (``record`` then names who did)."""

    record: Escalation
    changed: bool

    @property
    def text(self) -> str:
        """The line posted in the alert's thread / answered to the person."""
        who = self.record.acked_by or "someone"
        if self.changed:
            return f"Acknowledged by {who}"
        return f"Already acknowledged by {who}"


def acknowledge(record: Escalation, who: str, now_s: float) -> AckOutcome:
    """Acknowledge ``record`` as ``who`` at ``now_s``. Idempotent: a second acknowledgement
    changes nothing. After an escalation it still records who took the alert."""
    if record.state is EscalationState.ACKNOWLEDGED:
        return AckOutcome(record, changed=False)
    return AckOutcome(
        replace(record, state=EscalationState.ACKNOWLEDGED, acked_by=who, acked_s=now_s),
        changed=True,
    )


def with_ref(record: Escalation, channel: str, ref: str) -> Escalation:
    """The record once the alert was delivered to ``channel`` as message ``ref``."""
    return replace(record, refs={**record.refs, channel: ref})


def format_duration(seconds: float) -> str:
    """``600`` -> ``"10 min"``; ``90`` -> ``"90 s"``; ``7200`` -> ``"2 h"``."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


def encode_escalation(record: Escalation) -> bytes:
    """Table value: ``b"<partition>|"`` + JSON."""
    body: dict[str, object] = {
        "id": record.event_id,
        "st": record.state.value,
        "a": round(record.accepted_s, 3),
        "d": record.deadline_s,
        "to": list(record.escalate_to),
        "ch": list(record.channels),
        "refs": dict(record.refs),
        "h": record.headline,
    }
    if record.acked_by is not None:
        body["by"] = record.acked_by
        body["at"] = record.acked_s
    if record.escalated_s is not None:
        body["es"] = record.escalated_s
    if record.event is not None:
        body["ev"] = record.event.decode()
    return b"%d|" % record.partition + orjson.dumps(body)


def decode_escalation(raw: bytes) -> Escalation:
    """Inverse of :func:`encode_escalation`; ``ValueError`` for anything else."""
    head, sep, body = raw.partition(b"|")
    if not sep:
        raise ValueError("escalation value without a partition prefix")
    try:
        data = orjson.loads(body)
        deadline = data.get("d")
        refs = data.get("refs") or {}
        if not isinstance(refs, dict):
            raise TypeError("refs")
        return Escalation(
            event_id=str(data["id"]),
            partition=int(head),
            state=EscalationState(data["st"]),
            accepted_s=float(data["a"]),
            deadline_s=None if deadline is None else float(deadline),
            escalate_to=tuple(str(c) for c in data.get("to", ())),
            channels=tuple(str(c) for c in data.get("ch", ())),
            refs={str(k): str(v) for k, v in refs.items()},
            headline=str(data.get("h", "")),
            acked_by=None if data.get("by") is None else str(data["by"]),
            acked_s=None if data.get("at") is None else float(data["at"]),
            escalated_s=None if data.get("es") is None else float(data["es"]),
            event=data["ev"].encode() if isinstance(data.get("ev"), str) else None,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"bad escalation value: {exc}") from None


class DueHeap:
    """Deadlines by time: a min-heap of ``(deadline_s, event_id)``. Stale entries (an alert
    acknowledged since) stay until popped; the caller re-checks :func:`due`."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, deadline_s: float, event_id: str) -> None:
        """Remember that ``event_id`` may escalate at ``deadline_s``."""
        heapq.heappush(self._heap, (deadline_s, event_id))

    def pop_due(self, now_s: float) -> list[str]:
        """Remove and return the event ids whose deadline is ``<= now_s`` (each once)."""
        out: list[str] = []
        while self._heap and self._heap[0][0] <= now_s:
            event_id = heapq.heappop(self._heap)[1]
            if event_id not in out:
                out.append(event_id)
        return out

    def clear(self) -> None:
        """Forget every deadline."""
        self._heap.clear()


def _text(value: object) -> str:
    return "" if value is None or isinstance(value, dict | list) else str(value)


def button_from_telegram(update: Mapping[str, object]) -> ButtonPress | None:
    """The Acknowledge press in a Telegram update (``callback_query`` whose ``data`` is
    ``"ack:<event_id>"``), or None for anything else."""
    query = update.get("callback_query")
    if not isinstance(query, dict):
        return None
    data = query.get("data")
    if not isinstance(data, str):
        return None
    action, sep, event_id = data.partition(":")
    if not sep or not event_id:
        return None
    sender = query.get("from") if isinstance(query.get("from"), dict) else {}
    message = query.get("message") if isinstance(query.get("message"), dict) else {}
    assert isinstance(sender, dict) and isinstance(message, dict)
    chat = message.get("chat") if isinstance(message.get("chat"), dict) else {}
    assert isinstance(chat, dict)
    chat_id, message_id = _text(chat.get("id")), _text(message.get("message_id"))
    name = _text(sender.get("username")) or _text(sender.get("first_name"))
    at_s = message.get("date")
    return ButtonPress(
        actor=Actor("telegram", chat_id, _text(sender.get("id")), name),
        action=action,
        event_id=event_id,
        message_ref=f"{chat_id}:{message_id}" if chat_id and message_id else "",
        at_s=float(at_s) if isinstance(at_s, int | float) and not isinstance(at_s, bool) else 0.0,
    )


def button_from_slack(payload: Mapping[str, object]) -> ButtonPress | None:
    """The Acknowledge press in a Slack interactivity payload (``type`` ``block_actions``,
    an action with ``action_id`` ``"ack"`` whose ``value`` is the event id), or None."""
    if payload.get("type") != "block_actions":
        return None
    actions = payload.get("actions")
    if not isinstance(actions, list):
        return None
    action = next(
        (a for a in actions if isinstance(a, dict) and a.get("action_id") == ACK_ACTION), None
    )
    if action is None or not isinstance(action.get("value"), str) or not action["value"]:
        return None
    user = payload.get("user") if isinstance(payload.get("user"), dict) else {}
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    channel = payload.get("channel") if isinstance(payload.get("channel"), dict) else {}
    assert isinstance(user, dict) and isinstance(container, dict) and isinstance(channel, dict)
    channel_id = _text(channel.get("id")) or _text(container.get("channel_id"))
    ts = _text(container.get("thread_ts")) or _text(container.get("message_ts"))
    name = _text(user.get("username")) or _text(user.get("name"))
    try:
        at_s = float(_text(action.get("action_ts")) or 0.0)
    except ValueError:
        at_s = 0.0
    return ButtonPress(
        actor=Actor("slack", channel_id, _text(user.get("id")), name),
        action=ACK_ACTION,
        event_id=action["value"],
        message_ref=f"{channel_id}:{ts}" if channel_id and ts else "",
        at_s=at_s,
    )
