"""The three detection rules that sparse real tracks broke, each on a real thinned track.

Each test failed on the tracker before its rule was fixed (issue 15):

- (a) a visit shorter than ``min_cross_inside_s`` along the straight path between two fixes
  was reported whenever its exit was confirmed by a *later* fix or the watermark;
- (b) the exit of a visit with no fix inside, confirmed by the watermark, was ``observed``;
- (c) across a silence longer than ``max_cross_gap_s`` an exit was interpolated along a
  straight line, dated 46 minutes before the fix that revealed it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.models import Confidence, EventType, PositionReport
from streams.replay import evaluate
from streams.tracking import Tracker
from streams.zones import load_zones
from tests.support.tracks import RECORDINGS, read_positions, thin

ENTERED, EXITED = EventType.ENTERED, EventType.EXITED
BY_NAME = {r.name: r for r in RECORDINGS}


def _track(shared_data: Path, name: str) -> list[PositionReport]:
    return read_positions(shared_data, BY_NAME[name])


def test_a_corner_clipped_between_two_fixes_is_no_visit(shared_data: Path) -> None:
    # N899DN over Yucatan, heard from 19.60N 89.13W (Merida's side of the wiggly
    # Cancun/Merida line) and thinned to one fix per 60 s: the chord to the next fix, 62 s
    # later, cuts a tip of the Cancun outline for 1.47 s. The exit is 60 s before the next
    # fix, so it is confirmed only by a later one: the old code reported a 1.5 s visit.
    reports = thin(_track(shared_data, "n899dn")[55:], 60.0)[:40]
    (cancun,) = load_zones(["tz:America/Cancun"])
    first, second = reports[0], reports[1]
    assert not cancun.contains_2d(first.lat, first.lon)
    assert not cancun.contains_2d(second.lat, second.lon)
    clip = cancun.crossings(first.lat, first.lon, second.lat, second.lon)
    dt = second.ts - first.ts
    assert [c.entering for c in clip] == [True, False]
    assert (clip[1].fraction - clip[0].fraction) * dt == pytest.approx(1.47, abs=0.02)

    result = evaluate(reports, Tracker([cancun]), final_watermark=reports[-1].ts + 600)
    assert [e for e in result.events if e.type in (ENTERED, EXITED)] == []


def test_every_event_of_a_visit_with_no_fix_inside_is_inferred(shared_data: Path) -> None:
    # SPAR19 (USAF C-40C) over Borneo, thinned to one fix per 180 s: the chord between two
    # fixes outside the Asia/Makassar outline spends 57 s inside it. The exit is confirmed
    # by the watermark 120 s later; the old code called that exit "observed".
    reports = thin(_track(shared_data, "spar19"), 180.0)
    result = evaluate(reports, Tracker(load_zones(["tz:Asia/Makassar"])))
    visits = [e for e in result.events if e.type in (ENTERED, EXITED)]
    first_entry, first_exit = visits[0], visits[1]
    assert (first_entry.type, first_exit.type) == (ENTERED, EXITED)
    assert first_exit.ts - first_entry.ts == pytest.approx(57.0, abs=1.0)
    assert first_entry.confidence is Confidence.INFERRED
    assert first_exit.confidence is Confidence.INFERRED
    # The next visit has fixes inside: its entry and exit are seen.
    assert [(e.type, e.confidence) for e in visits[2:4]] == [
        (ENTERED, Confidence.OBSERVED),
        (EXITED, Confidence.OBSERVED),
    ]


def test_nothing_is_interpolated_across_a_long_silence(shared_data: Path) -> None:
    # N899DN at its own spacing is last heard inside Mexico's territorial sea off Yucatan
    # (tz:America/Merida) at 21:49:38 UTC, then nothing for 48 minutes (over the Gulf), then
    # outside at 26.89N 92.88W. The old code dated the exit at 21:51 along the straight line,
    # revealed 46 minutes later. Now: signal_lost, then signal_regained (confirmed: it was
    # inside when lost) and the exit dated where it was found outside.
    reports = _track(shared_data, "n899dn")
    result = evaluate(reports, Tracker(load_zones(["tz:America/Merida"])))
    events = [(e.type, e.ts) for e in result.events if e.type is not EventType.APPROACHING]
    silent_from, heard_at = 1738705778.589, 1738708665.859
    assert heard_at - silent_from > Tracker([]).policy.max_cross_gap_s
    assert events[1:] == [
        (EventType.SIGNAL_LOST, pytest.approx(silent_from, abs=0.001)),
        (EventType.SIGNAL_REGAINED, pytest.approx(heard_at, abs=0.001)),
        (EXITED, pytest.approx(heard_at, abs=0.001)),
    ]
    regained = next(e for e in result.events if e.type is EventType.SIGNAL_REGAINED)
    assert regained.verdict == "confirmed"
    exited = next(e for e in result.events if e.type is EXITED)
    assert exited.confidence is Confidence.INFERRED
    for e in result.events:
        assert e.observed_ts - e.ts <= Tracker([]).policy.max_cross_gap_s, e
