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
import json
import logging
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.chaos.scenarios import DESCRIPTIONS, SCENARIOS, Context, Load
from tests.chaos.score import ChannelScore, RunResult, reliability_markdown, summary_line
from tests.conftest import REPO
from tests.support.brokers import ApacheKafkaBroker

__all__ = ["NOTES", "main", "run_all"]

#: Written under the table: what the figures mean and what the runs found.
NOTES = """## How this table was made

Seed 1313 on one shared 2-core machine (load average 6-15 from other work). Scenarios 1
and 2 come from a `make chaos` run that was stopped after them (their rows were read
back from its printed run lines with `--import-log`, one combined channel per run);
scenarios 3-7 from `python -m tests.chaos.run --runs 5 --seed 1313 --scenario ...`. The
16 "missed" of 7-zombie-notifier are one run that timed out at 150 s while the loaded
tracker was still producing the alerts (it had delivered 14 of 30, none twice); see below.

## What the runs found, and what is kept on purpose

- **Zombie notifier (scenario 7).** Before the fence, a notifier resumed after SIGSTOP sent
  the alerts it still had queued although another notifier already owned (and had sent)
  them: 4 duplicates in one of two runs (seed 3). Now each channel worker asks a gate right
  before every attempt: the alert's events partition must still be ours, and the event loop
  must not have stalled for half the session timeout (a stalled process may have lost its
  group membership without knowing yet). After a stall, deliveries wait until the next
  rebalance completes (the revocation drops the jobs of partitions that moved) or two
  session timeouts pass. `alerts/notifier.py` (`Notifier.fenced`, `_gate`),
  `alerts/delivery.py` (`gate`); tests in `tests/component/test_notifier.py`. With the
  fence, seed 1313 still had one run in five with 4 duplicates (2 alerts x 2 channels; the
  zombie's gate dropped 2 queued jobs in that run): most likely requests that were in
  flight when SIGSTOP came, answered 200 by the peer while the process was frozen, so their
  `delivered` record reached Kafka only after the new owner had restored them as pending.
  That is the same window as a crash between a 200 and its record, held open for the whole
  stop; a fence cannot close it (the peer already has the alert). Not proven: that run kept
  no timeline of the fakes (the harness now keeps one for every run that is not clean).
  A later short run (pytest, zombie resumed after 2 session timeouts, seed 652877) had 12
  duplicates (6 alerts x 2 channels, N2 restored 10 pending, the zombie dropped 2): more
  than in-flight requests explain, so some `delivered` records of the zombie had not
  reached Kafka when it froze. Not explained yet; the fence alone does not make scenario 7
  exactly-once. Another run timed out on a machine at load average 13-15 on 2 cores (the tracker itself
  produced the alerts over 170 s); the fence there dropped only jobs whose partition moved.
- **Table changelog missing at assignment (scenario 4).** Faust created the table changelogs
  on start and the group could assign before the consumer's metadata knew them: the table
  then had no changelog partitions for the whole generation and every write failed with
  `PartitionsMismatch` (no alert delivered). The worker now creates the changelogs
  (compacted) with the other topics and waits until the metadata shows them.
- **A null value in the events topic** (a tombstone) could not be dead-lettered (Kafka takes
  no record without key and value); it now goes to the alerts dead-letter topic as an empty
  value with its reason.
- **Not fixed: spurious signal-loss alerts after a worker SIGKILL (scenario 1).** The
  tracker writes the state of an aircraft far from every zone only every
  `checkpoint_far_s` (a throughput choice, `streams/tracking.py` `_move_far`), while the
  positions offset is committed every second. After a SIGKILL the new owner of the
  partition restores such an aircraft from a checkpoint older than positions already
  committed; its signal-loss timer, computed from that stale state, fires as the re-read
  positions of other aircraft move event time on: a `signal_lost` then a
  `signal_regained` that the uninterrupted run never emitted (in run 1 of seed 1313,
  789a90 got two such pairs: 3 extra alert ids x 2 channels = the 6 "duplicated"). The fix
  belongs in the tracker (persist last-seen time when a timer depends on it, or rebuild
  timers from restored state without trusting a stale last-seen); it is left to its owners.
- **Not explained yet: two alerts lost once (scenario 1, run 2 of seed 1313).** Both events
  were in the events topic (partition 3, offsets 1 and 2), the notifier group had committed
  partition 3 up to its end (4), yet the outbox changelog's partition 3 was empty and
  neither alert was sent: the killed worker's outbox writes for that partition never
  reached Kafka although its offsets were committed (Faust flushes its producer before it
  commits). 1 run in 5; the worker logs are too coarse to tell more.
- **The duplicate window that remains.** Slack and Telegram take no idempotency key: a
  worker killed between a peer's 200 and the `delivered` record reaching Kafka sends that
  alert again after restart. Scenario 1 kills at random points, so this window is part of
  its figures: the *duplicated* column of 1-worker-sigkill is that window, measured
  (`ms_since_last_200` in each run's line is how long after the last 200 the kill came).
- **Faust's known failure modes.** Every agent runs with `concurrency=1` (faust-streaming
  #606: with more, offsets are committed past messages still in flight) and both apps keep
  `processing_guarantee="at_least_once"` (`exactly_once` is broken: #517, #177, #323);
  duplicates from at-least-once are absorbed by the outbox, idempotent by event id and
  channel. `tests/component/test_faust_guarantees.py` fails if either changes.
- **`ConsistencyError: persisted offset ... higher than highwater`** (seen 28 times with 8
  workers on 16 partitions on Tansu). Faust raises it in `Recovery._restart_recovery` when
  a changelog partition's known offset exceeds `ListOffsets(latest) - 1`. With the memory
  store skyfence uses, `persisted_offset()` is always None, and without transactions the
  known offset only comes from records the consumer fetched (all below the high watermark)
  or from `ListOffsets(earliest) - 1`. So it can only fire when the broker's `ListOffsets`
  answers a latest offset below records it has already served (or an earliest above the
  latest): a broker-side inconsistency, not our recovery. A Tansu storage-engine source
  (`dynostore` `list_offsets`, newer than the v0.6.0 the demo embeds, which was not
  checked) says its LATEST used to be computed as `max_base + 1`, which "ignored
  multi-record batches": exactly a latest offset below records already served, and
  Faust writes changelogs in multi-record batches. On Apache Kafka the high watermark is
  monotonic on a single node; scenario 6 (rebalance storm, 8 partitions) fails if any
  worker logs the error.
"""


async def run_all(
    bootstrap: str,
    scenarios: Sequence[str],
    runs: int,
    seed: int,
    tmp: Path,
    load: Load,
    echo: bool = True,
    after_each: Callable[[list[RunResult]], None] | None = None,
) -> list[RunResult]:
    """Run each scenario ``runs`` times in turn; returns every run's result. ``after_each``
    gets the results so far after every run (the runner rewrites the table: a partial
    table survives an interrupted run)."""
    results: list[RunResult] = []
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
            if after_each is not None:
                after_each(results)
    return results


_RUN_LINE = re.compile(
    r"^(?P<scenario>\S+) run (?P<run>\d+) \(seed (?P<seed>\d+)\): (?:ok|FAILED); "
    r"expected=(?P<expected>\d+), delivered=(?P<delivered>\d+), missed=(?P<missed>\d+), "
    r"duplicated=(?P<duplicated>\d+), out_of_order=(?P<order>\d+), "
    r"recovery_s=(?P<recovery>[\d.]+|-)(?:; (?P<notes>.*?))?(?:; error: (?P<error>.*))?$"
)


def parse_log(text: str) -> list[RunResult]:
    """The runs printed by an interrupted ``make chaos`` (its lines hold both channels'
    totals, so each becomes one combined channel; unexpected ids are inside duplicated)."""
    version = re.search(r"apache-kafka (\S+) at", text)
    out = []
    for line in text.splitlines():
        m = _RUN_LINE.match(line.strip())
        if m is None or m["scenario"] not in SCENARIOS:
            continue
        notes = dict(item.split("=", 1) for item in (m["notes"] or "").split(", ") if "=" in item)
        rec = None if m["recovery"] == "-" else float(m["recovery"])
        channel = ChannelScore(
            "both (from the run log)",
            expected=int(m["expected"]),
            delivered=int(m["delivered"]),
            missed=int(m["missed"]),
            duplicated=int(m["duplicated"]),
            unexpected=0,
            out_of_order=int(m["order"]),
            recovery_s=rec,
        )
        out.append(
            RunResult(
                m["scenario"], int(m["run"]), int(m["seed"]), [channel], notes, m["error"],
                version[1] if version else "",
            )
        )  # fmt: skip
    return out


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
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other scenarios' runs from the JSON beside --doc (with --scenario)",
    )
    parser.add_argument(
        "--render", action="store_true", help="only rewrite --doc from the JSON beside it"
    )
    parser.add_argument(
        "--import-log",
        type=Path,
        help="add the run lines of an interrupted run's output to the JSON, then --render",
    )
    args = parser.parse_args(argv)
    # The harness's own clients (replay producer, offset checks) log each refused connection
    # while scenario 2's broker is down: expected, and the runs' lines say what happened.
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    scenarios = args.scenario or list(SCENARIOS)
    load = Load(outage_s=args.outage_s)
    if args.import_log is not None:
        store = args.doc.with_suffix(".json")
        old = json.loads(store.read_text())["runs"] if store.exists() else []
        imported = parse_log(args.import_log.read_text())
        done = {(r.scenario, r.seed, r.run) for r in imported}
        runs = [o for o in old if (o["scenario"], o["seed"], o["run"]) not in done]
        runs += [r.to_json() for r in imported]
        store.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
        print(f"chaos: imported {len(imported)} run(s) into {store}")
        args.render = True
    if args.render:
        store = args.doc.with_suffix(".json")
        table = [RunResult.from_json(o) for o in json.loads(store.read_text())["runs"]]
        order = list(SCENARIOS)
        table.sort(key=lambda r: (order.index(r.scenario), r.seed, r.run))
        seeds = sorted({r.seed for r in table})
        command = f"make chaos (python -m tests.chaos.run; seeds {seeds})"
        args.doc.write_text(
            reliability_markdown(
                table,
                kafka_version=table[0].kafka if table else "?",
                command=command,
                descriptions=DESCRIPTIONS,
                notes=NOTES,
            )
        )
        print(summary_line(table))
        return 0
    reason = ApacheKafkaBroker.check_available()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 2
    store = args.doc.with_suffix(".json")
    kept: list[RunResult] = []
    if args.merge and store.exists():
        kept = [RunResult.from_json(o) for o in json.loads(store.read_text())["runs"]]
        kept = [r for r in kept if r.scenario not in scenarios]

    def write(results: list[RunResult], version: str) -> list[RunResult]:
        for r in results:
            r.kafka = r.kafka or version
        order = list(SCENARIOS)
        table = sorted(kept + results, key=lambda r: (order.index(r.scenario), r.seed, r.run))
        if not args.no_doc:
            seeds = sorted({r.seed for r in table})
            command = f"make chaos (python -m tests.chaos.run; seeds {seeds})"
            store.write_text(json.dumps({"runs": [r.to_json() for r in table]}, indent=1) + "\n")
            args.doc.write_text(
                reliability_markdown(
                    table,
                    kafka_version=version,
                    command=command,
                    descriptions=DESCRIPTIONS,
                    notes=NOTES,
                )
            )
        return table

    with (
        tempfile.TemporaryDirectory(prefix="skyfence-chaos-") as tmp,
        ApacheKafkaBroker() as broker,
    ):
        print(
            f"chaos: seed {seed} (replay with --seed {seed}); apache-kafka {broker.version} at "
            f"{broker.bootstrap}; scenarios {', '.join(scenarios)}; {args.runs} run(s) each",
            flush=True,
        )
        version = broker.version

        def after_each(done: list[RunResult]) -> None:
            write(done, version)

        results = asyncio.run(
            run_all(
                broker.bootstrap,
                scenarios,
                args.runs,
                seed,
                Path(tmp),
                load,
                after_each=after_each,
            )
        )
        if not all(r.ok for r in results):
            keep = Path(tempfile.mkdtemp(prefix="skyfence-chaos-failed-"))
            for r in results:
                dump = Path(tmp) / f"{r.scenario}-{r.run}" / "dump.txt"
                if dump.exists():
                    (keep / f"{r.scenario}-{r.run}.txt").write_text(dump.read_text())
            print(f"chaos: failed runs' worker output copied to {keep}", flush=True)
    table = write(results, version)
    if not args.no_doc:
        print(f"chaos: wrote {args.doc} and {store}", flush=True)
    print(summary_line(table), flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
