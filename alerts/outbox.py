"""The delivery outbox: one record per (event, channel), the memory of what was sent. Pure.

Every alert the notifier accepts becomes one :class:`OutboxEntry` per routed channel, keyed
``"<event_id>|<channel>"``, *before* the event's offset is committed. The entry moves through:

::

    pending ──► delivered        the peer accepted it
       │
       └──────► dead             non-retriable answer, or the retry budget ran out
                                 (and the alert went to the alerts dead-letter topic)
    suppressed                   routed, but inside the cooldown window: never sent
    held                         event time lagged wall time by more than the flood limit
                                 (backlog or replay) and replay mode was off: never sent

Follow-ups of priority alerts (:mod:`alerts.escalation`: the escalation, a note in the
alert's thread, "Acknowledged by X") are entries too, keyed ``"<event_id>~esc|<channel>"``,
``"<event_id>~escnote|<channel>"``, ``"<event_id>~ack|<channel>"``: they carry the ``note``
text and the message it replies to (``reply_to``), and are delivered like alerts. A
delivered entry keeps the message reference the channel returned (``ref``).

Because the record exists before the offset commit, an event read again after a crash finds
it and is not re-sent (idempotency by ``event_id`` and channel), and a ``pending`` entry left
by a crash is sent after restart (the outbox is durable: in the Faust shell it is a table
whose changelog is a compacted Kafka topic). A ``pending`` entry carries the event bytes it
must deliver; the others keep only what an operator needs to see.

Table value layout: ``b"<partition>|"`` + JSON, like the tracker's table, so the entries of
one events partition can be found again after a rebalance.

:class:`OutboxStore` is the storage the notifier needs (get / put / delete / scan);
:class:`DictOutbox` keeps it in memory (tests, and a notifier without Kafka).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

import orjson

__all__ = [
    "COOLDOWN_PREFIX",
    "DELIVERY_PARTITION",
    "THREAD_PREFIX",
    "DictOutbox",
    "EntryState",
    "OutboxEntry",
    "OutboxStore",
    "OutboxThreadStore",
    "cooldown_record",
    "decode_cooldown_record",
    "decode_entry",
    "encode_entry",
    "outbox_key",
    "thread_record_age",
]


class EntryState(StrEnum):
    """Where one (event, channel) delivery stands."""

    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"
    SUPPRESSED = "suppressed"
    HELD = "held"

    @property
    def final(self) -> bool:
        """Whether nothing more will be done for this entry (everything but ``pending``)."""
        return self is not EntryState.PENDING


def outbox_key(event_id: str, channel: str) -> bytes:
    """The outbox key of one (event, channel) delivery."""
    return f"{event_id}|{channel}".encode()


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One (event, channel) delivery. Times are wall-clock epoch seconds."""

    event_id: str
    channel: str
    partition: int
    state: EntryState
    #: Wall time the entry was created (accepted from the events topic).
    created_s: float
    #: Wall time of the last change of state.
    updated_s: float
    #: The event in event format v1 (only while pending: what must be delivered).
    event: bytes | None = None
    #: Failed attempts so far.
    attempts: int = 0
    #: Why it is dead / suppressed / held (a bounded identifier).
    reason: str | None = None
    #: A priority alert: it carries an Acknowledge button (:mod:`alerts.escalation`).
    priority: bool = False
    #: The delivered message (``"channel_id:ts"``, ``"chat_id:message_id"``; ``""`` when the
    #: channel returns none), once delivered.
    ref: str | None = None
    #: A follow-up instead of the alert (an escalation, "Acknowledged by X"): its text ...
    note: str | None = None
    #: ... and the message it replies to (the alert's thread), if any.
    reply_to: str | None = None

    @property
    def key(self) -> bytes:
        """This entry's outbox key."""
        return outbox_key(self.event_id, self.channel)

    def settled(self, state: EntryState, now_s: float, reason: str | None = None) -> OutboxEntry:
        """The entry moved to a final ``state`` at ``now_s`` (the event bytes are dropped)."""
        return replace(self, state=state, updated_s=now_s, event=None, reason=reason)


def encode_entry(entry: OutboxEntry) -> bytes:
    """Table value: ``b"<partition>|"`` + JSON."""
    body: dict[str, object] = {
        "id": entry.event_id,
        "ch": entry.channel,
        "st": entry.state.value,
        "c": round(entry.created_s, 3),
        "u": round(entry.updated_s, 3),
    }
    if entry.event is not None:
        body["ev"] = entry.event.decode()
    if entry.attempts:
        body["n"] = entry.attempts
    if entry.reason is not None:
        body["r"] = entry.reason
    if entry.priority:
        body["pr"] = True
    for name, value in (("ref", entry.ref), ("nt", entry.note), ("rt", entry.reply_to)):
        if value is not None:
            body[name] = value
    return b"%d|" % entry.partition + orjson.dumps(body)


def decode_entry(raw: bytes) -> OutboxEntry:
    """Inverse of :func:`encode_entry`; ``ValueError`` for anything else."""
    head, sep, body = raw.partition(b"|")
    if not sep:
        raise ValueError("outbox value without a partition prefix")
    try:
        data = orjson.loads(body)
        event = data.get("ev")
        return OutboxEntry(
            event_id=str(data["id"]),
            channel=str(data["ch"]),
            partition=int(head),
            state=EntryState(data["st"]),
            created_s=float(data["c"]),
            updated_s=float(data["u"]),
            event=event.encode() if isinstance(event, str) else None,
            attempts=int(data.get("n", 0)),
            reason=data.get("r"),
            priority=bool(data.get("pr", False)),
            ref=_opt_str(data.get("ref")),
            note=_opt_str(data.get("nt")),
            reply_to=_opt_str(data.get("rt")),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"bad outbox value: {exc}") from None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


class OutboxStore(Protocol):
    """Where outbox entries live. ``put`` and ``delete`` name the events partition the entry
    belongs to (a Faust table writes its changelog there)."""

    def get(self, key: bytes) -> bytes | None:
        """The stored value of ``key``, or None."""
        ...

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``."""
        ...

    def delete(self, partition: int, key: bytes) -> None:
        """Forget ``key`` (a tombstone in a changelog)."""
        ...

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """Every (key, value), in no particular order (a snapshot: safe to modify while
        iterating)."""
        ...

    async def written(self, timeout_s: float) -> bool:
        """Wait until the last ``put`` is durable (acknowledged by Kafka, for a changelog);
        False if it is not within ``timeout_s``."""
        ...


class DictOutbox:
    """An in-memory :class:`OutboxStore` (survives nothing: for tests and Kafka-less use)."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.writes = 0

    def get(self, key: bytes) -> bytes | None:
        """The stored value of ``key``, or None."""
        return self.data.get(key)

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Store ``value`` under ``key``."""
        self.data[key] = value
        self.writes += 1

    async def written(self, timeout_s: float) -> bool:
        """Always True: a dict write is as durable as it gets."""
        return True

    def delete(self, partition: int, key: bytes) -> None:
        """Forget ``key``."""
        self.data.pop(key, None)
        self.writes += 1

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """A snapshot of every (key, value)."""
        return iter(list(self.data.items()))

    def entries(self) -> list[OutboxEntry]:
        """Every entry, decoded (for tests and inspection)."""
        return [decode_entry(v) for v in self.data.values()]


#: The events partition of the alert being delivered (set by the delivery worker), so stores
#: written during a send (Slack threads) land in that partition's changelog.
DELIVERY_PARTITION: ContextVar[int] = ContextVar("skyfence_delivery_partition", default=0)
#: Outbox keys of Slack thread records start with this (they are not delivery entries).
THREAD_PREFIX = b"thread|"


class OutboxThreadStore:
    """A Slack :class:`~alerts.channels.slack.ThreadStore` kept in the outbox, so a visit's
    thread survives restarts (an entry in Pyongyang and the exit two days later stay in one
    thread). Keys: ``thread|<channel>|<icao24>|<zone>``; values: JSON ``{"ts", "u"}`` (the
    thread's first message ``ts`` and the wall time of the write, for the retention sweep).

    ``outbox`` is a callable, because the notifier swaps its store for a Faust table's when
    it is attached to an app.
    """

    def __init__(
        self, outbox: Callable[[], OutboxStore], channel: str, clock: Callable[[], float]
    ) -> None:
        self._outbox = outbox
        self._channel = channel
        self._clock = clock

    def _key(self, key: str) -> bytes:
        return THREAD_PREFIX + f"{self._channel}|{key}".encode()

    def get(self, key: str) -> str | None:
        """The thread ``ts`` for ``key``, or None."""
        raw = self._outbox().get(self._key(key))
        if raw is None:
            return None
        try:
            ts = orjson.loads(raw.partition(b"|")[2]).get("ts")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return ts if isinstance(ts, str) else None

    def set(self, key: str, ts: str) -> None:
        """Remember ``ts`` as the thread of ``key``."""
        partition = DELIVERY_PARTITION.get()
        body = orjson.dumps({"ts": ts, "u": round(self._clock(), 3)})
        self._outbox().put(partition, self._key(key), b"%d|" % partition + body)

    def discard(self, key: str) -> None:
        """Forget ``key`` (the visit ended)."""
        self._outbox().delete(DELIVERY_PARTITION.get(), self._key(key))


def thread_record_age(raw: bytes, now_s: float) -> tuple[int, float] | None:
    """(partition, age in seconds) of a thread record, or None if it is not one."""
    head, _, body = raw.partition(b"|")
    try:
        updated = float(orjson.loads(body)["u"])
        return int(head), now_s - updated
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


#: Outbox keys of cooldown records: ``cooldown|<icao24>|<zone>|<event type>``.
COOLDOWN_PREFIX = b"cooldown|"


def cooldown_record(
    key: tuple[str, str, str], partition: int, event_ts: float, now_s: float
) -> tuple[bytes, bytes]:
    """(outbox key, value) remembering that ``key`` (aircraft, zone, event type) alerted at
    event time ``event_ts``: ``b"<partition>|"`` + JSON ``{"t", "u"}`` (``u``: wall time of
    the write, for the retention sweep)."""
    body = orjson.dumps({"t": event_ts, "u": round(now_s, 3)})
    return COOLDOWN_PREFIX + "|".join(key).encode(), b"%d|" % partition + body


def decode_cooldown_record(
    key: bytes, raw: bytes
) -> tuple[tuple[str, str, str], int, float, float] | None:
    """(cooldown key, partition, event time, wall time of the write) of a cooldown record,
    or None if it is not a valid one."""
    parts = key[len(COOLDOWN_PREFIX) :].decode(errors="replace").split("|")
    head, _, body = raw.partition(b"|")
    try:
        obj = orjson.loads(body)
        if len(parts) != 3:
            return None
        return (parts[0], parts[1], parts[2]), int(head), float(obj["t"]), float(obj["u"])
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None
