"""Geometry benchmark: cost of the point-in-zone test per position, against shapely.

Two traffic mixes, both reproducible from a seed:

- ``global``: positions spread like world traffic, most far from any zone (97% over the
  world's busy airspace, 3% within two degrees of the DPRK);
- ``boundary``: positions within 20 km of the DPRK outline, the worst case.

Each is timed with skyfence's ``Zone.contains_2d`` (bounding box, cell grid, shapely for
crossed cells) and with shapely's prepared ``contains`` on a Point, in the same process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from shapely.geometry import Point
from shapely.prepared import prep

from streams.models import PositionReport
from streams.tracking import Tracker
from streams.zones import Zone, builtin_zone

__all__ = ["run"]

#: Busy airspace boxes (lat0, lat1, lon0, lon1) and weights: Europe, North America, East Asia,
#: South Asia, the Middle East, South America, Oceania. Rough shares of world traffic.
_REGIONS = [
    ((35.0, 60.0, -10.0, 30.0), 0.30),
    ((25.0, 50.0, -125.0, -70.0), 0.33),
    ((20.0, 45.0, 100.0, 145.0), 0.20),
    ((8.0, 30.0, 68.0, 90.0), 0.06),
    ((15.0, 35.0, 35.0, 60.0), 0.05),
    ((-35.0, 5.0, -75.0, -35.0), 0.03),
    ((-40.0, -10.0, 110.0, 155.0), 0.03),
]


def global_mix(n: int, seed: int = 1) -> list[tuple[float, float]]:
    """``n`` (lat, lon) points: 97% world traffic, 3% within two degrees of the DPRK."""
    rng = random.Random(seed)
    boxes, weights = zip(*_REGIONS, strict=True)
    out = []
    for _ in range(n):
        if rng.random() < 0.03:
            out.append((rng.uniform(35.6, 45.0), rng.uniform(122.1, 132.9)))
        else:
            lat0, lat1, lon0, lon1 = rng.choices(boxes, weights)[0]
            out.append((rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)))
    return out


def boundary_mix(zone: Zone, n: int, seed: int = 2) -> list[tuple[float, float]]:
    """``n`` (lat, lon) points within 20 km of the zone's outline, inside or out."""
    rng = random.Random(seed)
    ring = zone.buffered(20_000)
    min_lon, min_lat, max_lon, max_lat = ring.bounds
    out: list[tuple[float, float]] = []
    while len(out) < n:
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if ring.contains_2d(lat, lon) and zone.distance_m(lat, lon) <= 20_000:
            out.append((lat, lon))
    return out


def _ns_per_call(points: list[tuple[float, float]], fn: Callable[[float, float], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for lat, lon in points:
            fn(lat, lon)
        best = min(best, time.perf_counter() - start)
    return best / len(points) * 1e9


def run(n_global: int = 200_000, n_boundary: int = 20_000) -> dict[str, float]:
    """Time both mixes with both methods; ns per position (best of 3)."""
    zone = builtin_zone("dprk")
    zone.contains_2d(39.0, 125.7)  # build the grid outside the timing
    prepared = prep(zone.geometry)
    glob = global_mix(n_global)
    near = boundary_mix(zone, n_boundary)
    assert [zone.contains_2d(a, b) for a, b in near] == [prepared.contains(Point(b, a)) or prepared.touches(Point(b, a)) for a, b in near]
    results = {
        "geometry_ns_per_position": _ns_per_call(glob, zone.contains_2d),
        "geometry_shapely_prepared_ns_per_position": _ns_per_call(glob, lambda a, b: prepared.contains(Point(b, a))),
        "geometry_boundary_ns_per_position": _ns_per_call(near, zone.contains_2d),
        "geometry_boundary_shapely_prepared_ns_per_position": _ns_per_call(
            near, lambda a, b: prepared.contains(Point(b, a))
        ),
    }
    # The whole per-position tracker step on the global mix (one fix per aircraft, 1 s apart).
    tracker = Tracker([zone])
    reports = [PositionReport(f"{i % 15000:06x}", 1.7e9 + i / 15000, lat, lon) for i, (lat, lon) in enumerate(glob)]
    states: dict[str, object] = {}
    start = time.perf_counter()
    for r in reports:
        result = tracker.step(states.get(r.icao24), r)  # type: ignore[arg-type]
        states[r.icao24] = result.state
    results["tracker_step_ns_per_position"] = (time.perf_counter() - start) / len(reports) * 1e9
    return results


if __name__ == "__main__":
    for key, value in run().items():
        print(f"{key:<52} {value:10.0f}")
