"""Per-aircraft state machine: positions in, airspace events out.

``Tracker.step(state, report)`` is a pure function of the previous state of one aircraft, its
new position report, the zones and the :class:`Policy`; ``Tracker.tick(state, now_ts)``
advances an aircraft that has *not* been heard from, to event time ``now_ts`` (the stream's
watermark). Neither reads the clock: all time is the reports' event time. The Faust agent and
``skyfence evaluate`` both call them, so the offline evaluation and the Kafka pipeline give
the same events.

Rules (the README has the operator's version; every number is a :class:`Policy` field):

- ``entered`` (``observed``): a fix inside a zone after a fix outside it. ``ts`` is the
  interpolated time at which the straight path between the two fixes crossed the boundary.
- ``entered`` + ``exited`` (``inferred``): two fixes outside whose path cuts through the zone
  (the "cross" case), when they are at most ``max_cross_gap_s`` apart and the path spends at
  least ``min_cross_inside_s`` inside. A shorter visit on the path between two fixes (its
  stretches inside joined when less than ``exit_confirm_s`` apart) is no visit, whether or
  not its exit is confirmed within the same segment.
- ``exited`` (``observed``): a fix outside after being inside, once the aircraft has been
  outside for ``exit_confirm_s`` since the estimated crossing: confirmed by a later fix, or,
  when none comes, by the watermark passing that time and ``exit_silence_s`` after the last
  fix. A fix back inside before then cancels the exit (hysteresis: skimming the boundary
  gives one visit). Every event of a
  visit with no fix inside (``Visit.seen_inside``) is ``inferred``, its exit included.
- Across a silence longer than ``max_cross_gap_s`` nothing is interpolated: a visit that
  ended during it is ``exited`` (``inferred``) at the next fix; a next fix inside starts a
  visit, announced by ``signal_regained`` (``confirmed``) when the silence raised
  ``signal_lost``, else by ``first_seen_inside``.
- ``first_seen_inside`` (``observed``): the first fix of an aircraft (or the first after its
  state expired, or after a silence as above) is already inside.
- ``approaching`` (``inferred``): dead reckoning from the fix's track and ground speed (or,
  when absent, the velocity between the last two fixes) predicts entry within
  ``approach_horizon_s`` and at least ``approach_min_inside_s`` inside, unless the vertical
  rate would put it below ``approach_min_alt_ft`` before the border (landing short of it).
  Once per approach: re-armed when the aircraft enters, or ``approach_rearm_s`` after it was
  raised. The prediction is re-evaluated at every fix; only a current one counts below.
- ``signal_lost`` (``inferred`` when it predicts an entry, else ``observed``): nothing heard for
  ``signal_lost_s`` from an aircraft that was inside a zone, approaching it, or within
  ``watch_m`` of it without known heading. ``ts``/``lat``/``lon`` say where and when entry
  probably happened (the approach prediction), or where it was last heard.
- ``signal_regained`` (``observed``): the first fix after a ``signal_lost``; ``verdict`` is
  ``confirmed`` when the aircraft was inside the zone after all, ``withdrawn`` otherwise.
- ``squawk_emergency`` (``observed``): a fix squawking 7500, 7600 or 7700 inside a zone or
  within ``squawk_alert_m`` of it, once the same code has been heard for ``squawk_persist_s``
  across at least two fixes (a code keyed in by mistake and corrected is not news). Once per
  code: re-armed when the code changes or clears (a fix with another code; a fix without a
  code neither confirms nor clears). The zone named is the one the aircraft is in, else the
  nearest. Evaluated only in :meth:`Tracker.step` after the other rules, in its own section.
- Out-of-order and duplicate fixes are ignored. A fix whose implied speed from the previous
  fix exceeds ``max_speed_kt`` is suspect: it is held as a candidate and never raises an event
  alone; a following fix consistent with it confirms it (the earlier track was wrong).
- State expires by event time: ``ttl_outside_s`` after the last fix when outside every zone,
  ``ttl_inside_s`` when inside one (long enough to see a two-day visit end).

Determinism: ``tick`` must run for every due aircraft *before* a report with a later time is
stepped (the shells do), so whether a ``signal_lost`` fires depends only on the aircraft's own
next fix, not on which other aircraft share its partition.

Out of scope here: I/O, persistence (:mod:`streams.state_codec`), the due queue that decides
when to tick (:mod:`streams.scheduler`), geodesy (:mod:`streams.geo`), metrics.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from streams.geo import M_PER_DEG, MPS_PER_KT, destination, haversine_m, initial_bearing_deg
from streams.models import AirspaceEvent, Confidence, EventType, PositionReport, make_event_id
from streams.zones import Crossing, Zone, ZoneIndex

__all__ = [
    "EMERGENCY_SQUAWKS",
    "AircraftState",
    "Outcome",
    "Policy",
    "StepResult",
    "Tracker",
    "Visit",
]

#: Mode A codes that declare an emergency: 7500 unlawful interference (hijack), 7600 radio
#: failure, 7700 general emergency (ICAO Doc 4444 / Doc 8168).
EMERGENCY_SQUAWKS = frozenset({"7500", "7600", "7700"})


@dataclass(frozen=True, slots=True)
class Policy:
    """Every tunable of detection, with the defaults a watch desk wants.

    Times are event-time seconds; distances metres; speeds knots.
    """

    #: An exit counts once the aircraft has been outside this long since the crossing.
    #: Two minutes absorbs GPS noise and boundary skimming without delaying a real exit much.
    exit_confirm_s: float = 120.0
    #: With no later fix, the watermark confirms an exit only once the aircraft has also been
    #: silent this long: a sparse feed's next fix (every one to three minutes near the DPRK)
    #: may show it back inside seconds after the crossing (one visit, not exit + entry).
    exit_silence_s: float = 300.0
    #: Infer a crossing from two outside fixes only when they are at most this far apart;
    #: beyond it nobody knows the path flown (30 min is ~420 km at cruise speed).
    max_cross_gap_s: float = 1800.0
    #: A visit seen only on the straight path between two fixes must spend at least this long
    #: inside; shorter clips of a border's corner are noise (real 60 s chords cut tips for 1.5 s).
    min_cross_inside_s: float = 10.0
    #: Implied speed above which a fix is suspect. Fastest airliners cruise ~600 kt ground
    #: speed with jet-stream tailwind; 1,200 kt leaves room for military traffic.
    max_speed_kt: float = 1200.0
    #: Below this distance a "jump" is never suspect (position noise of a few hundred metres
    #: between fixes a second apart would otherwise imply absurd speeds).
    min_jump_m: float = 2000.0
    #: How far ahead dead reckoning looks for ``approaching``: 10 min is the warning a desk
    #: asked for, and ~140 km at cruise speed, about as far as a straight line is believable.
    approach_horizon_s: float = 600.0
    #: The predicted path must stay inside this long: a corner clipped by a turning aircraft
    #: (e.g. on approach to Dandong, 5 km from the border) is not an approach.
    approach_min_inside_s: float = 60.0
    #: After an ``approaching`` that came to nothing, another one for the same zone is
    #: raised only this much later (an aircraft orbiting near the border alerts once).
    approach_rearm_s: float = 900.0
    #: A prediction whose altitude at entry (from the vertical rate) is below this is a landing
    #: short of the border, not an approach (Dandong is 5 km from the DPRK). Aircraft bound for
    #: Pyongyang cross the 12 NM line 30+ NM from Sunan, ~10,000 ft on a 3 deg profile.
    approach_min_alt_ft: float = 5000.0
    #: Velocity is derived from the last two fixes (when a fix has no track/speed) only if
    #: they are at most this far apart.
    velocity_max_gap_s: float = 120.0
    #: Silence after which a watched aircraft raises ``signal_lost``. Coverage near the DPRK
    #: border gives a fix every one to three minutes; five minutes of silence is news.
    signal_lost_s: float = 300.0
    #: An aircraft this close to a zone, with no known heading, is watched for signal loss.
    watch_m: float = 20_000.0
    #: State of an aircraft outside every zone is forgotten after this much silence.
    ttl_outside_s: float = 3600.0
    #: State of an aircraft inside a zone lasts this long (a visit of several days must still
    #: yield ``exited``; the seed Il-62M stayed two days on the ground in Pyongyang).
    ttl_inside_s: float = 7 * 86400.0
    #: Emit ``first_seen_inside`` events (whether they alert is the notifier's routing).
    emit_first_seen_inside: bool = True
    #: Persist the last fix at least this often (event time) near a zone (within
    #: ``near_margin_deg`` of its bounds), so a restart interpolates from a recent fix.
    checkpoint_near_s: float = 30.0
    #: Near a zone, keep a fix for the alert's map every this many seconds...
    trail_spacing_s: float = 30.0
    #: ...and at most this many of them (the last ~6 minutes at the default spacing).
    trail_points: int = 12
    #: Persist the last fix at least this often elsewhere (keeps the TTL honest after restart).
    checkpoint_far_s: float = 600.0
    #: How far outside a zone's bounding box (degrees) counts as "near" for checkpoints and
    #: dead reckoning: 2 deg (~220 km) exceeds the 10-minute horizon at 700 kt (~216 km).
    near_margin_deg: float = 2.0
    #: Emergency squawks (7500, 7600, 7700) alert inside a zone or within this distance of
    #: one: 100 km is ~7 minutes at cruise speed, where a diversion could end up inside.
    squawk_alert_m: float = 100_000.0
    #: ...once the code has persisted this long across at least two fixes. Mis-keyed codes
    #: are corrected within seconds; flight-alert users' first complaint is false squawks.
    squawk_persist_s: float = 60.0
    #: Emit ``squawk_emergency`` events at all.
    emit_squawk_emergency: bool = True


class Outcome(StrEnum):
    """What the tracker did with a report (a bounded metric label)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    SUSPECT = "suspect"
    TICK = "tick"


@dataclass(slots=True)
class Visit:
    """An aircraft's presence in one zone; ``exit_*`` set while an exit awaits confirmation."""

    entered_ts: float
    exit_ts: float | None = None
    exit_lat: float = 0.0
    exit_lon: float = 0.0
    #: Whether a fix inside the zone was seen during this visit. A visit known only from the
    #: straight path between fixes outside stays ``False``, and all its events are
    #: ``inferred``.
    seen_inside: bool = True


@dataclass(slots=True)
class AircraftState:
    """Everything remembered about one aircraft between two reports."""

    icao24: str
    ts: float
    lat: float
    lon: float
    alt_ft: int | None = None
    callsign: str | None = None
    #: Zones the aircraft is inside (or leaving, awaiting confirmation), by zone id.
    visits: dict[str, Visit] = field(default_factory=dict)
    #: Current dead-reckoned entry predictions by zone id: (entry time, lat, lon).
    approach: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    #: When ``approaching`` was last raised, by zone id (once per approach).
    approach_raised: dict[str, float] = field(default_factory=dict)
    #: Zones for which ``signal_lost`` was raised and no fix has been heard since.
    lost: list[str] = field(default_factory=list)
    #: Whether the last fix had a usable heading (track and speed, or derived).
    heading_known: bool = False
    #: A suspect fix held until a following fix confirms it: (ts, lat, lon, alt_ft).
    candidate: tuple[float, float, float, int | None] | None = None
    #: Event time of the last durable write of this state.
    written_ts: float = 0.0
    #: Recent fixes near a zone, oldest first: (ts, lat, lon). Context for an alert's map;
    #: far from every zone it stays the shared empty tuple (no memory, no work).
    trail: tuple[tuple[float, float, float], ...] = ()
    #: An emergency code being heard: (code, first heard ts, fixes heard with it, raised).
    #: ``None`` (the rule case) lets the far-from-zones fast path take the aircraft.
    squawk_watch: tuple[str, float, int, bool] | None = None

    def expired(self, now_ts: float, policy: Policy) -> bool:
        """True when this state is older than its time to live at event time ``now_ts``."""
        # Inside a zone, or gone quiet on its way in: keep it long enough to see what happened.
        ttl = (
            policy.ttl_inside_s
            if self.visits or self.lost or self.approach
            else policy.ttl_outside_s
        )
        return now_ts - self.ts > ttl


@dataclass(slots=True)
class StepResult:
    """The outcome of one step or tick: new state, events, and whether to persist the state."""

    state: AircraftState | None
    events: list[AirspaceEvent]
    outcome: Outcome
    persist: bool


#: Up to this many zones, the tracker tries each zone rather than ask the index for a subset
#: (building the subset, or projecting a prediction's path for it, costs more than a few
#: bounding-box rejections). The far-from-zones shortcut asks the index whatever the count.
_FEW_ZONES = 8
#: Below this ground speed (knots) an aircraft is taxiing or hovering: no dead reckoning.
_MIN_PREDICT_KT = 30.0


def _copy(visit: Visit) -> Visit:
    """A copy of ``visit`` (a direct call: dataclasses.replace costs 3x on the hot path)."""
    return Visit(visit.entered_ts, visit.exit_ts, visit.exit_lat, visit.exit_lon, visit.seen_inside)


def _r_ts(ts: float) -> float:
    return round(ts, 3)


def _r_deg(deg: float) -> float:
    return round(deg, 5)


class Tracker:
    """Applies the detection rules for a fixed set of zones and a policy."""

    def __init__(self, zones: Sequence[Zone], policy: Policy | None = None) -> None:
        self.zones = tuple(zones)
        self.policy = policy or Policy()
        self._by_id = {z.id: z for z in self.zones}
        self._pos = {z.id: i for i, z in enumerate(self.zones)}
        # Indexes across zones: which zones a point is near (for checkpoints, predictions and
        # the far-from-zones shortcut), and which a path's box touches (for crossings). A
        # position far from every zone costs one lookup however many zones there are.
        self._near_index = ZoneIndex(self.zones, self.policy.near_margin_deg)
        self._box_index = ZoneIndex(self.zones)
        # With a few zones, "is this point near one?" (asked of nearly every position) is
        # cheapest as a plain loop over the widened boxes, (min_lat, max_lat, min_lon,
        # max_lon): the same boxes the index holds, without its cell lookup and tuple.
        self._few_near_boxes: tuple[tuple[float, float, float, float], ...] | None = (
            tuple((b[1], b[3], b[0], b[2]) for b in self._near_index.boxes)
            if len(self.zones) <= _FEW_ZONES
            else None
        )
        self._few = len(self.zones) <= _FEW_ZONES
        #: :meth:`due_ts`, when not None, is never earlier than ``state.ts`` plus this (an
        #: exit confirms no sooner than ``exit_silence_s`` after the last fix, a silence is
        #: news no sooner than ``signal_lost_s``): a caller whose timer queue already holds
        #: an entry that early for the aircraft need not ask (see DueQueue.queued_by).
        self.min_due_delay_s = min(self.policy.exit_silence_s, self.policy.signal_lost_s)
        #: The last hop measured by _implausible_at: (lat1, lon1, lat2, lon2, metres).
        self._last_hop: tuple[float, float, float, float, float] = (math.nan,) * 5
        # Watch rings for signal loss, built lazily (a geodesic buffer takes ~0.5 s for DPRK).
        self._watch: dict[str, Zone] = {}
        # The far-from-zones shortcut in _advance relies on bounding boxes; zones across the
        # antimeridian take the general path.
        self._far_path = not any(z.wraps for z in self.zones)
        self._init_squawk_boxes()

    # -- helpers ---------------------------------------------------------------------------

    def _event(
        self,
        type_: EventType,
        zone: Zone,
        icao24: str,
        observed_ts: float,
        ts: float,
        lat: float,
        lon: float,
        confidence: Confidence,
        callsign: str | None,
        *,
        report: PositionReport | None = None,
        alt_ft: int | None = None,
        squawk: str | None = None,
        **extra: object,
    ) -> AirspaceEvent:
        return AirspaceEvent(
            event_id=make_event_id(icao24, zone.id, type_.value, observed_ts),
            type=type_,
            icao24=icao24,
            zone=zone.id,
            ts=_r_ts(ts),
            lat=_r_deg(lat),
            lon=_r_deg(((lon + 180.0) % 360.0) - 180.0),
            observed_ts=observed_ts,
            callsign=callsign,
            confidence=confidence,
            zone_name=zone.name,
            alt_ft=report.alt_ft if report is not None else alt_ft,
            gs_kt=report.gs_kt if report is not None else None,
            track_deg=report.track_deg if report is not None else None,
            # An emergency code heard at the revealing fix travels with any event; ordinary
            # codes are left out (they say nothing to a desk and would change every event).
            squawk=squawk
            or (report.squawk if report is not None and report.squawk in EMERGENCY_SQUAWKS else None),
            **extra,  # type: ignore[arg-type]
        )

    def _may_touch_any(self, lat1: float, lon1: float, lat2: float, lon2: float) -> bool:
        return bool(self._box_index.along(lat1, lon1, lat2, lon2))

    def is_near(self, lat: float, lon: float) -> bool:
        """True when the point is within ``near_margin_deg`` of any zone's bounding box."""
        boxes = self._few_near_boxes
        if boxes is None:
            return bool(self._near_index.near(lat, lon))
        for min_lat, max_lat, min_lon, max_lon in boxes:
            if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon:
                return True
        return False

    def _subset(self, found: Sequence[int], *with_state: Iterable[str]) -> Sequence[Zone]:
        """The zones at indices ``found`` plus those named in ``with_state`` (visits,
        predictions, signal loss), in the tracker's zone order (events come out in it)."""
        zones = self.zones
        if self._few:
            return zones  # every zone, as before the index: fewer tests than set-building
        extra = [self._pos[zid] for ids in with_state for zid in ids if zid in self._pos]
        if not extra:
            return [zones[i] for i in found]
        return [zones[i] for i in sorted({*found, *extra})]

    def _watch_ring(self, zone: Zone) -> Zone:
        ring = self._watch.get(zone.id)
        if ring is None:
            ring = self._watch[zone.id] = zone.buffered(self.policy.watch_m)
        return ring

    def _implausible(self, ts1: float, lat1: float, lon1: float, report: PositionReport) -> bool:
        return self._implausible_at(ts1, lat1, lon1, report.ts, report.lat, report.lon)

    def _implausible_at(
        self, ts1: float, lat1: float, lon1: float, ts: float, lat: float, lon: float
    ) -> bool:
        # Cheap exact bound first: the great-circle distance never exceeds R * (|dlat| + |dlon|)
        # (radians), so a fix that close is never a jump (the usual case: 1 Hz feeds).
        if M_PER_DEG * (abs(lat - lat1) + abs(lon - lon1)) <= self.policy.min_jump_m:
            return False
        dist_m = haversine_m(lat1, lon1, lat, lon)
        self._last_hop = (lat1, lon1, lat, lon, dist_m)  # _derived_velocity asks again
        if dist_m <= self.policy.min_jump_m:
            return False
        dt_s = ts - ts1
        if dt_s <= 0:
            return True
        return dist_m / dt_s / MPS_PER_KT > self.policy.max_speed_kt

    def _velocity(
        self, prev: AircraftState | None, report: PositionReport
    ) -> tuple[float, float] | None:
        """(ground speed kt, track deg) of the report, derived from the last fix if absent."""
        if report.gs_kt is not None and report.track_deg is not None:
            return report.gs_kt, report.track_deg
        if prev is None:
            return None
        return self._derived_velocity(prev, report.ts, report.lat, report.lon)

    def _derived_velocity(
        self, prev: AircraftState, ts: float, lat: float, lon: float
    ) -> tuple[float, float] | None:
        """(ground speed kt, track deg) from the last fix to this one, if recent and apart."""
        dt = ts - prev.ts
        if dt <= 0 or dt > self.policy.velocity_max_gap_s:
            return None
        hop = self._last_hop
        if hop[0] == prev.lat and hop[1] == prev.lon and hop[2] == lat and hop[3] == lon:
            dist_m = hop[4]  # the plausibility check just measured this hop
        else:
            dist_m = haversine_m(prev.lat, prev.lon, lat, lon)
        if dist_m < 1.0:
            return None
        return dist_m / dt / MPS_PER_KT, initial_bearing_deg(prev.lat, prev.lon, lat, lon)

    def _predict_entry(
        self, zone: Zone, report: PositionReport, velocity: tuple[float, float]
    ) -> tuple[float, float, float] | None:
        """Dead-reckoned (entry time, lat, lon) within the horizon, or None."""
        gs_kt, track_deg = velocity
        if gs_kt < _MIN_PREDICT_KT:
            return None
        horizon = self.policy.approach_horizon_s
        lat2, lon2 = destination(report.lat, report.lon, track_deg, gs_kt * MPS_PER_KT * horizon)
        crossings = zone.crossings(report.lat, report.lon, lat2, lon2)
        entry = next((c for c in crossings if c.entering), None)
        if entry is None:
            return None
        leave = next(
            (c.fraction for c in crossings if not c.entering and c.fraction > entry.fraction), 1.0
        )
        if (leave - entry.fraction) * horizon < self.policy.approach_min_inside_s:
            return None
        return report.ts + entry.fraction * horizon, entry.lat, entry.lon

    # -- timers ----------------------------------------------------------------------------

    def _watched(self, state: AircraftState) -> list[Zone]:
        """Zones for which this aircraft's silence would be news (see ``signal_lost``)."""
        out = []
        # (With few zones _subset tries them all: the index lookup would be wasted.)
        near = () if self._few else self._near_index.near(state.lat, state.lon)
        for zone in self._subset(near, state.visits, state.approach):
            visit = state.visits.get(zone.id)
            if (
                (visit is not None and visit.exit_ts is None)
                or zone.id in state.approach
                or (
                    visit is None
                    and not state.heading_known
                    and self.is_near(state.lat, state.lon)
                    and self._watch_ring(zone).contains_2d(state.lat, state.lon)
                )
            ):
                out.append(zone)
        return out

    def due_ts(self, state: AircraftState) -> float | None:
        """Event time at which :meth:`tick` has something to do for this aircraft, if any."""
        if not state.visits and not state.approach and not self.is_near(state.lat, state.lon):
            # Most of the world's traffic: no visit, no prediction, not near any zone, so no
            # exit to confirm and nothing watched (see ``_watched``).
            return None
        return self._due_ts_full(state)

    def _due_ts_full(self, state: AircraftState) -> float | None:
        """:meth:`due_ts` without its shortcut (a test checks the two agree)."""
        due: float | None = None
        for visit in state.visits.values():
            if visit.exit_ts is not None:
                t = max(
                    visit.exit_ts + self.policy.exit_confirm_s,
                    state.ts + self.policy.exit_silence_s,
                )
                due = t if due is None else min(due, t)
        if not state.lost and self._watched(state):
            t = state.ts + self.policy.signal_lost_s
            due = t if due is None else min(due, t)
        return due

    def tick(self, state: AircraftState, now_ts: float) -> StepResult:
        """Advance a silent aircraft to event time ``now_ts``: confirm exits, raise signal loss."""
        return _with_trail(self._tick(state, now_ts))

    def _tick(self, state: AircraftState, now_ts: float) -> StepResult:
        policy = self.policy
        events: list[AirspaceEvent] = []
        for zone in self._subset((), state.visits):
            visit = state.visits.get(zone.id)
            if (
                visit is not None
                and visit.exit_ts is not None
                and now_ts >= visit.exit_ts + policy.exit_confirm_s
                and now_ts >= state.ts + policy.exit_silence_s
            ):
                # Observed only when a fix inside was seen during the visit (the fix before
                # this silence, outside, is what placed the exit).
                conf = Confidence.OBSERVED if visit.seen_inside else Confidence.INFERRED
                events.append(
                    self._event(
                        EventType.EXITED, zone, state.icao24, state.ts, visit.exit_ts,
                        visit.exit_lat, visit.exit_lon, conf, state.callsign,
                        alt_ft=state.alt_ft,
                    )
                )  # fmt: skip
                del state.visits[zone.id]
        if not state.lost and now_ts >= state.ts + policy.signal_lost_s:
            for zone in self._watched(state):
                predicted = state.approach.get(zone.id)
                if zone.id in state.visits or predicted is None:
                    ts, lat, lon, conf = state.ts, state.lat, state.lon, Confidence.OBSERVED
                else:
                    ts, lat, lon = predicted
                    conf = Confidence.INFERRED
                events.append(
                    self._event(
                        EventType.SIGNAL_LOST, zone, state.icao24, state.ts, ts, lat, lon, conf,
                        state.callsign, alt_ft=state.alt_ft, last_seen_ts=state.ts,
                        eta_ts=None if predicted is None or zone.id in state.visits else _r_ts(predicted[0]),
                    )
                )  # fmt: skip
                state.lost.append(zone.id)
        return StepResult(state, events, Outcome.TICK, bool(events))

    # -- emergency squawks -----------------------------------------------------------------
    # Kept apart from the zone rules above: it reads only the report's squawk and the state's
    # ``squawk_watch``, and adds at most one event to a step's result.

    def _init_squawk_boxes(self) -> None:
        """Zone bounds grown by ``squawk_alert_m`` (degrees), the cheap test before any
        distance; and whether they reach past the near boxes, in which case ``step_far``
        must also leave the squawk area to :meth:`step`."""
        policy = self.policy
        dlat = policy.squawk_alert_m / M_PER_DEG
        self._squawk_boxes: list[tuple[float, float, float, float]] = []
        wide = False
        margin = policy.near_margin_deg
        for zone in self.zones:
            min_lon, min_lat, max_lon, max_lat = zone.bounds
            near = (min_lon - margin, min_lat - margin, max_lon + margin, max_lat + margin)
            top = min(89.0, max(abs(min_lat), abs(max_lat)) + dlat)
            dlon = min(180.0, dlat / max(math.cos(math.radians(top)), 1e-6))
            box = (min_lon - dlon, min_lat - dlat, max_lon + dlon, max_lat + dlat)
            self._squawk_boxes.append(box)
            wide = wide or box[0] < near[0] or box[1] < near[1] or box[2] > near[2] or box[3] > near[3]
        # The far path's "near" test: the near boxes alone unless the squawk area reaches
        # past them (a bound method either way: no cost on the hot path when it does not).
        self._near_for_far_path = self._near_or_squawk_area if wide else self.is_near
        # step_far's test inlined for a few zones: the boxes to stay out of, (min_lat,
        # max_lat, min_lon, max_lon), the squawk areas too when they reach past the near boxes.
        few = self._few_near_boxes
        self._far_boxes = (
            None if few is None
            else few + tuple((b[1], b[3], b[0], b[2]) for b in self._squawk_boxes) if wide
            else few
        )  # fmt: skip

    def _near_or_squawk_area(self, lat: float, lon: float) -> bool:
        if self.is_near(lat, lon):
            return True
        for min_lon, min_lat, max_lon, max_lat in self._squawk_boxes:
            if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon:
                return True
        return False

    def _squawk_zone(self, report: PositionReport) -> Zone | None:
        """The zone the fix is inside, else the nearest within ``squawk_alert_m``, else None."""
        best: tuple[float, Zone] | None = None
        for zone, box in zip(self.zones, self._squawk_boxes, strict=True):
            min_lon, min_lat, max_lon, max_lat = box
            inside_box = min_lat <= report.lat <= max_lat and min_lon <= report.lon <= max_lon
            if not inside_box and not zone.wraps:  # (a box across +-180 is not comparable)
                continue
            if zone.contains_2d(report.lat, report.lon):
                return zone
            distance_m = zone.distance_m(report.lat, report.lon)
            if distance_m <= self.policy.squawk_alert_m and (best is None or distance_m < best[0]):
                best = (distance_m, zone)
        return best[1] if best is not None else None

    def _squawk(self, result: StepResult, report: PositionReport) -> None:
        """Track an emergency code across fixes; raise ``squawk_emergency`` once it persisted
        (see the module docstring). Changes ``result`` in place."""
        state = result.state
        code = report.squawk
        if state is None or result.outcome is not Outcome.ACCEPTED or code is None:
            return  # a fix without a code neither confirms nor clears one
        watch = state.squawk_watch
        if code not in EMERGENCY_SQUAWKS:
            if watch is not None:  # cleared: re-armed
                state.squawk_watch = None
                result.persist = True
                state.written_ts = report.ts
            return
        if watch is None or watch[0] != code:  # a new emergency code: start timing it
            state.squawk_watch = (code, report.ts, 1, False)
            result.persist = True
            state.written_ts = report.ts
            return
        _, since_ts, fixes, raised = watch
        fixes += 1
        state.squawk_watch = (code, since_ts, fixes, raised)
        policy = self.policy
        if raised or report.ts - since_ts < policy.squawk_persist_s or not policy.emit_squawk_emergency:
            return
        zone = self._squawk_zone(report)
        if zone is None:
            return  # persisting, but far from every zone: keep listening
        state.squawk_watch = (code, since_ts, fixes, True)
        result.persist = True
        state.written_ts = report.ts
        result.events.append(
            self._event(
                EventType.SQUAWK_EMERGENCY, zone, report.icao24, report.ts, report.ts,
                report.lat, report.lon, Confidence.OBSERVED, state.callsign, report=report,
                squawk=code,
            )
        )  # fmt: skip

    # -- the state machine -----------------------------------------------------------------

    def step(self, state: AircraftState | None, report: PositionReport) -> StepResult:
        """Advance one aircraft's state by one report; see the module docstring for the rules."""
        result = self._step(state, report)
        if report.squawk in EMERGENCY_SQUAWKS or (
            result.state is not None and result.state.squawk_watch is not None
        ):
            self._squawk(result, report)
        return _with_trail(result) if result.events else result

    def step_far(
        self,
        state: AircraftState,
        ts: float,
        lat: float,
        lon: float,
        alt_ft: int | None,
        gs_kt: float | None,
        track_deg: float | None,
        callsign: str | None,
    ) -> bool | None:
        """:meth:`step` for the world's common case, from a fix's validated fields (no report
        object, no result object): an aircraft already tracked, with nothing pending, far from
        every zone before and now, on a plausible path that cannot touch one. Returns whether
        to persist the state, or ``None``, with the state untouched, when the case does not
        apply and :meth:`step` must decide.

        Where it applies, :meth:`step` would accept the fix, raise no event, and update the
        state exactly so (``_advance``'s far branch); a test runs both on generated traffic.
        """
        policy = self.policy
        t0 = state.ts
        if (
            not self._far_path
            or ts <= t0  # duplicate, out of order, or same-second fixes: step() decides
            or state.visits
            or state.lost
            or state.approach
            or state.approach_raised
            or state.trail
            or state.candidate is not None
            or state.squawk_watch is not None  # an emergency code being heard: step() watches
            or ts - t0 > policy.ttl_outside_s  # expired: step() starts afresh
        ):
            return None
        lat0, lon0 = state.lat, state.lon
        dlat, dlon = abs(lat - lat0), abs(lon - lon0)
        if M_PER_DEG * (dlat + dlon) > policy.min_jump_m and (
            self._implausible_at(t0, lat0, lon0, ts, lat, lon)
        ):
            return None  # a suspect fix: step() holds it
        boxes = self._far_boxes
        if boxes is None:
            if self._near_for_far_path(lat, lon):
                return None
        else:  # the same test, inlined (nearly every position of the world asks it)
            for min_lat, max_lat, min_lon, max_lon in boxes:
                if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon:
                    return None
        margin = policy.near_margin_deg
        if (dlat >= margin or dlon >= margin) and self._may_touch_any(lat0, lon0, lat, lon):
            # (A step shorter than the margin from a point outside every zone's box widened
            # by the margin cannot reach a zone's box: no need to ask.)
            return None
        changed = False
        if callsign and callsign != state.callsign:
            state.callsign = callsign
            changed = True
        # _move_far, inlined: the world's common case pays one call, not two.
        state.heading_known = (gs_kt is not None and track_deg is not None) or (
            self._derived_velocity(state, ts, lat, lon) is not None
        )
        state.ts, state.lat, state.lon, state.alt_ft = ts, lat, lon, alt_ft
        if changed or ts - state.written_ts >= policy.checkpoint_far_s:
            state.written_ts = ts
            return True
        return False

    def _move_far(
        self,
        state: AircraftState,
        ts: float,
        lat: float,
        lon: float,
        alt_ft: int | None,
        gs_kt: float | None,
        track_deg: float | None,
        changed: bool,
    ) -> bool:
        """Move an aircraft far from every zone to a new fix (both step paths): heading,
        position, and whether a checkpoint is due (or ``changed`` asks for a write)."""
        state.heading_known = (gs_kt is not None and track_deg is not None) or (
            self._derived_velocity(state, ts, lat, lon) is not None
        )
        state.ts, state.lat, state.lon, state.alt_ft = ts, lat, lon, alt_ft
        if changed or ts - state.written_ts >= self.policy.checkpoint_far_s:
            state.written_ts = ts
            return True
        return False

    def _step(self, state: AircraftState | None, report: PositionReport) -> StepResult:
        policy = self.policy
        if state is not None and state.expired(report.ts, policy):
            state = None
        if state is None:
            return self._first_fix(report)

        if report.ts < state.ts:
            return StepResult(state, [], Outcome.OUT_OF_ORDER, False)
        if report.ts == state.ts:
            if report.lat == state.lat and report.lon == state.lon:
                return StepResult(state, [], Outcome.DUPLICATE, False)
            # Feeds with whole-second timestamps give two fixes in one second; a second one
            # close by is news, one far away cannot be ordered and is dropped.
            if haversine_m(state.lat, state.lon, report.lat, report.lon) > policy.min_jump_m:
                return StepResult(state, [], Outcome.OUT_OF_ORDER, False)
            state.candidate = None
            return self._advance(state, report, reanchored=False, prev_ts=state.ts)

        if self._implausible(state.ts, state.lat, state.lon, report):
            cand = state.candidate
            if (
                cand is None
                or report.ts <= cand[0]
                or self._implausible(cand[0], cand[1], cand[2], report)
            ):
                # Hold the newest suspect fix; it raises nothing on its own.
                state.candidate = (report.ts, report.lat, report.lon, report.alt_ft)
                return StepResult(state, [], Outcome.SUSPECT, True)
            # The candidate and this fix agree: the earlier track was the wrong one. Re-anchor
            # on the candidate without interpolating across the impossible jump.
            prev_ts = state.ts
            state.ts, state.lat, state.lon, state.alt_ft = cand
            state.candidate = None
            return self._advance(state, report, reanchored=True, prev_ts=prev_ts)

        state.candidate = None
        return self._advance(state, report, reanchored=False, prev_ts=state.ts)

    def _first_fix(self, report: PositionReport) -> StepResult:
        state = AircraftState(
            icao24=report.icao24,
            ts=report.ts,
            lat=report.lat,
            lon=report.lon,
            alt_ft=report.alt_ft,
            callsign=report.callsign,
            written_ts=report.ts,
        )
        events: list[AirspaceEvent] = []
        for zone in self._subset(self._box_index.near(report.lat, report.lon)):
            if zone.contains(report.lat, report.lon, report.alt_ft):
                state.visits[zone.id] = Visit(entered_ts=report.ts)
                if self.policy.emit_first_seen_inside:
                    events.append(
                        self._event(
                            EventType.FIRST_SEEN_INSIDE, zone, report.icao24, report.ts, report.ts,
                            report.lat, report.lon, Confidence.OBSERVED, report.callsign, report=report,
                        )
                    )  # fmt: skip
        velocity = self._velocity(None, report)
        state.heading_known = velocity is not None
        if self.is_near(report.lat, report.lon):
            state.trail = ((report.ts, report.lat, report.lon),)
        if velocity is not None and self.is_near(report.lat, report.lon):
            events.extend(self._approaches(state, report, velocity, report.vrate_fpm))
        return StepResult(state, events, Outcome.ACCEPTED, True)

    def _approaches(
        self,
        state: AircraftState,
        report: PositionReport,
        velocity: tuple[float, float] | None,
        vrate_fpm: float | None,
    ) -> list[AirspaceEvent]:
        """Update the dead-reckoned entry predictions; raise ``approaching`` once per approach."""
        policy = self.policy
        events: list[AirspaceEvent] = []
        for zone_id, raised_ts in list(state.approach_raised.items()):
            if report.ts - raised_ts >= policy.approach_rearm_s:
                del state.approach_raised[zone_id]
        # Zones the predicted path's box touches, and those with a prediction to drop.
        ahead: Sequence[int] = ()
        if len(self.zones) <= _FEW_ZONES:
            ahead = range(len(self.zones))  # cheaper than projecting the path for the index
        elif velocity is not None and velocity[0] >= _MIN_PREDICT_KT:
            lat2, lon2 = destination(
                report.lat, report.lon, velocity[1],
                velocity[0] * MPS_PER_KT * policy.approach_horizon_s,
            )  # fmt: skip
            ahead = self._box_index.along(report.lat, report.lon, lat2, lon2)
        for zone in self._subset(ahead, state.approach):
            if zone.id in state.visits:
                state.approach.pop(zone.id, None)
                continue
            predicted = None
            if (
                velocity is not None
                and report.on_ground is not True
                and zone.in_band(report.alt_ft)
            ):
                predicted = self._predict_entry(zone, report, velocity)
            if predicted is not None and report.alt_ft is not None and vrate_fpm is not None:
                # Descending so fast it would be on the ground before the border: it is landing
                # short of it (e.g. at Dandong, 5 km from the DPRK), not approaching.
                alt_at_entry = report.alt_ft + vrate_fpm * (predicted[0] - report.ts) / 60.0
                if alt_at_entry < policy.approach_min_alt_ft:
                    predicted = None
            if predicted is None:
                state.approach.pop(zone.id, None)
                continue
            state.approach[zone.id] = predicted
            if zone.id in state.approach_raised:
                continue  # once per approach
            state.approach_raised[zone.id] = report.ts
            eta, lat, lon = predicted
            events.append(
                self._event(
                    EventType.APPROACHING, zone, report.icao24, report.ts, report.ts, lat, lon,
                    Confidence.INFERRED, state.callsign, report=report, eta_ts=_r_ts(eta),
                )
            )  # fmt: skip
        return events

    def _advance(
        self, state: AircraftState, report: PositionReport, *, reanchored: bool, prev_ts: float
    ) -> StepResult:
        policy = self.policy
        events: list[AirspaceEvent] = []
        changed = reanchored
        if report.callsign and report.callsign != state.callsign:
            state.callsign = report.callsign
            changed = True
        callsign = state.callsign
        t0, lat0, lon0 = state.ts, state.lat, state.lon
        dt = report.ts - t0
        lost = state.lost
        if lost:
            state.lost = []
            changed = True

        if (
            self._far_path
            and not reanchored
            and not state.visits
            and not lost
            and not state.approach
            and not state.approach_raised
            and not state.trail
            and not self.is_near(report.lat, report.lon)
            and (
                # From a fix not near any zone (no trail), a step shorter than the margin
                # cannot reach a zone's box (as in step_far).
                (
                    abs(report.lat - lat0) < policy.near_margin_deg
                    and abs(report.lon - lon0) < policy.near_margin_deg
                )
                or not self._may_touch_any(lat0, lon0, report.lat, report.lon)
            )
        ):
            # Far from every zone, before and now, on a path that cannot touch one: nothing to
            # walk or predict (the zones loop below would find no visit, no containment and no
            # crossing). Most of the world's traffic takes this path.
            persist = self._move_far(
                state, report.ts, report.lat, report.lon, report.alt_ft, report.gs_kt,
                report.track_deg, changed,
            )  # fmt: skip
            return StepResult(state, [], Outcome.ACCEPTED, persist)

        silence = dt > policy.max_cross_gap_s
        # Zones the path's box touches, or with something to settle: the others have no
        # visit, no signal loss, no containment and no crossing (the loop would skip them).
        along = () if self._few else self._box_index.along(lat0, lon0, report.lat, report.lon)
        for zone in self._subset(along, state.visits, lost):
            visit = state.visits.get(zone.id)
            now_in = zone.contains(report.lat, report.lon, report.alt_ft)
            if visit is None and not now_in and (reanchored or silence):
                # Outside at both ends and the path between is unknown: nothing to infer.
                if zone.id in lost:
                    events.append(self._regained(zone, report, callsign, prev_ts, False))
                continue
            if silence:
                # Nobody knows the path flown across the silence: nothing is interpolated.
                zone_events, visit = self._after_silence(
                    zone, visit, now_in, report, callsign, zone.id in lost
                )
            elif reanchored or (
                (zone.floor_ft is not None or zone.ceiling_ft is not None)
                and not (zone.in_band(state.alt_ft) and zone.in_band(report.alt_ft))
            ):
                crossings: list[Crossing] = []  # the path's 2-D crossings say nothing here
            else:
                crossings = zone.crossings(lat0, lon0, report.lat, report.lon)
            if not silence:
                if visit is None and not now_in and not crossings:
                    if zone.id in lost:
                        events.append(self._regained(zone, report, callsign, prev_ts, False))
                    continue
                if (
                    visit is not None
                    and now_in
                    and not crossings
                    and visit.exit_ts is None
                    and visit.seen_inside
                    and zone.id not in lost
                ):
                    continue  # inside before and now, nothing crossed: the walk would say so
                zone_events, visit = self._walk(
                    zone, visit, now_in, crossings, t0, dt, report, callsign
                )
            if zone.id in lost:
                inside = (
                    now_in
                    or zone.id in state.visits  # lost while inside: that claim held
                    or visit is not None
                    or any(e.type is EventType.ENTERED for e in zone_events)
                )
                events.append(self._regained(zone, report, callsign, prev_ts, inside))
            began = visit is not None and zone.id not in state.visits
            if visit is None:
                changed = changed or zone.id in state.visits
                state.visits.pop(zone.id, None)
            else:
                changed = changed or state.visits.get(zone.id) != visit
                state.visits[zone.id] = visit
            if began or any(e.type is EventType.ENTERED for e in zone_events):
                state.approach.pop(zone.id, None)
                state.approach_raised.pop(zone.id, None)  # fulfilled: the next approach alerts
            events.extend(zone_events)
            changed = changed or bool(zone_events)

        prev = None if reanchored else state
        velocity = self._velocity(prev, report)
        state.heading_known = velocity is not None
        near_now = self.is_near(report.lat, report.lon)
        if near_now:
            trail = state.trail
            if not trail or report.ts - trail[-1][0] >= policy.trail_spacing_s:
                keep = policy.trail_points - 1
                state.trail = (
                    *(trail[-keep:] if keep > 0 else ()),
                    (report.ts, report.lat, report.lon),
                )
                changed = True
            vrate: float | None = report.vrate_fpm
            derive = vrate is None and prev is not None and 0 < dt <= policy.velocity_max_gap_s
            if derive and report.alt_ft is not None and state.alt_ft is not None:
                vrate = (report.alt_ft - state.alt_ft) / dt * 60.0  # state still holds the last fix
            # Only starting or ending a prediction matters for persistence; its ETA drifting
            # from fix to fix does not (a restart re-predicts at the next fix).
            approach_before = (set(state.approach), dict(state.approach_raised))
            events.extend(self._approaches(state, report, velocity, vrate))
            changed = changed or (set(state.approach), state.approach_raised) != approach_before
        elif state.approach or state.approach_raised or state.trail:
            state.approach.clear()
            state.approach_raised.clear()
            state.trail = ()
            changed = True

        state.ts, state.lat, state.lon, state.alt_ft = (
            report.ts,
            report.lat,
            report.lon,
            report.alt_ft,
        )
        if not changed:
            every = policy.checkpoint_near_s if near_now else policy.checkpoint_far_s
            changed = report.ts - state.written_ts >= every
        if changed:
            state.written_ts = report.ts
        return StepResult(state, events, Outcome.ACCEPTED, changed)

    def _after_silence(
        self,
        zone: Zone,
        visit: Visit | None,
        now_in: bool,
        report: PositionReport,
        callsign: str | None,
        lost: bool,
    ) -> tuple[list[AirspaceEvent], Visit | None]:
        """One zone's events for a fix after a silence longer than ``max_cross_gap_s``.

        Nothing is interpolated across the silence (a straight line over hours is fiction):
        an exit awaiting confirmation before it is confirmed where it was; a visit that ends
        during the silence is ``exited`` at the fix found outside (``inferred``: when and
        where it left is unknown); a fix inside after it starts a visit, announced by the
        ``signal_regained`` (``confirmed``) the caller adds when the silence raised
        ``signal_lost``, else by ``first_seen_inside``. (Outside at both ends was handled by
        the caller: nothing to say.)
        """
        events: list[AirspaceEvent] = []
        visit = None if visit is None else _copy(visit)
        if visit is not None and visit.exit_ts is not None:
            # Left before the silence and not seen back inside within ``exit_confirm_s``.
            conf = Confidence.OBSERVED if visit.seen_inside else Confidence.INFERRED
            events.append(
                self._event(
                    EventType.EXITED, zone, report.icao24, report.ts, visit.exit_ts,
                    visit.exit_lat, visit.exit_lon, conf, callsign, report=report,
                )
            )  # fmt: skip
            visit = None
        if visit is not None and not now_in:
            events.append(
                self._event(
                    EventType.EXITED, zone, report.icao24, report.ts, report.ts, report.lat,
                    report.lon, Confidence.INFERRED, callsign, report=report,
                )
            )  # fmt: skip
            return events, None
        if visit is None and now_in:
            visit = Visit(entered_ts=report.ts)
            if not lost and self.policy.emit_first_seen_inside:
                events.append(
                    self._event(
                        EventType.FIRST_SEEN_INSIDE, zone, report.icao24, report.ts, report.ts,
                        report.lat, report.lon, Confidence.OBSERVED, callsign, report=report,
                    )
                )  # fmt: skip
        if visit is not None:
            visit.seen_inside = True
        return events, visit

    def _regained(
        self,
        zone: Zone,
        report: PositionReport,
        callsign: str | None,
        last_seen_ts: float,
        inside: bool,
    ) -> AirspaceEvent:
        return self._event(
            EventType.SIGNAL_REGAINED, zone, report.icao24, report.ts, report.ts, report.lat, report.lon,
            Confidence.OBSERVED, callsign, report=report, last_seen_ts=last_seen_ts,
            verdict="confirmed" if inside else "withdrawn",
        )  # fmt: skip

    def _drop_clips(
        self, visit: Visit | None, crossings: list[Crossing], t0: float, dt: float
    ) -> list[Crossing]:
        """The crossings without the visits too short to count (``min_cross_inside_s``).

        A visit here is what the walk would make of the path between the two fixes: its
        stretches inside, joined when the aircraft is outside for less than
        ``exit_confirm_s`` between them. A visit that begins and ends on this path, with no
        fix inside and no visit still open before it, is dropped when it spends less than
        ``min_cross_inside_s`` inside in all: a clipped corner, not a visit, whether or not
        its exit is confirmed yet.
        """
        minimum = self.policy.min_cross_inside_s
        if minimum <= 0.0 or len(crossings) < 2:
            return crossings
        confirm = self.policy.exit_confirm_s
        times = [t0 + c.fraction * dt for c in crossings]
        n = len(crossings)
        drop: set[int] = set()
        # Where the path was last seen leaving a visit that counts (an exit awaiting
        # confirmation from an earlier path, or the path's own start inside).
        anchor_exit = visit.exit_ts if visit is not None else None
        i = 0
        if not crossings[0].entering:
            anchor_exit, i = times[0], 1
        while i < n:
            if not crossings[i].entering or i + 1 >= n:
                break  # the path ends inside: the fix there was seen inside
            # A group of stretches [i, j]: entries at even offsets, exits at odd ones.
            j, inside_s = i + 1, times[i + 1] - times[i]
            while j + 2 < n and times[j + 1] - times[j] < confirm:
                j += 2
                inside_s += times[j] - times[j - 1]
            joined = anchor_exit is not None and times[i] - anchor_exit < confirm
            ends_inside = j + 1 < n and times[j + 1] - times[j] < confirm
            if joined or ends_inside or inside_s >= minimum:
                anchor_exit = times[j]
            else:
                drop.update(range(i, j + 1))
            i = j + 1
        if not drop:
            return crossings
        return [c for k, c in enumerate(crossings) if k not in drop]

    def _walk(
        self,
        zone: Zone,
        visit: Visit | None,
        now_in: bool,
        crossings: list[Crossing],
        t0: float,
        dt: float,
        report: PositionReport,
        callsign: str | None,
    ) -> tuple[list[AirspaceEvent], Visit | None]:
        """Walk the boundary crossings of one path segment in order, applying hysteresis.

        Returns the zone's events and its new visit (None when outside). A crossing whose
        direction contradicts the current status (possible when the altitude band or a
        suspect fix intervened) is skipped; a status change with no crossing on the path
        (altitude band, re-anchored track) is placed at the new fix.
        """
        policy = self.policy
        confirm = policy.exit_confirm_s
        crossings = self._drop_clips(visit, crossings, t0, dt)
        trans = [(t0 + c.fraction * dt, c.entering, c.lat, c.lon) for c in crossings]
        if not trans and (visit is None) == now_in:
            trans = [(report.ts, now_in, report.lat, report.lon)]
        visit = None if visit is None else _copy(visit)
        # (type, ts, lat, lon, whether a fix inside was seen during the visit) in order;
        # confidence is settled once the walk is done.
        steps: list[tuple[EventType, float, float, float, bool]] = []
        for ts, entering, lat, lon in trans:
            if entering:
                if visit is None:
                    steps.append((EventType.ENTERED, ts, lat, lon, False))
                    visit = Visit(entered_ts=ts, seen_inside=False)
                elif visit.exit_ts is not None:
                    if ts - visit.exit_ts >= confirm:  # outside long enough: two visits
                        steps.append(
                            (EventType.EXITED, visit.exit_ts, visit.exit_lat, visit.exit_lon,
                             visit.seen_inside)
                        )  # fmt: skip
                        steps.append((EventType.ENTERED, ts, lat, lon, False))
                        visit = Visit(entered_ts=ts, seen_inside=False)
                    else:  # back inside before the exit was confirmed: one visit
                        visit.exit_ts = None
            elif visit is not None and visit.exit_ts is None:
                visit.exit_ts, visit.exit_lat, visit.exit_lon = ts, lat, lon
        if visit is not None and visit.exit_ts is not None and report.ts - visit.exit_ts >= confirm:
            steps.append(
                (EventType.EXITED, visit.exit_ts, visit.exit_lat, visit.exit_lon, visit.seen_inside)
            )
            visit = None
        if visit is not None and now_in:
            visit.seen_inside = True
        last = len(steps) - 1
        events = []
        for i, (type_, ts, lat, lon, seen) in enumerate(steps):
            # Observed: the fix on the far side of the crossing confirms the new status, and
            # for an exit, a fix inside was seen during the visit. Anything else (a path
            # between fixes outside, a visit with no fix inside) is inferred.
            if type_ is EventType.ENTERED:
                observed = now_in and all(s[0] is not EventType.ENTERED for s in steps[i + 1 :])
            else:
                observed = seen and i == last and not now_in
            conf = Confidence.OBSERVED if observed else Confidence.INFERRED
            events.append(
                self._event(
                    type_,
                    zone,
                    report.icao24,
                    report.ts,
                    ts,
                    lat,
                    lon,
                    conf,
                    callsign,
                    report=report,
                )
            )
        return events, visit


def _with_trail(result: StepResult) -> StepResult:
    """Give the result's events the aircraft's recent track (the map's context)."""
    state = result.state
    if result.events and state is not None and state.trail:
        trail = tuple((round(lat, 4), round(lon, 4)) for _, lat, lon in state.trail)
        if (state.lat, state.lon) != (state.trail[-1][1], state.trail[-1][2]):
            trail = (*trail, (round(state.lat, 4), round(state.lon, 4)))
        for event in result.events:
            # The step's own events, just built and seen by no one yet: set in place (a
            # dataclasses.replace of a 25-field event cost ~5 us each near a border).
            object.__setattr__(event, "trail", trail)
    return result
