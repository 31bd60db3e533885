"""The Faust application: topics, the per-aircraft table and the tracker agent.

This is a thin shell around :class:`streams.tracking.Tracker`: it decodes messages, looks up
and stores per-aircraft state, and sends the tracker's events. Decisions live in the tracker.

- positions topic: recording format v1 values keyed by icao24 (``settings.partitions``), or
  batches of them (a JSON array, see :mod:`streams.codec`) sent to the partition that owns
  every position in them; a batch costs Faust's per-message overhead (~80 us) once for
  hundreds of positions, which is what makes a worker fast;
- ``aircraft`` table: per-aircraft state (``state_codec.encode_state``, prefixed with its
  partition), co-partitioned with the positions topic (same key, same partition count);
  written only when the tracker says the state changed in a way that matters
  (``StepResult.persist``), and tomb-stoned when the state expires by event time;
- timers (exit confirmation, signal loss) fire against each partition's watermark, the
  highest position time seen in it, before the message that moved it is stepped;
- events topic: event format v1 keyed by icao24;
- dead-letter topic: undecodable positions, unchanged, with ``skyfence-reason`` and
  ``skyfence-detail`` headers. A malformed message is counted and set aside; it never stops
  the agent.

Hostile input (see the README's Formats section for every limit and reason): a message over
:data:`~streams.codec.MESSAGE_MAX_BYTES` is dead-lettered as ``too_large`` with only its
first :data:`DEAD_LETTER_HEAD_BYTES` (``skyfence-size`` says how long it was). A watermark is
untrusted: one more than ``watermark_max_skew_s`` ahead of the partition's latest position
(``watermark_ahead``), or, on a live topic, more than ``watermark_max_future_s`` ahead of the
wall clock (``watermark_future``), is dead-lettered and moves nothing. A produce that fails
(an event or a rekeyed position too large or not authorised, a state write over
:data:`STATE_MAX_BYTES`) dead-letters the input as ``produce_failed``; a dead letter that
cannot be produced is logged and counted, and the agent goes on. ``internal`` (the tracker
raised) is a bug, not bad input: it is logged with its traceback and counted apart
(``skyfence_internal_errors_total``).

A message whose key is not its ``icao24`` (e.g. produced by a tool that sets no key), and a
position in a batch on a partition that does not own it (Kafka's default partitioner,
:func:`streams.codec.partition_of`), is forwarded to the positions topic under its own key,
so per-aircraft state stays co-partitioned whatever the producer did.

The batch loop keeps the per-position work to decoding and ``Tracker.step``: metrics are
counted locally and added once per message, the freshness histogram is observed once per
message (its oldest accepted position), and each aircraft's partition is cached.

Nothing happens at import time: :func:`create_tracker_app` builds everything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any

import faust
import orjson

from streams import faust_tuning
from streams.codec import (
    MESSAGE_MAX_BYTES,
    RawBatch,
    decode_positions,
    encode_event,
    encode_position,
    partition_of,
    position_fields,
    position_from_mapping,
)
from streams.config import StreamSettings
from streams.errors import DecodeError, SkyfenceError
from streams.kafka_auth import faust_credentials
from streams.metrics import TrackerMetrics
from streams.models import AirspaceEvent, PositionReport, Watermark
from streams.offset_watch import OffsetResetWatch
from streams.scheduler import DueQueue, fire_due, schedule, tick_due
from streams.state_codec import decode_state, encode_state
from streams.tracking import EMERGENCY_SQUAWKS, AircraftState, Outcome, Tracker

__all__ = [
    "ProduceFailed",
    "TrackerApp",
    "create_tracker_app",
    "faust_settings",
    "raw_table",
    "raw_topic",
]

log = logging.getLogger(__name__)

#: Headers set on dead-lettered messages.
REASON_HEADER = "skyfence-reason"
DETAIL_HEADER = "skyfence-detail"
#: Set on a dead letter whose value was cut to :data:`DEAD_LETTER_HEAD_BYTES`: the original size.
SIZE_HEADER = "skyfence-size"
#: Bytes kept of a value over :data:`~streams.codec.MESSAGE_MAX_BYTES` in its dead letter:
#: enough to see what it was, far below Kafka's 1 MB message limit.
DEAD_LETTER_HEAD_BYTES = 64 * 1024
#: Largest table value the agent writes: an accepted position's state is under 1 KB (its
#: strings are bounded by the codec), so more is a bug, refused before it reaches Faust's
#: producer buffer (where a too-large changelog record used to stop the worker).
STATE_MAX_BYTES = 64 * 1024


class ProduceFailed(SkyfenceError):
    """A message the agent had to produce (event, state write, rekeyed position) could not
    be: the input that caused it is dead-lettered as ``produce_failed``."""


def faust_settings(settings: StreamSettings, bootstrap: str) -> dict[str, Any]:
    """Faust settings tuned for fast start and steady low latency.

    Why each value: see the README's "Start-up time" section. In short, Faust's defaults wait
    for a consumer-group rebalance and a recovery delay that a single worker does not need.
    """
    return {
        "broker": f"kafka://{bootstrap}",
        "store": "memory://",
        "datadir": settings.data_dir,
        "web_enabled": False,
        "topic_partitions": settings.partitions,
        "topic_replication_factor": settings.replication_factor,
        "broker_credentials": faust_credentials(settings),
        "consumer_auto_offset_reset": "earliest",
        "producer_acks": -1,
        "table_standby_replicas": 0,
        "stream_recovery_delay": 0.0,
        # A dead worker's partitions move after this; the default 60 s is long for a desk,
        # and Tansu holds a new group's first join for half of it (see faust_tuning).
        "broker_session_timeout": settings.session_timeout_s,
        "broker_heartbeat_interval": max(0.25, settings.session_timeout_s / 4),
        "broker_rebalance_timeout": max(10.0, settings.session_timeout_s),
        "broker_commit_every": 1000,
        "broker_commit_interval": 1.0,
        # A batch message can make hundreds of table writes at once (first fixes,
        # checkpoints): the changelog's produce batches must hold them, or each 16 KB
        # batch waits for the previous one's round trip while Faust's producer buffer fills.
        "producer_max_batch_size": 512 * 1024,
    }


#: Table writes within one batch message after which the agent lets Faust's producer
#: buffer drain (Faust's own limit is 100 pending messages).
EBB_EVERY_WRITES = 50

#: Wall-clock seconds between two hints that the front stage would help (at most one a minute).
SINGLE_HINT_EVERY_S = 60.0
#: Share of single-position messages over a hint interval above which the worker says so.
SINGLE_HINT_SHARE = 0.5
#: Single messages between two looks at the wall clock for the hint.
SINGLE_HINT_CHECK_EVERY = 1024

#: Event-time interval between sweeps of expired aircraft state in one partition.
SWEEP_INTERVAL_S = 60.0


@dataclass
class PartitionTracker:
    """What the tracker keeps in memory for one positions partition.

    ``states`` holds the latest state of every aircraft of the partition (the table holds
    only states worth persisting); ``queue`` their timers against the partition's watermark.
    """

    states: dict[str, AircraftState] = field(default_factory=dict)
    queue: DueQueue = field(default_factory=DueQueue)
    next_sweep_ts: float = 0.0
    #: The latest position time seen in the partition (not moved by watermarks): what a
    #: watermark is bounded by.
    latest_position_ts: float = float("-inf")


def encode_table_value(partition: int, state: AircraftState) -> bytes:
    """Table value: ``b"<partition>|"`` + the state, so timers can be rebuilt per partition."""
    return b"%d|" % partition + encode_state(state)


def decode_table_value(raw: bytes) -> tuple[int, AircraftState]:
    """Inverse of :func:`encode_table_value`."""
    head, _, body = raw.partition(b"|")
    return int(head), decode_state(body)


@dataclass
class TrackerApp:
    """The Faust app and everything the tracker agent owns."""

    app: faust.App
    settings: StreamSettings
    tracker: Tracker
    metrics: TrackerMetrics
    positions: Any
    events: Any
    dead_letters: Any
    table: Any
    clock: Callable[[], float]
    #: In-memory trackers by positions partition; rebuilt from the table after a rebalance.
    partitions: dict[int, PartitionTracker]
    #: Hooks called with each emitted event (e.g. a test's collector); never for I/O.
    listeners: list[Callable[[AirspaceEvent], None]]
    #: Positions and watermarks handled (each position of a batch counts once, as if it
    #: came alone), and events emitted, by this process (for summaries and waits).
    handled: int = 0
    emitted: int = 0
    watermarks: int = 0
    #: Position messages handled (a batch counts once).
    messages: int = 0
    #: Partition that owns each icao24 seen (Kafka's default partitioner): a cache.
    owners: dict[str, int] = field(default_factory=dict)
    #: Awaited every ``EBB_EVERY_WRITES`` table writes inside a batch: Faust's own "wait until
    #: the producer buffer is of an acceptable size", which it otherwise does only between
    #: messages (None in tests without Faust).
    ebb: Callable[[], Awaitable[None]] | None = None
    #: Counts and logs the consumer's offset resets (installed by :func:`create_tracker_app`;
    #: whoever stops the app removes it).
    offset_watch: OffsetResetWatch | None = None
    #: Single-position messages handled (each costs Faust's per-message overhead).
    single_messages: int = 0
    #: Hints logged that the front stage would help (see :meth:`_maybe_hint_front`).
    front_hints: int = 0
    _hint_window_start: tuple[float, int, int] | None = None
    _writes_since_ebb: int = 0
    _outcome_counters: dict[Outcome, Any] = field(default_factory=dict)

    @property
    def tracked(self) -> int:
        """Aircraft held in memory across all partitions."""
        return sum(len(p.states) for p in self.partitions.values())

    def _partition(self, partition: int) -> PartitionTracker:
        part = self.partitions.get(partition)
        if part is None:
            part = self.partitions[partition] = PartitionTracker()
            self._rebuild(partition, part)
        return part

    def _rebuild(self, partition: int, part: PartitionTracker) -> None:
        """Load this partition's aircraft and timers from the table (after start or rebalance)."""
        for key, raw in list(self.table.items()):
            try:
                owner, state = decode_table_value(raw)
            except (ValueError, TypeError):
                log.warning("dropping undecodable state of %r", key)
                continue
            if owner != partition:
                continue
            part.states[state.icao24] = state
            schedule(self.tracker, part.queue, state.icao24, state)
            part.latest_position_ts = max(part.latest_position_ts, state.ts)
        # The watermark is not raised to the newest restored state: under at-least-once the
        # table may be ahead of the committed offsets, and the positions handled again from
        # there would each meet a watermark ahead of them (every aircraft not written since
        # then would get a signal_lost before each fix and a signal_regained after it: chaos
        # scenario 6). The replayed positions raise it again, as they did the first time;
        # their fixes at or before a restored state's time are dropped as duplicates.

    async def _emit(self, events: list[AirspaceEvent]) -> None:
        for event in events:
            # Record timestamp: now (Faust's default), not event time; see streams.producer.
            await self._produce(
                "event", self.events, key=event.icao24.encode(), value=encode_event(event)
            )
            self.metrics.events.labels(event.type.value, event.zone).inc()
            log.info(
                "event %s: %s %s zone %s", event.event_id, event.type.value, event.icao24,
                event.zone, extra={"event_id": event.event_id, "icao24": event.icao24,
                                   "zone": event.zone, "type": event.type.value},
            )  # fmt: skip
            self.emitted += 1
            for listener in self.listeners:
                listener(event)

    async def _produce(self, what: str, topic: Any, **kwargs: Any) -> None:
        """``topic.send(**kwargs)``; a failure (too large, not authorised...) is counted and
        raised as :class:`ProduceFailed`, so the caller dead-letters the input."""
        try:
            await topic.send(**kwargs)
        except Exception as exc:
            self.metrics.produce_failures.labels(what).inc()
            raise ProduceFailed(f"{what} could not be produced: {exc!r}") from exc

    def _persist(self, partition: int, state: AircraftState) -> None:
        value = encode_table_value(partition, state)
        if len(value) > STATE_MAX_BYTES:
            self.metrics.produce_failures.labels("state").inc()
            raise ProduceFailed(f"state of {state.icao24} is {len(value)} bytes")
        self.table[state.icao24.encode()] = value
        self.metrics.state_writes.inc()
        self._writes_since_ebb += 1

    async def _maybe_ebb(self) -> None:
        """Let Faust drain its producer buffer (changelog writes) after many table writes in
        one batch, as it does between messages, so the buffer stays bounded."""
        if self._writes_since_ebb >= EBB_EVERY_WRITES:
            self._writes_since_ebb = 0
            if self.ebb is not None:
                await self.ebb()

    async def handle(self, key: bytes | None, value: bytes | None, partition: int) -> None:
        """Process one message of ``partition`` (the agent's body, callable from tests)."""
        metrics = self.metrics
        self.messages += 1
        try:
            decoded = decode_positions(value if value is not None else b"", validate_batch=False)
        except DecodeError as exc:
            self.handled += 1
            await self._dead_letter(key, value, exc.reason, exc.detail)
            return
        if type(decoded) is RawBatch:
            await self._handle_batch(decoded.items, partition)
            return
        self.handled += 1
        if isinstance(decoded, Watermark):
            part = self._partition(partition)
            refused = self._refuse_watermark(part, decoded.ts)
            if refused is not None:
                self.watermarks += 1  # a watermark message all the same (summaries, waits)
                await self._dead_letter(key, value, *refused)
                return
            await self._advance(partition, part, decoded.ts)
            metrics.positions.labels("watermark").inc()
            self.watermarks += 1
            return
        report = decoded
        assert isinstance(report, PositionReport)
        self.single_messages += 1
        metrics.single_messages.inc()
        if not self.single_messages % SINGLE_HINT_CHECK_EVERY:
            self._maybe_hint_front()
        icao24 = report.icao24
        icao_key = icao24.encode()
        if key != icao_key:
            # Wrong or missing key: re-publish under the right one (it lands on the partition
            # that owns this aircraft's state) instead of corrupting co-partitioning.
            await self._produce("rekey", self.positions, key=icao_key, value=value)
            metrics.positions.labels("rekeyed").inc()
            return
        part = self._partition(partition)
        ts = report.ts
        # Timers first: whether a silent aircraft's timer fires must not depend on which other
        # aircraft share the partition (see streams.tracking). ``advance`` alone when nothing
        # is due (nearly always): the single-message path's share of the batch loop's economy.
        queue = part.queue
        due = queue.advance(ts)
        if due or queue.watermark >= part.next_sweep_ts:
            await self._fire(partition, part, due)
        if ts > part.latest_position_ts:
            part.latest_position_ts = ts
        tracker = self.tracker
        state = part.states.get(icao24)
        if state is not None and report.squawk not in EMERGENCY_SQUAWKS:
            # Most of the world's traffic, as in the batch loop: tracked, far from every
            # zone, nothing pending; step() would accept the fix with no event and update
            # the state exactly so (an emergency code goes to step(), which listens for it).
            persist = tracker.step_far(
                state, ts, report.lat, report.lon, report.alt_ft, report.gs_kt,
                report.track_deg, report.callsign,
            )  # fmt: skip
            if persist is not None:
                if persist:
                    self._persist(partition, state)
                self._outcome_counter(Outcome.ACCEPTED).inc()
                metrics.position_age.observe(max(0.0, self.clock() - ts))
                return  # far from every zone: no timer to set (see Tracker.due_ts)
        result = tracker.step(state, report)
        state = result.state
        if state is not None:
            part.states[icao24] = state
            if result.persist:
                self._persist(partition, state)
            schedule(tracker, queue, icao24, state)
        outcome = result.outcome
        self._outcome_counter(outcome).inc()
        if outcome is Outcome.ACCEPTED:
            metrics.position_age.observe(max(0.0, self.clock() - ts))
        if result.events:
            await self._emit(result.events)

    def _maybe_hint_front(self) -> None:
        """At most once a minute (wall clock), when single-position messages were most of
        the position messages since the last look, log how to put the front stage in front."""
        now = self.clock()
        start = self._hint_window_start
        if start is None:
            self._hint_window_start = (now, self.messages, self.single_messages)
            return
        started_at, messages_then, singles_then = start
        if now - started_at < SINGLE_HINT_EVERY_S:
            return
        self._hint_window_start = (now, self.messages, self.single_messages)
        messages = self.messages - messages_then
        singles = self.single_messages - singles_then
        if messages and singles / messages > SINGLE_HINT_SHARE:
            self.front_hints += 1
            log.warning(
                "%d of the last %d position messages carried one position each (%.0f/s): a "
                "worker is several times faster on batches. Have producers write to a raw "
                "topic and run `skyfence ingest kafka://RAW_TOPIC` in front of the workers "
                "(see the README's Kafka contract); skyfence_single_position_messages_total "
                "counts them",
                singles, messages, singles / (now - started_at),
            )  # fmt: skip

    async def handle_safely(self, message: Any) -> None:
        """:meth:`handle` for the agent: no exception escapes, so one message never stops it.

        A produce failure dead-letters the message as ``produce_failed``; any other exception
        is a bug (``internal``), logged with its traceback and counted apart.
        """
        try:
            await self.handle(message.key, message.value, message.partition)
        except ProduceFailed as exc:
            log.warning(
                "%s[%s]@%s dead-lettered: %s", message.topic, message.partition,
                message.offset, exc,
            )  # fmt: skip
            await self._dead_letter(message.key, message.value, "produce_failed", str(exc))
        except Exception as exc:
            log.exception(
                "BUG: tracker failed on %s[%s]@%s",
                message.topic, message.partition, message.offset,
            )  # fmt: skip
            self.metrics.internal_errors.inc()
            await self._dead_letter(message.key, message.value, "internal", repr(exc))

    def _outcome_counter(self, outcome: Outcome) -> Any:
        counter = self._outcome_counters.get(outcome)
        if counter is None:
            counter = self._outcome_counters[outcome] = self.metrics.positions.labels(outcome.value)
        return counter

    async def _handle_batch(self, items: list[Any], partition: int) -> None:
        """Each element of a batch exactly as if it had come alone, in order.

        The loop is the hot path: locals instead of attribute lookups, no per-position
        metrics calls, the timer queue consulted through ``advance`` directly, and for most
        of the world's traffic (tracked, far from every zone) no report or result object at
        all (:meth:`Tracker.step_far` on the validated fields).
        """
        part = self._partition(partition)
        states = part.states
        queue = part.queue
        advance = queue.advance
        tracker = self.tracker
        step = tracker.step
        step_far = tracker.step_far
        owners = self.owners
        n_partitions = self.settings.partitions
        accepted = Outcome.ACCEPTED
        emergency = EMERGENCY_SQUAWKS
        counts: dict[Outcome, int] = {}
        far = 0
        oldest_accepted_ts = None
        rekeyed = 0
        handled = 0
        try:
            for item in items:
                handled += 1
                report: PositionReport | None = None
                fields = position_fields(item) if type(item) is dict else None
                if fields is None:
                    # Unusual or bad: the full validation decides, and names the problem.
                    try:
                        report = position_from_mapping(item)
                    except DecodeError as exc:
                        await self._dead_letter(None, orjson.dumps(item), exc.reason, exc.detail)
                        continue
                    icao24, ts = report.icao24, report.ts
                else:
                    icao24, ts = fields[0], fields[1]
                owner = owners.get(icao24)
                if owner is None:
                    owner = owners[icao24] = partition_of(icao24, n_partitions)
                if owner != partition:
                    # A stray: its state lives on another partition. Re-publish it alone,
                    # under its own key, as the single-message path does.
                    if report is None:
                        assert fields is not None
                        report = PositionReport(*fields)
                    await self._produce(
                        "rekey", self.positions, key=icao24.encode(), value=encode_position(report)
                    )
                    rekeyed += 1
                    continue
                if ts > part.latest_position_ts:
                    part.latest_position_ts = ts
                due = advance(ts)
                if due or queue.watermark >= part.next_sweep_ts:
                    await self._fire(partition, part, due)
                state = states.get(icao24)
                if fields is not None and state is not None and fields[9] not in emergency:
                    # (An emergency code goes to step(), which starts timing it wherever the
                    # aircraft is, as evaluate does.)
                    _, _, lat, lon, alt_ft, gs_kt, track_deg, _, callsign, _, _, _ = fields
                    persist = step_far(state, ts, lat, lon, alt_ft, gs_kt, track_deg, callsign)
                    if persist is not None:
                        far += 1
                        if oldest_accepted_ts is None:
                            oldest_accepted_ts = ts
                        if persist:
                            self._persist(partition, state)
                            if self._writes_since_ebb >= EBB_EVERY_WRITES:
                                await self._maybe_ebb()
                        continue  # far from every zone: no timer to set (see due_ts)
                if report is None:
                    assert fields is not None
                    report = PositionReport(*fields)
                try:
                    result = step(state, report)
                except Exception as exc:  # one position never costs the rest of the batch
                    log.exception("BUG: tracker failed on %s", icao24)
                    self.metrics.internal_errors.inc()
                    await self._dead_letter(
                        icao24.encode(), encode_position(report), "internal", repr(exc)
                    )
                    continue
                state = result.state
                if state is not None:
                    states[icao24] = state
                    if result.persist:
                        self._persist(partition, state)
                        if self._writes_since_ebb >= EBB_EVERY_WRITES:
                            await self._maybe_ebb()
                    schedule(tracker, queue, icao24, state)
                outcome = result.outcome
                counts[outcome] = counts.get(outcome, 0) + 1
                if outcome is accepted and oldest_accepted_ts is None:
                    oldest_accepted_ts = ts
                if result.events:
                    await self._emit(result.events)
        finally:
            self.handled += handled
            if far:
                counts[accepted] = counts.get(accepted, 0) + far
            for outcome, n in counts.items():
                self._outcome_counter(outcome).inc(n)
            if rekeyed:
                self.metrics.positions.labels("rekeyed").inc(rekeyed)
            if oldest_accepted_ts is not None:
                self.metrics.position_age.observe(max(0.0, self.clock() - oldest_accepted_ts))

    async def _advance(self, partition: int, part: PartitionTracker, ts: float) -> None:
        """Move the partition's watermark to ``ts``: fire due timers, sweep expired state."""
        for ticked_state, ticked in fire_due(self.tracker, part.queue, part.states, ts):
            if ticked.persist:
                self._persist(partition, ticked_state)
            await self._emit(ticked.events)
        self._maybe_sweep(part)

    async def _fire(self, partition: int, part: PartitionTracker, due: Sequence[str]) -> None:
        """Tick the aircraft ``part.queue.advance`` returned, then sweep if it is time."""
        for ticked_state, ticked in tick_due(self.tracker, part.queue, part.states, due):
            if ticked.persist:
                self._persist(partition, ticked_state)
            await self._emit(ticked.events)
        self._maybe_sweep(part)

    def _maybe_sweep(self, part: PartitionTracker) -> None:
        if part.queue.watermark >= part.next_sweep_ts:
            self._sweep(part, part.queue.watermark)
            part.next_sweep_ts = part.queue.watermark + SWEEP_INTERVAL_S
            self.metrics.tracked_aircraft.set(self.tracked)

    def _sweep(self, part: PartitionTracker, now_ts: float) -> None:
        """Forget aircraft whose state expired by event time (memory and table)."""
        policy = self.tracker.policy
        for icao24, state in list(part.states.items()):
            if state.expired(now_ts, policy):
                del part.states[icao24]
                self.table.pop(icao24.encode(), None)

    def _refuse_watermark(self, part: PartitionTracker, ts: float) -> tuple[str, str] | None:
        """``(reason, detail)`` when a producer watermark is out of bounds, else ``None``.

        Bounds: on a live topic, at most ``watermark_max_future_s`` ahead of the wall clock
        (an idle partition's watermarks are what fire its timers, so they may run ahead of its
        positions); on a replayed topic, at most ``watermark_max_skew_s`` ahead of the
        partition's latest position (so a watermark never runs ahead of what the partition has
        seen by more than the tracker's timers need). A watermark at or behind the partition's
        event time is harmless.
        """
        if ts <= part.queue.watermark:
            return None
        settings = self.settings
        if settings.live and ts > self.clock() + settings.watermark_max_future_s:
            return (
                "watermark_future",
                f"watermark {ts:.3f} is more than {settings.watermark_max_future_s:g} s "
                "ahead of the wall clock",
            )
        if not settings.live and ts > part.latest_position_ts + settings.watermark_max_skew_s:
            latest = part.latest_position_ts
            return (
                "watermark_ahead",
                f"watermark {ts:.3f} is more than {settings.watermark_max_skew_s:g} s ahead of "
                + (f"the partition's latest position ({latest:.3f})" if latest > 0 else
                   "the partition's positions (none seen yet)"),
            )  # fmt: skip
        return None

    async def _dead_letter(
        self, key: bytes | None, value: bytes | None, reason: str, detail: str
    ) -> None:
        """Send the input to the dead-letter topic with its reason; never raises.

        A value over :data:`~streams.codec.MESSAGE_MAX_BYTES` keeps its first
        :data:`DEAD_LETTER_HEAD_BYTES` (``skyfence-size`` gives the original size), so the dead
        letter itself is never too large. If even the dead letter cannot be produced, it is
        logged and counted (``skyfence_produce_failures_total{what="dead_letter"}``).
        """
        headers = {REASON_HEADER: reason.encode(), DETAIL_HEADER: detail[:500].encode()}
        if key is not None and len(key) > DEAD_LETTER_HEAD_BYTES:
            key = key[:DEAD_LETTER_HEAD_BYTES]
        if value is not None and len(value) > MESSAGE_MAX_BYTES:
            headers[SIZE_HEADER] = str(len(value)).encode()
            value = value[:DEAD_LETTER_HEAD_BYTES]
        self.metrics.dead_letters.labels(reason).inc()
        self.metrics.positions.labels("dead_letter").inc()
        try:
            await self.dead_letters.send(key=key, value=value, headers=headers)
        except Exception as exc:
            self.metrics.produce_failures.labels("dead_letter").inc()
            log.error("could not dead-letter a %s message: %r", reason, exc)


def raw_topic(app: faust.App, name: str, partitions: int) -> Any:
    """A topic of bytes in, bytes out: decoding is ours, so bad input can be dead-lettered."""
    return app.topic(name, partitions=partitions, key_serializer="raw", value_serializer="raw")


def raw_table(app: faust.App, name: str, partitions: int) -> Any:
    """A table of bytes keys and values, with a raw changelog.

    key_type/value_type=bytes is what makes Faust's changelog and its recovery raw (its
    serializers come from these, not from the schema); without it, recovery after a restart
    failed to decode the changelog (found by tests/integration/test_restart.py).
    """
    raw = "raw"
    return app.Table(
        name,
        default=None,
        partitions=partitions,
        key_type=bytes,
        value_type=bytes,
        schema=faust.Schema(
            key_type=bytes, value_type=bytes, key_serializer=raw, value_serializer=raw
        ),
    )


def create_tracker_app(
    settings: StreamSettings,
    bootstrap: str,
    tracker: Tracker,
    metrics: TrackerMetrics,
    *,
    clock: Callable[[], float] = time.time,
    app: faust.App | None = None,
) -> TrackerApp:
    """Build the Faust app (or extend ``app``) with topics, the table and the tracker agent."""
    faust_tuning.apply()
    app = app or faust.App(settings.app_id, **faust_settings(settings, bootstrap))
    faust_tuning.without_monitor(app)
    positions = raw_topic(app, settings.positions_topic, settings.partitions)
    events = raw_topic(app, settings.events_topic, settings.partitions)
    dead_letters = raw_topic(app, settings.dead_letter_topic, 1)
    table = raw_table(app, "aircraft", settings.partitions)
    bundle = TrackerApp(
        app=app,
        settings=settings,
        tracker=tracker,
        metrics=metrics,
        positions=positions,
        events=events,
        dead_letters=dead_letters,
        table=table,
        clock=clock,
        partitions={},
        listeners=[],
    )

    async def _ebb() -> None:
        # Hand every pending changelog write to the producer (Faust's wait_until_ebb only does
        # so above 100, with a warning each time). A world feed's first second writes ~15,000
        # new aircraft; kept under 100 here, Faust's per-message check between messages never
        # fires either, and the operator is not told of back-pressure that is expected.
        buffer = app.producer.buffer
        if buffer.size:
            await buffer.flush_atmost(buffer.size)

    bundle.ebb = _ebb
    # Called by the guarded producer buffer (streams.faust_tuning) when a buffered record (a
    # changelog write) is refused: counted; the buffer goes on with the next record.
    app.on_produce_error = lambda exc: metrics.produce_failures.labels("state").inc()  # type: ignore[attr-defined]
    bundle.offset_watch = OffsetResetWatch(metrics.offset_resets)
    bundle.offset_watch.install()
    metrics.watch_zones(
        lambda: ((p.queue.watermark, p.states.values()) for p in bundle.partitions.values()),
        tracker.zones,
    )

    async def tracker_agent(stream: Any) -> None:
        async for event in stream.events():
            message = event.message
            before, started = bundle.handled, perf_counter()
            await bundle.handle_safely(message)
            metrics.processed(
                message.partition, perf_counter() - started, bundle.handled - before, clock()
            )

    app.agent(positions, name="tracker")(tracker_agent)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def _forget_revoked(sender: Any, revoked: Any, **kwargs: Any) -> None:
        # Another worker may now own some partitions; the table (which Faust recovers from the
        # changelog on assignment) is the truth, so rebuild from it on the next message.
        bundle.partitions.clear()

    return bundle
