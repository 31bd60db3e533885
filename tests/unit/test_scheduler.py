"""The due queue: which aircraft have a timer due, by event time (streams.scheduler)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.scheduler import DueQueue


def test_due_queue_returns_due_aircraft_once() -> None:
    q = DueQueue()
    q.push(10.0, "a")
    q.push(5.0, "b")
    q.push(10.0, "a")
    assert list(q.advance(4.0)) == []
    assert list(q.advance(10.0)) == ["b", "a"]
    assert len(q) == 0 and q.watermark == 10.0
    assert list(q.advance(3.0)) == [] and q.watermark == 10.0


def test_an_entry_equal_to_a_queued_one_is_queued_once() -> None:
    """A watched aircraft's unchanged due time, pushed again by every stale entry that pops,
    takes one place in the heap; the order of what comes due is unchanged."""
    q = DueQueue()
    for _ in range(5):
        q.push(10.0, "a")
    q.push(10.0, "b")
    q.push(7.0, "b")
    assert len(q) == 3
    assert list(q.advance(10.0)) == ["b", "a"]
    q.push(10.0, "a")  # popped, so queued again
    assert len(q) == 1
    q.clear()
    q.push(10.0, "a")
    assert len(q) == 1


def test_a_later_due_time_for_a_queued_aircraft_takes_no_entry() -> None:
    """An aircraft watched near a zone moves its signal-loss timer later with every fix: its
    earliest entry stands for them all, and the caller's re-check queues the rest."""
    q = DueQueue()
    for second in range(100):
        q.push(60.0 + second, "a")
    assert len(q) == 1
    assert list(q.advance(60.0)) == ["a"]
    assert len(q) == 0
    q.push(159.0, "a")  # the re-check after the pop queues the current due time
    assert list(q.advance(158.0)) == [] and list(q.advance(159.0)) == ["a"]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("push"), st.integers(0, 50), st.sampled_from("abcd")),
            st.tuples(st.just("advance"), st.integers(0, 50), st.just("")),
        ),
        max_size=60,
    )
)
def test_every_aircraft_due_since_its_last_return_comes_due(
    ops: list[tuple[str, int, str]],
) -> None:
    """The contract timers rely on: after pushes of due times and advances, an advance to
    ``w`` returns every aircraft pushed a due time at or before ``w`` since it was last
    returned, and none that was never pushed one at or before ``w`` (a few returns may be
    stale: the caller re-checks ``Tracker.due_ts``)."""
    q = DueQueue()
    pending: dict[str, float] = {}  # the earliest due time pushed since the last return
    ever: dict[str, float] = {}  # the earliest due time ever pushed
    for op, t, icao24 in ops:
        if op == "push":
            q.push(float(t), icao24)
            pending[icao24] = min(pending.get(icao24, float(t)), float(t))
            ever[icao24] = min(ever.get(icao24, float(t)), float(t))
            continue
        returned = list(q.advance(float(t)))
        assert len(returned) == len(set(returned))
        must = {a for a, due in pending.items() if due <= q.watermark}
        assert must <= set(returned), (must, returned)
        assert set(returned) <= {a for a, due in ever.items() if due <= q.watermark}
        for a in returned:
            pending.pop(a, None)


def _brute_force_events(reports: list, tracker: object) -> list:
    """The timers' meaning, without a queue: before each position, tick every aircraft whose
    ``due_ts`` has passed (once per position, as a queue pop does)."""
    from streams.tracking import Tracker

    assert isinstance(tracker, Tracker)
    states: dict = {}
    events: list = []
    watermark = float("-inf")
    for report in reports:
        watermark = max(watermark, report.ts)
        due = sorted(
            (d, icao24) for icao24, s in states.items() if (d := tracker.due_ts(s)) is not None
        )
        for d, icao24 in due:
            if d <= watermark:
                events.extend(tracker.tick(states[icao24], watermark).events)
        result = tracker.step(states.get(report.icao24), report)
        if result.state is None:
            states.pop(report.icao24, None)
        else:
            states[report.icao24] = result.state
        events.extend(result.events)
    return events


@pytest.mark.parametrize(
    ("exit_confirm_s", "exit_silence_s", "signal_lost_s"),
    [(120.0, 300.0, 300.0), (30.0, 20.0, 400.0), (200.0, 500.0, 45.0), (10.0, 10.0, 10.0)],
)
def test_evaluate_fires_timers_as_a_queue_free_loop_does(
    exit_confirm_s: float, exit_silence_s: float, signal_lost_s: float
) -> None:
    """evaluate's queue, which skips asking ``due_ts`` when the aircraft is queued early
    enough (``Tracker.min_due_delay_s``), fires the same timers as a loop that asks every
    aircraft before every position: on border-weaving traffic, thinned so that exits wait for
    confirmation and signals are lost, under policies where either timer is the shorter."""
    from streams.replay import evaluate
    from streams.tracking import Policy, Tracker
    from streams.zones import builtin_zone
    from tests.bench.detection import border_heavy_traffic

    reports = border_heavy_traffic(10, 1_500.0)
    # Drop fixes in bursts: silences of 20-420 s, so exits confirm by silence and aircraft
    # near the border go quiet long enough to be lost.
    rng = random.Random(3)
    kept = [r for r in reports if (int(r.ts) // 60 + int(r.icao24, 16) % 7) % 13 >= 6]
    kept = [r for r in kept if rng.random() < 0.6]
    policy = Policy(
        exit_confirm_s=exit_confirm_s, exit_silence_s=exit_silence_s, signal_lost_s=signal_lost_s
    )
    zone = builtin_zone("dprk")
    got = evaluate(kept, Tracker([zone], policy)).events
    want = _brute_force_events(kept, Tracker([zone], policy))
    types = {e.type.value for e in want}
    assert {"exited", "signal_lost"} <= types, types  # the timers were exercised
    assert sorted(e.event_id for e in got) == sorted(e.event_id for e in want)
    assert sorted(got, key=lambda e: e.event_id) == sorted(want, key=lambda e: e.event_id)
