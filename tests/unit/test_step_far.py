"""``Tracker.step_far`` (the worker's object-free fast path) is ``Tracker.step`` wherever it
applies: two trackers, one stepping every fix, one trying ``step_far`` first, run side by side
over generated world traffic with duplicates, out-of-order fixes, jumps, gaps, missing
velocities and callsign changes, and must agree on every state, outcome and persist flag."""

from __future__ import annotations

import copy
import random

import orjson

from streams.codec import position_fields
from streams.models import PositionReport
from streams.tracking import AircraftState, Outcome, Policy, Tracker
from streams.zones import builtin_zone
from tests.bench.traffic import make_fleet


def _perturbed(lines: list[bytes], rng: random.Random) -> list[dict]:
    """The fleet's fixes with the trouble real feeds have, in feed order."""
    out: list[dict] = []
    held: list[dict] = []
    for raw in lines:
        obj = orjson.loads(raw)
        roll = rng.random()
        if roll < 0.10:
            continue  # a gap: this second not heard
        if roll < 0.13:
            obj.pop("gs_kt", None)  # no velocity: derived from the last fix
        elif roll < 0.15:
            obj.pop("track_deg", None)
        elif roll < 0.16:
            obj["lat"] = max(-90.0, min(90.0, obj["lat"] + rng.choice((-3.0, 3.0))))  # a jump
        elif roll < 0.17:
            obj["callsign"] = f"X{rng.randrange(1000)}"
        elif roll < 0.18:
            held.append(obj)  # arrives late, after a later fix
            continue
        out.append(obj)
        if roll > 0.98:
            out.append(dict(obj))  # a duplicate
        if held and roll > 0.5:
            out.append(held.pop())
    return out


def test_step_far_agrees_with_step_wherever_it_applies() -> None:
    # Short horizons so expiry, stale velocities and far checkpoints happen within the run.
    policy = Policy(ttl_outside_s=20.0, velocity_max_gap_s=3.0, checkpoint_far_s=15.0)
    zones = [builtin_zone("dprk")]
    full, fast = Tracker(zones, policy), Tracker(zones, policy)
    rng = random.Random(11)
    fleet = make_fleet(1_200, seed=5, near_share=0.4, crossers=6, crosser_every_s=5.0)
    states_full: dict[str, AircraftState] = {}
    states_fast: dict[str, AircraftState] = {}
    applied = fell_back = 0
    persisted_far = 0
    for second in fleet.seconds(1_695_690_000.0, 80):
        for obj in _perturbed(second, rng):
            fields = position_fields(obj)
            assert fields is not None
            report = PositionReport(*fields)
            icao24 = report.icao24
            before = copy.deepcopy(states_fast.get(icao24))
            expected = full.step(states_full.get(icao24), report)
            if expected.state is not None:
                states_full[icao24] = expected.state

            state = states_fast.get(icao24)
            persist = None
            if state is not None:
                persist = fast.step_far(
                    state, fields[1], fields[2], fields[3], fields[4], fields[5], fields[6],
                    fields[8],
                )  # fmt: skip
            if persist is None:
                assert state == before, "step_far touched a state it declined"
                got = fast.step(state, report)
                if got.state is not None:
                    states_fast[icao24] = got.state
                assert (got.outcome, got.persist, got.events) == (
                    expected.outcome,
                    expected.persist,
                    expected.events,
                )
                fell_back += 1
            else:
                assert expected.outcome is Outcome.ACCEPTED and not expected.events
                assert persist == expected.persist
                applied += 1
                persisted_far += persist
            assert states_fast.get(icao24) == states_full.get(icao24), icao24
    # Both paths were exercised, and the far path wrote checkpoints too.
    assert applied > 50_000 and fell_back > 5_000 and persisted_far > 100, (
        applied,
        fell_back,
        persisted_far,
    )


T0 = 1_695_690_000.0


def test_step_far_declines_a_long_plausible_path_across_a_zone() -> None:
    """Far from the DPRK at both ends, but 25 minutes apart at 990 kt across it: only the
    full step infers the crossing."""
    tracker = Tracker([builtin_zone("dprk")])
    a, b = (40.5, 122.0), (35.5, 128.0)  # west of the zone's near box, then south of it
    assert not tracker.is_near(*a) and not tracker.is_near(*b)
    state = tracker.step(None, PositionReport("71c001", T0, *a, alt_ft=35_000)).state
    assert state is not None
    before = copy.deepcopy(state)
    assert tracker.step_far(state, T0 + 1500, *b, 35_000, None, None, None) is None
    assert state == before
    events = tracker.step(state, PositionReport("71c001", T0 + 1500, *b, alt_ft=35_000)).events
    assert [e.type.value for e in events] == ["entered", "exited"]


def test_step_far_declines_an_expired_state() -> None:
    tracker = Tracker([builtin_zone("dprk")])
    state = tracker.step(None, PositionReport("71c001", T0, 10.0, 10.0)).state
    assert state is not None
    late = T0 + tracker.policy.ttl_outside_s + 1
    assert tracker.step_far(state, late, 10.0, 10.01, None, None, None, None) is None
    # Just inside the time to live it applies (and a far checkpoint is due by then).
    assert tracker.step_far(state, late - 2, 10.0, 10.01, None, None, None, None) is True
