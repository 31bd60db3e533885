"""The chaos scenarios, one run each at reduced load, on Apache Kafka (``make chaos`` runs
each five times at full load and writes docs/reliability.md; see tests/chaos/).

Each run replays the seed scenario into real ``skyfence worker`` processes, injects its fault
(SIGKILL of one of two workers; a 503/429/timeout outage of both channels; a restart with
aircraft inside; a SIGSTOPped notifier that another one replaces) and requires every expected
alert on a fake Slack and a fake Telegram exactly once, in order per aircraft. The kill points
come from a seed printed in the failure message (replay it with ``python -m tests.chaos.run
--seed S --scenario NAME``).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from tests.chaos.scenarios import SCENARIOS, Context, Load

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka, pytest.mark.timeout(240)]

#: Shorter than make chaos: a 8 s outage, a zombie frozen for 2 session timeouts.
SHORT = Load(outage_s=8.0, stop_sessions=2.0)


#: Known failures (xfail, not strict: CI shows XFAIL or XPASS without failing the suite).
#: Both are open in issue 13 and described in docs/reliability.md; a run that passes shows
#: XPASS. Scenarios 1 and 7 were here before, until issue 13's second session fixed what they
#: found then (offsets committed past buffered table writes; a zombie notifier's stale
#: outbox writes); each has since failed again, rarely, for a reason not yet found.
KNOWN: dict[str, str] = {
    "1-worker-sigkill": (
        "1 run in 5 of make chaos (seed 1313): after the kill, the survivor's outbox table "
        "recovery received no record for minutes, so 4 alerts x 2 channels were not sent"
    ),
    "7-zombie-notifier": (
        "1 fresh-clone CI run in 3 (seed 380496): the notifier that kept events partition 3 "
        "through the zombie's rejoin never delivered that partition's 2 queued alerts"
    ),
}


#: Only in ``make chaos``: scenario 8 starts a three-node cluster of its own (10-20 s for three
#: JVMs on 2 cores) and takes 45-85 s a run (by load); the seven others already take ~3.7 min
#: of the short version's ~4 min budget.
CHAOS_ONLY = {"8-cluster-broker-loss"}


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(name, marks=pytest.mark.xfail(reason=KNOWN[name], strict=False))
        if name in KNOWN
        else name
        for name in sorted(SCENARIOS)
        if name not in CHAOS_ONLY
    ],
)
async def test_chaos_scenario_loses_and_doubles_nothing(
    kafka_broker, tmp_path: Path, scenario: str
) -> None:  # type: ignore[no-untyped-def]
    seed = int(os.environ.get("SKYFENCE_CHAOS_SEED") or random.SystemRandom().randrange(10**6))
    ctx = Context(
        bootstrap=kafka_broker.bootstrap,
        tmp=tmp_path,
        rng=random.Random(f"{seed}:{scenario}:1"),
        run=1,
        seed=seed,
        load=SHORT,
    )
    result = await SCENARIOS[scenario](ctx)
    print(f"apache-kafka {kafka_broker.version}: {result.line()}")
    dump = tmp_path / "dump.txt"
    assert result.error is None, f"{result.line()}\n{dump.read_text() if dump.exists() else ''}"
    assert result.ok, result.line()
    for channel in result.channels:
        assert channel.expected == 15 and channel.recovery_s is not None, result.line()
