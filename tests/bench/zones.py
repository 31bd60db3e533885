"""Zone loading benchmark (issue 12): a 100,000-vertex zone from a GeoJSON file.

- ``zones_100k_load_s``: what a worker does at start-up: read and validate the file, build
  the zone (geometry repair, antimeridian check, prepared geometry) and the tracker.
  Target: under 2 s.
- ``zones_100k_first_use_s``: what the first position near the zone then costs once: the
  zone's cell grid and the tracker's 20 km watch ring (a geodesic buffer).

The outline is a wiggly ring around 40N 125E (a coastline-like worst case: spikes ~1.5 km
apart, ~5 km deep), written to a temporary file.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import orjson

from streams.tracking import Tracker
from streams.zones import load_zones

__all__ = ["run", "wiggly_ring"]


def wiggly_ring(n: int) -> list[list[float]]:
    """A closed ring of ``n`` vertices (plus the closing one), valid (star-shaped)."""
    ring = []
    for i in range(n):
        a = 2 * math.pi * i / n
        r = 2.0 + 0.3 * math.sin(37 * a) + 0.05 * math.sin(911 * a)
        ring.append([round(125 + r * math.cos(a), 7), round(40 + r * math.sin(a), 7)])
    return [*ring, ring[0]]


def run(n: int = 100_000) -> dict[str, float]:
    feature = {
        "type": "Feature",
        "properties": {"id": "big", "name": "100k vertices"},
        "geometry": {"type": "Polygon", "coordinates": [wiggly_ring(n)]},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "big.geojson")
        path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": [feature]}))
        start = time.perf_counter()
        tracker = Tracker(load_zones([str(path)]))
        loaded = time.perf_counter()
    zone = tracker.zones[0]
    zone.contains_2d(40.0, 125.0)  # builds the cell grid
    zone.buffered(tracker.policy.watch_m)  # the watch ring, as the tracker builds it
    used = time.perf_counter()
    return {
        "zones_100k_load_s": round(loaded - start, 3),
        "zones_100k_first_use_s": round(used - loaded, 3),
    }


if __name__ == "__main__":
    print(run())
