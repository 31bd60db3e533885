"""Per-aircraft state machine: positions in, airspace events out.

``Tracker.step(state, report)`` is a pure function of the previous state of one aircraft, its
new position report, the zones and the :class:`Policy`. It never reads the clock: all time is
the reports' event time. The Faust agent and ``skyfence evaluate`` both call it, so the
offline evaluation and the Kafka pipeline give the same events.

Rules (the README has the operator's version):

- ``entered`` (confidence ``observed``): a fix inside a zone after a fix outside it. ``ts`` is
  the interpolated time at which the straight path between the two fixes crossed the boundary.
- ``entered`` + ``exited`` (``inferred``): two fixes outside whose path cuts through the zone
  (the "cross" case), when the gap between them is at most ``Policy.max_cross_gap_s`` and the
  path spends at least ``Policy.min_cross_inside_s`` inside.
- ``exited`` (``observed``): a fix outside after being inside, once the aircraft has been
  outside for ``Policy.exit_confirm_s`` since the estimated crossing (hysteresis: a fix back
  inside before then cancels the exit, so skimming the boundary gives one visit).
- ``first_seen_inside`` (``observed``): the first fix of an aircraft (or the first after its
  state expired) is already inside.
- Out-of-order and duplicate fixes are ignored. A fix whose implied speed from the previous
  fix exceeds ``Policy.max_speed_kt`` is suspect: it is held as a candidate and never raises an
  event alone; a following fix consistent with it confirms it (the earlier track was wrong).
- State expires by event time: ``Policy.ttl_outside_s`` after the last fix when outside every
  zone, ``Policy.ttl_inside_s`` when inside one (long enough to see a two-day visit end).

Out of scope here: I/O, persistence (see ``encode_state``/``decode_state``), metrics.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import orjson

from streams.models import AirspaceEvent, Confidence, EventType, PositionReport, make_event_id
from streams.zones import Zone

__all__ = [
    "AircraftState",
    "Outcome",
    "Policy",
    "StepResult",
    "Tracker",
    "Visit",
    "decode_state",
    "encode_state",
    "haversine_m",
]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
#: Metres per nautical mile (exact by definition).
M_PER_NM = 1852.0


@dataclass(frozen=True, slots=True)
class Policy:
    """Every tunable of detection, with the defaults a watch desk wants.

    Times are event-time seconds; speeds knots.
    """

    #: An exit counts once the aircraft has been outside this long since the crossing.
    #: Two minutes absorbs GPS noise and boundary skimming without delaying a real exit much.
    exit_confirm_s: float = 120.0
    #: Infer a crossing from two outside fixes only when they are at most this far apart;
    #: beyond it nobody knows the path flown (30 min is ~420 km at cruise speed).
    max_cross_gap_s: float = 1800.0
    #: An inferred cross must spend at least this long inside; shorter clips are noise.
    min_cross_inside_s: float = 10.0
    #: Implied speed above which a fix is suspect. Fastest airliners cruise ~600 kt ground
    #: speed with jet-stream tailwind; 1,200 kt leaves room for military traffic.
    max_speed_kt: float = 1200.0
    #: Below this distance a "jump" is never suspect (position noise of a few hundred metres
    #: between fixes a second apart would otherwise imply absurd speeds).
    min_jump_m: float = 2000.0
    #: State of an aircraft outside every zone is forgotten after this much silence.
    ttl_outside_s: float = 3600.0
    #: State of an aircraft inside a zone lasts this long (a visit of several days must still
    #: yield ``exited``; the seed Il-62M stayed two days on the ground in Pyongyang).
    ttl_inside_s: float = 7 * 86400.0
    #: Emit ``first_seen_inside`` events.
    emit_first_seen_inside: bool = True
    #: Persist the last fix at least this often (event time) near a zone (within
    #: ``near_margin_deg`` of its bounds), so a restart interpolates from a recent fix.
    checkpoint_near_s: float = 30.0
    #: Persist the last fix at least this often elsewhere (keeps the TTL honest after restart).
    checkpoint_far_s: float = 600.0
    #: How far outside a zone's bounding box (degrees) counts as "near".
    near_margin_deg: float = 1.0


class Outcome(StrEnum):
    """What the tracker did with a report (a bounded metric label)."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out_of_order"
    SUSPECT = "suspect"


@dataclass(slots=True)
class Visit:
    """An aircraft's presence in one zone; ``exit_*`` set while an exit awaits confirmation."""

    entered_ts: float
    exit_ts: float | None = None
    exit_lat: float = 0.0
    exit_lon: float = 0.0


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
    #: A suspect fix held until a following fix confirms it: (ts, lat, lon, alt_ft).
    candidate: tuple[float, float, float, int | None] | None = None
    #: Event time of the last durable write of this state.
    written_ts: float = 0.0

    def expired(self, now_ts: float, policy: Policy) -> bool:
        """True when this state is older than its time to live at event time ``now_ts``."""
        ttl = policy.ttl_inside_s if self.visits else policy.ttl_outside_s
        return now_ts - self.ts > ttl


@dataclass(slots=True)
class StepResult:
    """The outcome of one step: new state, events, and whether the state must be persisted."""

    state: AircraftState | None
    events: list[AirspaceEvent]
    outcome: Outcome
    persist: bool


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


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
        margin = self.policy.near_margin_deg
        self._near_boxes = [
            (z.bounds[0] - margin, z.bounds[1] - margin, z.bounds[2] + margin, z.bounds[3] + margin)
            for z in self.zones
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _event(
        self,
        type_: EventType,
        zone: Zone,
        report: PositionReport,
        ts: float,
        lat: float,
        lon: float,
        confidence: Confidence,
        callsign: str | None,
    ) -> AirspaceEvent:
        return AirspaceEvent(
            event_id=make_event_id(report.icao24, zone.id, type_.value, report.ts),
            type=type_,
            icao24=report.icao24,
            zone=zone.id,
            ts=_r_ts(ts),
            lat=_r_deg(lat),
            lon=_r_deg(lon),
            observed_ts=report.ts,
            callsign=callsign,
            confidence=confidence,
            zone_name=zone.name,
            alt_ft=report.alt_ft,
            gs_kt=report.gs_kt,
            track_deg=report.track_deg,
        )

    def is_near(self, lat: float, lon: float) -> bool:
        """True when the point is within ``near_margin_deg`` of any zone's bounding box."""
        for min_lon, min_lat, max_lon, max_lat in self._near_boxes:
            if min_lat <= lat <= max_lat and min_lon <= lon <= max_lon:
                return True
        return False

    def _implausible(self, ts1: float, lat1: float, lon1: float, report: PositionReport) -> bool:
        dist_m = haversine_m(lat1, lon1, report.lat, report.lon)
        if dist_m <= self.policy.min_jump_m:
            return False
        dt_s = report.ts - ts1
        if dt_s <= 0:
            return True
        return dist_m / dt_s * 3600.0 / M_PER_NM > self.policy.max_speed_kt

    # -- the state machine -----------------------------------------------------------------

    def step(self, state: AircraftState | None, report: PositionReport) -> StepResult:
        """Advance one aircraft's state by one report; see the module docstring for the rules."""
        policy = self.policy
        if state is not None and state.expired(report.ts, policy):
            state = None
        if state is None:
            return self._first_fix(report)

        if report.ts < state.ts:
            return StepResult(state, [], Outcome.OUT_OF_ORDER, False)
        if report.ts == state.ts:
            same = report.lat == state.lat and report.lon == state.lon
            return StepResult(state, [], Outcome.DUPLICATE if same else Outcome.OUT_OF_ORDER, False)

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
            state.ts, state.lat, state.lon, state.alt_ft = cand
            state.candidate = None
            return self._advance(state, report, interpolate=True, reanchored=True)

        state.candidate = None
        return self._advance(state, report, interpolate=True, reanchored=False)

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
        for zone in self.zones:
            if zone.contains(report.lat, report.lon, report.alt_ft):
                state.visits[zone.id] = Visit(entered_ts=report.ts)
                if self.policy.emit_first_seen_inside:
                    events.append(
                        self._event(
                            EventType.FIRST_SEEN_INSIDE,
                            zone,
                            report,
                            report.ts,
                            report.lat,
                            report.lon,
                            Confidence.OBSERVED,
                            report.callsign,
                        )
                    )
        return StepResult(state, events, Outcome.ACCEPTED, True)

    def _advance(
        self, state: AircraftState, report: PositionReport, *, interpolate: bool, reanchored: bool
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

        for zone in self.zones:
            visit = state.visits.get(zone.id)
            now_in = zone.contains(report.lat, report.lon, report.alt_ft)
            if visit is None and not now_in:
                # Outside before and after: does the path between cut through the zone?
                if dt <= policy.max_cross_gap_s and not reanchored:
                    crossings = zone.crossings(lat0, lon0, report.lat, report.lon)
                    if crossings:
                        events.extend(self._cross(zone, report, crossings, t0, dt, callsign))
                continue
            crossings = (
                zone.crossings(lat0, lon0, report.lat, report.lon)
                if interpolate and not reanchored
                else []
            )
            if visit is None:  # outside -> inside
                entry = next((c for c in reversed(crossings) if c.entering), None)
                if entry is None:  # altitude band change or no usable path: crossing at the fix
                    ts, lat, lon = report.ts, report.lat, report.lon
                else:
                    ts, lat, lon = t0 + entry.fraction * dt, entry.lat, entry.lon
                state.visits[zone.id] = Visit(entered_ts=ts)
                events.append(
                    self._event(
                        EventType.ENTERED, zone, report, ts, lat, lon, Confidence.OBSERVED, callsign
                    )
                )
                changed = True
            elif now_in:
                if visit.exit_ts is not None:  # back inside before the exit was confirmed
                    visit.exit_ts = None
                    changed = True
            else:  # inside (or leaving) -> outside
                if visit.exit_ts is None:
                    exit_ = next((c for c in crossings if not c.entering), None)
                    if exit_ is None:
                        visit.exit_ts, visit.exit_lat, visit.exit_lon = (
                            report.ts,
                            report.lat,
                            report.lon,
                        )
                    else:
                        visit.exit_ts = t0 + exit_.fraction * dt
                        visit.exit_lat, visit.exit_lon = exit_.lat, exit_.lon
                    changed = True
                if report.ts - visit.exit_ts >= policy.exit_confirm_s:
                    events.append(
                        self._event(
                            EventType.EXITED,
                            zone,
                            report,
                            visit.exit_ts,
                            visit.exit_lat,
                            visit.exit_lon,
                            Confidence.OBSERVED,
                            callsign,
                        )
                    )
                    del state.visits[zone.id]
                    changed = True

        state.ts, state.lat, state.lon, state.alt_ft = (
            report.ts,
            report.lat,
            report.lon,
            report.alt_ft,
        )
        if not changed:
            every = (
                policy.checkpoint_near_s
                if self.is_near(report.lat, report.lon)
                else policy.checkpoint_far_s
            )
            changed = report.ts - state.written_ts >= every
        if changed:
            state.written_ts = report.ts
        return StepResult(state, events, Outcome.ACCEPTED, changed)

    def _cross(
        self,
        zone: Zone,
        report: PositionReport,
        crossings: list,
        t0: float,
        dt: float,
        callsign: str | None,
    ) -> list[AirspaceEvent]:
        """Events for a path between two outside fixes that passes through ``zone``."""
        entry = next((c for c in crossings if c.entering), None)
        exit_ = next((c for c in reversed(crossings) if not c.entering), None)
        if entry is None or exit_ is None or exit_.fraction <= entry.fraction:
            return []
        if (exit_.fraction - entry.fraction) * dt < self.policy.min_cross_inside_s:
            return []
        if not (zone.in_band(report.alt_ft)):
            return []
        return [
            self._event(
                EventType.ENTERED,
                zone,
                report,
                t0 + entry.fraction * dt,
                entry.lat,
                entry.lon,
                Confidence.INFERRED,
                callsign,
            ),
            self._event(
                EventType.EXITED,
                zone,
                report,
                t0 + exit_.fraction * dt,
                exit_.lat,
                exit_.lon,
                Confidence.INFERRED,
                callsign,
            ),
        ]


# -- persistence ---------------------------------------------------------------------------

#: Version tag of the serialized state; bump when the layout changes.
_STATE_VERSION = 1


def encode_state(state: AircraftState) -> bytes:
    """Serialize a state compactly (a JSON array; ~100-200 bytes for a typical aircraft)."""
    visits = [
        [zid, v.entered_ts, v.exit_ts, v.exit_lat, v.exit_lon]
        if v.exit_ts is not None
        else [zid, v.entered_ts]
        for zid, v in state.visits.items()
    ]
    return orjson.dumps(
        [
            _STATE_VERSION,
            state.icao24,
            state.ts,
            state.lat,
            state.lon,
            state.alt_ft,
            state.callsign,
            state.written_ts,
            visits,
            list(state.candidate) if state.candidate else None,
        ]
    )


def decode_state(data: bytes) -> AircraftState:
    """Inverse of :func:`encode_state`."""
    v, icao24, ts, lat, lon, alt_ft, callsign, written_ts, visits, cand = orjson.loads(data)
    if v != _STATE_VERSION:
        raise ValueError(f"unknown aircraft state version {v}")
    state = AircraftState(
        icao24=icao24,
        ts=ts,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        callsign=callsign,
        written_ts=written_ts,
    )
    for item in visits:
        visit = Visit(entered_ts=item[1])
        if len(item) > 2:
            visit.exit_ts, visit.exit_lat, visit.exit_lon = item[2], item[3], item[4]
        state.visits[item[0]] = visit
    if cand:
        state.candidate = (cand[0], cand[1], cand[2], cand[3])
    return state
