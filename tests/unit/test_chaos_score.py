"""The chaos scoring (tests/chaos/score.py): missed, duplicated, unexpected, order, recovery,
the summary line and the generated table."""

from __future__ import annotations

from tests.chaos.score import (
    Expected,
    RunResult,
    expected_alerts,
    reliability_markdown,
    score_channel,
    summary_line,
)
from tests.conftest import SEED_GOLDEN

EXP = [
    Expected("a1", "aaaaaa", "entered", 10.0),
    Expected("b1", "bbbbbb", "entered", 11.0),
    Expected("a2", "aaaaaa", "exited", 20.0),
    Expected("b2", "bbbbbb", "exited", 21.0),
]


def test_the_seed_expects_fifteen_alerts_without_forecasts() -> None:
    alerts = expected_alerts(SEED_GOLDEN)
    assert len(alerts) == 15
    assert all(a.type != "approaching" for a in alerts)
    assert len({a.event_id for a in alerts}) == 15


def test_exactly_once_in_order_scores_clean_with_recovery_from_the_fault() -> None:
    got = [(1.0, "a1"), (2.0, "b1"), (5.0, "a2"), (9.0, "b2")]
    s = score_channel("slack", EXP, got, fault_end_s=4.0)
    assert (s.expected, s.delivered, s.missed, s.duplicated, s.out_of_order) == (4, 4, 0, 0, 0)
    assert s.recovery_s == 5.0


def test_missed_duplicated_unexpected_and_out_of_order_are_counted() -> None:
    got = [(1.0, "a2"), (2.0, "a1"), (3.0, "b1"), (4.0, "b1"), (5.0, "b1"), (6.0, "zz")]
    s = score_channel("telegram", EXP, got, fault_end_s=None)
    assert s.missed == 1  # b2
    assert s.unexpected == 1
    assert s.duplicated == 2 + 1  # two extra b1, one alert not in the golden file
    assert s.out_of_order == 1  # aaaaaa: exit before entry
    assert s.recovery_s is None  # something is missing: no recovery
    assert s.delivered == 6


def test_recovery_is_zero_when_everything_arrived_before_the_fault_ended() -> None:
    got = [(1.0, "a1"), (2.0, "b1"), (3.0, "a2"), (4.0, "b2")]
    assert score_channel("slack", EXP, got, fault_end_s=10.0).recovery_s == 0.0


def test_summary_line_and_table() -> None:
    clean = RunResult(
        "1-x", 1, 7, [score_channel("slack", EXP, [(1.0, e.event_id) for e in EXP], 0.0)]
    )
    dup = RunResult(
        "2-y", 1, 7, [score_channel("slack", EXP, [(3.0, e.event_id) for e in EXP + EXP[:1]], 1.0)]
    )
    broken = RunResult("2-y", 2, 7, [score_channel("slack", EXP, [], None)], error="boom")
    results = [clean, dup, broken]
    assert clean.ok and not dup.ok and not broken.ok
    line = summary_line(results)
    assert line == (
        "chaos: 2 scenarios, 3 runs, missed=4, duplicated=1, max_recovery_s=2.0, errors=1"
    )
    doc = reliability_markdown(
        results, kafka_version="4.4.0", command="python -m tests.chaos.run", descriptions={}
    )
    assert "| 1-x | 1 | 4 | 4 | 0 | 0 | 0 | 1.0 / 1.0 | 0 | 4.4.0 |" in doc
    assert "| 2-y | 2 | 8 | 5 | 4 | 1 | 0 | 2.0 / 2.0 | 1 | 4.4.0 |" in doc
    assert line in doc


def test_an_interrupted_runs_lines_are_read_back() -> None:
    from tests.chaos.run import parse_log

    text = (
        "chaos: seed 7 (replay with --seed 7); apache-kafka 4.4.0 at 127.0.0.1:1; ...\n"
        "1-worker-sigkill run 2 (seed 7): FAILED; expected=30, delivered=26, missed=4, "
        "duplicated=0, out_of_order=0, recovery_s=-; wall_s=207; error: AssertionError: x\n"
        "  worker output kept in /tmp/x\n"
        "2-broker-restart run 1 (seed 7): ok; expected=30, delivered=30, missed=0, "
        "duplicated=0, out_of_order=0, recovery_s=54.1; kill_after_s=2.9, down_s=31.2\n"
    )
    failed, ok = parse_log(text)
    assert (failed.scenario, failed.run, failed.seed, failed.kafka) == (
        "1-worker-sigkill",
        2,
        7,
        "4.4.0",
    )
    assert failed.total("missed") == 4 and failed.error == "AssertionError: x"
    assert failed.recovery_s is None and not failed.ok
    assert ok.ok and ok.recovery_s == 54.1 and ok.notes == {"kill_after_s": "2.9", "down_s": "31.2"}
