"""Detection on real third-party recordings: international borders crossed by real aircraft.

Zones are time-zone outlines (``tz:Area/City``: land plus the 12 NM territorial sea, from
timezonefinder-data), which follow the borders these flights cross:

- pyModeS's raw ADS-B sample: 406B90 (EZY85MH, FL360) from Germany into the Netherlands
  near 51.34 N 6.19 E at about 23:05:07 UTC on 2016-03-14 (the data README's figure);
- readsb trace of N899DN (DAL1812): Belize, across the Rio Hondo into Mexico (Quintana Roo,
  then Yucatan), out over the Gulf of Mexico (international waters, ``Etc/GMT+6``) and into
  the USA off the Texas/Louisiana coast;
- Flightradar24 track of SPAR19 (USAF C-40C), Kuala Lumpur to Taipei, 2022-08-02.

Each test prints the events it got (``pytest -s``) so the evidence can be read, not just
trusted.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from streams.models import AirspaceEvent, Confidence, EventType, PositionReport
from streams.replay import EvaluationResult, evaluate
from streams.sources import read_source
from streams.tracking import Tracker
from streams.zones import load_zones

ENTERED, EXITED = EventType.ENTERED, EventType.EXITED


def _utc(ts: float) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _show(title: str, result: EvaluationResult) -> None:
    print(f"\n{title}: {result.outcomes}, {len(result.bad_lines)} bad lines")
    for e in result.events:
        print(
            f"  {e.type.value:<17} {e.zone:<22} ts {_utc(e.ts)} ({e.ts:.1f}) at "
            f"{e.lat:.4f},{e.lon:.4f} {e.confidence.value} (seen {_utc(e.observed_ts)})"
            + (f" verdict={e.verdict}" if e.verdict else "")
        )


def _crossings(result: EvaluationResult) -> list[AirspaceEvent]:
    """The entered/exited events in order of crossing time."""
    return sorted((e for e in result.events if e.type in (ENTERED, EXITED)), key=lambda e: e.ts)


def test_406b90_enters_the_netherlands_at_230507(shared_data: Path) -> None:
    tracker = Tracker(load_zones(["tz:Europe/Amsterdam"]))
    result = evaluate(
        read_source(shared_data / "pymodes_sample_data_adsb.csv", "modes-csv"), tracker
    )
    _show("406B90 Germany -> Netherlands", result)
    entered = [e for e in result.events if e.type is ENTERED]
    assert len(entered) == 1
    event = entered[0]
    print(f"  entered at {_utc(event.ts)}, {event.ts - 1457996707:+.2f} s from 23:05:07")
    assert event.zone == "tz:Europe/Amsterdam" and event.icao24 == "406b90"
    assert event.ts == pytest.approx(1457996707, abs=5.0)
    assert event.confidence is Confidence.OBSERVED
    assert (event.lat, event.lon) == (pytest.approx(51.34, abs=0.02), pytest.approx(6.19, abs=0.02))
    assert event.callsign == "EZY85MH"
    assert not [e for e in result.events if e.type is EXITED]
    assert not result.bad_lines


#: The time zones the first leg of N899DN (Belize -> Minneapolis) flies through, in order,
#: and the country of each: found with timezonefinder on the trace's own points (see below).
N899DN_LEG1_TZS = [
    "America/Belize",
    "America/Cancun",
    "America/Merida",
    "Etc/GMT+6",
    "America/Chicago",
]
COUNTRY = {
    "tz:America/Belize": "BZ",
    "tz:America/Cancun": "MX",
    "tz:America/Merida": "MX",
    "tz:America/Chicago": "US",
}


def _first_leg(reports: list[PositionReport]) -> list[PositionReport]:
    """Positions until the aircraft is on the ground (landed at Minneapolis)."""
    for i, r in enumerate(reports):
        if r.on_ground:
            return reports[:i]
    return reports


def test_n899dn_trace_passes_through_these_time_zones(shared_data: Path) -> None:
    from timezonefinder import TimezoneFinder

    reports = [
        r for r in read_source(shared_data / "trace_full_ac671b.json", "readsb-trace")
        if isinstance(r, PositionReport)
    ]  # fmt: skip
    finder = TimezoneFinder()
    seen: list[str] = []
    for r in _first_leg(reports):
        tz = finder.timezone_at(lng=r.lon, lat=r.lat)
        if tz is not None and tz not in seen:
            seen.append(tz)
    print(f"\nN899DN leg 1 time zones: {seen}")
    assert seen == N899DN_LEG1_TZS


def test_n899dn_crosses_belize_mexico_and_mexico_usa_in_order(shared_data: Path) -> None:
    zones = load_zones([f"tz:{tz}" for tz in N899DN_LEG1_TZS if not tz.startswith("Etc/")])
    result = evaluate(
        read_source(shared_data / "trace_full_ac671b.json", "readsb-trace"), Tracker(zones)
    )
    _show("N899DN Belize -> Mexico -> USA", result)
    crossings = _crossings(result)
    # Only the first flight: later legs (Minneapolis onwards) stay inside the USA.
    first_us = next(e for e in crossings if e.type is ENTERED and COUNTRY[e.zone] == "US")
    leg1 = [e for e in crossings if e.ts <= first_us.ts]

    # Border 1, Belize -> Mexico (Rio Hondo, near Chetumal).
    exit_bz = [e for e in leg1 if e.type is EXITED and COUNTRY[e.zone] == "BZ"]
    enter_mx = [e for e in leg1 if e.type is ENTERED and COUNTRY[e.zone] == "MX"]
    assert len(exit_bz) == 1 and enter_mx
    # The straight path between two fixes 377 s apart crosses the meandering river three
    # times within 650 m: the tracker dates the entry at the first crossing and the exit at
    # the last, so "entered Mexico" precedes "exited Belize" by 2.4 s. Same border crossing.
    assert abs(exit_bz[0].ts - enter_mx[0].ts) < 10.0
    assert exit_bz[0].lat == pytest.approx(18.26, abs=0.05)
    assert exit_bz[0].lon == pytest.approx(-88.61, abs=0.05)

    # Border 2, Mexico -> USA: out of Mexico's territorial sea off Yucatan, across
    # international waters, into the USA's off the Texas/Louisiana coast.
    exit_mx = [e for e in leg1 if e.type is EXITED and COUNTRY[e.zone] == "MX"]
    last_mx_exit = max(exit_mx, key=lambda e: e.ts)
    assert enter_mx[0].ts < last_mx_exit.ts < first_us.ts
    assert first_us.zone == "tz:America/Chicago"
    assert first_us.confidence is Confidence.OBSERVED
    assert first_us.lat == pytest.approx(29.47, abs=0.05)
    assert first_us.lon == pytest.approx(-93.95, abs=0.05)
    # Last heard inside Mexico's territorial sea at 21:49:38 UTC, then silent for 48 min (over
    # the Gulf, longer than max_cross_gap_s): nothing is interpolated across the silence, so
    # the exit is dated where the aircraft was found outside (inferred), after signal loss.
    assert last_mx_exit.confidence is Confidence.INFERRED
    assert last_mx_exit.ts == pytest.approx(1738708665.859, abs=0.01)
    assert (last_mx_exit.lat, last_mx_exit.lon) == (pytest.approx(26.89, abs=0.01), pytest.approx(-92.88, abs=0.01))
    assert first_us.ts - last_mx_exit.ts > 1200  # another 20 min over the Gulf

    # In country terms, walking the crossings in time order from where it was first seen.
    inside = {e.zone for e in result.events if e.type is EventType.FIRST_SEEN_INSIDE}
    countries = ["+".join(sorted({COUNTRY[z] for z in inside}))]
    for e in leg1:
        (inside.add if e.type is ENTERED else inside.discard)(e.zone)
        state = "+".join(sorted({COUNTRY[z] for z in inside})) or "-"
        if countries[-1] != state:
            countries.append(state)
    print(f"  country sequence: {countries}")
    assert countries == ["BZ", "BZ+MX", "MX", "-", "US"]
    assert not result.bad_lines


def test_spar19_enters_taiwan(shared_data: Path) -> None:
    zones = load_zones(["tz:Asia/Kuala_Lumpur", "tz:Asia/Taipei"])
    result = evaluate(
        read_source(shared_data / "fr24_2ce4f83f_SPAR19.json", "fr24"), Tracker(zones)
    )
    _show("SPAR19 Kuala Lumpur -> Taipei", result)
    crossings = _crossings(result)
    assert [(e.type, e.zone) for e in crossings] == [
        (EXITED, "tz:Asia/Kuala_Lumpur"),
        (ENTERED, "tz:Asia/Taipei"),
    ]
    left, arrived = crossings
    # FR24 sampled every minute or better near both borders: a fix on each side was seen.
    assert left.confidence is Confidence.OBSERVED
    assert arrived.confidence is Confidence.OBSERVED
    assert left.ts == pytest.approx(1659427920.8, abs=60.0)  # 2022-08-02 08:12 UTC
    assert arrived.ts == pytest.approx(1659450064.0, abs=60.0)  # 14:21 UTC, 22:21 local
    assert (arrived.lat, arrived.lon) == (
        pytest.approx(23.61, abs=0.05),
        pytest.approx(121.79, abs=0.05),
    )
    assert arrived.callsign == "SPAR19" and arrived.icao24 == "ae503d"
    first = result.events[0]
    assert (first.type, first.zone) == (EventType.FIRST_SEEN_INSIDE, "tz:Asia/Kuala_Lumpur")
