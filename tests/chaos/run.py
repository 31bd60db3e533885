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

Seed 1313 on one shared 2-core machine (load average 5-15 from other work). Rows 1, 7 and
8 come from `python -m tests.chaos.run --runs 5 --seed 1313 --scenario 1-worker-sigkill
--scenario 7-zombie-notifier --scenario 8-cluster-broker-loss --merge` after the fixes
below (issue 13, second session; 12 min 49 s with `nice -n 10` at load average 5-6); rows 2-6 were kept from the first session's runs (code
before those fixes, which touch only what runs after a crash or a freeze: commits,
delivered records, a stalled notifier), because a full `make chaos` (~1 h here) did not fit
in the session. Row 2 was read back from printed run lines with `--import-log` (one
combined channel per run).

## What the runs found, and what is kept on purpose

- **Offsets committed past table writes still in Faust's buffer (scenario 1: two alerts
  lost once, spurious signal-loss alerts).** Before it commits offsets, Faust flushes its
  producer, starting with the buffer of table writes; `ProducerBuffer.flush` gave up as
  soon as 0.1 s passed without a record sent, with records still buffered, and never waited
  for the record its task was sending. On a loaded machine that happens (the event loop
  serves the agent and aiokafka): the offsets of messages whose table writes had not even
  reached the producer were committed, and a SIGKILL lost those writes. In the notifier
  that lost outbox entries (first session, run 2: the events of partition 3 committed, the
  outbox changelog's partition 3 empty, two alerts never sent); in the tracker it restored
  aircraft state older than the committed positions, and a signal-loss timer computed from
  it fired (run 1: 789a90, two `signal_lost`/`signal_regained` pairs). `streams/faust_tuning.py`
  now makes the flush drain (`draining_flush`; test in `tests/unit/test_faust_tuning.py`,
  which shows Faust's own flush returning with records left). The first session blamed the
  tracker's far-aircraft checkpoints (`checkpoint_far_s`); a crash simulation on the pure
  shell (the table holding exactly the writes made before the cut, as a consistent commit
  gives) found no spurious or missing event at 150 random cut points of the seed, so the
  checkpoint policy is kept (it is what makes the batch worker fast).
- **Zombie notifier (scenario 7).** Three fixes, each found by a run. (1) The fence: each
  channel worker asks a gate right before every attempt: the alert's events partition must
  still be ours, and the event loop must not have stalled for half the session timeout;
  after a stall, deliveries wait until the next rebalance completes (the revocation drops
  the jobs of partitions that moved) or two session timeouts pass (`Notifier.fenced`,
  `_gate`). (2) With the fence, this session's first runs of seed 1313 still had 20 and 14
  duplicates in two of three runs: the woken notifier handled events still in its fetch
  buffer before it learnt it had left the group, and wrote `pending` outbox records for
  alerts the new owner had already sent. Those records landed after the new owner's
  `delivered` ones, so at the next rebalance (the zombie rejoining) both notifiers restored
  them as pending and sent them again. Now a notifier fenced after a stall as long as the
  session timeout leaves the events it reads during the rebalance to their new owner
  (`Notifier._ours`, outcome `not_ours`; its offset commits are refused by the broker).
  (3) A channel's next alert waits until the previous alert's `delivered` record is
  acknowledged by Kafka (`OutboxStore.written`), so a crash or a freeze re-sends at most
  the one alert in flight per channel, not also the one before it (the first session's 4
  duplicates = 2 alerts x 2 channels). Tests in `tests/component/test_notifier.py`.
- **Rebalance storm (scenario 6): signal_lost/signal_regained around every fix.** A
  fresh-clone CI run (seed 271241) and 2 of 3 local reruns of it delivered 50-66 alerts
  more than the 30 expected, all `signal_lost` and `signal_regained` of aircraft near the
  zone. The tracker's table restore raised each partition's watermark to its newest
  restored state; under at-least-once the table is ahead of the committed offsets, so each
  position handled again met a watermark ahead of it, and every aircraft not written since
  lost its signal before each fix and regained it after. The restore now leaves the
  watermark to the replayed positions (`TrackerApp._rebuild`). `python -m
  tests.chaos.crashsim --rewind N` handles N positions again after each cut, and
  `tests/component/test_crash_replay.py` does so at four cuts (one failed before the fix);
  the seed then passed 3 of 3 reruns. What remains: an aircraft whose state was swept as
  expired between the committed offset and the crash is started afresh when its old fixes
  are handled again (crashsim cut 24246 with 2,000 positions rewound, 15 hours of event
  time; no run has an uncommitted window that long).
- **Not fixed: a table recovery that never ends (scenario 1, run 2 of seed 1313, second
  session).** After the kill, the survivor's notifier app went through two rebalances
  (generation 2, then 3 when the killed worker's session expired); in generation 3 Faust's
  recovery of the outbox changelog (partitions 0 and 1, highwaters 15 and 29, read from
  the start) received no record at all for more than two minutes ("No event received for
  active tp ... since recovery start", logged every 5 s), so the notifier never resumed
  and 4 alerts (x 2 channels) were not delivered within the run's 180 s. The tracker app in
  the same process recovered its own changelog in 1.3 s. No skyfence code runs in that
  loop (no stall, no fence, no skipped event was logged); it looks like the recovery
  hangs reported against Faust (faust-streaming/faust#21, #74; robinhood/faust#542: a
  partition assigned away and back within a rebalance, whose changelog records the
  consumer then drops), but that is not proven. 1 run in 5 here, none in 8 other runs of
  scenario 1 this session; the worker output of that run was kept. A watchdog that
  restarts a recovery without progress (the progress watchdog's `/healthz` fails after
  `stall_after_s` with lag not shrinking) is the operational answer until it is found.
- **Not fixed: two alerts a surviving notifier never sent (scenario 7, seed 380496, one
  fresh-clone CI run of three in issue 13's third session).** The zombie N1 woke, the
  group went to generation 3, and N2 kept events partition 3 (eager rebalance: all revoked,
  then reassigned) with the alerts of 7804d1 (`entered`, `signal_lost`) not yet sent; N2
  restored no pending alert after that rebalance and sent nothing more in 150 s. Not
  diagnosed: whether N2 had read the two events (then their `pending` records should have
  been restored) or had not (then it should have read them again from the committed
  offset). Scenarios 1 and 7 are known failures (xfail, not strict) in the short version
  until these two are found.
- **The duplicate window that remains.** Slack and Telegram take no idempotency key: a
  worker killed (or frozen until another notifier owns its partitions) between a peer's 200
  and the `delivered` record reaching Kafka, one produce round trip, sends that one alert
  per channel again after restart. Scenarios 1 and 7 stop processes at random points, so
  this window is part of their figures: the *duplicated* column is that window, measured
  (`ms_since_last_200` in scenario 1's lines is how long after the last 200 the kill came).
- **A three-broker cluster (scenario 8).** Three Apache Kafka KRaft nodes (broker and
  controller each), the run's topics at replication factor 3 with `min.insync.replicas` 2
  (`SKYFENCE_REPLICATION_FACTOR`, `SKYFENCE_MIN_INSYNC_REPLICAS`; the scenario checks both
  on the created topics); the node leading the most partitions is SIGKILLed mid-replay and
  stays down. `election_s` (kill until every partition of the run's topics and of the
  group offsets has a live leader) is bounded by `broker.session.timeout.ms` (3 s in the
  test cluster; 9 s by default), `pause_s` is kill until the tracker's committed offset
  moves again. Not in the pytest short version: three JVMs take 10-20 s to start here and a
  run 45-85 s, over what the short version's ~4 min budget has left.
- **Table changelog missing at assignment (scenario 4).** Faust created the table changelogs
  on start and the group could assign before the consumer's metadata knew them: the table
  then had no changelog partitions for the whole generation and every write failed with
  `PartitionsMismatch` (no alert delivered). The worker now creates the changelogs
  (compacted) with the other topics and waits until the metadata shows them.
- **A null value in the events topic** (a tombstone) could not be dead-lettered (Kafka takes
  no record without key and value); it now goes to the alerts dead-letter topic as an empty
  value with its reason.
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
