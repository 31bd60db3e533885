"""Enrichment benchmarks: load time and memory of the aircraft database (a generated file of
OpenSky's size and layout) and of the real plane-alert-db watchlist (from ``../shared/data``).

Each load runs in a child process of its own, so its memory figure is the process's peak RSS
growth over an interpreter that has imported the module, not a mixture of earlier runs::

    python -m tests.bench.enrichment            # prints the figures as JSON
    python -m tests.bench.enrichment --rows N   # a smaller aircraft database

The generated database (:func:`write_aircraft_db`) has OpenSky's 27 double-quoted columns in
their order, ~170 bytes a row (600,000 rows: ~100 MB, the size of the real file), a third
of the rows with nothing but an address (as in OpenSky's), US addresses in the N-number block
and the rest spread over the address space. Seeded: the same file every run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

#: OpenSky aircraftDatabase.csv columns, in order.
OPENSKY_COLUMNS = [
    "icao24", "registration", "manufacturericao", "manufacturername", "model", "typecode",
    "serialnumber", "linenumber", "icaoaircrafttype", "operator", "operatorcallsign",
    "operatoricao", "operatoriata", "owner", "testreg", "registered", "reguntil", "status",
    "built", "firstflightdate", "seatconfiguration", "engines", "modes", "adsb", "acars",
    "notes", "categoryDescription",
]  # fmt: skip
#: Rows in the real file (2024): about 600,000.
FULL_ROWS = 600_000

_MAKERS = [
    ("BOEING", "Boeing", ["737-8AS", "737-7H4", "777-300ER", "787-9", "747-8F"], ["B738", "B737", "B77W", "B789", "B748"]),
    ("AIRBUS", "Airbus", ["A320-214", "A321-211", "A350-941", "A330-343"], ["A320", "A321", "A359", "A333"]),
    ("CESSNA", "Cessna", ["172S", "182T", "208B", "525"], ["C172", "C182", "C208", "C525"]),
    ("PIPER", "Piper", ["PA-28-181", "PA-32R-301"], ["P28A", "P32R"]),
    ("ILYUSHIN", "Ilyushin", ["Il-62M", "Il-76TD"], ["IL62", "IL76"]),
    ("EMBRAER", "Embraer", ["ERJ 190-100 LR", "EMB-505"], ["E190", "E55P"]),
]
_OPERATORS = ["Southwest Airlines", "Ryanair", "Lufthansa", "Private", "", "", "Air Koryo",
              "Flight Training LLC", "Delta Air Lines", "Aeroflot", "Qatar Airways"]


def write_aircraft_db(path: Path, rows: int = FULL_ROWS, seed: int = 7) -> int:
    """Write a generated OpenSky-layout CSV of ``rows`` rows to ``path``; returns its bytes."""
    rng = random.Random(seed)
    used: set[int] = set()
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(",".join(f'"{c}"' for c in OPENSKY_COLUMNS) + "\n")
        for _ in range(rows):
            while True:
                address = (
                    rng.randrange(0xA00001, 0xADF7C8)
                    if rng.random() < 0.45
                    else rng.randrange(0x000001, 0xF00000)
                )
                if address not in used:
                    used.add(address)
                    break
            if rng.random() < 0.33:
                values = [f"{address:06x}"] + [""] * (len(OPENSKY_COLUMNS) - 1)
            else:
                icao_maker, maker, models, types = rng.choice(_MAKERS)
                k = rng.randrange(len(models))
                values = [
                    f"{address:06x}",
                    f"N{rng.randrange(1, 99999)}" if address >= 0xA00001 else f"XX-{rng.randrange(10000):04d}",
                    icao_maker, maker, models[k], types[k],
                    str(rng.randrange(10000, 99999)), str(rng.randrange(1, 3000)),
                    "L2J", rng.choice(_OPERATORS), "", "", "",
                    "Wells Fargo Trust Co Na Trustee" if rng.random() < 0.3 else "Private Owner",
                    "false", "2012-05-01", "2028-04-30", "", "2011-01-01", "", "", "2 x CFM56",
                    "false", "false", "false", "", "Large (75000 to 300000 lbs)",
                ]  # fmt: skip
            out.write(",".join(f'"{v}"' for v in values) + "\n")
    return path.stat().st_size


_CHILD = r"""
import json, resource, sys, time, gc
kind, path = sys.argv[1], sys.argv[2]
if kind == "aircraft_db":
    from alerts.aircraftdb import read_aircraft_db as load
else:
    from alerts.watchlist import read_watchlist as load
gc.collect()
def rss_kb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 // 1024
before = rss_kb()
t0 = time.perf_counter()
obj = load(path)
elapsed = time.perf_counter() - t0
gc.collect()
after = rss_kb()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"load_s": elapsed, "held_mb": (after - before) / 1024,
                  "peak_growth_mb": (peak - before) / 1024, "entries": len(obj)}))
"""


def measure_load(kind: str, path: Path) -> dict[str, Any]:
    """Load ``path`` as ``kind`` (``aircraft_db`` or ``watchlist``) in a fresh process."""
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, kind, str(path)],
        capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[2],
    )  # fmt: skip
    return json.loads(out.stdout)


def run(rows: int = FULL_ROWS, shared_data: Path | None = None) -> dict[str, Any]:
    """Every enrichment figure, keyed as in ``bench-results.json``."""
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="skyfence-aircraftdb-") as tmp:
        path = Path(tmp) / "aircraftDatabase.csv"
        size = write_aircraft_db(path, rows)
        db = measure_load("aircraft_db", path)
        results.update(
            aircraft_db_rows=rows,
            aircraft_db_file_mb=size / 1e6,
            aircraft_db_load_s=db["load_s"],
            aircraft_db_memory_mb=db["held_mb"],
            aircraft_db_peak_mb=db["peak_growth_mb"],
        )
    shared = shared_data or Path(__file__).resolve().parents[3] / "shared" / "data"
    watchlist = shared / "plane-alert-db.csv"
    if watchlist.exists():
        wl = measure_load("watchlist", watchlist)
        results.update(
            watchlist_load_s=wl["load_s"],
            watchlist_memory_mb=wl["held_mb"],
            watchlist_entries=wl["entries"],
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=FULL_ROWS)
    args = parser.parse_args()
    print(json.dumps(run(args.rows), indent=2))


if __name__ == "__main__":
    os.nice(0)
    main()
