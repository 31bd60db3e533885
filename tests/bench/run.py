"""``make bench``: run the benchmarks, merge their figures into bench-results.json, print a table.

Benchmarks are not tests: they measure and report; targets are compared in the table, never
asserted. Figures from benchmarks not run this time are kept from the previous file.
"""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

from streams.replay import evaluate, read_recording
from streams.tracking import Tracker
from streams.zones import load_zones
from tests.bench import geometry

REPO = Path(__file__).resolve().parents[2]
RESULTS = REPO / "bench-results.json"

#: (key, unit, target, lower is better) for the table; targets from the issues.
TARGETS = [
    ("geometry_ns_per_position", "ns", 1000.0, True),
    ("geometry_shapely_prepared_ns_per_position", "ns", None, True),
    ("geometry_boundary_ns_per_position", "ns", None, True),
    ("geometry_boundary_shapely_prepared_ns_per_position", "ns", None, True),
    ("tracker_step_ns_per_position", "ns", None, True),
    ("evaluate_seed_positions_per_s", "/s", None, False),
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


def main() -> None:
    results: dict[str, object] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results.update(geometry.run())
    results.update(_evaluate_seed())
    results["machine"] = _machine()
    results["generated_at_unix"] = int(time.time())
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
    print(f"wrote {RESULTS.relative_to(REPO)} ({results['machine']})")


if __name__ == "__main__":
    main()
