"""Synthetic traffic calibrated to world density, reproducible from a seed.

A :class:`Fleet` of ``n_aircraft`` (default 15,000: roughly the aircraft airborne worldwide
with ADS-B at a busy hour), each reporting once a second at its own fixed phase within the
second, moving in straight lines at cruise speeds:

- most over the world's busy airspace, far from any zone (the regions and shares of
  :mod:`tests.bench.geometry`);
- ``near_share`` within two degrees of the DPRK but outside it, on headings that do not
  point into it within 15 minutes (so they raise nothing: realistic neighbours, no alert
  storm);
- ``crossers`` aircraft that appear ``crosser_every_s`` apart, each ``crosser_lead_s`` of
  flight short of the DPRK border and heading for Pyongyang: each gives an ``approaching``
  alert when it appears and an ``entered`` alert when it crosses, a modest, known alert rate.

:meth:`Fleet.second` returns the raw recording-format-v1 lines of one second of traffic, in
time order; the same seed gives byte-identical lines (a unit test checks it). Time is a
parameter: benchmarks stamp either a fixed epoch (replayed load) or wall time (live load).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

import orjson

from streams.zones import Zone, builtin_zone
from tests.bench.geometry import _REGIONS

__all__ = ["Fleet", "make_fleet"]

_M_PER_DEG = 111_320.0
_KT_TO_MPS = 0.514444
#: Pyongyang: where crossers head.
_PYONGYANG = (39.03, 125.75)


@dataclass
class Fleet:
    """Per-aircraft arrays (parallel lists, sorted by reporting phase)."""

    icao24: list[str]
    callsign: list[str]
    phase_s: list[float]
    lat: list[float]
    lon: list[float]
    alt_ft: list[int]
    gs_kt: list[float]
    track_deg: list[float]
    #: Seconds from the fleet's start before the aircraft first reports (crossers appear late).
    appears_s: list[float]
    #: Indices of the crossers, and when each should cross the border (seconds from start).
    crossers: list[int] = field(default_factory=list)
    crossing_s: list[float] = field(default_factory=list)
    _dlat: list[float] = field(default_factory=list)
    _dlon: list[float] = field(default_factory=list)
    _head: list[bytes] = field(default_factory=list)
    _tail: list[bytes] = field(default_factory=list)
    elapsed_s: float = 0.0

    def __len__(self) -> int:
        return len(self.icao24)

    def __post_init__(self) -> None:
        self._dlat = []
        self._dlon = []
        for lat, gs, trk in zip(self.lat, self.gs_kt, self.track_deg, strict=True):
            v = gs * _KT_TO_MPS
            rad = math.radians(trk)
            self._dlat.append(v * math.cos(rad) / _M_PER_DEG)
            self._dlon.append(v * math.sin(rad) / (_M_PER_DEG * max(0.05, math.cos(math.radians(lat)))))

    def second(self, start_ts: float) -> list[bytes]:
        """One second of traffic: each aircraft's position at ``start_ts + phase``, in time
        order, then everyone moves on one second."""
        if not self._head:
            self._encode_constants()
        out: list[bytes] = []
        append = out.append
        t = self.elapsed_s
        lat, lon, dlat, dlon = self.lat, self.lon, self._dlat, self._dlon
        head, tail, phase, appears = self._head, self._tail, self.phase_s, self.appears_s
        for i in range(len(head)):
            if appears[i] <= t:
                append(
                    b'%s%.3f,"lat":%.5f,"lon":%.5f%s'
                    % (head[i], start_ts + phase[i], lat[i], lon[i], tail[i])
                )
            lat[i] += dlat[i]
            lon[i] += dlon[i]
        self.elapsed_s = t + 1.0
        return out

    def _encode_constants(self) -> None:
        """The bytes around the moving fields, once: a line is then one formatting call."""
        for i, icao24 in enumerate(self.icao24):
            self._head.append(b'{"icao24":"%s","ts":' % icao24.encode())
            rest = orjson.dumps(
                {
                    "alt_ft": self.alt_ft[i],
                    "gs_kt": self.gs_kt[i],
                    "track_deg": self.track_deg[i],
                    "callsign": self.callsign[i],
                    "source": "adsb",
                }
            )
            self._tail.append(b"," + rest[1:])

    def seconds(self, start_ts: float, duration_s: int) -> Iterator[list[bytes]]:
        """``duration_s`` consecutive seconds from ``start_ts``."""
        for k in range(duration_s):
            yield self.second(start_ts + k)


def _border_distance_m(zone: Zone, bearing_deg: float) -> float:
    """Distance from Pyongyang to the zone's edge along ``bearing_deg`` (bisection)."""
    lat0, lon0 = _PYONGYANG
    rad = math.radians(bearing_deg)

    def point(d_m: float) -> tuple[float, float]:
        return (
            lat0 + d_m * math.cos(rad) / _M_PER_DEG,
            lon0 + d_m * math.sin(rad) / (_M_PER_DEG * math.cos(math.radians(lat0))),
        )

    inside, outside = 0.0, 600_000.0
    for _ in range(40):
        mid = (inside + outside) / 2
        if zone.contains_2d(*point(mid)):
            inside = mid
        else:
            outside = mid
    return outside


def _enters_soon(zone: Zone, lat: float, lon: float, gs_kt: float, track_deg: float) -> bool:
    """Whether a straight track enters the zone within 15 minutes (or is inside already)."""
    v = gs_kt * _KT_TO_MPS
    rad = math.radians(track_deg)
    for minute in range(0, 16):
        d = v * 60 * minute
        p_lat = lat + d * math.cos(rad) / _M_PER_DEG
        p_lon = lon + d * math.sin(rad) / (_M_PER_DEG * math.cos(math.radians(lat)))
        if zone.contains_2d(p_lat, p_lon):
            return True
    return False


def make_fleet(
    n_aircraft: int = 15_000,
    *,
    seed: int = 1,
    near_share: float = 0.03,
    crossers: int = 0,
    crosser_every_s: float = 4.0,
    crosser_lead_s: float = 30.0,
    first_crosser_s: float = 2.0,
) -> Fleet:
    """A reproducible fleet; see the module docstring."""
    rng = random.Random(seed)
    zone = builtin_zone("dprk")
    boxes, weights = zip(*_REGIONS, strict=True)
    seen: set[str] = set()
    rows: list[tuple[float, str, str, float, float, int, float, float, float, bool, float]] = []

    def new_icao() -> str:
        while True:
            icao24 = f"{rng.randrange(1, 1 << 24):06x}"
            if icao24 not in seen:
                seen.add(icao24)
                return icao24

    def callsign() -> str:
        return "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(3)) + str(rng.randrange(1, 9999))

    n_near = round(n_aircraft * near_share)
    for k in range(n_aircraft - crossers):
        gs = round(rng.uniform(250.0, 500.0), 1)
        alt = rng.randrange(50, 410) * 100
        if k < n_near:
            while True:
                lat, lon = rng.uniform(35.6, 45.0), rng.uniform(122.1, 132.9)
                track = round(rng.uniform(0.0, 360.0), 1)
                if not _enters_soon(zone, lat, lon, gs, track):
                    break
        else:
            while True:  # far from the DPRK (the East Asia box contains it)
                lat0, lat1, lon0, lon1 = rng.choices(boxes, weights)[0]
                lat, lon = rng.uniform(lat0, lat1), rng.uniform(lon0, lon1)
                if not (33.0 <= lat <= 47.0 and 119.0 <= lon <= 135.0):
                    break
            track = round(rng.uniform(0.0, 360.0), 1)
        rows.append((rng.random(), new_icao(), callsign(), lat, lon, alt, gs, track, 0.0, False, 0.0))
    for k in range(crossers):
        # From the Yellow Sea and the Chinese side (west to north-west of Pyongyang).
        bearing = rng.uniform(235.0, 300.0)
        gs = 450.0
        appears = first_crosser_s + k * crosser_every_s
        start_d = _border_distance_m(zone, bearing) + crosser_lead_s * gs * _KT_TO_MPS
        lat0, lon0 = _PYONGYANG
        rad = math.radians(bearing)
        lat = lat0 + start_d * math.cos(rad) / _M_PER_DEG
        lon = lon0 + start_d * math.sin(rad) / (_M_PER_DEG * math.cos(math.radians(lat0)))
        # It moves (silently) before it appears: start further out by that much.
        lat += appears * gs * _KT_TO_MPS * math.cos(rad) / _M_PER_DEG
        lon += appears * gs * _KT_TO_MPS * math.sin(rad) / (_M_PER_DEG * math.cos(math.radians(lat0)))
        track = (bearing + 180.0) % 360.0
        rows.append((rng.random(), new_icao(), callsign(), lat, lon, 33000, gs, track, appears, True,
                     appears + crosser_lead_s))
    rows.sort(key=lambda r: r[0])
    fleet = Fleet(
        icao24=[r[1] for r in rows],
        callsign=[r[2] for r in rows],
        phase_s=[round(r[0], 3) for r in rows],
        lat=[r[3] for r in rows],
        lon=[r[4] for r in rows],
        alt_ft=[r[5] for r in rows],
        gs_kt=[r[6] for r in rows],
        track_deg=[r[7] for r in rows],
        appears_s=[r[8] for r in rows],
    )
    fleet.crossers = [i for i, r in enumerate(rows) if r[9]]
    fleet.crossing_s = [rows[i][10] for i in fleet.crossers]
    return fleet
