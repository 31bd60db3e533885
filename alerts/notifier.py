"""The notifier: reads events, and delivers each routed alert once per channel, durably.

For every event read from the events topic, :meth:`Notifier.handle`:

1. decodes it (an undecodable event goes to the alerts dead-letter topic, counted), and
   enriches it once (:meth:`alerts.enrich.Enricher.enrich`: registration, type, operator,
   State of registry, watchlists), so routing, every channel and the outbox see who it is;
2. routes it (:mod:`alerts.routing`: mutes, rules by zone, type, country of registration,
   watchlist class, callsign) to channel names; none -> counted as ``unrouted``; an aircraft
   muted from chat (``/mute``, :attr:`Notifier.mutes`) is recorded ``suppressed``;
3. skips the channels the outbox already has a record for (the same event read again after a
   crash or a rebalance: idempotency by ``event_id`` and channel);
4. **flood control**: when the event's time lags wall time by more than
   ``DeliveryPolicy.max_lag_s`` (default 5 minutes; a backlog after an outage, or someone
   replaying yesterday) and replay mode is off, records the alerts as ``held`` and counts them
   instead of pushing them to the desk;
5. applies the cooldown (same aircraft, zone and event type), recording ``suppressed``;
6. writes one ``pending`` outbox entry per channel, then queues it on that channel's
   :class:`~alerts.delivery.ChannelWorker` (rate limits, retries with backoff, dead letters).

Only then does the Faust agent move on and, later, commit the event's offset; Faust flushes
the producer (the outbox's changelog) before every commit. So an alert accepted from the
events topic is in the durable outbox before its event is committed, and a worker that dies
before delivering sends it after restart (:meth:`Notifier.restore`).

**Exactly once, and the window that remains.** A delivery is marked ``delivered`` in the
outbox right after the peer accepts it, and the channel's next alert waits until that record
is acknowledged by Kafka (:data:`DELIVERED_DURABLE_WAIT_S`). Slack and Telegram have no
idempotency keys, so if the worker dies (or freezes until another notifier owns its
partitions) *between the peer's 200 and that record reaching Kafka* (a few milliseconds: one
producer round trip), that one alert per channel is sent again after restart. A graceful stop
(SIGTERM) lets the alerts in flight finish and flushes the outbox first, so it never
duplicates. An alert is never lost: until an entry is ``delivered`` or ``dead`` it is retried, here or by the
next owner of its partition.

**Acknowledge and escalate** (:mod:`alerts.escalation`): an alert a ``priority`` routing
rule takes carries an Acknowledge button and gets a record in the ``escalations`` store
(keyed by event id, a second Faust table beside the outbox). Delivery records each message's
reference there (where follow-ups reply). :meth:`Notifier.fire_escalations`, called every
``escalation_tick_s`` by a timer with the injected clock's now, escalates each unacknowledged
alert past its deadline once: the escalation and a note in the alert's thread are outbox
entries (``<event_id>~esc|<channel>``, ``<event_id>~escnote|<channel>``), delivered like
alerts. :meth:`Notifier.acknowledge` (called by :class:`alerts.acks.AckHandler` on a button
press) marks the record acknowledged, which cancels the escalation, and queues
"Acknowledged by X" into the threads (``<event_id>~ack|<channel>``).

The shells: :class:`TableOutbox` keeps the outbox in a Faust table (changelog = compacted Kafka
topic); :func:`create_notifier_app` builds the notifier's own Faust app (app id
``<app_id>-notifier``: its own consumer group on the events topic and its own ``outbox``
table), which runs beside the tracker's app in one process or alone in its own
(``skyfence worker --role notifier``), and wires restore/revoke to rebalances. Without Kafka, a :class:`~alerts.outbox.DictOutbox` and
direct calls to :meth:`Notifier.handle` give the same behaviour in memory (tests).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from alerts.channels.base import Channel
from alerts.delivery import ChannelWorker, Job
from alerts.enrich import Enricher
from alerts.errors import AlertsConfigError
from alerts.escalation import (
    AckOutcome,
    DueHeap,
    Escalation,
    EscalationState,
    decode_escalation,
    due,
    encode_escalation,
    escalate,
    escalation_key,
    format_duration,
    new_escalation,
    with_ref,
)
from alerts.escalation import acknowledge as ack_record
from alerts.metrics import NotifierMetrics
from alerts.outbox import (
    COOLDOWN_PREFIX,
    THREAD_PREFIX,
    DictOutbox,
    EntryState,
    OutboxEntry,
    OutboxStore,
    OutboxThreadStore,
    cooldown_record,
    decode_cooldown_record,
    decode_entry,
    encode_entry,
    outbox_key,
    thread_record_age,
)
from alerts.ratelimit import MultiLimit
from alerts.render import build_context
from alerts.retry import Backoff
from alerts.routing import Cooldowns, Router, cooldown_key
from alerts.routing_config import ChannelSpec, RoutingConfig, Rule
from streams import faust_tuning
from streams.app import faust_settings, raw_table, raw_topic
from streams.codec import decode_event, encode_event
from streams.config import StreamSettings
from streams.errors import DecodeError
from streams.models import AirspaceEvent

__all__ = [
    "DeadLetterSink",
    "DeliveryPolicy",
    "Notifier",
    "NotifierApp",
    "TableOutbox",
    "create_notifier_app",
    "notifier_app_id",
]

log = logging.getLogger(__name__)

#: Headers set on dead-lettered alerts.
REASON_HEADER = "skyfence-reason"
CHANNEL_HEADER = "skyfence-channel"
ATTEMPTS_HEADER = "skyfence-attempts"

#: Writes one dead letter: (key, value, headers).
DeadLetterSink = Callable[[bytes | None, bytes, dict[str, bytes]], Awaitable[None]]


def _default_backoff() -> Backoff:
    # 1 s, 2 s, 4 s ... capped at 60 s: an outage of a minute costs at most one extra minute;
    # after an hour of failures the alert goes to the dead-letter topic for a human.
    return Backoff(base_s=1.0, max_s=60.0, jitter="full", give_up_after_s=3600.0)


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    """How the notifier delivers. Units in the names."""

    #: Events whose time lags wall time by more than this are held, not pushed (flood control).
    max_lag_s: float = 300.0
    #: Push old events anyway (replaying a recording to a channel on purpose).
    replay: bool = False
    #: Retry delays and the give-up budget.
    backoff: Backoff = field(default_factory=_default_backoff)
    #: Settled outbox entries are forgotten after this long (the idempotency horizon: an event
    #: re-read later than this would alert again).
    retention_s: float = 7 * 86400.0
    #: Wall time between sweeps of settled entries older than ``retention_s``.
    sweep_interval_s: float = 3600.0
    #: On a graceful stop, wait this long for alerts in flight to finish.
    stop_grace_s: float = 10.0
    #: Zombie fence: when the event loop has not run for this long (the process was paused,
    #: SIGSTOP, a VM freeze, a long GC), it may have lost its consumer group membership
    #: without knowing yet, so deliveries pause (None: no fence; the Faust shell sets half
    #: the session timeout).
    stall_s: float | None = None
    #: ... until the next rebalance completes, or this long after the stall was seen.
    stall_hold_s: float = 30.0
    #: Wall time between checks for due escalations (priority alerts nobody acknowledged).
    escalation_tick_s: float = 1.0
    #: A stall at least this long certainly cost the group membership (the session timeout;
    #: None: never assume so): events read during the rebalance that follows are left to
    #: the partition's next owner instead of being written to the outbox.
    stall_lost_s: float | None = None


#: Longest a channel's worker waits for the ``delivered`` record of an alert to be
#: acknowledged by Kafka before it sends the next one (normally one produce round trip,
#: milliseconds); bounded so a broker outage delays alerts but does not stop them.
DELIVERED_DURABLE_WAIT_S = 10.0


def _fields(event: AirspaceEvent, **more: object) -> dict[str, object]:
    """Structured log fields of an event (``--log-format json``): its id, aircraft, zone and
    type follow it from detection to every delivery attempt."""
    return {
        "event_id": event.event_id, "icao24": event.icao24, "zone": event.zone,
        "type": event.type.value, **more,
    }  # fmt: skip


#: Retriable reasons meaning "the peer said slow down" (``skyfence_deliveries_total``'s
#: ``rate_limited``): ours (alerts.responses), Slack's Web API error, a bare HTTP 429.
_RATE_LIMITED = frozenset({"rate_limited", "ratelimited", "http_429"})


class Notifier:
    """Routes events and delivers alerts through per-channel workers (module docstring)."""

    def __init__(
        self,
        channels: Sequence[Channel],
        metrics: NotifierMetrics,
        *,
        router: Router | None = None,
        outbox: OutboxStore | None = None,
        policy: DeliveryPolicy | None = None,
        limits: Mapping[str, MultiLimit] | None = None,
        enricher: Enricher | None = None,
        dead_letter: DeadLetterSink | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        names = [c.name for c in channels]
        if len(set(names)) != len(names):
            raise AlertsConfigError(f"channel names must be unique, got {names}")
        self.channels = {c.name: c for c in channels}
        self.metrics = metrics
        # Without routing, every channel gets every event (forecasts included); the desk's
        # default routing (no forecasts) is what alerts.config builds for real channels.
        self.router = router or Router(
            RoutingConfig(
                channels={n: ChannelSpec(name=n, kind="console") for n in names},
                rules=(Rule(name="everything", channels=tuple(names)),),
            )
        )
        unknown = {
            n for r in self.router.config.rules for n in (*r.channels, *r.escalate_to)
        } - set(names)
        if unknown:
            raise AlertsConfigError(
                f"routing names channels that are not configured: {sorted(unknown)}"
            )
        self.cooldowns = Cooldowns(self.router.config.cooldown_s)
        self.outbox: OutboxStore = outbox if outbox is not None else DictOutbox()
        #: Priority alerts by event id (:mod:`alerts.escalation`); a Faust table in the app.
        self.escalations: OutboxStore = DictOutbox()
        self._due = DueHeap()
        self._escalation_timer: asyncio.Task[None] | None = None
        #: Escalations sent (records moved to ``escalated``) and acknowledgements taken.
        self.escalated = 0
        self.acknowledged = 0
        metrics.watch_outbox(lambda: sum(1 for _ in self.outbox.scan()))
        self.policy = policy or DeliveryPolicy()
        self.enricher = enricher or Enricher()
        self.enricher.on_reload(
            lambda kind, outcome: metrics.enrichment_reloads.labels(kind, outcome).inc()
        )
        self._dead_letter = dead_letter
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        limits = limits or {}
        for channel in channels:
            if hasattr(channel, "threads") and getattr(channel, "persist_threads", True):
                # Slack Web API threads in the durable outbox: they survive restarts.
                channel.threads = OutboxThreadStore(lambda: self.outbox, channel.name, clock)
        self.workers = {
            name: ChannelWorker(
                channel,
                backoff=self.policy.backoff,
                limit=limits.get(name),
                on_delivered=self._delivered,
                on_dead=self._dead,
                on_retry=self._retrying,
                gate=self._gate,
                image_for=self.enricher.image,
                monotonic=monotonic,
                sleep=sleep,
                rand=rand,
            )
            for name, channel in self.channels.items()
        }
        self._tasks: list[asyncio.Task[None]] = []
        self._ticker: asyncio.Task[None] | None = None
        self._last_tick_s = monotonic()
        self._fenced_until_s = float("-inf")
        #: Stalls seen (the process did not run for ``policy.stall_s`` or longer).
        self.stalls = 0
        #: Events partitions this notifier owns (None: all, when there is no consumer group).
        self.owned: set[int] | None = None
        #: Whether a consumer-group rebalance is under way (the Faust shell sets it).
        self.rebalancing: Callable[[], bool] = lambda: False
        #: Length of the last stall seen (0: none yet).
        self.last_stall_s = 0.0
        #: Events not handled because this notifier was a zombie (see :meth:`_ours`).
        self.skipped = 0
        self._next_sweep_s = 0.0
        #: Mutes set from chat (``/mute``, :mod:`alerts.commands`): ``(event, now_s) -> bool``;
        #: a muted event's alerts are recorded ``suppressed`` (reason ``muted``) on every
        #: channel but the local console, and counted as such.
        self.mutes: Callable[[AirspaceEvent, float], bool] | None = None
        #: Events read (including duplicates and undecodable ones) and alerts delivered.
        self.read = 0
        #: Events whose handling finished (routed and queued, or set aside): with
        #: :attr:`read`, tells a caller that nothing read is still on its way to a queue.
        self.handled = 0
        self.delivered = 0
        self.dead = 0
        self.held = 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start one delivery task per channel."""
        if self._tasks:
            return
        for worker in self.workers.values():
            self._tasks.append(asyncio.create_task(worker.run(), name=f"deliver:{worker.name}"))
        if self.policy.stall_s is not None:
            self._last_tick_s = self._monotonic()
            self._ticker = asyncio.create_task(self._tick(), name="notifier:stall-watch")
        if any(r.escalate_to for r in self.router.config.rules):
            self._escalation_timer = asyncio.create_task(
                self._escalation_loop(), name="notifier:escalations"
            )

    async def _escalation_loop(self) -> None:
        # Real time between checks; the decision itself takes the injected clock's now.
        while True:
            await asyncio.sleep(self.policy.escalation_tick_s)
            try:
                self.fire_escalations()
            except Exception:  # a bug must not stop the timer for every other alert
                log.exception("escalation check failed")

    async def _tick(self) -> None:
        # A loop that runs every stall_s / 4 cannot see a gap of stall_s unless it was stopped.
        assert self.policy.stall_s is not None
        while True:
            self.fenced()
            await asyncio.sleep(self.policy.stall_s / 4)  # real time, like the stall itself

    def fenced(self) -> bool:
        """Whether deliveries are paused because this process was stalled (policy
        ``stall_s``): it may be a zombie whose partitions another notifier owns now. Called
        by a ticker every ``stall_s / 4`` and by the delivery gate right before each send (so
        a send cannot slip out before the ticker notices); a gap of ``stall_s`` between two
        calls means the event loop did not run."""
        now_s = self._monotonic()
        stall_s = self.policy.stall_s
        if stall_s is not None and now_s - self._last_tick_s >= stall_s:
            self.stalls += 1
            self.last_stall_s = now_s - self._last_tick_s
            self._fenced_until_s = now_s + self.policy.stall_hold_s
            log.warning(
                "stalled for %.1f s (>= %.1f s): deliveries paused until the next rebalance "
                "completes or %.0f s pass (another notifier may own our partitions now)",
                now_s - self._last_tick_s, stall_s, self.policy.stall_hold_s,
            )  # fmt: skip
        self._last_tick_s = now_s  # each check is a sign of life too
        return now_s < self._fenced_until_s

    async def _gate(self, job: Job) -> bool:
        # Right before each attempt: drop the job if its partition was revoked (the new owner
        # sends it from the outbox); wait while fenced, as the revocation may be on its way.
        while True:
            if self.owned is not None and job.partition not in self.owned:
                return False
            if not self.fenced():
                return True
            await self._sleep(0.2)

    @property
    def pending(self) -> int:
        """Alerts queued or in flight, all channels."""
        return sum(w.pending for w in self.workers.values())

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued alert is delivered or given up on; False on timeout."""
        loop = asyncio.get_running_loop()  # real time: the injected clock may be virtual
        deadline = None if timeout_s is None else loop.time() + timeout_s
        for worker in self.workers.values():
            left = None if deadline is None else max(0.0, deadline - loop.time())
            if not await worker.wait_idle(left):
                return False
        return True

    async def stop(self) -> None:
        """Let alerts in flight finish (up to ``stop_grace_s``), then stop the workers.
        Queued alerts stay ``pending`` in the outbox and are sent after the next start."""
        for task in (self._ticker, self._escalation_timer):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        self._ticker = self._escalation_timer = None
        for worker in self.workers.values():
            worker.stop_after_current()
        if self._tasks:
            _done, running = await asyncio.wait(self._tasks, timeout=self.policy.stop_grace_s)
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)
        self._tasks.clear()

    async def close(self) -> None:
        """Stop, then close every channel."""
        await self.stop()
        for channel in self.channels.values():
            await channel.close()

    # -- the event path ----------------------------------------------------------------------

    async def _ours(self, partition: int) -> bool:
        """Whether to handle an event of ``partition`` now: while fenced after a stall (see
        :meth:`fenced`), wait; give the event up (False) when the partition was revoked
        meanwhile, or when a rebalance is under way after a stall long enough to have cost
        the membership (``policy.stall_lost_s``): this process is then a zombie reading
        from its old fetch buffer, and an outbox record it wrote (``pending`` for an alert
        the new owner already sent) would overwrite the new owner's ``delivered`` one and
        make the next owner send it again (chaos scenario 7). The new owner reads the event
        itself; a zombie's offset commit is refused by the broker."""
        lost_s = self.policy.stall_lost_s
        while self.fenced():
            if self.owned is not None and partition not in self.owned:
                return False
            if lost_s is not None and self.last_stall_s >= lost_s and self.rebalancing():
                return False
            await self._sleep(0.2)
        return True

    async def handle(self, value: bytes | None, partition: int = 0) -> AirspaceEvent | None:
        """Decode, route and queue one event; returns it, or None when undecodable (or left
        to the partition's new owner, see :meth:`_ours`)."""
        self.read += 1
        try:
            return await self._handle(value, partition)
        finally:
            self.handled += 1

    def idle(self) -> bool:
        """Whether every event read so far is handled and every queued alert sent (or given
        up): what a caller waits for before a graceful stop that must not leave alerts
        ``pending`` (tests, a replay's end)."""
        return self.handled >= self.read and all(w.pending == 0 for w in self.workers.values())

    async def _handle(self, value: bytes | None, partition: int) -> AirspaceEvent | None:
        metrics = self.metrics
        if not await self._ours(partition):
            self.skipped += 1
            metrics.events.labels("not_ours").inc()
            log.warning(
                "event of partition %d left to its new owner (this notifier stalled)", partition
            )
            return None
        try:
            event = decode_event(value if value is not None else b"")
        except DecodeError as exc:
            log.error("undecodable event set aside: %s", exc)
            metrics.events.labels("undecodable").inc()
            # A null value (a tombstone) is set aside as an empty one: Kafka takes no record
            # without key and value (found by tests/chaos scenario 4).
            await self._send_dead_letter(
                None,
                value or b"",
                {REASON_HEADER: f"undecodable:{exc.reason}".encode()},
            )
            return None
        if self.owned is not None:
            self.owned.add(partition)
        self._maybe_sweep()
        # Who the aircraft is, once per event (never per position: the tracker does no
        # lookups); the enriched event is what routing, channels and the outbox see.
        facts = self.enricher.facts(event.icao24)
        enriched = self.enricher.enrich(event, facts)
        if enriched != event:
            event, value = enriched, encode_event(enriched)
        routed = self.router.route(event, country=facts.country, aircraft=facts.entries)
        if not routed:
            metrics.events.labels("unrouted").inc()
            return event
        now_s = self._clock()
        fresh = [name for name in routed if self._is_new(outbox_key(event.event_id, name))]
        if not fresh:
            metrics.events.labels("duplicate").inc()
            return event
        if self.mutes is not None and self.mutes(event, now_s):
            muted = [n for n in fresh if not getattr(self.channels[n], "local", False)]
            if muted:
                self._record(event, partition, muted, EntryState.SUPPRESSED, "muted", now_s)
                metrics.events.labels("suppressed_muted").inc()
                for name in muted:
                    metrics.outcomes.labels(name, "suppressed").inc()
                fresh = [n for n in fresh if n not in muted]
                if not fresh:
                    return event
        lag_s = now_s - event.observed_ts
        if lag_s > self.policy.max_lag_s and not self.policy.replay:
            held = [n for n in fresh if not getattr(self.channels[n], "local", False)]
            self._record(event, partition, held, EntryState.HELD, "backlog", now_s)
            fresh = [n for n in fresh if n not in held]
            if held:
                metrics.events.labels("held_backlog").inc()
                for name in held:
                    metrics.outcomes.labels(name, "held").inc()
                self.held += 1
                log.info(
                    "held %s %s %s: event time lags wall time by %.0f s (> %.0f s; replay off)",
                    event.type.value, event.icao24, event.event_id, lag_s, self.policy.max_lag_s,
                    extra=_fields(event, reason="backlog"),
                )  # fmt: skip
            if not fresh:
                return event
        key = cooldown_key(event)
        if not self.cooldowns.allow(key, event.observed_ts):
            self._record(event, partition, fresh, EntryState.SUPPRESSED, "cooldown", now_s)
            metrics.events.labels("suppressed_cooldown").inc()
            for name in fresh:
                metrics.outcomes.labels(name, "suppressed").inc()
            return event
        if self.cooldowns.window_s > 0:
            # Durable, so a restart (or the next owner of the partition) keeps the window.
            record_key, record = cooldown_record(key, partition, event.observed_ts, now_s)
            self.outbox.put(partition, record_key, record)
        metrics.events.labels("new").inc()
        rule = self.router.priority(event, country=facts.country, aircraft=facts.entries)
        if rule is not None and lag_s > self.policy.max_lag_s and not self.policy.replay:
            rule = None  # a backlog event held from the desk: nobody is asked to take it
        if rule is not None:
            self._open_escalation(event, value, partition, rule, fresh, now_s)
        for name in fresh:
            entry = OutboxEntry(
                event_id=event.event_id,
                channel=name,
                partition=partition,
                state=EntryState.PENDING,
                created_s=now_s,
                updated_s=now_s,
                event=value,
                priority=rule is not None,
            )
            self.outbox.put(partition, entry.key, encode_entry(entry))
            self._submit(Job(entry, event))
        return event

    # -- acknowledge and escalate ------------------------------------------------------------

    def _open_escalation(
        self,
        event: AirspaceEvent,
        value: bytes | None,
        partition: int,
        rule: Rule,
        channels: Sequence[str],
        now_s: float,
    ) -> None:
        key = escalation_key(event.event_id)
        if self.escalations.get(key) is not None:
            return  # read again after a crash: the first record (and its deadline) stands
        record = new_escalation(
            event.event_id,
            partition,
            accepted_s=now_s,
            escalate_after_s=rule.escalate_after_s,
            escalate_to=rule.escalate_to,
            channels=tuple(channels),
            headline=build_context(event).headline,
            event=value,
        )
        self.escalations.put(partition, key, encode_escalation(record))
        self.metrics.escalations.labels("opened").inc()
        if record.deadline_s is not None:
            self._due.push(record.deadline_s, record.event_id)

    def escalation(self, event_id: str) -> Escalation | None:
        """The record of priority alert ``event_id``, or None (unknown, or not decodable)."""
        raw = self.escalations.get(escalation_key(event_id))
        if raw is None:
            return None
        try:
            return decode_escalation(raw)
        except ValueError:
            log.warning("undecodable escalation record for %s", event_id)
            return None

    def _mine(self, partition: int) -> bool:
        return self.owned is None or partition in self.owned

    def fire_escalations(self, now_s: float | None = None) -> int:
        """Escalate every priority alert whose deadline has come and that nobody
        acknowledged: once each (the record is ``escalated`` from then on). The escalation
        (and a note in the alert's thread) goes through the outbox like an alert. Returns
        how many escalated."""
        now_s = self._clock() if now_s is None else now_s
        if self.fenced():
            # Stalled: another notifier may own our partitions now and escalates them; the
            # deadlines stay in the heap for when the fence lifts.
            return 0
        fired = 0
        for event_id in self._due.pop_due(now_s):
            record = self.escalation(event_id)
            if record is None or not self._mine(record.partition) or not due(record, now_s):
                continue
            after = format_duration((record.deadline_s or now_s) - record.accepted_s)
            targets = ", ".join(record.escalate_to)
            # Outbox entries first, the record second: a crash between the two escalates
            # again after restart, and the entries, keyed by event id, are not written twice.
            for name in record.escalate_to:
                text = f"ESCALATED, not acknowledged within {after}: {record.headline}"
                self._queue_note(record, "esc", name, text, None, priority=True, now_s=now_s)
            for name in record.channels:
                text = f"Escalated to {targets}: not acknowledged within {after}"
                ref = record.refs.get(name) or None
                self._queue_note(record, "escnote", name, text, ref, priority=False, now_s=now_s)
            self.escalations.put(
                record.partition, record.key, encode_escalation(escalate(record, now_s))
            )
            self.escalated += 1
            self.metrics.escalations.labels("escalated").inc()
            fired += 1
            log.warning(
                "priority alert %s not acknowledged within %s: escalated to %s",
                event_id, after, targets, extra={"event_id": event_id},
            )  # fmt: skip
        return fired

    def acknowledge(self, event_id: str, who: str, now_s: float | None = None) -> AckOutcome | None:
        """Acknowledge priority alert ``event_id`` as ``who``: the record says so (its
        escalation is cancelled if still waiting) and "Acknowledged by X" goes to the
        alert's threads. Idempotent. None when the alert is unknown here (not a priority
        alert, forgotten, or in a partition this notifier does not own)."""
        now_s = self._clock() if now_s is None else now_s
        record = self.escalation(event_id)
        if record is None or not self._mine(record.partition):
            return None
        outcome = ack_record(record, who, now_s)
        if not outcome.changed:
            return outcome
        for name in record.channels:
            ref = record.refs.get(name) or None
            self._queue_note(record, "ack", name, outcome.text, ref, priority=False, now_s=now_s)
        if record.state is EscalationState.ESCALATED:
            for name in record.escalate_to:
                if name not in record.channels:
                    self._queue_note(
                        record, "ack", name, f"{outcome.text}: {record.headline}", None,
                        priority=False, now_s=now_s,
                    )  # fmt: skip
        self.escalations.put(record.partition, record.key, encode_escalation(outcome.record))
        self.acknowledged += 1
        self.metrics.escalations.labels("acknowledged").inc()
        log.info(
            "priority alert %s acknowledged by %s", event_id, who, extra={"event_id": event_id}
        )
        return outcome

    def _queue_note(
        self,
        record: Escalation,
        kind: str,
        channel: str,
        text: str,
        reply_to: str | None,
        *,
        priority: bool,
        now_s: float,
    ) -> None:
        if channel not in self.workers or record.event is None:
            return
        entry = OutboxEntry(
            event_id=f"{record.event_id}~{kind}",
            channel=channel,
            partition=record.partition,
            state=EntryState.PENDING,
            created_s=now_s,
            updated_s=now_s,
            event=record.event,
            priority=priority,
            note=text,
            reply_to=reply_to,
        )
        if self.outbox.get(entry.key) is not None:
            return  # written before a crash: restore sends it, if it is still pending
        try:
            event = decode_event(record.event)
        except DecodeError:
            return
        self.outbox.put(record.partition, entry.key, encode_entry(entry))
        self._submit(Job(entry, event))

    def _is_new(self, key: bytes) -> bool:
        raw = self.outbox.get(key)
        if raw is None:
            return True
        try:
            entry = decode_entry(raw)
        except ValueError:
            log.warning("overwriting an undecodable outbox entry %r", key)
            return True
        # A held alert may be pushed by a later run in replay mode.
        return entry.state is EntryState.HELD and self.policy.replay

    def _record(
        self,
        event: AirspaceEvent,
        partition: int,
        channels: Sequence[str],
        state: EntryState,
        reason: str,
        now_s: float,
    ) -> None:
        for name in channels:
            entry = OutboxEntry(event.event_id, name, partition, state, now_s, now_s, reason=reason)
            self.outbox.put(partition, entry.key, encode_entry(entry))

    def _submit(self, job: Job) -> None:
        worker = self.workers.get(job.entry.channel)
        if worker is None:  # a channel removed from the config since the entry was written
            log.warning("outbox entry for unknown channel %s left pending", job.entry.channel)
            return
        if worker.submit(job):
            self.metrics.pending.labels(worker.name).set(worker.pending)

    # -- worker callbacks --------------------------------------------------------------------

    async def _delivered(self, job: Job, attempts: int) -> None:
        now_s = self._clock()
        entry = job.entry.settled(EntryState.DELIVERED, now_s)
        entry = replace(_with_attempts(entry, attempts - 1), ref=job.ref)
        self._write(entry)
        if job.entry.priority and job.entry.note is None and job.ref is not None:
            # Where the acknowledgement and the escalation note will reply.
            record = self.escalation(job.entry.event_id)
            if record is not None:
                record = with_ref(record, entry.channel, job.ref)
                self.escalations.put(record.partition, record.key, encode_escalation(record))
        # The next alert on this channel waits until this record is in Kafka: a crash or a
        # freeze (SIGSTOP) then re-sends at most the one alert in flight, never also the one
        # before it whose record was still buffered (chaos scenarios 1 and 7).
        if not await self.outbox.written(DELIVERED_DURABLE_WAIT_S):
            log.warning(
                "the delivered record of alert %s (%s) is not in Kafka after %.0f s",
                entry.event_id, entry.channel, DELIVERED_DURABLE_WAIT_S,
            )  # fmt: skip
        self.delivered += 1
        self.metrics.deliveries.labels(entry.channel, "delivered").inc()
        self.metrics.outcomes.labels(entry.channel, "sent").inc()
        log.info(
            "alert %s (%s %s) delivered to %s after %d attempt(s)",
            entry.event_id, job.event.type.value, job.event.icao24, entry.channel, attempts,
            extra=_fields(job.event, channel=entry.channel, attempt=attempts),
        )  # fmt: skip
        self.metrics.delivery_latency.labels(entry.channel).observe(
            max(0.0, now_s - job.entry.created_s)
        )
        lag_s = now_s - job.event.observed_ts
        if lag_s <= self.policy.max_lag_s:
            self.metrics.latency.labels(entry.channel).observe(max(0.0, lag_s))
        self.metrics.pending.labels(entry.channel).set(self.workers[entry.channel].pending - 1)

    async def _dead(self, job: Job, reason: str, attempts: int) -> None:
        now_s = self._clock()
        entry = _with_attempts(job.entry.settled(EntryState.DEAD, now_s, reason), attempts)
        self._write(entry)
        self.dead += 1
        log.error(
            "alert %s (%s) to %s given up after %d attempt(s): %s",
            entry.event_id, job.event.icao24, entry.channel, attempts, reason,
            extra=_fields(job.event, channel=entry.channel, attempt=attempts, reason=reason),
        )  # fmt: skip
        self.metrics.deliveries.labels(entry.channel, "dead_letter").inc()
        if not reason.startswith("retries_exhausted:"):
            self.metrics.outcomes.labels(entry.channel, "rejected").inc()
        self.metrics.outcomes.labels(entry.channel, "dead_lettered").inc()
        self.metrics.dead_letters.labels(entry.channel, reason).inc()
        self.metrics.pending.labels(entry.channel).set(self.workers[entry.channel].pending - 1)
        await self._send_dead_letter(
            job.event.icao24.encode(),
            job.entry.event or b"",
            {
                REASON_HEADER: reason.encode(),
                CHANNEL_HEADER: entry.channel.encode(),
                ATTEMPTS_HEADER: str(attempts).encode(),
            },
        )

    def _retrying(self, job: Job, reason: str, delay_s: float) -> None:
        self.metrics.retries.labels(job.entry.channel, reason).inc()
        outcome = "rate_limited" if reason in _RATE_LIMITED else "retried"
        self.metrics.outcomes.labels(job.entry.channel, outcome).inc()
        log.warning(
            "alert %s (%s) to %s failed (%s); retrying in %.1f s",
            job.entry.event_id, job.event.icao24, job.entry.channel, reason, delay_s,
            extra=_fields(job.event, channel=job.entry.channel, reason=reason),
        )  # fmt: skip

    def _write(self, entry: OutboxEntry) -> None:
        # Still write when the partition moved away mid-flight: the record is true, and the
        # new owner, if it recovered before this landed, may send once more (see docstring).
        self.outbox.put(entry.partition, entry.key, encode_entry(entry))

    async def _send_dead_letter(
        self, key: bytes | None, value: bytes, headers: dict[str, bytes]
    ) -> None:
        if self._dead_letter is None:
            return
        try:
            await self._dead_letter(key, value, headers)
        except Exception:  # the outbox already records it as dead; keep delivering others
            log.exception("could not write an alert dead letter")

    # -- rebalances, restarts, housekeeping --------------------------------------------------

    def restore(self, partitions: set[int] | None = None) -> int:
        """Queue the ``pending`` outbox entries of ``partitions`` (None: all) again, e.g. after
        a restart or when a rebalance hands this notifier partitions. Returns how many."""
        if partitions is not None:
            self.owned = set(partitions) if self.owned is None else self.owned | partitions
            # A rebalance completed: the assignment is current again, lift a stall fence.
            self._fenced_until_s = float("-inf")
        self._restore_escalations(partitions)
        queued = 0
        for key, raw in self.outbox.scan():
            if key.startswith(THREAD_PREFIX):
                continue
            if key.startswith(COOLDOWN_PREFIX):
                record = decode_cooldown_record(key, raw)
                if record is not None and (partitions is None or record[1] in partitions):
                    self.cooldowns.remember(record[0], record[2])
                continue
            try:
                entry = decode_entry(raw)
            except ValueError:
                log.warning("skipping an undecodable outbox entry %r", key)
                continue
            if entry.state is not EntryState.PENDING:
                continue
            if partitions is not None and entry.partition not in partitions:
                continue
            worker = self.workers.get(entry.channel)
            if worker is None or worker.has(key) or entry.event is None:
                continue
            try:
                event = decode_event(entry.event)
            except DecodeError:
                continue
            self._submit(Job(entry, event))
            queued += 1
        if queued:
            log.info("restored %d pending alert(s) from the outbox", queued)
        return queued

    def _restore_escalations(self, partitions: set[int] | None) -> None:
        # Deadlines of waiting priority alerts come back from their records (the heap is
        # memory only); a duplicate entry in the heap costs one re-check.
        for _key, raw in self.escalations.scan():
            try:
                record = decode_escalation(raw)
            except ValueError:
                continue
            if partitions is not None and record.partition not in partitions:
                continue
            if record.state is EscalationState.WAITING and record.deadline_s is not None:
                self._due.push(record.deadline_s, record.event_id)

    def revoke(self, partitions: set[int]) -> None:
        """Stop sending queued alerts of ``partitions`` (another notifier owns them now)."""
        if self.owned is not None:
            self.owned -= partitions
        for worker in self.workers.values():
            worker.drop_partitions(partitions)
            self.metrics.pending.labels(worker.name).set(worker.pending)

    def _maybe_sweep(self) -> None:
        now_s = self._clock()
        if now_s < self._next_sweep_s:
            return
        self._next_sweep_s = now_s + self.policy.sweep_interval_s
        self.sweep(now_s)
        self.sweep_escalations(now_s)

    def sweep(self, now_s: float) -> int:
        """Forget settled entries older than ``retention_s``; returns how many."""
        horizon = now_s - self.policy.retention_s
        gone = 0
        for key, raw in self.outbox.scan():
            if key.startswith(THREAD_PREFIX):
                aged = thread_record_age(raw, now_s)
                if aged is not None and aged[1] > self.policy.retention_s:
                    self.outbox.delete(aged[0], key)
                    gone += 1
                continue
            if key.startswith(COOLDOWN_PREFIX):
                record = decode_cooldown_record(key, raw)
                mine = record is not None and (self.owned is None or record[1] in self.owned)
                if record is not None and mine and now_s - record[3] > self.policy.retention_s:
                    self.outbox.delete(record[1], key)
                    gone += 1
                continue
            try:
                entry = decode_entry(raw)
            except ValueError:
                continue
            mine = self.owned is None or entry.partition in self.owned
            if entry.state.final and entry.updated_s < horizon and mine:
                self.outbox.delete(entry.partition, key)
                gone += 1
        return gone

    def sweep_escalations(self, now_s: float) -> int:
        """Forget records of priority alerts accepted more than ``retention_s`` ago."""
        gone = 0
        for key, raw in self.escalations.scan():
            try:
                record = decode_escalation(raw)
            except ValueError:
                continue
            if not self._mine(record.partition):
                continue
            done = record.state is not EscalationState.WAITING or record.deadline_s is None
            if done and now_s - record.accepted_s > self.policy.retention_s:
                self.escalations.delete(record.partition, key)
                gone += 1
        return gone

    def entries(self) -> Iterator[OutboxEntry]:
        """Every decodable outbox entry (for inspection and tests)."""
        for key, raw in self.outbox.scan():
            if key.startswith((THREAD_PREFIX, COOLDOWN_PREFIX)):
                continue
            try:
                yield decode_entry(raw)
            except ValueError:
                continue


def _with_attempts(entry: OutboxEntry, failed: int) -> OutboxEntry:
    return replace(entry, attempts=failed)


class TableOutbox:
    """An :class:`~alerts.outbox.OutboxStore` on a Faust table (in-memory store, changelog
    in Kafka). Writes name their events partition explicitly, so delivery tasks (outside any
    agent's event) can record outcomes in the right changelog partition."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, key: bytes) -> bytes | None:
        """The stored value of ``key``, or None."""
        value = self.table.data.get(key)
        return value if isinstance(value, bytes) else None

    def put(self, partition: int, key: bytes, value: bytes) -> None:
        """Store and log ``value`` under ``key`` in changelog partition ``partition``."""
        self.table.data[key] = value
        self._last_write = self.table.send_changelog(partition, key, value)

    async def written(self, timeout_s: float) -> bool:
        """Wait until the last ``put``'s changelog record is acknowledged by Kafka (Faust's
        future for it resolves then); False on timeout or if it could not be produced."""
        fut = getattr(self, "_last_write", None)
        if fut is None or not isinstance(fut, asyncio.Future):
            return True
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout_s)
        except Exception:  # TimeoutError, or the produce failed (logged by faust_tuning)
            return False
        return True

    def delete(self, partition: int, key: bytes) -> None:
        """Forget ``key`` and write its tombstone."""
        self.table.data.pop(key, None)
        self.table.send_changelog(partition, key, None, value_serializer="raw")

    def scan(self) -> Iterator[tuple[bytes, bytes]]:
        """A snapshot of every (key, value)."""
        return iter(list(self.table.data.items()))


#: Suffix of the notifier app's id (and so of its consumer group and changelog topics): the
#: notifier reads the events topic in a group of its own, apart from the tracker's.
NOTIFIER_APP_SUFFIX = "-notifier"


@dataclass
class NotifierApp:
    """The notifier's own Faust app: its consumer group on the events topic, its outbox table.

    It shares nothing with the tracker's app but the events topic, so delivery runs in the
    tracker's process (``--role all``) or apart (``--role notifier``), scales by the events
    topic's partitions, and restarts on its own.
    """

    app: Any
    notifier: Notifier
    events: Any
    table: Any
    #: The ``escalations`` table (priority alerts: acknowledge / escalate).
    escalations: Any = None

    async def start(self) -> None:
        """Start the delivery tasks, then the Faust app (join, recover the outbox, consume)."""
        await self.notifier.start()
        await self.app.start()

    async def stop(self) -> None:
        """Graceful stop: alerts in flight finish and are recorded, Faust stops (flushing the
        outbox changelog and committing), then the channels close."""
        await self.notifier.stop()
        await self.app.stop()
        await self.notifier.close()


def notifier_app_id(settings: StreamSettings) -> str:
    """The notifier's Faust app id (consumer group, table changelog prefix)."""
    return settings.app_id + NOTIFIER_APP_SUFFIX


def create_notifier_app(
    settings: StreamSettings,
    bootstrap: str,
    notifier: Notifier,
    *,
    dead_letter_topic: str | None = None,
) -> NotifierApp:
    """Build the notifier's Faust app: an agent on the events topic, the outbox in a Faust
    table co-partitioned with it, dead letters in ``dead_letter_topic`` (if given), and
    restore/revoke wired to rebalances. Nothing starts until :meth:`NotifierApp.start`."""
    import faust

    faust_tuning.apply()
    app = faust.App(notifier_app_id(settings), **faust_settings(settings, bootstrap))
    events = raw_topic(app, settings.events_topic, settings.partitions)
    table = raw_table(app, "outbox", settings.partitions)
    notifier.outbox = TableOutbox(table)
    # Priority alerts (acknowledge / escalate), keyed by event id, co-partitioned like the
    # outbox: recovered from its changelog on restart and by the next owner on a rebalance.
    escalations = raw_table(app, "escalations", settings.partitions)
    notifier.escalations = TableOutbox(escalations)
    notifier.owned = set()
    if notifier.policy.stall_s is None:
        # Fence zombies: a stall of half the session timeout may have cost the membership.
        notifier.policy = replace(
            notifier.policy,
            stall_s=settings.session_timeout_s / 2,
            stall_hold_s=2 * settings.session_timeout_s,
            stall_lost_s=settings.session_timeout_s,
        )
    notifier.rebalancing = lambda: bool(app.rebalancing)
    events_topic = settings.events_topic
    if dead_letter_topic:
        dlq = raw_topic(app, dead_letter_topic, 1)

        async def send_dead_letter(
            key: bytes | None, value: bytes, headers: dict[str, bytes]
        ) -> None:
            await dlq.send(key=key, value=value, headers=headers)

        notifier._dead_letter = send_dead_letter

    async def notifier_agent(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            try:
                await notifier.handle(message.value, message.partition)
            except Exception:  # a bug must not stop alerting; the event is in the topic
                log.exception(
                    "notifier failed on %s[%s]@%s", message.topic, message.partition, message.offset
                )

    app.agent(events, name="notifier")(notifier_agent)

    def _events_partitions(tps: Any) -> set[int]:
        return {tp.partition for tp in tps if tp.topic == events_topic}

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]
    async def _restore(sender: Any, **kwargs: Any) -> None:
        # Tables are recovered now: queue what a previous owner (or our previous life) left.
        notifier.restore(_events_partitions(app.consumer.assignment()))

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _revoke(sender: Any, revoked: Any, **kwargs: Any) -> None:
        notifier.revoke(_events_partitions(revoked))

    app.finalize()
    return NotifierApp(
        app=app, notifier=notifier, events=events, table=table, escalations=escalations
    )
