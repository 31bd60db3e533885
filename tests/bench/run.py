"""``make bench``: run the benchmarks, write bench-results.json, print a table, update the
README's Performance section (:mod:`tests.bench.report`).

Benchmarks are not tests: they measure and report; targets are compared in the ``targets``
object and the table, never asserted. On a fresh machine this fetches the Apache Kafka jars
(:mod:`tests.support.brokers`) and takes about 6-8 minutes:

- (e) geometry and tracker step (:mod:`tests.bench.geometry`), ``evaluate`` on the seed;
- (i) border-heavy ``evaluate`` vs the seed, (j) tracker cost by zone count
  (:mod:`tests.bench.detection`);
- (f) memory per aircraft (tracemalloc on the tracker shell);
- on Apache Kafka, what users deploy: (h) producers, (a) baseline consumer, (b) one worker,
  (c) two workers, (g) start-up and restart with 20,000 aircraft, (d) alert latency;
- on Apache Kafka, (k) ``skyfence ingest`` of SBS and Beast from a local TCP server, and the
  parsers' raw decode rates (:mod:`tests.bench.ingest`);
- on Tansu, as a second column: (h), (a), (b);
- on Apache Kafka, single-position messages (:mod:`tests.bench.single`, issue 18): the raw
  aiokafka baseline, a minimal Faust agent, the worker alone, the front stage plus the worker
  end to end with the cores each used, and p99 position-to-alert through the front stage at
  25,000 single messages/s (keys ``single_*``).

``--quick`` uses less traffic (a smoke run of the harness, figures less steady);
``--no-tansu``, ``--no-single``, ``--no-ingest`` and ``--no-pipeline`` skip parts. The file is written afresh every run: a
figure not measured this time (skipped, or lost to a stalled worker, see ``worker_stalls``) is
absent, never carried over from an earlier run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from streams.replay import evaluate, read_recording
from streams.tracking import Tracker
from streams.zones import load_zones
from tests.bench import geometry, report
from tests.bench import zones as zone_bench

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench-results.json"

#: (key, unit, target, lower is better) for the console table; targets from the issues.
TARGETS = [
    ("geometry_ns_per_position", "ns", 1000.0, True),
    ("geometry_shapely_prepared_ns_per_position", "ns", None, True),
    ("geometry_boundary_ns_per_position", "ns", None, True),
    ("geometry_boundary_shapely_prepared_ns_per_position", "ns", None, True),
    ("tracker_step_ns_per_position", "ns", None, True),
    ("evaluate_seed_positions_per_s", "/s", None, False),
]

#: Issue 5's targets: key, comparison, threshold, what limits the figure when it misses.
PIPELINE_TARGETS: list[tuple[str, str, float, str]] = [
    ("pipeline_positions_per_s", ">=", 100_000.0,
     "CPU of the worker's one Python thread (GIL). A py-spy profile of a worker on this "
     "traffic: ~15% orjson, ~25% validating recording format v1 (codec.position_fields), "
     "~15% Tracker.step_far for the far-away majority, ~15% the batch loop itself, ~10% "
     "the full Tracker.step for aircraft near the DPRK; aiokafka's consumer thread holds "
     "the GIL ~15% of the time unpacking records"),
    ("ratio", ">=", 0.5,
     "the baseline does orjson + point-in-zone only (~2 us per single message); the "
     "pipeline also validates every field of recording format v1 (~1 us) and runs the "
     "tracker (state, plausibility, timers, dead reckoning near zones), all in one Python "
     "thread beside aiokafka's fetcher thread"),
    ("scaling_2_workers", ">=", 1.7,
     "two workers, the broker (Java) and the benchmark's own processes share two cores"),
    ("latency_p99_s", "<", 0.5,
     "at 50% of (b) the worker, the broker and the live load generator together need more "
     "than this machine's two cores, so the worker falls behind late in the run "
     "(latency_samples_s rise towards the end); at the world's peak (latency_world_p99_s, "
     "25,000 positions/s) the same path is well under target"),
    ("single_worker_vs_faust_minimal", ">=", 1.0,
     "Faust's machinery is not the gap: the same worker with its agent body replaced by a "
     "counter ran at ~1.4x the minimal agent (15k/s). Our body (decode and validate, the "
     "tracker step, metrics, the table write of a first fix) costs ~6.5 us a message alone "
     "but ~40 us inside the worker process; why is not found yet (GC thresholds and the "
     "notifier sharing the process were tried and ruled out)"),
    ("single_front_worker_positions_per_s", ">=", 100_000.0,
     "the front stage (~6 us a message: aiokafka record unpacking, validation, the batch "
     "producer), the worker's batch path and the broker share two cores; between 88k/s and "
     "127k/s from run to run here"),
    ("single_front_worker_ratio", ">=", 0.35,
     "the single-message baseline (orjson + point-in-zone, ~2 us a message) ran at "
     "400-490k/s on this machine (282k/s in the issue's run), so 0.35 of it is ~150-170k/s "
     "end to end: more than two cores hold for the front stage, the worker and the broker "
     "together"),
    ("single_front_latency_p99_s", "<=", 0.5,
     "not yet measured on a quiet machine (on a loaded one the load generator itself falls "
     "behind: latency_loadgen_late_max_s); the front stage adds a round (a getmany of up to "
     "100 ms, then an acknowledged produce) before the worker's own path"),
    ("bytes_per_aircraft", "<", 1024.0, "Python object overhead of the in-memory state"),
    ("startup_s", "<=", 5.0, "Faust start-up and the consumer-group join"),
    ("recovery_s", "<=", 15.0, "changelog recovery of the table"),
    ("geometry_ns_per_position", "<=", 1000.0, "point-in-zone cost"),
    ("zones_100k_load_s", "<", 2.0, "reading the GeoJSON and building a 100,000-vertex zone"),
    ("border_heavy_vs_seed", ">=", 0.5,
     "every fix near a 17,000-vertex border runs the whole rule set in Python: crossings "
     "(scalar, per cell), dead reckoning ahead, velocity from the fixes, visit and "
     "watched-zone timers; what the border costs alone is small, and cuts to the shared "
     "per-fix work speed the seed up as much (issue 15's profile)"),
    ("zones_1000_vs_1", "<=", 2.0, "the index across zones: one lookup per far position"),
    # Issue 16: enrichment.
    ("aircraft_db_load_s", "<", 5.0, "csv parsing of ~100 MB in one Python thread"),
    ("aircraft_db_memory_mb", "<", 150.0, "the row store and its three arrays"),
    ("watchlist_load_s", "<", 2.0, "csv parsing of plane-alert-db"),
    ("watchlist_memory_mb", "<", 50.0, "one frozen dataclass per listed aircraft"),
    ("aircraft_db_worker_ratio", ">=", 0.95,
     "run-to-run spread of the worker figure on this shared machine (the database adds a "
     "handful of Python objects and no per-position work)"),
    ("ingest_sbs_positions_per_s", ">=", 50_000.0,
     "one Python process parses every SBS line (~1.6 per position), then validates, dedups "
     "and encodes every position before aiokafka sends the per-partition batches"),
    ("ingest_beast_positions_per_s", ">=", 50_000.0,
     "decoding Mode S in Python (CRC, CPR, per-aircraft state) costs ~40-100 us per frame: "
     "the decoder, not Kafka, is the limit (see ingest_beast_decode_positions_per_s)"),
]


def _machine() -> dict[str, object]:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu_model": model, "python": platform.python_version()}


def _evaluate_seed() -> dict[str, float]:
    items = list(read_recording(REPO / "seeds" / "dprk-2023-09.jsonl.gz"))
    tracker = Tracker(load_zones(["dprk"]))
    evaluate(items[:1000], tracker)  # warm the zone's grid
    start = time.perf_counter()
    evaluate(items, tracker)
    return {"evaluate_seed_positions_per_s": len(items) / (time.perf_counter() - start)}


def wait_for_quiet(max_wait_s: float = 300.0, threshold: float = 0.8) -> float:
    """Wait (up to ``max_wait_s``) for the 1-min load average to drop below ``threshold``,
    since other work on the machine skews the figures; returns the load when starting."""
    deadline = time.monotonic() + max_wait_s
    load = os.getloadavg()[0]
    while load > threshold and time.monotonic() < deadline:
        print(f"-- load average {load:.2f} > {threshold}: waiting", file=sys.stderr, flush=True)
        time.sleep(15)
        load = os.getloadavg()[0]
    return load


def check_targets(results: dict[str, Any]) -> dict[str, Any]:
    """For each target: value, met, and when missed by how much and what limits it."""
    out: dict[str, Any] = {}
    for key, op, threshold, limit in PIPELINE_TARGETS:
        value = results.get(key)
        if not isinstance(value, int | float):
            out[key] = {"target": f"{op} {threshold:g}", "value": None, "met": None}
            continue
        met = {">=": value >= threshold, "<": value < threshold, "<=": value <= threshold}[op]
        entry: dict[str, Any] = {"target": f"{op} {threshold:g}", "value": value, "met": met}
        if not met:
            if op == ">=":
                entry["missed_by"] = f"{(threshold - value) / threshold:.1%} below"
            else:
                entry["missed_by"] = f"{(value - threshold) / threshold:.1%} above"
            entry["limited_by"] = limit
        out[key] = entry
    return out


async def _pipeline(args: argparse.Namespace, results: dict[str, Any]) -> None:
    from tests.bench.pipeline import run_on_broker
    from tests.support.brokers import ApacheKafkaBroker, TansuBroker

    seconds = 40 if args.quick else 100
    with ApacheKafkaBroker() as kafka:
        print(f"-- apache kafka {kafka.version} at {kafka.bootstrap}", file=sys.stderr, flush=True)
        results.update(await run_on_broker(kafka, full=True, seconds=seconds))
        results["broker"] = f"apache-kafka {kafka.version}"
        if not args.no_single:
            from tests.bench.single import run_single

            results.update(await run_single(kafka.bootstrap, "apache-kafka",
                                            seconds=4 if args.quick else 10,
                                            session_timeout_s=10.0,
                                            latency_duration_s=30 if args.quick else 60))
        if not args.no_ingest:
            from tests.bench import ingest

            results.update(await ingest.run(kafka.bootstrap, seconds=10 if args.quick else 20))
    if not args.no_tansu:
        with TansuBroker() as tansu:
            print(f"-- tansu {tansu.version} at {tansu.bootstrap}", file=sys.stderr, flush=True)
            figures = await run_on_broker(tansu, full=False, seconds=seconds)
            figures["broker"] = f"tansu {tansu.version}"
            results["tansu"] = figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run")
    parser.add_argument("--quick", action="store_true", help="less traffic: a smoke run")
    parser.add_argument("--no-tansu", action="store_true", help="Apache Kafka only")
    parser.add_argument("--no-pipeline", action="store_true", help="no broker benchmarks")
    parser.add_argument("--no-single", action="store_true", help="no single-message stage")
    parser.add_argument("--no-ingest", action="store_true", help="skip the live-ingest stage")
    args = parser.parse_args(argv)
    started = time.monotonic()
    results: dict[str, Any] = {}
    machine = _machine()
    machine["load_1m"] = round(wait_for_quiet(0.0 if args.quick else 300.0), 2)
    results.update(geometry.run())
    results.update(_evaluate_seed())
    results.update(zone_bench.run())
    from tests.bench import detection

    results.update(detection.run(quick=args.quick))
    from tests.bench.pipeline import memory_per_aircraft

    results.update(memory_per_aircraft())
    from tests.bench import enrichment

    results.update(enrichment.run())
    if not args.no_pipeline:
        asyncio.run(_pipeline(args, results))
    machine["load_1m_after"] = round(os.getloadavg()[0], 2)
    results["machine"] = machine
    results["quick"] = args.quick
    results["targets"] = check_targets(results)
    results["generated_at_unix"] = int(time.time())
    results["bench_seconds"] = round(time.monotonic() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    print(f"{'figure':<52} {'value':>12} {'target':>10}")
    for key, unit, target, lower in TARGETS:
        value = results.get(key)
        if not isinstance(value, int | float):
            continue
        mark = ""
        if target is not None:
            ok = value <= target if lower else value >= target
            mark = f"{'<=' if lower else '>='}{target:,.0f} {'ok' if ok else 'MISSED'}"
        print(f"{key:<52} {value:>10,.0f}{unit:<2} {mark:>10}")
    print()
    print(report.table(results))
    report.update_readme(results)
    print(f"wrote {RESULTS.relative_to(REPO)} and the README's Performance section "
          f"({results['bench_seconds']:.0f} s, {results['machine']})")


if __name__ == "__main__":
    main()
