"""The benchmark's traffic generator is reproducible and produces valid recording format v1."""

from __future__ import annotations

from streams.codec import decode_position
from streams.replay import evaluate
from streams.tracking import Tracker
from streams.zones import builtin_zone
from tests.bench.traffic import make_fleet

T0 = 1_763_000_000.0


def _lines(seed: int, seconds: int = 3) -> list[bytes]:
    fleet = make_fleet(400, seed=seed, near_share=0.1, crossers=2, first_crosser_s=0.0,
                       crosser_every_s=1.0, crosser_lead_s=20.0)
    return [line for second in fleet.seconds(T0, seconds) for line in second]


def test_same_seed_same_bytes_other_seed_other_traffic() -> None:
    assert _lines(5) == _lines(5)
    assert _lines(5) != _lines(6)


def test_lines_are_valid_v1_in_time_order_one_per_aircraft_and_second() -> None:
    reports = [decode_position(line) for line in _lines(5)]
    assert [r.ts for r in reports] == sorted(r.ts for r in reports)
    first_second = [r for r in reports if r.ts < T0 + 1]
    assert len({r.icao24 for r in first_second}) == len(first_second) == 400 - 1  # one crosser waits
    assert all(T0 <= r.ts < T0 + 3 for r in reports)


def test_only_the_crossers_raise_alerts() -> None:
    fleet = make_fleet(400, seed=5, near_share=0.1, crossers=2, first_crosser_s=0.0,
                       crosser_every_s=1.0, crosser_lead_s=20.0)
    reports = [decode_position(line) for second in fleet.seconds(T0, 30) for line in second]
    events = evaluate(reports, Tracker([builtin_zone("dprk")])).events
    crossers = {fleet.icao24[i] for i in fleet.crossers}
    assert sorted((e.type.value, e.icao24 in crossers) for e in events) == [
        ("approaching", True), ("approaching", True), ("entered", True), ("entered", True)
    ]
    entered = sorted(e.ts - T0 for e in events if e.type.value == "entered")
    # Each enters about crosser_lead_s after it appears (straight-line model, 1 s fixes).
    assert abs(entered[0] - 20.0) < 3.0 and abs(entered[1] - 21.0) < 3.0
