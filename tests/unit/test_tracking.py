"""The per-aircraft state machine on a unit square zone (lon 0..1, lat 0..1)."""

from __future__ import annotations

import pytest
from shapely.geometry import MultiPolygon, Polygon

from streams.models import Confidence, EventType, PositionReport
from streams.tracking import AircraftState, Outcome, Policy, Tracker
from streams.zones import Zone

SQUARE = Zone(id="sq", name="Square", geometry=MultiPolygon([Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])]))
T0 = 1_700_000_000.0


def fix(ts: float, lat: float, lon: float, **kw: object) -> PositionReport:
    return PositionReport(icao24="abcdef", ts=T0 + ts, lat=lat, lon=lon, **kw)  # type: ignore[arg-type]


def run(tracker: Tracker, fixes: list[PositionReport]) -> tuple[AircraftState | None, list]:
    state, events = None, []
    for f in fixes:
        result = tracker.step(state, f)
        state = result.state
        events.extend(result.events)
    return state, events


def test_entry_is_interpolated_between_fixes() -> None:
    # 0.5 deg of longitude per 100 s, along lat 0.5: boundary lon 0 crossed at t=40.
    _, events = run(Tracker([SQUARE]), [fix(0, 0.5, -0.2), fix(100, 0.5, 0.3)])
    assert [e.type for e in events] == [EventType.ENTERED]
    e = events[0]
    assert e.ts == pytest.approx(T0 + 40.0)
    assert (e.lat, e.lon) == (0.5, 0.0)
    assert e.observed_ts == T0 + 100
    assert e.confidence is Confidence.OBSERVED


def test_exit_waits_for_confirmation_then_reports_the_crossing_time() -> None:
    tracker = Tracker([SQUARE], Policy(exit_confirm_s=120))
    fixes = [fix(0, 0.5, 0.5), fix(100, 0.5, 0.9), fix(200, 0.5, 1.1), fix(400, 0.5, 1.5)]
    state, events = run(tracker, fixes)
    types = [e.type for e in events]
    assert types == [EventType.FIRST_SEEN_INSIDE, EventType.EXITED]
    assert events[1].ts == pytest.approx(T0 + 150.0)
    assert events[1].observed_ts == T0 + 400
    assert state is not None and not state.visits


def test_skimming_the_boundary_gives_one_visit() -> None:
    tracker = Tracker([SQUARE], Policy(exit_confirm_s=120))
    fixes = [fix(0, 0.5, -0.5)]
    # In and out every 20 s for 10 minutes, never outside for 2 minutes.
    for i in range(1, 31):
        fixes.append(fix(i * 20, 0.5, 0.01 if i % 2 else -0.01))
    fixes.append(fix(1000, 0.5, -1.0))
    _, events = run(tracker, fixes)
    assert [e.type for e in events] == [EventType.ENTERED, EventType.EXITED]


def test_cross_between_two_outside_fixes_is_inferred() -> None:
    # 2 degrees of longitude in 1200 s (~360 kt); the square is crossed from t=300 to t=900.
    _, events = run(Tracker([SQUARE]), [fix(0, 0.5, -0.5), fix(1200, 0.5, 1.5)])
    assert [e.type for e in events] == [EventType.ENTERED, EventType.EXITED]
    assert all(e.confidence is Confidence.INFERRED for e in events)
    assert events[0].ts == pytest.approx(T0 + 300) and events[1].ts == pytest.approx(T0 + 900)
    assert events[0].event_id != events[1].event_id


def test_no_cross_inferred_across_a_long_gap() -> None:
    _, events = run(Tracker([SQUARE], Policy(max_cross_gap_s=600)), [fix(0, 0.5, -0.5), fix(1200, 0.5, 1.5)])
    assert events == []


def test_duplicates_and_out_of_order_are_ignored() -> None:
    tracker = Tracker([SQUARE])
    r1 = tracker.step(None, fix(0, 0.5, -0.5))
    dup = tracker.step(r1.state, fix(0, 0.5, -0.5))
    assert dup.outcome is Outcome.DUPLICATE and not dup.persist
    r2 = tracker.step(r1.state, fix(60, 0.5, -0.4))
    late = tracker.step(r2.state, fix(30, 0.5, 0.5))
    assert late.outcome is Outcome.OUT_OF_ORDER and late.events == []


def test_a_suspect_jump_alone_never_alerts() -> None:
    tracker = Tracker([SQUARE])
    # Far outside, then one fix teleported inside (1000 km in 10 s), then back on track.
    fixes = [fix(0, 5.0, 5.0), fix(10, 0.5, 0.5), fix(20, 5.0, 5.001)]
    state, events = run(tracker, fixes)
    assert events == []
    assert state is not None and state.lat == 5.0


def test_two_consistent_fixes_confirm_a_jump() -> None:
    tracker = Tracker([SQUARE])
    results = []
    state = None
    for f in [fix(0, 5.0, 5.0), fix(10, 0.5, 0.5), fix(20, 0.5, 0.51)]:
        r = tracker.step(state, f)
        results.append(r)
        state = r.state
    assert results[1].outcome is Outcome.SUSPECT
    assert [e.type for e in results[2].events] == [EventType.ENTERED]


def test_state_outside_expires_but_a_visit_lasts_days() -> None:
    tracker = Tracker([SQUARE], Policy(ttl_outside_s=3600, ttl_inside_s=7 * 86400))
    # Inside, silent for two days, then heard outside: still an exit.
    _, events = run(tracker, [fix(0, 0.5, -0.1), fix(60, 0.5, 0.2), fix(2 * 86400, 0.5, 1.5)])
    assert [e.type for e in events] == [EventType.ENTERED, EventType.EXITED]
    # Outside and silent for two hours: forgotten, so the next fix inside is a first sighting.
    _, events = run(tracker, [fix(0, 0.5, -0.5), fix(7200, 0.5, 0.5)])
    assert [e.type for e in events] == [EventType.FIRST_SEEN_INSIDE]


def test_altitude_band() -> None:
    banded = Zone(id="b", name="Band", geometry=SQUARE.geometry, floor_ft=10000, ceiling_ft=20000)
    _, events = run(Tracker([banded]), [fix(0, 0.5, -0.5, alt_ft=30000), fix(100, 0.5, 0.5, alt_ft=30000)])
    assert events == []
    _, events = run(Tracker([banded]), [fix(0, 0.5, 0.5, alt_ft=30000), fix(100, 0.5, 0.5, alt_ft=15000)])
    assert [e.type for e in events] == [EventType.ENTERED]
    assert events[0].ts == T0 + 100


def test_persist_only_when_it_matters() -> None:
    tracker = Tracker([SQUARE], Policy(checkpoint_near_s=30, checkpoint_far_s=600))
    state = None
    persisted = []
    for i in range(0, 300, 5):  # far from the zone: 60 fixes in 5 minutes
        r = tracker.step(state, fix(i, 40.0, 40.0 + i * 0.001))
        state = r.state
        persisted.append(r.persist)
    assert persisted[0] is True and sum(persisted) == 1


# -- approaching, signal loss, timers ----------------------------------------------------------


def _square_tracker(**policy: float) -> Tracker:
    return Tracker([SQUARE], Policy(watch_m=20_000.0, **policy))  # type: ignore[arg-type]


def test_approaching_once_with_eta_and_entry_point() -> None:
    tracker = _square_tracker()
    # Flying east at 400 kt along lat 0.5, from lon -0.5: the boundary (lon 0) is ~55.6 km away.
    speed_deg_s = 400 * 1852 / 3600 / 111_195
    fixes = [fix(i * 10, 0.5, -0.5 + i * 10 * speed_deg_s, gs_kt=400.0, track_deg=90.0) for i in range(0, 60)]
    _, events = run(tracker, fixes)
    types = [e.type for e in events]
    assert types.count(EventType.APPROACHING) == 1
    assert types[-1] is EventType.ENTERED and types.index(EventType.APPROACHING) < types.index(EventType.ENTERED)
    warn = events[types.index(EventType.APPROACHING)]
    assert warn.confidence is Confidence.INFERRED and warn.lon == pytest.approx(0.0, abs=1e-3)
    # Raised as soon as entry was within the 10-minute horizon; the ETA matches the entry.
    entered = events[-1]
    assert warn.eta_ts is not None and warn.eta_ts - warn.observed_ts <= 600
    assert warn.eta_ts == pytest.approx(entered.ts, abs=2.0)


def test_no_approach_when_landing_short_of_the_border() -> None:
    tracker = _square_tracker()
    speed_deg_s = 200 * 1852 / 3600 / 111_195
    # 3,000 ft and descending 1,000 fpm, 8 minutes from the border: lands before it.
    fixes = [
        fix(i * 10, 0.5, -0.27 + i * 10 * speed_deg_s, gs_kt=200.0, track_deg=90.0, alt_ft=3000 - i * 160, vrate_fpm=-1000)
        for i in range(0, 12)
    ]
    _, events = run(tracker, fixes)
    assert events == []


def test_signal_lost_inside_and_regained() -> None:
    tracker = _square_tracker(signal_lost_s=300)
    state, events = run(tracker, [fix(0, 0.5, -0.01), fix(30, 0.5, 0.05)])
    assert state is not None and events[-1].type is EventType.ENTERED
    assert tracker.due_ts(state) == T0 + 330
    assert tracker.tick(state, T0 + 329).events == []
    lost = tracker.tick(state, T0 + 330).events
    assert [e.type for e in lost] == [EventType.SIGNAL_LOST]
    assert lost[0].last_seen_ts == T0 + 30 and lost[0].confidence is Confidence.OBSERVED
    assert tracker.due_ts(state) is None  # raised once
    back = tracker.step(state, fix(86400, 0.5, 0.5))
    assert [(e.type, e.verdict) for e in back.events] == [(EventType.SIGNAL_REGAINED, "confirmed")]


def test_signal_lost_on_approach_predicts_entry_and_can_be_withdrawn() -> None:
    tracker = _square_tracker(signal_lost_s=300)
    speed_deg_s = 400 * 1852 / 3600 / 111_195
    fixes = [fix(i * 10, 0.5, -0.6 + i * 10 * speed_deg_s, gs_kt=400.0, track_deg=90.0) for i in range(0, 8)]
    state, events = run(tracker, fixes)
    assert [e.type for e in events] == [EventType.APPROACHING]
    assert state is not None
    lost = tracker.tick(state, state.ts + 300).events
    assert [e.type for e in lost] == [EventType.SIGNAL_LOST]
    assert lost[0].confidence is Confidence.INFERRED
    # The latest prediction (re-evaluated at every fix) says where and when entry was due.
    assert lost[0].eta_ts == pytest.approx(events[0].eta_ts, abs=1.0) and lost[0].ts == lost[0].eta_ts
    # Heard again 20 minutes later, still west of the zone, having turned away: withdrawn.
    back = tracker.step(state, fix(state.ts - T0 + 1200, 1.5, -0.6, gs_kt=400.0, track_deg=0.0))
    assert [(e.type, e.verdict) for e in back.events] == [(EventType.SIGNAL_REGAINED, "withdrawn")]


def test_exit_is_confirmed_by_the_watermark_when_no_fix_follows() -> None:
    tracker = _square_tracker(exit_confirm_s=120)
    state, events = run(tracker, [fix(0, 0.5, 0.9), fix(30, 0.5, 1.01)])
    assert state is not None and [e.type for e in events] == [EventType.FIRST_SEEN_INSIDE]
    due = tracker.due_ts(state)
    # Outside for exit_confirm_s since the crossing *and* silent for exit_silence_s: a sparse
    # feed's next fix gets its chance to show the aircraft back inside first.
    assert due == T0 + 30 + tracker.policy.exit_silence_s
    assert tracker.tick(state, due - 1).events == []
    exited = tracker.tick(state, due).events
    assert [e.type for e in exited] == [EventType.EXITED]
    assert exited[0].observed_ts == T0 + 30


def test_entry_after_a_long_silence_is_not_interpolated() -> None:
    tracker = _square_tracker(signal_lost_s=300)
    speed_deg_s = 400 * 1852 / 3600 / 111_195
    fixes = [fix(i * 10, 0.5, -0.6 + i * 10 * speed_deg_s, gs_kt=400.0, track_deg=90.0) for i in range(0, 8)]
    state, events = run(tracker, fixes)
    assert state is not None and events[0].eta_ts is not None
    lost = tracker.tick(state, state.ts + 300).events
    assert [e.type for e in lost] == [EventType.SIGNAL_LOST]
    assert lost[0].confidence is Confidence.INFERRED  # the probable entry is the prediction
    # Next heard two days later, inside: the signal_lost's claim is confirmed; no entry is
    # dated anywhere in the two days (nothing is interpolated across a silence).
    back = tracker.step(state, fix(2 * 86400, 0.5, 0.5))
    assert [(e.type, e.verdict) for e in back.events] == [(EventType.SIGNAL_REGAINED, "confirmed")]
    assert back.state is not None and back.state.visits["sq"].seen_inside
    # The visit is open: its exit is reported (observed: a fix inside was seen).
    out = run(tracker, [fix(2 * 86400 + 60, 0.5, 1.2), fix(2 * 86400 + 300, 0.5, 1.6)])
    state2 = back.state
    for f in [fix(2 * 86400 + 60, 0.5, 1.2), fix(2 * 86400 + 300, 0.5, 1.6)]:
        r = tracker.step(state2, f)
        state2 = r.state
        out = r.events
    assert [(e.type, e.confidence) for e in out] == [(EventType.EXITED, Confidence.OBSERVED)]


def test_a_silence_from_outside_ends_in_a_first_sighting_inside() -> None:
    # Outside, silent for 40 min (longer than max_cross_gap_s, shorter than the TTL), then
    # inside with no signal_lost raised: nothing interpolated, a first sighting at the fix.
    tracker = Tracker([SQUARE], Policy(max_cross_gap_s=1800, ttl_outside_s=3600, watch_m=1.0))
    _, events = run(tracker, [fix(0, 0.5, -3.0), fix(2400, 0.5, 0.5)])
    assert [(e.type, e.ts) for e in events] == [(EventType.FIRST_SEEN_INSIDE, T0 + 2400)]


def test_due_ts_shortcut_agrees_with_the_full_rule_on_world_traffic() -> None:
    """``due_ts`` skips the zone walk for aircraft with no visit, no prediction and not near
    a zone; on generated traffic with many aircraft near and across the DPRK border (visits,
    predictions, exits awaiting confirmation) it must give what the full rule gives."""
    import orjson

    from streams.codec import position_from_mapping
    from streams.scheduler import DueQueue
    from streams.zones import builtin_zone
    from tests.bench.traffic import make_fleet

    tracker = Tracker([builtin_zone("dprk")])
    fleet = make_fleet(1_500, seed=7, near_share=0.4, crossers=6, crosser_every_s=5.0)
    states: dict[str, AircraftState] = {}
    queue = DueQueue()
    checked = shortcut = timed = 0
    for second in fleet.seconds(1_695_690_000.0, 90):
        for raw in second:
            report = position_from_mapping(orjson.loads(raw))
            for icao24 in queue.advance(report.ts):
                if icao24 in states:
                    states[icao24] = tracker.tick(states[icao24], queue.watermark).state or states[icao24]
            result = tracker.step(states.get(report.icao24), report)
            if result.state is None:
                continue
            state = states[report.icao24] = result.state
            full = tracker._due_ts_full(state)
            assert tracker.due_ts(state) == full, state
            # The bound callers use to skip asking (DueQueue.queued_by).
            assert full is None or full >= state.ts + tracker.min_due_delay_s, state
            checked += 1
            if full is not None:
                timed += 1
                queue.push(full, report.icao24)
            elif not state.visits and not state.approach:
                shortcut += 1
    assert checked > 100_000 and shortcut > 50_000 and timed > 100, (checked, shortcut, timed)


def test_an_event_keeps_the_trail_it_was_returned_with() -> None:
    """Each step gives its own new events their trail in place: an event already returned
    (and perhaps queued or delivered) never changes when later fixes move the trail."""
    from streams.replay import read_recording
    from streams.zones import builtin_zone
    from tests.conftest import SEED_SCENARIO

    tracker = Tracker([builtin_zone("dprk")])
    states: dict[str, AircraftState] = {}
    seen: list[tuple[object, tuple]] = []
    for report in read_recording(SEED_SCENARIO):
        if not isinstance(report, PositionReport):
            continue
        result = tracker.step(states.get(report.icao24), report)
        if result.state is not None:
            states[report.icao24] = result.state
        seen.extend((event, event.trail) for event in result.events)
    assert len(seen) > 10 and any(len(trail) >= 2 for _, trail in seen)
    assert len({id(event) for event, _ in seen}) == len(seen)  # no event object reused
    assert all(event.trail == trail for event, trail in seen)
