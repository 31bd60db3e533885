"""Emergency squawks (7500, 7600, 7700) near a unit square zone (lon 0..1, lat 0..1): only a
persisting code alerts, once per code, near a zone; re-armed when the code changes or clears."""

from __future__ import annotations

from shapely.geometry import MultiPolygon, Polygon

from streams.models import EventType, PositionReport
from streams.state_codec import decode_state, encode_state
from streams.tracking import AircraftState, Policy, Tracker
from streams.zones import Zone

SQUARE = Zone(id="sq", name="Square", geometry=MultiPolygon([Polygon([(0, 0), (1, 0), (1, 1), (0, 1)])]))
FAR = Zone(id="far", name="Far", geometry=MultiPolygon([Polygon([(3, 0), (4, 0), (4, 1), (3, 1)])]))
T0 = 1_700_000_000.0


def _fixes(codes: list[tuple[float, str | None]], lat: float = 0.5, lon: float = 1.5) -> list[PositionReport]:
    """Fixes at (lat, lon) (default ~55 km east of the square), at the given seconds, with
    the given codes; the aircraft creeps north so no two fixes are duplicates."""
    return [
        PositionReport(icao24="abcdef", ts=T0 + t, lat=lat + t * 1e-5, lon=lon, alt_ft=30000,
                       gs_kt=1.0, track_deg=0.0, callsign="TEST1", squawk=code)
        for t, code in codes
    ]  # fmt: skip


def _run(fixes: list[PositionReport], tracker: Tracker | None = None) -> tuple[AircraftState | None, list]:
    tracker = tracker or Tracker([SQUARE])
    state, events = None, []
    for report in fixes:
        result = tracker.step(state, report)
        state = result.state
        events.extend(e for e in result.events if e.type is EventType.SQUAWK_EMERGENCY)
    return state, events


def _every(step_s: float, until_s: float, code: str | None, start_s: float = 0.0) -> list[tuple[float, str | None]]:
    out, t = [], start_s
    while t <= until_s:
        out.append((t, code))
        t += step_s
    return out


def test_a_persisting_7700_alerts_once() -> None:
    _, events = _run(_fixes(_every(10, 600, "7700")))
    assert len(events) == 1
    event = events[0]
    assert event.squawk == "7700" and event.zone == "sq"
    assert event.observed_ts == T0 + 60  # the first fix 60 s after the code was first heard
    assert event.callsign == "TEST1" and event.confidence.value == "observed"


def test_a_7700_that_flickers_for_10_s_does_not_alert() -> None:
    codes = _every(2, 10, "7700") + _every(2, 300, "2000", start_s=12)
    assert _run(_fixes(codes))[1] == []
    # Even flickering again and again: each stretch starts the clock afresh.
    codes = [(t, "7700" if (t // 10) % 2 == 0 else "2000") for t in range(0, 600, 5)]
    assert _run(_fixes(codes))[1] == []


def test_7600_then_7700_gives_two_events() -> None:
    codes = _every(10, 100, "7600") + _every(10, 300, "7700", start_s=110)
    _, events = _run(_fixes(codes))
    assert [(e.squawk, e.observed_ts - T0) for e in events] == [("7600", 60), ("7700", 170)]
    assert len({e.event_id for e in events}) == 2


def test_far_from_every_zone_does_not_alert() -> None:
    # ~440 km east of the square: the code persists, nothing is near.
    assert _run(_fixes(_every(10, 600, "7700"), lon=5.0))[1] == []
    # Just beyond the configured distance: none; just within it: one.
    assert _run(_fixes(_every(10, 300, "7500")), Tracker([SQUARE], Policy(squawk_alert_m=50_000)))[1] == []
    _, events = _run(_fixes(_every(10, 300, "7500")), Tracker([SQUARE], Policy(squawk_alert_m=60_000)))
    assert len(events) == 1 and events[0].squawk == "7500"


def test_inside_a_zone_and_the_nearest_zone_is_named() -> None:
    _, events = _run(_fixes(_every(10, 120, "7700"), lon=0.5), Tracker([FAR, SQUARE]))
    assert [e.zone for e in events] == ["sq"]
    _, events = _run(_fixes(_every(10, 120, "7700"), lon=2.6), Tracker([SQUARE, FAR]))
    assert [e.zone for e in events] == ["far"]  # 0.4 deg from FAR, 1.6 deg from the square


def test_persistence_needs_two_fixes_and_a_missing_code_neither_confirms_nor_clears() -> None:
    # One fix with the code, then silence about it (fixes without a squawk) for 5 minutes.
    codes = [(0.0, "7700"), *_every(10, 300, None, start_s=10)]
    assert _run(_fixes(codes))[1] == []
    # The same code heard again after the gap: two fixes, 310 s apart: alerts.
    _, events = _run(_fixes([*codes, (310.0, "7700")]))
    assert [e.observed_ts - T0 for e in events] == [310]


def test_cleared_and_back_is_rearmed() -> None:
    codes = [*_every(10, 100, "7700"), (110.0, "2000"), *_every(10, 300, "7700", start_s=120)]
    _, events = _run(_fixes(codes))
    assert [e.observed_ts - T0 for e in events] == [60, 180]


def test_the_watch_survives_a_restart_and_blocks_the_fast_path() -> None:
    tracker = Tracker([SQUARE])
    state, events = _run(_fixes(_every(10, 70, "7700")), tracker)
    assert state is not None and state.squawk_watch is not None and len(events) == 1
    restored = decode_state(encode_state(state))
    assert restored.squawk_watch == state.squawk_watch
    # Far away, the fast path declines while a code is watched, so a change is seen...
    assert tracker.step_far(restored, T0 + 1000, 0.5, 10.0, 30000, 400.0, 90.0, "TEST1") is None
    # ...and after the restart the same code does not alert again.
    later = _fixes([(80.0, "7700"), (200.0, "7700")])
    for report in later:
        result = tracker.step(restored, report)
        restored = result.state
        assert not [e for e in result.events if e.type is EventType.SQUAWK_EMERGENCY]
    # States without a watch encode exactly as before (no extra element).
    plain = AircraftState(icao24="abcdef", ts=T0, lat=0.0, lon=0.0)
    assert decode_state(encode_state(plain)).squawk_watch is None
    import orjson

    assert len(orjson.loads(encode_state(plain))) == 15
    assert len(orjson.loads(encode_state(state))) == 16


def test_a_wide_squawk_area_is_not_skipped_by_the_fast_path() -> None:
    # 400 km is past the 2-degree near margin: fixes there must reach step(), not step_far.
    tracker = Tracker([SQUARE], Policy(squawk_alert_m=400_000))
    state = AircraftState(icao24="abcdef", ts=T0, lat=0.5, lon=4.0)
    assert tracker.step_far(state, T0 + 10, 0.5, 4.01, 30000, 400.0, 90.0, None) is None
    default = Tracker([SQUARE])
    state = AircraftState(icao24="abcdef", ts=T0, lat=0.5, lon=4.0)
    assert default.step_far(state, T0 + 10, 0.5, 4.01, 30000, 400.0, 90.0, None) is not None
    _, events = _run(_fixes(_every(10, 120, "7700"), lon=4.0), tracker)
    assert len(events) == 1


def test_other_events_carry_an_emergency_code_but_not_an_ordinary_one() -> None:
    tracker = Tracker([SQUARE])
    crossing = [
        PositionReport("abcdef", T0, 0.5, -0.01, squawk="7700"),
        PositionReport("abcdef", T0 + 10, 0.5, 0.01, squawk="7700"),
    ]
    state = None
    entered = []
    for report in crossing:
        result = tracker.step(state, report)
        state = result.state
        entered += [e for e in result.events if e.type is EventType.ENTERED]
    assert [e.squawk for e in entered] == ["7700"]
    ordinary = [PositionReport("abcdef", T0, 0.5, -0.01, squawk="2000"),
                PositionReport("abcdef", T0 + 10, 0.5, 0.01, squawk="2000")]  # fmt: skip
    state = None
    for report in ordinary:
        result = tracker.step(state, report)
        state = result.state
    assert [(e.type, e.squawk) for e in result.events] == [(EventType.ENTERED, None)]
