"""Map rendering speed: how long :func:`alerts.maps.render_map` takes for a real border.

Reads the clock, so it lives here and not in the pure :mod:`alerts.maps`. Run it with
``python -m tests.bench.maps``.
"""

from __future__ import annotations

import statistics
import time

from alerts.maps import render_map
from streams.models import AirspaceEvent, Confidence, EventType
from streams.zones import builtin_zone


def bench_render_ms(renders: int = 20) -> float:
    """Median milliseconds to render a DPRK border crossing (the built-in 17,000-vertex
    zone, a 20-fix track)."""
    zone = builtin_zone("dprk")
    start, end = (43.1, 131.9), (39.03, 125.75)  # Vladivostok towards Pyongyang
    track = [
        (start[0] + (end[0] - start[0]) * i / 60, start[1] + (end[1] - start[1]) * i / 60)
        for i in range(20)
    ]
    crossing = zone.crossings(*start, *end)[0]
    event = AirspaceEvent(
        event_id="bench",
        type=EventType.ENTERED,
        icao24="1551e0",
        zone="dprk",
        ts=1_764_072_000.0,
        lat=crossing.lat,
        lon=crossing.lon,
        observed_ts=1_764_072_030.0,
        callsign="RSD089",
        confidence=Confidence.OBSERVED,
        zone_name=zone.name,
    )
    render_map(zone.geometry, track, event)  # warm-up: font loading, shapely preparation
    times_ms = []
    for _ in range(renders):
        t0 = time.perf_counter()
        render_map(zone.geometry, track, event)
        times_ms.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times_ms)


if __name__ == "__main__":
    print(f"map render: {bench_render_ms():.1f} ms (median of 20)")
