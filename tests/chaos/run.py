"""``python -m tests.chaos.run --runs N --seed S``: run the chaos scenarios on Apache Kafka.

Starts one single-node Apache Kafka broker (tests/support/brokers.py), runs each scenario
``--runs`` times (each run with its own topics and consumer groups), prints one line per run
and the summary::

    chaos: <scenarios> scenarios, <runs> runs, missed=<n>, duplicated=<n>, max_recovery_s=<x>

and writes the table to ``docs/reliability.md`` (``--doc``). Every random choice of run ``i``
of scenario ``X`` comes from ``Random(f"{seed}:{X}:{i}")``: the printed seed replays the same
kill points. Exit status 1 when any alert was missed or duplicated, or a run failed.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import random
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from tests.chaos.scenarios import DESCRIPTIONS, SCENARIOS, Context, Load
from tests.chaos.score import RunResult, reliability_markdown, summary_line
from tests.conftest import REPO
from tests.support.brokers import ApacheKafkaBroker

__all__ = ["main", "run_all"]


async def run_all(
    bootstrap: str,
    scenarios: Sequence[str],
    runs: int,
    seed: int,
    tmp: Path,
    load: Load,
    echo: bool = True,
) -> list[RunResult]:
    """Run each scenario ``runs`` times in turn; returns every run's result."""
    results = []
    for name in scenarios:
        for i in range(1, runs + 1):
            ctx = Context(
                bootstrap=bootstrap,
                tmp=tmp / f"{name}-{i}",
                rng=random.Random(f"{seed}:{name}:{i}"),
                run=i,
                seed=seed,
                load=load,
            )
            started = time.monotonic()
            result = await SCENARIOS[name](ctx)
            result.notes["wall_s"] = f"{time.monotonic() - started:.0f}"
            results.append(result)
            if echo:
                print(result.line(), flush=True)
                if result.error:
                    print(f"  worker output kept in {ctx.tmp}", flush=True)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__)
    parser.add_argument("--runs", type=int, default=5, help="runs per scenario (default 5)")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: new)")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="only these (repeat)"
    )
    parser.add_argument("--outage-s", type=float, default=Load.outage_s, help="scenario 3")
    parser.add_argument(
        "--doc", type=Path, default=REPO / "docs" / "reliability.md", help="table to write"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not write the table")
    args = parser.parse_args(argv)
    # The harness's own clients (replay producer, offset checks) log each refused connection
    # while scenario 2's broker is down: expected, and the runs' lines say what happened.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    scenarios = args.scenario or list(SCENARIOS)
    load = Load(outage_s=args.outage_s)
    reason = ApacheKafkaBroker.check_available()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    with (
        tempfile.TemporaryDirectory(prefix="skyfence-chaos-") as tmp,
        ApacheKafkaBroker() as broker,
    ):
        print(
            f"chaos: seed {seed} (replay with --seed {seed}); apache-kafka {broker.version} at "
            f"{broker.bootstrap}; scenarios {', '.join(scenarios)}; {args.runs} run(s) each",
            flush=True,
        )
        results = asyncio.run(
            run_all(broker.bootstrap, scenarios, args.runs, seed, Path(tmp), load)
        )
        if any(r.error for r in results):
            keep = Path(tempfile.mkdtemp(prefix="skyfence-chaos-failed-"))
            for r in results:
                dump = Path(tmp) / f"{r.scenario}-{r.run}" / "dump.txt"
                if dump.exists():
                    (keep / f"{r.scenario}-{r.run}.txt").write_text(dump.read_text())
            print(f"chaos: failed runs' worker output copied to {keep}", flush=True)
        version = broker.version
    line = summary_line(results)
    if not args.no_doc:
        command = f"python -m tests.chaos.run --runs {args.runs} --seed {seed}"
        args.doc.write_text(
            reliability_markdown(
                results, kafka_version=version, command=command, descriptions=DESCRIPTIONS
            )
        )
        print(f"chaos: wrote {args.doc}", flush=True)
    print(line, flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
