"""Geodesy on the tracker's sphere: distance, bearing, destination point. Pure.

Great-circle formulas on a sphere of radius :data:`EARTH_RADIUS_M` (the IUGG mean radius),
which is within 0.5% of the ellipsoid everywhere: ample for deciding whether an aircraft's
jump is plausible, how fast it flew, and where dead reckoning puts it a few minutes ahead.
Angles are degrees, distances metres, speeds knots (the units are in the names).

Out of scope: zone polygons and their projections (:mod:`streams.zones`).
"""

from __future__ import annotations

import math

__all__ = [
    "EARTH_RADIUS_M",
    "MPS_PER_KT",
    "M_PER_DEG",
    "M_PER_NM",
    "destination",
    "haversine_m",
    "initial_bearing_deg",
]

#: Mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
#: Metres per nautical mile (exact by definition).
M_PER_NM = 1852.0
#: Metres per second in one knot.
MPS_PER_KT = M_PER_NM / 3600.0
#: Metres per degree of arc on this sphere. ``M_PER_DEG * (|dlat| + |dlon|)`` bounds the
#: great-circle distance from above: a cheap test that two points are close.
M_PER_DEG = EARTH_RADIUS_M * math.pi / 180.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def initial_bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Initial great-circle bearing from point 1 to point 2, degrees clockwise from north."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def destination(
    lat: float, lon: float, bearing_deg: float, distance_m: float
) -> tuple[float, float]:
    """The point ``distance_m`` along the great circle from (lat, lon) at ``bearing_deg``
    (dead reckoning: ``distance_m`` is ground speed times time ahead).

    The longitude is left unwrapped (it may pass +-180) so the path to it stays short.
    """
    d = distance_m / EARTH_RADIUS_M
    p1, l1, b = math.radians(lat), math.radians(lon), math.radians(bearing_deg)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(b))
    l2 = l1 + math.atan2(
        math.sin(b) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), math.degrees(l2)
