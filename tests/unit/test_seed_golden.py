"""The seed scenario's golden events: offline evaluation must reproduce them byte for byte."""

from __future__ import annotations

import subprocess
import sys

import orjson

from streams.codec import encode_event
from streams.replay import evaluate, read_recording
from streams.tracking import Tracker
from streams.zones import load_zones
from tests.conftest import SEED_GOLDEN, SEED_SCENARIO, SEEDS

REGENERATE = "If detection changed on purpose, run `make golden` and review the diff of seeds/."


def _evaluate_seed() -> list[bytes]:
    result = evaluate(read_recording(SEED_SCENARIO), Tracker(load_zones(["dprk"])))
    assert result.bad_lines == []
    return [encode_event(e) for e in result.events]


def test_evaluate_reproduces_the_golden_file() -> None:
    assert _evaluate_seed() == SEED_GOLDEN.read_bytes().splitlines(), REGENERATE


def test_cli_evaluate_matches_the_golden_file() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "alerts.cli", "evaluate", str(SEED_SCENARIO), "--zones", "dprk"],
        capture_output=True,
        check=True,
    )
    assert out.stdout == SEED_GOLDEN.read_bytes(), REGENERATE


def test_golden_events_tell_the_seed_story() -> None:
    expected = orjson.loads((SEEDS / "dprk-2023-09.expected-flights.json").read_bytes())
    events = [orjson.loads(line) for line in SEED_GOLDEN.read_bytes().splitlines()]
    # Entry-type events claim the aircraft was inside: none for the must-not-alert traffic.
    # (``approaching`` is a dead-reckoning warning: a Dandong arrival points at the border.)
    claims = {"entered", "exited", "first_seen_inside", "signal_lost", "signal_regained"}
    alerted = {e["icao24"] for e in events if e["type"] in claims}
    must = {f["icao24"] for f in expected["must_alert"]}
    must_not = {f["icao24"] for f in expected["must_not_alert"]}
    assert must <= alerted, f"missing alerts for {sorted(must - alerted)}"
    assert not (alerted & must_not), f"false alerts for {sorted(alerted & must_not)}"
    il62 = [(e["type"], e["ts"]) for e in events if e["icao24"] == "1551e0"]
    # Warned, entered on the morning of 26 Sep 2023 (Pyongyang), went quiet inside (it landed
    # at Sunan), heard again inside on the 28th and exited.
    assert [t for t, _ in il62] == ["approaching", "entered", "signal_lost", "signal_regained", "exited"]
    assert 1695686400 <= il62[1][1] < 1695772800  # entered 2023-09-26 UTC
    assert 1695859200 <= il62[4][1] < 1695945600  # exited 2023-09-28 UTC
    # Flights whose coverage fades before the border: an inferred signal loss predicts entry.
    for flight in expected["must_alert"]:
        if flight.get("expect") == "signal_lost":
            lost = [e for e in events if e["icao24"] == flight["icao24"] and e["type"] == "signal_lost"]
            assert len(lost) == 1 and lost[0]["confidence"] == "inferred" and lost[0]["eta_ts"] > lost[0]["observed_ts"]
    entered = {(e["icao24"], e["callsign"]) for e in events if e["type"] == "entered"}
    assert ("7804d1", "CCA121") in entered  # Air China
    assert any(cs.startswith("KOR") for _, cs in entered)  # Air Koryo


def test_seed_recording_is_what_its_generator_makes() -> None:
    out = subprocess.run(
        [sys.executable, str(SEEDS / "generate.py"), "--check"], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout + out.stderr
