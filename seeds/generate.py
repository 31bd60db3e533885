"""Deterministic generator for the ``dprk-2023-09`` seed scenario.

The scenario is a *reconstruction*, not a recording: a Russian Air Force Il-62M
(RA-86496, icao24 ``1551e0``) flies Moscow Vnukovo to Pyongyang Sunan, landing on the
morning of 26 September 2023 (Pyongyang time), and flies back on 28 September 2023,
mixed with Air Koryo and Air China flights that enter DPRK airspace and with a few
hundred background flights over North-East Asia that must not.

Every position is simulated from a simple kinematic model (great-circle legs, climb /
cruise / descent profile, acceleration limits) and then thinned by a coverage model
(receiver ranges for the flights we care about, observation windows for the background).
Nothing is read from the network and no wall clock is used: the output depends only on
``SEED`` and the code, so two runs give byte-identical files.

Outputs (next to this file unless ``--out`` is given):

* ``dprk-2023-09.jsonl.gz``: recording format v1, one position per line, sorted by
  ``(ts, icao24)``, gzip with mtime 0 and a fixed member name.
* ``dprk-2023-09.expected-flights.json``: which icao24s must alert and which must not.

The DPRK zone (the ``Asia/Pyongyang`` outline from timezonefinder: land plus 12 NM
territorial sea) is used only to *check* the result; the generator fails loudly if a
must-alert flight expected to be seen inside has fewer than three fixes inside, if the
signal-lost flight (Air Koryo JS272 from Vladivostok) is heard inside or is not heading
into the zone 3-6 min after its last fix, or if a must-not-alert flight comes within
``MIN_CLEARANCE_KM`` of the zone.

Usage::

    .venv/bin/python seeds/generate.py            # write both files
    .venv/bin/python seeds/generate.py --out PATH # write the recording elsewhere
    .venv/bin/python seeds/generate.py --check    # regenerate in memory, compare, exit 1 on drift
"""

from __future__ import annotations

import argparse
import bisect
import gzip
import io
import itertools
import json
import math
import random
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

SEED = 20230926
SCENARIO = "dprk-2023-09"
FORMAT_VERSION = 1
SEEDS_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = SEEDS_DIR / f"{SCENARIO}.jsonl.gz"
EXPECTED_SUFFIX = ".expected-flights.json"
GZIP_MEMBER_NAME = f"{SCENARIO}.jsonl"
ZONE_TZ_NAME = "Asia/Pyongyang"

EARTH_RADIUS_NM = 3440.065
EARTH_RADIUS_KM = 6371.0088
KM_PER_NM = 1.852

MIN_CLEARANCE_KM = 3.0  # must-not-alert paths stay at least this far from the zone
DANDONG_MAX_CLEARANCE_KM = 15.0  # ... and Dandong traffic comes at least this close
CLEARLY_INSIDE_KM = 5.0  # a must-alert flight has a fix at least this deep inside
MAX_FILE_BYTES = 3_000_000
MIN_BACKGROUND_AIRCRAFT = 200

LEVEL_CHANGE_FT_PER_NM = 150.0  # en-route step climbs / descents (~1000 fpm at 400 kt)
GLIDESLOPE_FT_PER_NM = 318.0  # 3 degrees
ROLLOUT_NM = 0.6  # touchdown point is this far before the end of an arrival route
SIM_STEP_S = 1.0

LatLon = tuple[float, float]


def utc_epoch_s(
    year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0
) -> float:
    """Epoch seconds for a UTC calendar time (no wall clock involved)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC).timestamp()


def utc_text(ts_s: float) -> str:
    """ISO-8601 UTC text for an epoch time, to 0.1 s."""
    dt = datetime.fromtimestamp(round(ts_s, 1), tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 100000}Z"


WINDOW_START_S = utc_epoch_s(2023, 9, 25, 17, 0)
WINDOW_END_S = utc_epoch_s(2023, 9, 28, 12, 30)
IL62_DEPARTURE_S = utc_epoch_s(2023, 9, 25, 17, 25)
IL62_RETURN_DEPARTURE_S = utc_epoch_s(2023, 9, 28, 3, 40)
IL62_LANDING_EARLIEST_S = utc_epoch_s(2023, 9, 26, 1, 0)
IL62_LANDING_LATEST_S = utc_epoch_s(2023, 9, 26, 2, 0)

# --------------------------------------------------------------------------- geodesy


def _unit_vector(p: LatLon) -> tuple[float, float, float]:
    """Unit vector on the sphere for a (lat, lon) in degrees."""
    lat, lon = math.radians(p[0]), math.radians(p[1])
    return (math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat))


def gc_distance_nm(a: LatLon, b: LatLon) -> float:
    """Great-circle distance in nautical miles (haversine)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_NM * math.asin(min(1.0, math.sqrt(h)))


def initial_bearing_deg(a: LatLon, b: LatLon) -> float:
    """Initial great-circle true bearing from ``a`` to ``b`` in [0, 360)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    y = math.sin(lon2 - lon1) * math.cos(lat2)
    x = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(lon2 - lon1)
    return math.degrees(math.atan2(y, x)) % 360.0


def gc_interpolate(a: LatLon, b: LatLon, fraction: float) -> LatLon:
    """Point a ``fraction`` of the way along the great circle from ``a`` to ``b``."""
    va, vb = _unit_vector(a), _unit_vector(b)
    dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(va, vb, strict=True))))
    omega = math.acos(dot)
    if omega < 1e-12:
        return a
    sa = math.sin((1 - fraction) * omega) / math.sin(omega)
    sb = math.sin(fraction * omega) / math.sin(omega)
    x, y, z = (sa * p + sb * q for p, q in zip(va, vb, strict=True))
    return (math.degrees(math.atan2(z, math.hypot(x, y))), math.degrees(math.atan2(y, x)))


def destination(p: LatLon, bearing_deg: float, distance_nm: float) -> LatLon:
    """Point reached from ``p`` on an initial bearing after ``distance_nm``."""
    lat, lon, brg = math.radians(p[0]), math.radians(p[1]), math.radians(bearing_deg)
    dr = distance_nm / EARTH_RADIUS_NM
    lat2 = math.asin(math.sin(lat) * math.cos(dr) + math.cos(lat) * math.sin(dr) * math.cos(brg))
    lon2 = lon + math.atan2(
        math.sin(brg) * math.sin(dr) * math.cos(lat), math.cos(dr) - math.sin(lat) * math.sin(lat2)
    )
    return (math.degrees(lat2), (math.degrees(lon2) + 540.0) % 360.0 - 180.0)


# --------------------------------------------------------------------------- places


@dataclass(frozen=True)
class Airport:
    """An aerodrome: ICAO code, reference point and elevation."""

    icao: str
    lat: float
    lon: float
    elev_ft: int

    @property
    def pos(self) -> LatLon:
        """The reference point as (lat, lon)."""
        return (self.lat, self.lon)


AIRPORTS: dict[str, Airport] = {
    a.icao: a
    for a in (
        Airport("UUWW", 55.5915, 37.2615, 685),  # Moscow Vnukovo
        Airport("ZKPY", 39.2241, 125.6700, 117),  # Pyongyang Sunan
        Airport("ZYDD", 40.0247, 124.2866, 30),  # Dandong Langtou
        Airport("ZBAA", 40.0801, 116.5846, 116),  # Beijing Capital
        Airport("ZBAD", 39.5098, 116.4105, 98),  # Beijing Daxing
        Airport("ZBTJ", 39.1244, 117.3462, 10),  # Tianjin Binhai
        Airport("ZYTL", 38.9657, 121.5386, 107),  # Dalian Zhoushuizi
        Airport("ZYTX", 41.6398, 123.4834, 198),  # Shenyang Taoxian
        Airport("ZYCC", 43.9962, 125.6850, 706),  # Changchun Longjia
        Airport("ZYHB", 45.6234, 126.2503, 457),  # Harbin Taiping
        Airport("ZYYJ", 42.8828, 129.4513, 624),  # Yanji Chaoyangchuan
        Airport("ZSPD", 31.1434, 121.8052, 13),  # Shanghai Pudong
        Airport("ZSYT", 37.6572, 120.9878, 154),  # Yantai Penglai
        Airport("ZSQD", 36.3614, 120.0883, 30),  # Qingdao Jiaodong
        Airport("RKSI", 37.4602, 126.4407, 23),  # Seoul Incheon
        Airport("RKSS", 37.5583, 126.7906, 59),  # Seoul Gimpo
        Airport("RKPK", 35.1795, 128.9382, 6),  # Busan Gimhae
        Airport("RKPC", 33.5113, 126.4930, 118),  # Jeju
        Airport("RKTN", 35.8941, 128.6589, 116),  # Daegu
        Airport("RKSO", 37.0906, 127.0296, 38),  # Osan Air Base
        Airport("UHWW", 43.3990, 132.1480, 46),  # Vladivostok Knevichi
        Airport("UHHH", 48.5280, 135.1883, 244),  # Khabarovsk Novy
        Airport("RJAA", 35.7647, 140.3864, 141),  # Tokyo Narita
        Airport("RJTT", 35.5523, 139.7798, 21),  # Tokyo Haneda
        Airport("RJTY", 35.7485, 139.3485, 463),  # Yokota Air Base
        Airport("RJBB", 34.4347, 135.2440, 26),  # Osaka Kansai
        Airport("RJFF", 33.5859, 130.4510, 32),  # Fukuoka
        Airport("RJCC", 42.7752, 141.6923, 82),  # Sapporo New Chitose
    )
}

RouteItem = str | LatLon


def resolve_points(items: Sequence[RouteItem]) -> list[LatLon]:
    """Turn a route spec (airport codes and/or (lat, lon) pairs) into points."""
    return [AIRPORTS[i].pos if isinstance(i, str) else i for i in items]


# --------------------------------------------------------------------------- route


@dataclass(frozen=True)
class Route:
    """A polyline of great-circle segments with cumulative distances."""

    points: tuple[LatLon, ...]
    cum_nm: tuple[float, ...]

    @classmethod
    def through(cls, points: Sequence[LatLon]) -> Route:
        """Build a route through ``points`` (consecutive duplicates dropped)."""
        pts: list[LatLon] = []
        for p in points:
            if not pts or gc_distance_nm(pts[-1], p) > 1e-6:
                pts.append(p)
        if len(pts) < 2:
            raise ValueError("a route needs two distinct points")
        cum = [0.0]
        for a, b in itertools.pairwise(pts):
            cum.append(cum[-1] + gc_distance_nm(a, b))
        return cls(tuple(pts), tuple(cum))

    @property
    def length_nm(self) -> float:
        """Total length in NM."""
        return self.cum_nm[-1]

    def locate(self, s_nm: float) -> tuple[LatLon, float]:
        """Position and true track at distance ``s_nm`` along the route."""
        s_nm = min(max(s_nm, 0.0), self.length_nm)
        k = min(bisect.bisect_right(self.cum_nm, s_nm) - 1, len(self.points) - 2)
        a, b = self.points[k], self.points[k + 1]
        seg = self.cum_nm[k + 1] - self.cum_nm[k]
        frac = 0.0 if seg <= 0 else (s_nm - self.cum_nm[k]) / seg
        if frac >= 1.0 - 1e-9:
            return b, initial_bearing_deg(a, b)
        pos = gc_interpolate(a, b, frac)
        return pos, initial_bearing_deg(pos, b)

    def dense_points(self, step_nm: float) -> list[LatLon]:
        """Points every ``step_nm`` along the route (plus every vertex)."""
        out: list[LatLon] = []
        for k in range(len(self.points) - 1):
            seg = self.cum_nm[k + 1] - self.cum_nm[k]
            n = max(1, math.ceil(seg / step_nm))
            out.extend(gc_interpolate(self.points[k], self.points[k + 1], i / n) for i in range(n))
        out.append(self.points[-1])
        return out


# --------------------------------------------------------------------------- flight model


@dataclass(frozen=True)
class Performance:
    """Speeds and rates for one aircraft on one leg (ground speeds include wind)."""

    cruise_gs_kt: float
    climb_fpm: float = 2000.0
    descent_fpm: float = 2000.0
    rotate_kt: float = 150.0
    approach_kt: float = 140.0
    ground_accel_kt_per_s: float = 3.0
    air_accel_kt_per_s: float = 1.5


@dataclass(frozen=True)
class FlightPlan:
    """What to simulate: route, vertical plan, performance and departure time.

    ``origin_elev_ft``/``dest_elev_ft`` are ``None`` when the route starts/ends in the
    air (the aircraft is then at its cruise level there). ``levels`` is a list of
    ``(s_nm, alt_ft)`` cruise levels, the first one at ``s_nm == 0``.
    """

    route: Route
    levels: tuple[tuple[float, int], ...]
    perf: Performance
    departure_s: float
    origin_elev_ft: int | None
    dest_elev_ft: int | None


@dataclass(frozen=True)
class State:
    """Simulated truth at one instant."""

    t_s: float
    pos: LatLon
    alt_ft: float
    gs_kt: float
    track_deg: float
    vrate_fpm: float
    on_ground: bool
    s_nm: float


def _interp(xs: Sequence[float], ys: Sequence[float], x: float) -> float:
    """Piecewise-linear interpolation with clamping (``xs`` increasing)."""
    if x <= xs[0]:
        return ys[0]
    if x >= xs[-1]:
        return ys[-1]
    k = bisect.bisect_right(xs, x) - 1
    f = (x - xs[k]) / (xs[k + 1] - xs[k])
    return ys[k] + f * (ys[k + 1] - ys[k])


class VerticalProfile:
    """Altitude as a function of distance flown: min(cruise level, climb, descent)."""

    def __init__(self, plan: FlightPlan) -> None:
        """Precompute climb and descent tables for ``plan``."""
        self.plan = plan
        self.length_nm = plan.route.length_nm
        self.top_ft = float(max(lvl for _, lvl in plan.levels))
        perf = plan.perf
        # Take-off roll: v^2 / (2 a) with v in NM/s and a in NM/s^2.
        self.roll_nm = 0.0
        if plan.origin_elev_ft is not None:
            v_nm_per_s = perf.rotate_kt / 3600.0
            a_nm_per_s2 = perf.ground_accel_kt_per_s / 3600.0
            self.roll_nm = v_nm_per_s * v_nm_per_s / (2 * a_nm_per_s2)
        self.climb_s: list[float] = []
        self.climb_alt: list[float] = []
        if plan.origin_elev_ft is not None:
            self._build_climb(plan.origin_elev_ft)
        self.desc_d: list[float] = []
        self.desc_alt: list[float] = []
        if plan.dest_elev_ft is not None:
            self._build_descent(plan.dest_elev_ft)

    def _build_climb(self, elev_ft: int) -> None:
        """Distance after lift-off at which each altitude is reached."""
        perf = self.plan.perf
        s, alt = 0.0, float(elev_ft)
        self.climb_s.append(s)
        self.climb_alt.append(alt)
        while alt < self.top_ft + 2000:
            rate_fpm = perf.climb_fpm * (1.3 - 0.7 * min(1.0, alt / self.top_ft))
            gs = self.target_gs(alt, alt - elev_ft, "climb")
            step = 100.0
            s += step / (rate_fpm * 60.0 / gs)
            alt += step
            self.climb_s.append(s)
            self.climb_alt.append(alt)

    def _build_descent(self, elev_ft: int) -> None:
        """Distance before touchdown at which each altitude is left (3 deg below 3000 ft AGL)."""
        perf = self.plan.perf
        d, alt = 0.0, float(elev_ft)
        self.desc_d.append(d)
        self.desc_alt.append(alt)
        while alt < self.top_ft + 2000:
            agl = alt - elev_ft
            if agl < 3000:
                ft_per_nm = GLIDESLOPE_FT_PER_NM
            else:
                rate_fpm = perf.descent_fpm * (0.75 if alt < 10000 else 1.0)
                ft_per_nm = rate_fpm * 60.0 / self.target_gs(alt, agl, "descent")
            step = 100.0
            d += step / ft_per_nm
            alt += step
            self.desc_d.append(d)
            self.desc_alt.append(alt)

    def level_at(self, s_nm: float) -> float:
        """Cruise level at ``s_nm``, with gentle transitions between planned levels."""
        levels = self.plan.levels
        alt = float(levels[0][1])
        for s_k, lvl in levels[1:]:
            if s_nm <= s_k:
                break
            delta = lvl - alt
            step = (s_nm - s_k) * LEVEL_CHANGE_FT_PER_NM
            alt = float(lvl) if step >= abs(delta) else alt + math.copysign(step, delta)
        return alt

    def altitude_at(self, s_nm: float) -> tuple[float, str]:
        """Altitude (ft) and phase (ground_dep, climb, cruise, descent, ground_arr)."""
        plan = self.plan
        d_to_go = self.length_nm - s_nm
        if plan.origin_elev_ft is not None and s_nm < self.roll_nm:
            return float(plan.origin_elev_ft), "ground_dep"
        if plan.dest_elev_ft is not None and d_to_go < ROLLOUT_NM:
            return float(plan.dest_elev_ft), "ground_arr"
        level = self.level_at(s_nm)
        climb = math.inf
        if plan.origin_elev_ft is not None:
            climb = _interp(self.climb_s, self.climb_alt, s_nm - self.roll_nm)
        desc = math.inf
        if plan.dest_elev_ft is not None:
            desc = _interp(self.desc_d, self.desc_alt, d_to_go - ROLLOUT_NM)
        alt = min(level, climb, desc)
        if desc < level - 1 and desc <= climb:
            return alt, "descent"
        if climb < level - 1:
            return alt, "climb"
        return alt, "cruise"

    def target_gs(self, alt_ft: float, agl_ft: float, phase: str) -> float:
        """Ground speed the aircraft tries to fly at this altitude and phase."""
        perf = self.plan.perf
        if phase == "ground_dep":
            return perf.rotate_kt + 5
        if phase == "ground_arr":
            return 20.0
        if alt_ft >= 10000:
            frac = min(1.0, (alt_ft - 10000) / max(1.0, self.top_ft - 10000))
            return 290.0 + (perf.cruise_gs_kt - 290.0) * frac
        if phase == "descent":
            low, mid = perf.approach_kt, perf.approach_kt + 45.0
        else:
            low, mid = perf.rotate_kt + 10.0, 250.0
        if agl_ft < 3000:
            return low + (mid - low) * max(0.0, agl_ft) / 3000.0
        return mid + (290.0 - mid) * min(1.0, (agl_ft - 3000.0) / 7000.0)


class Trajectory:
    """Time-stepped truth for one leg: distance flown and ground speed every second."""

    def __init__(self, plan: FlightPlan) -> None:
        """Integrate the leg from departure to the end of the route."""
        self.plan = plan
        self.profile = VerticalProfile(plan)
        self.t0_s = plan.departure_s
        perf = plan.perf
        elev = plan.origin_elev_ft if plan.origin_elev_ft is not None else 0
        s = 0.0
        alt, phase = self.profile.altitude_at(0.0)
        v = (
            0.0
            if plan.origin_elev_ft is not None
            else self.profile.target_gs(alt, alt - elev, phase)
        )
        self.s_nm: list[float] = [s]
        self.gs_kt: list[float] = [v]
        length = plan.route.length_nm
        while s < length:
            alt, phase = self.profile.altitude_at(s)
            ref_elev = (
                plan.dest_elev_ft if phase in ("descent", "ground_arr") else plan.origin_elev_ft
            )
            agl = alt - (ref_elev if ref_elev is not None else 0)
            target = self.profile.target_gs(alt, agl, phase)
            if phase == "ground_dep":
                accel = perf.ground_accel_kt_per_s
            elif phase == "ground_arr":
                accel = 4.0
            else:
                accel = perf.air_accel_kt_per_s
            dv = max(-accel * SIM_STEP_S, min(accel * SIM_STEP_S, target - v))
            v_next = v + dv
            if s > 0.05:
                v_next = max(v_next, 15.0)  # keep rolling to the end of the landing run
            s = min(length, s + 0.5 * (v + v_next) * SIM_STEP_S / 3600.0)
            v = v_next
            self.s_nm.append(s)
            self.gs_kt.append(v)
        self.duration_s = (len(self.s_nm) - 1) * SIM_STEP_S

    @property
    def end_s(self) -> float:
        """Epoch time at the end of the route (end of landing roll)."""
        return self.t0_s + self.duration_s

    def time_at_distance(self, s_nm: float) -> float:
        """Epoch time at which ``s_nm`` along the route is reached."""
        k = bisect.bisect_left(self.s_nm, s_nm)
        return self.t0_s + min(k, len(self.s_nm) - 1) * SIM_STEP_S

    def liftoff_s(self) -> float:
        """Epoch time of lift-off (or of the start, for airborne starts)."""
        return self.time_at_distance(self.profile.roll_nm)

    def touchdown_s(self) -> float:
        """Epoch time of touchdown (or of the end, for airborne ends)."""
        if self.plan.dest_elev_ft is None:
            return self.end_s
        return self.time_at_distance(self.plan.route.length_nm - ROLLOUT_NM)

    def _s_at(self, t_s: float) -> tuple[float, float]:
        """Distance flown and ground speed at an epoch time (linear in between steps)."""
        x = (t_s - self.t0_s) / SIM_STEP_S
        if x <= 0:
            return self.s_nm[0], self.gs_kt[0]
        k = int(x)
        if k >= len(self.s_nm) - 1:
            return self.s_nm[-1], self.gs_kt[-1]
        f = x - k
        return (
            self.s_nm[k] + f * (self.s_nm[k + 1] - self.s_nm[k]),
            self.gs_kt[k] + f * (self.gs_kt[k + 1] - self.gs_kt[k]),
        )

    def state_at(self, t_s: float) -> State:
        """Simulated truth at epoch time ``t_s``."""
        s, gs = self._s_at(t_s)
        pos, track = self.plan.route.locate(s)
        alt, phase = self.profile.altitude_at(s)
        alt_before, _ = self.profile.altitude_at(self._s_at(t_s - 3.0)[0])
        alt_after, _ = self.profile.altitude_at(self._s_at(t_s + 3.0)[0])
        vrate = (alt_after - alt_before) / 6.0 * 60.0
        return State(t_s, pos, alt, gs, track, vrate, phase.startswith("ground"), s)


# --------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Receiver:
    """A (group of) ground receiver(s): range grows with aircraft altitude."""

    name: str
    lat: float
    lon: float
    base_nm: float
    per_kft_nm: float
    max_nm: float
    interval_s: tuple[float, float]
    dropout: float

    def hears(self, pos: LatLon, alt_ft: float) -> bool:
        """Whether an aircraft at ``pos``/``alt_ft`` is within this receiver's range."""
        reach_nm = min(self.max_nm, self.base_nm + self.per_kft_nm * max(0.0, alt_ft) / 1000.0)
        return gc_distance_nm((self.lat, self.lon), pos) <= reach_nm


_RU_DENSE = (5.0, 10.0)
_SIBERIA = (12.0, 35.0)
_CHINA_THIN = (60.0, 180.0)

RECEIVERS: tuple[Receiver, ...] = (
    # Western Russia: dense amateur networks, a fix every 5-10 s, ground coverage at Moscow.
    Receiver("moscow", 55.75, 37.62, 80, 8.0, 250, _RU_DENSE, 0.03),
    Receiver("nizhny-novgorod", 56.30, 44.00, 60, 8.0, 220, _RU_DENSE, 0.03),
    Receiver("kazan", 55.79, 49.12, 60, 8.0, 220, _RU_DENSE, 0.03),
    Receiver("izhevsk-perm", 57.30, 54.60, 50, 7.0, 200, _RU_DENSE, 0.04),
    # Siberia: a few feeders around the cities, gaps of tens of minutes in between.
    Receiver("yekaterinburg", 56.84, 60.61, 40, 4.0, 150, (8.0, 20.0), 0.08),
    Receiver("tyumen", 57.15, 65.53, 20, 2.5, 100, _SIBERIA, 0.12),
    Receiver("omsk", 54.99, 73.37, 20, 2.5, 100, _SIBERIA, 0.12),
    Receiver("novosibirsk", 55.03, 82.92, 25, 3.0, 120, _SIBERIA, 0.12),
    Receiver("krasnoyarsk", 56.01, 92.87, 20, 2.5, 100, _SIBERIA, 0.15),
    Receiver("irkutsk", 52.29, 104.28, 20, 2.5, 100, _SIBERIA, 0.15),
    Receiver("ulan-ude", 51.83, 107.61, 15, 2.0, 80, _SIBERIA, 0.2),
    Receiver("chita", 52.03, 113.50, 15, 2.0, 80, _SIBERIA, 0.2),
    # North-east China: thin public coverage, a fix every 1-3 min when heard at all.
    Receiver("qiqihar", 47.35, 123.92, 20, 2.5, 100, _CHINA_THIN, 0.25),
    Receiver("harbin", 45.75, 126.65, 20, 2.5, 100, _CHINA_THIN, 0.2),
    Receiver("changchun", 43.88, 125.32, 20, 2.5, 100, _CHINA_THIN, 0.2),
    Receiver("shenyang", 41.80, 123.43, 20, 2.5, 95, _CHINA_THIN, 0.2),
    Receiver("jinzhou", 41.10, 121.13, 20, 2.5, 95, _CHINA_THIN, 0.2),
    Receiver("beijing", 39.95, 116.45, 30, 4.0, 170, (8.0, 25.0), 0.08),
    # Near the Yalu: one feeder in Dandong, terrain-limited; the only one that hears into
    # the DPRK, and only while the aircraft is high and close to the border.
    Receiver("dandong", 40.14, 124.33, 15, 1.5, 70, (30.0, 90.0), 0.15),
)


def receiver_fix_times(
    traj: Trajectory, rng: random.Random, start_s: float, end_s: float
) -> list[float]:
    """Fix times for a leg seen through ``RECEIVERS`` between ``start_s`` and ``end_s``."""
    times: list[float] = []
    t = start_s + rng.uniform(0.0, 5.0)
    while t <= end_s:
        st = traj.state_at(t)
        heard = [rx for rx in RECEIVERS if rx.hears(st.pos, st.alt_ft)]
        if not heard:
            t += 15.0
            continue
        rx = min(heard, key=lambda r: (r.interval_s[0], r.name))
        if rng.random() >= rx.dropout:
            times.append(round(t, 1))
        t += rng.uniform(*rx.interval_s)
    return times


def window_fix_times(
    rng: random.Random, start_s: float, end_s: float, interval_s: float
) -> list[float]:
    """Fix times for a background flight: every ~``interval_s`` with random dropouts."""
    times: list[float] = []
    t = start_s + rng.uniform(0.0, interval_s)
    while t <= end_s:
        if rng.random() < 0.012:
            t += rng.uniform(40.0, 150.0)  # a longer dropout
            continue
        if rng.random() >= 0.06:
            times.append(round(t, 1))
        t += interval_s * rng.uniform(0.75, 1.3)
    return times


# --------------------------------------------------------------------------- flights


@dataclass
class Leg:
    """One flight leg of one aircraft, with its simulated truth and chosen fixes."""

    callsign: str
    origin: str
    dest: str
    traj: Trajectory
    squawks: tuple[tuple[float, str], ...]
    fix_times: list[float] = field(default_factory=list)
    source: str = "adsb"
    callsign_dropout: float = 0.0
    level_vrate_zero: bool = False  # report exactly 0 fpm while the truth is level

    def squawk_at(self, s_nm: float) -> str:
        """Transponder code in use at ``s_nm`` (codes change between FIRs)."""
        code = self.squawks[0][1]
        for s_k, c in self.squawks:
            if s_nm >= s_k:
                code = c
        return code


@dataclass
class Aircraft:
    """An airframe in the scenario and what the tests should expect from it."""

    icao24: str
    must_alert: bool
    category: str
    description: str
    legs: list[Leg]
    registration: str = ""
    type_code: str = ""
    operator: str = ""
    route_name: str = ""
    expect: str = "entered"  # must-alert only: "entered" (seen inside) or "signal_lost"


def fix_record(ac: Aircraft, leg: Leg, st: State, rng: random.Random) -> dict[str, Any]:
    """One recording-format-v1 line (keys in the documented order, no nulls)."""
    lat, lon = st.pos
    if leg.source == "mlat":
        lat += rng.gauss(0.0, 0.0004)
        lon += rng.gauss(0.0, 0.0005)
    rec: dict[str, Any] = {
        "icao24": ac.icao24,
        "ts": round(st.t_s, 1),
        "lat": round(lat, 5),
        "lon": round(lon, 5),
    }
    if not st.on_ground:
        alt = round(st.alt_ft / 25.0) * 25
        if rng.random() < 0.05 and st.alt_ft > 20000:
            alt += rng.choice((-25, 25))
        rec["alt_ft"] = int(alt)
    rec["gs_kt"] = round(max(0.0, st.gs_kt + rng.uniform(-0.6, 0.6)), 1)
    track = round((st.track_deg + rng.uniform(-0.3, 0.3)) % 360.0, 1)
    rec["track_deg"] = 0.0 if track >= 360.0 else track
    if not st.on_ground and leg.source == "adsb":
        vrate = st.vrate_fpm + rng.uniform(-40.0, 40.0)
        rec["vrate_fpm"] = int(round(vrate / 64.0) * 64)
        if leg.level_vrate_zero and abs(st.vrate_fpm) < 1.0:
            rec["vrate_fpm"] = 0
    if rng.random() >= leg.callsign_dropout:
        rec["callsign"] = leg.callsign
    if leg.source == "adsb":
        rec["squawk"] = leg.squawk_at(st.s_nm)
    rec["on_ground"] = st.on_ground
    rec["source"] = leg.source
    return rec


def _squawk(rng: random.Random) -> str:
    """A random discrete transponder code (never an emergency or conspicuity code)."""
    while True:
        code = "".join(str(rng.randrange(8)) for _ in range(4))
        if code not in {"7500", "7600", "7700", "7000", "2000", "1200", "0000"}:
            return code


# --------------------------------------------------------------------------- the Il-62M

IL62_ICAO24 = "1551e0"
IL62_CALLSIGN = "RSD352"

# Outbound: Vnukovo - Yekaterinburg - Omsk - Novosibirsk - Krasnoyarsk - Irkutsk - Chita -
# Zabaykalsk/Manzhouli - Qiqihar area - Changchun - Shenyang - Fengcheng - Yalu near
# Sinuiju - Pyongyang Sunan. Index of the Russia/China border point is used for squawks
# and for the switch to Chinese metric flight levels.
IL62_ROUTE_OUT: tuple[RouteItem, ...] = (
    "UUWW",
    (55.95, 40.50),
    (56.40, 48.00),
    (56.75, 60.80),  # Yekaterinburg
    (55.30, 73.20),  # Omsk
    (55.05, 82.70),  # Novosibirsk
    (56.10, 92.50),  # Krasnoyarsk
    (52.27, 104.39),  # Irkutsk
    (51.85, 107.60),  # Ulan-Ude
    (52.03, 113.31),  # Chita
    (50.40, 116.40),  # Borzya
    (49.60, 117.45),  # border near Zabaykalsk / Manzhouli
    (48.20, 121.60),
    (46.60, 124.30),  # Qiqihar / Daqing
    (44.00, 125.45),  # Changchun
    (42.30, 123.90),  # Tieling
    (41.30, 123.80),  # Benxi
    (40.45, 124.07),  # Fengcheng
    "ZKPY",
)
IL62_BORDER_INDEX = 11


def build_il62(rng: random.Random) -> Aircraft:
    """The Russian Air Force Il-62M RA-86496: Moscow - Pyongyang (26 Sep) and back (28 Sep)."""
    out_route = Route.through(resolve_points(IL62_ROUTE_OUT))
    s_border = out_route.cum_nm[IL62_BORDER_INDEX]
    s_ekb = out_route.cum_nm[3]
    out_plan = FlightPlan(
        route=out_route,
        levels=((0.0, 35000), (s_ekb, 37000), (s_border - 10.0, 35100)),  # 10,700 m over China
        perf=Performance(
            cruise_gs_kt=478.0,
            climb_fpm=2000.0,
            descent_fpm=2000.0,
            rotate_kt=160.0,
            approach_kt=145.0,
        ),
        departure_s=IL62_DEPARTURE_S,
        origin_elev_ft=AIRPORTS["UUWW"].elev_ft,
        dest_elev_ft=AIRPORTS["ZKPY"].elev_ft,
    )
    out_traj = Trajectory(out_plan)
    out_leg = Leg(
        IL62_CALLSIGN, "UUWW", "ZKPY", out_traj, ((0.0, "2317"), (s_border - 30.0, "0612"))
    )
    out_leg.fix_times = receiver_fix_times(out_traj, rng, out_traj.t0_s - 120.0, out_traj.end_s)

    back_route = Route.through(list(reversed(resolve_points(IL62_ROUTE_OUT))))
    s_border_back = back_route.length_nm - s_border
    s_irkutsk_back = back_route.length_nm - out_route.cum_nm[7]
    back_plan = FlightPlan(
        route=back_route,
        levels=(
            (0.0, 36100),
            (s_border_back + 10.0, 36000),
            (s_irkutsk_back, 38000),
        ),  # 11,000 m over China
        perf=Performance(
            cruise_gs_kt=446.0,
            climb_fpm=1900.0,
            descent_fpm=2000.0,
            rotate_kt=155.0,
            approach_kt=145.0,
        ),
        departure_s=IL62_RETURN_DEPARTURE_S,
        origin_elev_ft=AIRPORTS["ZKPY"].elev_ft,
        dest_elev_ft=AIRPORTS["UUWW"].elev_ft,
    )
    back_traj = Trajectory(back_plan)
    back_leg = Leg(
        IL62_CALLSIGN, "ZKPY", "UUWW", back_traj, ((0.0, "0341"), (s_border_back + 30.0, "2106"))
    )
    back_leg.fix_times = receiver_fix_times(back_traj, rng, back_traj.t0_s, back_traj.end_s)
    return Aircraft(
        icao24=IL62_ICAO24,
        must_alert=True,
        category="il62",
        description=(
            "Russian Air Force Il-62M RA-86496: Moscow Vnukovo to Pyongyang Sunan, landing the morning of "
            "26 Sep 2023 local time, and back to Vnukovo on 28 Sep 2023"
        ),
        legs=[out_leg, back_leg],
        registration="RA-86496",
        type_code="IL62",
        operator="Russian Air Force",
        route_name="UUWW-ZKPY-UUWW",
    )


# --------------------------------------------------------------------------- Beijing - Pyongyang

BEIJING_PYONGYANG: tuple[RouteItem, ...] = (
    "ZBAA",
    (39.75, 118.30),  # Tangshan
    (40.20, 119.60),  # Qinhuangdao
    (40.95, 121.20),  # Jinzhou
    (40.90, 122.80),  # Haicheng / Anshan
    (40.45, 124.07),  # Fengcheng
    "ZKPY",
)


def _beijing_pyongyang_leg(
    rng: random.Random,
    callsign: str,
    to_pyongyang: bool,
    departure_s: float,
    cruise_ft: int,
    gs_kt: float,
) -> Leg:
    """A ZBAA <-> ZKPY leg via Jinzhou and the Yalu near Sinuiju, seen by receivers."""
    pts = resolve_points(BEIJING_PYONGYANG)
    if not to_pyongyang:
        pts.reverse()
    route = Route.through(pts)
    origin, dest = ("ZBAA", "ZKPY") if to_pyongyang else ("ZKPY", "ZBAA")
    plan = FlightPlan(
        route=route,
        levels=((0.0, cruise_ft),),
        perf=Performance(cruise_gs_kt=gs_kt, climb_fpm=2300.0, descent_fpm=2100.0),
        departure_s=departure_s,
        origin_elev_ft=AIRPORTS[origin].elev_ft,
        dest_elev_ft=AIRPORTS[dest].elev_ft,
    )
    traj = Trajectory(plan)
    leg = Leg(callsign, origin, dest, traj, ((0.0, _squawk(rng)),))
    leg.fix_times = receiver_fix_times(traj, rng, traj.t0_s, traj.end_s)
    return leg


def build_air_koryo(rng: random.Random) -> list[Aircraft]:
    """Two Air Koryo Tu-204s, each flying JS151 (FNJ-PEK) then JS152 (PEK-FNJ) on one day."""
    out: list[Aircraft] = []
    for icao24, reg, type_code, day in (
        ("720632", "P-632", "T204", 26),
        ("720633", "P-633", "T204", 28),
    ):
        dep151 = utc_epoch_s(2023, 9, day - 1, 23, 30) + rng.uniform(
            -240, 240
        )  # 08:30 Pyongyang time
        dep152 = utc_epoch_s(2023, 9, day, 5, 5) + rng.uniform(-120, 600)  # 13:05 Beijing time
        legs = [
            _beijing_pyongyang_leg(
                rng, "KOR151", False, dep151, 29500 if day == 26 else 31500, 420.0
            ),
            _beijing_pyongyang_leg(rng, "KOR152", True, dep152, 30800, 455.0),
        ]
        out.append(
            Aircraft(
                icao24=icao24,
                must_alert=True,
                category="air_koryo",
                description=(
                    f"Air Koryo {type_code} {reg} (illustrative icao24 in the DPRK block): JS151 Pyongyang-Beijing "
                    f"then JS152 Beijing-Pyongyang on {day} Sep 2023, crossing the Yalu near Sinuiju"
                ),
                legs=legs,
                registration=reg,
                type_code=type_code,
                operator="Air Koryo",
                route_name="ZKPY-ZBAA-ZKPY",
            )
        )
    return out


def build_air_china(rng: random.Random) -> Aircraft:
    """Air China CA121 Beijing - Pyongyang (illustrative; see README)."""
    dep = utc_epoch_s(2023, 9, 27, 5, 25) + rng.uniform(-300, 300)
    leg = _beijing_pyongyang_leg(rng, "CCA121", True, dep, 29500, 450.0)
    return Aircraft(
        icao24="7804d1",
        must_alert=True,
        category="air_china",
        description="Air China CA121 Beijing-Pyongyang on 27 Sep 2023 (illustrative, B-737-800 in the Chinese block)",
        legs=[leg],
        registration="",  # not modelled on a particular airframe
        type_code="B738",
        operator="Air China",
        route_name="ZBAA-ZKPY",
    )


# --------------------------------------------------------------------------- Vladivostok - Pyongyang

KOR272_ICAO24 = "720634"
KOR272_CALLSIGN = "KOR272"
KOR272_CRUISE_FT = 30000  # westbound even level
KOR272_GS_KT = 430.0
# Out over Peter the Great Gulf, south over the sea, then one straight great-circle leg
# towards Pyongyang that crosses into DPRK waters off the coast north of Kimchaek.
KOR272_ROUTE: tuple[RouteItem, ...] = ("UHWW", (42.60, 132.40), (41.90, 132.10), "ZKPY")
KOR272_TURN_INDEX = 2  # the last turn before the zone; straight from here on
# Distance along KOR272_ROUTE (NM) at which it enters the zone, measured once against the
# timezonefinder outline and fixed here so that the positions do not depend on the zone.
# check_scenario verifies the fixes against the zone itself.
KOR272_ZONE_ENTRY_NM = 199.4
KOR272_LAST_FIX_BEFORE_ENTRY_S = (225.0, 315.0)  # coverage ends 3.75-5.25 min before it
SIGNAL_LOST_ENTRY_S = (180.0, 360.0)  # the extrapolated path enters 3-6 min after the last fix
SIGNAL_LOST_HORIZON_S = 600.0  # ... and must do so within 10 min
SIGNAL_LOST_STAY_S = 120.0  # ... and stay inside for at least 2 min
SIGNAL_LOST_FINAL_S = 480.0  # fixes this close to the last one are level and straight
_VVO_RECEIVER = (43.25, 132.00)  # feeders around Vladivostok and Artyom


def vladivostok_fix_times(traj: Trajectory, rng: random.Random, last_fix_s: float) -> list[float]:
    """Fixes from Vladivostok's feeders: every 5-15 s nearby, every 30-90 s far out at sea.

    Coverage ends at ``last_fix_s``, which is always a fix: nothing is heard after it.
    """
    times: list[float] = []
    t = traj.t0_s + rng.uniform(0.0, 5.0)
    while t < last_fix_s - 20.0:
        st = traj.state_at(t)
        d_nm = gc_distance_nm(_VVO_RECEIVER, st.pos)
        far = min(1.0, max(0.0, (d_nm - 30.0) / 90.0))  # 0 within 30 NM, 1 beyond 120 NM
        if rng.random() >= 0.03 + 0.12 * far:
            times.append(round(t, 1))
        t += rng.uniform(5.0 + 25.0 * far, 15.0 + 75.0 * far)
    times.append(round(last_fix_s, 1))
    return times


def build_air_koryo_vladivostok(rng: random.Random) -> Aircraft:
    """Air Koryo JS272 Vladivostok - Pyongyang on 27 Sep 2023; coverage fades before the DPRK."""
    route = Route.through(resolve_points(KOR272_ROUTE))
    plan = FlightPlan(
        route=route,
        levels=((0.0, KOR272_CRUISE_FT),),
        perf=Performance(
            cruise_gs_kt=KOR272_GS_KT,
            climb_fpm=2200.0,
            descent_fpm=2100.0,
            rotate_kt=150.0,
            approach_kt=140.0,
        ),
        departure_s=utc_epoch_s(2023, 9, 27, 2, 0) + rng.uniform(-300.0, 300.0),  # ~12:00 VLAT
        origin_elev_ft=AIRPORTS["UHWW"].elev_ft,
        dest_elev_ft=AIRPORTS["ZKPY"].elev_ft,
    )
    traj = Trajectory(plan)
    leg = Leg(
        KOR272_CALLSIGN,
        "UHWW",
        "ZKPY",
        traj,
        ((0.0, _squawk(rng)),),
        level_vrate_zero=True,
    )
    t_entry = traj.time_at_distance(KOR272_ZONE_ENTRY_NM)
    leg.fix_times = vladivostok_fix_times(
        traj, rng, t_entry - rng.uniform(*KOR272_LAST_FIX_BEFORE_ENTRY_S)
    )
    return Aircraft(
        icao24=KOR272_ICAO24,
        must_alert=True,
        category="air_koryo",
        description=(
            "Air Koryo T204 (illustrative icao24 in the DPRK block): JS272 Vladivostok-Pyongyang on "
            "27 Sep 2023 (illustrative date); coverage fades over the sea a few minutes before it "
            "enters DPRK waters, and it lands at Pyongyang unseen"
        ),
        legs=[leg],
        type_code="T204",
        operator="Air Koryo",
        route_name="UHWW-ZKPY",
        expect="signal_lost",
    )


# --------------------------------------------------------------------------- background

ICAO24_BLOCKS: dict[str, tuple[int, int]] = {
    "CN": (0x780000, 0x7BFFFF),
    "KR": (0x718000, 0x71FFFF),
    "JP": (0x840000, 0x87FFFF),
    "RU": (
        0x140000,
        0x15FFFF,
    ),  # civil RA- registrations sit here, inside Russia's 0x100000-0x1FFFFF
    "US": (0xA00001, 0xADF7C7),  # N-numbers
    "USMIL": (0xAE0000, 0xAFFFFF),
}

AIRLINES: dict[str, tuple[str, int, int]] = {
    # prefix: (country block, lowest flight number, highest flight number)
    "KAL": ("KR", 100, 899),
    "AAR": ("KR", 100, 899),
    "JJA": ("KR", 100, 199),
    "JNA": ("KR", 200, 399),
    "TWB": ("KR", 200, 399),
    "ABL": ("KR", 8000, 8999),
    "ASV": ("KR", 8000, 8999),
    "CCA": ("CN", 100, 1999),
    "CES": ("CN", 100, 5999),
    "CSN": ("CN", 300, 6999),
    "CHH": ("CN", 7000, 7999),
    "CSZ": ("CN", 9000, 9999),
    "CDG": ("CN", 1000, 4999),
    "GCR": ("CN", 5000, 7999),
    "JAL": ("JP", 10, 999),
    "ANA": ("JP", 10, 999),
    "APJ": ("JP", 100, 999),
    "SKY": ("JP", 100, 999),
    "SBI": ("RU", 6000, 6999),
    "SHU": ("RU", 5000, 5999),
    "UAL": ("US", 800, 899),
    "DAL": ("US", 150, 199),
    "FDX": ("US", 5000, 5999),
    "UPS": ("US", 6000, 6999),
    "GTI": ("US", 8000, 8999),
    "RCH": ("USMIL", 100, 999),
}


@dataclass(frozen=True)
class Template:
    """A family of background flights: route, operators, levels, window placement."""

    name: str
    category: str
    count: int
    route: tuple[RouteItem, ...]
    airlines: tuple[str, ...]
    levels_ft: tuple[int, ...]
    gs_kt: tuple[float, float]
    both_ways: bool = True
    anchor: str = "random"  # random | start | end | waypoint:<index>
    window_min: tuple[float, float] = (4.0, 60.0)
    start_airborne: bool = False
    end_airborne: bool = False


# Final approach / initial departure legs at Dandong stay on the WSW side of the field,
# away from the Yalu (the DPRK bank is ~5 km east and south-east of the airport).
_ZYDD = AIRPORTS["ZYDD"].pos
ZYDD_IF = destination(_ZYDD, 247.0, 16.0)
ZYDD_FAF = destination(_ZYDD, 247.0, 9.0)
ZYDD_DEP = destination(_ZYDD, 247.0, 5.0)
_ZYYJ = AIRPORTS["ZYYJ"].pos
ZYYJ_FAF = destination(_ZYYJ, 272.0, 10.0)

_ICN_WEST = ((37.36, 125.90), (37.30, 125.00), (37.30, 124.00))
_YELLOW_TO_BEIJING = (
    (37.80, 123.00),
    (38.40, 121.80),
    (38.90, 120.50),
    (39.35, 118.90),
    (39.85, 117.40),
)

TEMPLATES: tuple[Template, ...] = (
    # --- Yellow Sea: Seoul/Japan to northern China, well south-west of DPRK waters.
    Template(
        "RKSI-ZBAA",
        "yellow_sea",
        30,
        ("RKSI", *_ICN_WEST, *_YELLOW_TO_BEIJING, "ZBAA"),
        ("KAL", "AAR", "CCA", "CSN", "JJA"),
        (29100, 31100, 33100, 35100),
        (410, 470),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-ZBAD",
        "yellow_sea",
        8,
        ("RKSI", *_ICN_WEST, *_YELLOW_TO_BEIJING[:3], (39.30, 117.60), "ZBAD"),
        ("KAL", "CES", "CSN"),
        (29100, 33100),
        (410, 470),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-ZBTJ",
        "yellow_sea",
        5,
        ("RKSI", *_ICN_WEST, *_YELLOW_TO_BEIJING[:3], "ZBTJ"),
        ("GCR", "KAL", "CCA"),
        (27100, 31100),
        (400, 460),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-ZYTL",
        "yellow_sea",
        9,
        ("RKSI", *_ICN_WEST, (38.10, 122.70), "ZYTL"),
        ("KAL", "AAR", "CSN", "CCA"),
        (23100, 25100, 27100),
        (380, 440),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-ZYTX",
        "yellow_sea",
        8,
        ("RKSI", *_ICN_WEST, (38.20, 122.80), (39.20, 122.20), (40.40, 122.80), "ZYTX"),
        ("KAL", "AAR", "CSN"),
        (29100, 31100),
        (400, 460),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-ZYHB",
        "yellow_sea",
        6,
        (
            "RKSI",
            *_ICN_WEST,
            (38.20, 122.80),
            (39.20, 122.20),
            (40.40, 122.80),
            (41.75, 123.30),
            (43.40, 124.90),
            "ZYHB",
        ),
        ("CSN", "KAL", "AAR"),
        (31100, 33100),
        (420, 470),
        anchor="waypoint:5",
    ),
    Template(
        "RKSI-ZSYT",
        "yellow_sea",
        5,
        ("RKSI", (37.36, 125.90), (37.20, 124.50), (37.45, 122.50), "ZSYT"),
        ("JJA", "KAL", "CDG"),
        (21100, 25100),
        (370, 430),
        anchor="waypoint:2",
    ),
    Template(
        "RKSI-ZSQD",
        "yellow_sea",
        4,
        ("RKSI", (37.30, 125.60), (36.90, 123.00), "ZSQD"),
        ("CDG", "KAL", "AAR", "CES"),
        (23100, 27100),
        (380, 440),
        anchor="waypoint:2",
    ),
    Template(
        "RJTT-ZBAA",
        "yellow_sea",
        10,
        (
            "RJTT",
            (35.45, 137.60),
            (35.60, 134.50),
            (35.90, 130.60),
            (36.60, 128.30),
            (37.15, 126.80),
            (37.30, 125.00),
            (37.30, 124.00),
            *_YELLOW_TO_BEIJING,
            "ZBAA",
        ),
        ("JAL", "ANA", "CCA"),
        (33100, 35100, 37100),
        (430, 490),
        anchor="waypoint:7",
    ),
    Template(
        "RKSS-ZBAA",
        "yellow_sea",
        6,
        ("RKSS", (37.40, 126.30), *_ICN_WEST[1:], *_YELLOW_TO_BEIJING, "ZBAA"),
        ("AAR", "KAL", "CCA", "CES"),
        (29100, 33100),
        (410, 470),
        anchor="waypoint:3",
    ),
    Template(
        "RKPK-ZYTL",
        "yellow_sea",
        4,
        ("RKPK", (35.70, 127.60), (36.70, 126.20), (37.30, 124.00), (38.10, 122.70), "ZYTL"),
        ("ABL", "CSN"),
        (25100, 29100),
        (390, 450),
        anchor="waypoint:3",
    ),
    Template(
        "ZYTL-RJAA",
        "yellow_sea",
        4,
        (
            "ZYTL",
            (38.10, 122.70),
            (37.30, 124.00),
            (37.20, 125.60),
            (36.90, 127.40),
            (36.30, 129.80),
            (35.90, 134.00),
            (35.70, 138.00),
            "RJAA",
        ),
        ("JAL", "ANA", "CSN"),
        (33100, 35100),
        (430, 490),
        anchor="waypoint:2",
    ),
    # --- Dandong: arrivals and departures on the Chinese side of the Yalu, 5-15 km from the DPRK.
    Template(
        "ZBAA-ZYDD",
        "dandong",
        3,
        (
            "ZBAA",
            (39.75, 118.30),
            (40.20, 119.60),
            (40.95, 121.20),
            (40.65, 122.80),
            (40.25, 123.50),
            ZYDD_IF,
            ZYDD_FAF,
            "ZYDD",
        ),
        ("CCA",),
        (25100, 27100),
        (400, 450),
        both_ways=False,
        anchor="end",
        window_min=(12.0, 40.0),
    ),
    Template(
        "ZSPD-ZYDD",
        "dandong",
        3,
        (
            "ZSPD",
            (33.50, 122.30),
            (36.20, 122.60),
            (38.50, 122.20),
            (39.55, 123.20),
            ZYDD_IF,
            ZYDD_FAF,
            "ZYDD",
        ),
        ("CES", "CSZ"),
        (29100, 31100),
        (420, 470),
        both_ways=False,
        anchor="end",
        window_min=(12.0, 40.0),
    ),
    Template(
        "ZYDD-ZBAA",
        "dandong",
        3,
        (
            "ZYDD",
            ZYDD_DEP,
            (40.10, 123.75),
            (40.45, 123.00),
            (40.95, 121.20),
            (40.20, 119.60),
            (39.75, 118.30),
            "ZBAA",
        ),
        ("CCA",),
        (26200, 28200),
        (380, 430),
        both_ways=False,
        anchor="start",
        window_min=(10.0, 35.0),
    ),
    Template(
        "ZYDD-ZSPD",
        "dandong",
        3,
        (
            "ZYDD",
            ZYDD_DEP,
            (39.70, 123.30),
            (38.50, 122.20),
            (36.20, 122.60),
            (33.50, 122.30),
            "ZSPD",
        ),
        ("CES", "CSZ"),
        (28200, 30100),
        (400, 450),
        both_ways=False,
        anchor="start",
        window_min=(10.0, 35.0),
    ),
    # --- Sea of Japan: Vladivostok, Hokkaido and North Pacific traffic east of the DPRK coast.
    Template(
        "UHWW-RKSI",
        "sea_of_japan",
        10,
        (
            "UHWW",
            (42.75, 132.30),
            (41.00, 131.80),
            (39.00, 130.50),
            (37.90, 129.40),
            (37.55, 127.80),
            "RKSI",
        ),
        ("SBI", "SHU"),
        (30000, 32000, 34000),
        (400, 460),
        anchor="waypoint:3",
    ),
    Template(
        "UHWW-RKSS-west",
        "sea_of_japan",
        8,
        (
            "UHWW",
            (42.70, 131.90),
            (42.05, 131.45),
            (41.55, 130.75),
            (40.40, 129.90),
            (39.10, 129.55),
            (38.10, 129.35),
            (37.70, 128.60),
            (37.55, 127.60),
            "RKSS",
        ),
        ("SBI", "SHU"),
        (28000, 30000, 32000),
        (400, 450),
        anchor="waypoint:3",
    ),
    Template(
        "UHWW-RJAA",
        "sea_of_japan",
        6,
        ("UHWW", (42.50, 134.00), (39.50, 137.50), (36.80, 139.60), "RJAA"),
        ("SBI", "SHU", "JAL"),
        (31000, 35000),
        (420, 480),
    ),
    Template(
        "RKSI-RJCC",
        "sea_of_japan",
        10,
        ("RKSI", (37.55, 127.60), (37.75, 129.00), (39.40, 132.50), (41.50, 137.50), "RJCC"),
        ("KAL", "AAR", "JJA", "TWB", "JNA", "ANA"),
        (33000, 35000, 37000),
        (440, 500),
        anchor="waypoint:3",
    ),
    Template(
        "RKSI-NOPAC",
        "sea_of_japan",
        14,
        (
            "RKSI",
            (37.55, 127.60),
            (37.75, 129.00),
            (39.80, 133.00),
            (42.20, 138.50),
            (44.00, 143.00),
        ),
        ("KAL", "AAR", "UAL", "DAL", "FDX", "UPS", "GTI"),
        (33000, 35000, 37000),
        (470, 540),
        both_ways=False,
        anchor="waypoint:3",
        end_airborne=True,
    ),
    Template(
        "RKPK-UHWW",
        "sea_of_japan",
        4,
        ("RKPK", (35.60, 130.00), (38.50, 131.20), (41.80, 132.10), "UHWW"),
        ("SHU", "SBI"),
        (29000, 33000),
        (400, 460),
    ),
    Template(
        "RJFF-RJCC",
        "sea_of_japan",
        6,
        ("RJFF", (34.40, 131.60), (35.80, 133.80), (37.60, 137.20), (40.10, 139.60), "RJCC"),
        ("JAL", "ANA", "APJ", "SKY"),
        (35000, 37000, 39000),
        (430, 490),
    ),
    # --- Other: Korean and Chinese domestic, Yanji near the Tumen, Russian Far East, Japan-Korea, USAF.
    Template(
        "RKSS-RKPC",
        "other",
        14,
        ("RKSS", (37.25, 126.65), (36.00, 126.55), (34.60, 126.45), "RKPC"),
        ("KAL", "AAR", "JJA", "JNA", "TWB", "ABL", "ASV"),
        (27000, 29000, 31000),
        (380, 440),
    ),
    Template(
        "RKSS-RKPK",
        "other",
        8,
        ("RKSS", (37.20, 127.30), (36.20, 128.20), "RKPK"),
        ("KAL", "AAR", "JJA", "ABL"),
        (25000, 27000),
        (360, 420),
    ),
    Template(
        "RKSI-RKPC",
        "other",
        6,
        ("RKSI", (37.00, 126.40), (35.50, 126.45), "RKPC"),
        ("KAL", "AAR", "JJA", "TWB"),
        (28000, 30000),
        (380, 440),
    ),
    Template(
        "RKSS-RKTN",
        "other",
        2,
        ("RKSS", (37.15, 127.35), "RKTN"),
        ("KAL", "TWB"),
        (21000, 23000),
        (340, 400),
    ),
    Template(
        "ZYTX-ZYHB",
        "other",
        4,
        ("ZYTX", (43.00, 124.60), (44.40, 125.50), "ZYHB"),
        ("CSN", "CCA", "CHH"),
        (23600, 25600),
        (370, 420),
    ),
    Template(
        "ZBAA-ZYCC",
        "other",
        4,
        ("ZBAA", (40.60, 118.50), (42.00, 121.80), (43.40, 124.30), "ZYCC"),
        ("CCA", "CSN", "CHH"),
        (29100, 31100),
        (420, 470),
    ),
    Template(
        "ZBAA-ZYYJ",
        "other",
        4,
        (
            "ZBAA",
            (40.60, 118.50),
            (42.00, 121.80),
            (42.80, 125.00),
            (42.95, 127.80),
            ZYYJ_FAF,
            "ZYYJ",
        ),
        ("CCA", "CSN", "CHH"),
        (29100, 31100),
        (420, 470),
        anchor="end",
        window_min=(10.0, 45.0),
    ),
    Template(
        "ZSPD-ZYYJ",
        "other",
        4,
        (
            "ZSPD",
            (34.50, 122.70),
            (38.60, 122.30),
            (41.00, 124.00),
            (42.40, 126.40),
            (42.95, 127.90),
            ZYYJ_FAF,
            "ZYYJ",
        ),
        ("CES", "CSN", "CSZ"),
        (31100, 33100),
        (430, 480),
        anchor="end",
        window_min=(10.0, 45.0),
    ),
    Template(
        "UHWW-UHHH",
        "other",
        5,
        ("UHWW", (44.80, 133.10), (47.00, 134.50), "UHHH"),
        ("SHU", "SBI"),
        (24000, 26000),
        (360, 420),
    ),
    Template(
        "ZBAA-UHWW",
        "other",
        3,
        ("ZBAA", (41.50, 119.80), (44.40, 126.40), (44.60, 129.60), (44.10, 131.20), "UHWW"),
        ("CCA", "SBI", "CSN"),
        (31100, 33100),
        (430, 480),
    ),
    Template(
        "RJTT-RKSS",
        "other",
        8,
        (
            "RJTT",
            (35.45, 137.60),
            (35.70, 134.00),
            (36.20, 130.80),
            (36.90, 128.40),
            (37.35, 127.20),
            "RKSS",
        ),
        ("JAL", "ANA", "KAL", "AAR", "JJA"),
        (35000, 37000),
        (440, 500),
    ),
    Template(
        "RJBB-RKSI",
        "other",
        6,
        ("RJBB", (34.80, 133.00), (35.60, 129.80), (36.70, 127.50), "RKSI"),
        ("APJ", "KAL", "AAR", "JJA", "TWB"),
        (31000, 33000),
        (420, 480),
    ),
    Template(
        "RKSO-RJTY",
        "other",
        3,
        ("RKSO", (36.60, 128.50), (35.60, 131.50), (35.30, 136.00), "RJTY"),
        ("RCH",),
        (28000, 30000),
        (380, 430),
    ),
)


def _unique_icao24(rng: random.Random, block: str, used: set[str]) -> str:
    """A not-yet-used icao24 inside the country block."""
    lo, hi = ICAO24_BLOCKS[block]
    while True:
        code = f"{rng.randint(lo, hi):06x}"
        if code not in used:
            used.add(code)
            return code


def _unique_callsign(rng: random.Random, prefix: str, used: set[str]) -> str:
    """A not-yet-used callsign for an airline prefix."""
    _, lo, hi = AIRLINES[prefix]
    while True:
        cs = f"{prefix}{rng.randint(lo, hi)}"
        if cs not in used and len(cs) <= 8:
            used.add(cs)
            return cs


def _reference_time(rng: random.Random) -> float:
    """When a background flight's window is centred: mostly around the Il-62M's visits."""
    u = rng.random()
    if u < 0.4:
        return rng.uniform(utc_epoch_s(2023, 9, 26, 0, 0), utc_epoch_s(2023, 9, 26, 3, 0))
    if u < 0.8:
        return rng.uniform(utc_epoch_s(2023, 9, 28, 2, 30), utc_epoch_s(2023, 9, 28, 5, 30))
    while True:  # elsewhere in the window, but in daytime in Korea/Japan/China (21-14 UTC)
        t = rng.uniform(WINDOW_START_S + 3600.0, WINDOW_END_S - 3600.0)
        if not 14 <= datetime.fromtimestamp(t, tz=UTC).hour < 21:
            return t


def build_background(
    rng: random.Random, used_icao24: set[str], used_callsigns: set[str]
) -> list[Aircraft]:
    """All background (must-not-alert) flights, one leg per airframe."""
    out: list[Aircraft] = []
    for tpl in TEMPLATES:
        for _ in range(tpl.count):
            items = list(tpl.route)
            anchor = tpl.anchor
            reverse = tpl.both_ways and rng.random() < 0.5
            if reverse:
                items.reverse()
                if anchor == "start":
                    anchor = "end"
                elif anchor == "end":
                    anchor = "start"
                elif anchor.startswith("waypoint:"):
                    anchor = f"waypoint:{len(items) - 1 - int(anchor.split(':')[1])}"
            origin_airborne = tpl.end_airborne if reverse else tpl.start_airborne
            dest_airborne = tpl.start_airborne if reverse else tpl.end_airborne
            origin = items[0] if isinstance(items[0], str) else "airborne"
            dest = items[-1] if isinstance(items[-1], str) else "airborne"
            route = Route.through(resolve_points(items))
            prefix = rng.choice(tpl.airlines)
            callsign = _unique_callsign(rng, prefix, used_callsigns)
            icao24 = _unique_icao24(rng, AIRLINES[prefix][0], used_icao24)
            level = rng.choice(tpl.levels_ft)
            perf = Performance(
                cruise_gs_kt=rng.uniform(*tpl.gs_kt),
                climb_fpm=rng.uniform(1800, 2800),
                descent_fpm=rng.uniform(1700, 2400),
                rotate_kt=rng.uniform(140, 160),
                approach_kt=rng.uniform(130, 150),
            )
            plan = FlightPlan(
                route=route,
                levels=((0.0, level),),
                perf=perf,
                departure_s=0.0,
                origin_elev_ft=None
                if origin_airborne or origin == "airborne"
                else AIRPORTS[origin].elev_ft,
                dest_elev_ft=None
                if dest_airborne or dest == "airborne"
                else AIRPORTS[dest].elev_ft,
            )
            traj = Trajectory(plan)
            interval_s = rng.uniform(5.0, 20.0)
            duration_s = min(
                traj.duration_s, max(rng.uniform(*tpl.window_min) * 60.0, 16.0 * interval_s)
            )
            if anchor == "start":
                w_start = traj.liftoff_s() - rng.uniform(0.0, 40.0)
            elif anchor == "end":
                w_start = traj.end_s - duration_s
            elif anchor.startswith("waypoint:"):
                t_wp = traj.time_at_distance(route.cum_nm[int(anchor.split(":")[1])])
                w_start = t_wp - duration_s * rng.uniform(0.25, 0.75)
            else:
                w_start = rng.uniform(0.0, traj.duration_s - duration_s)
            w_start = min(max(w_start, 0.0), traj.duration_s - duration_s)
            shift = round(_reference_time(rng) - (w_start + duration_s / 2.0))
            plan = FlightPlan(
                plan.route,
                plan.levels,
                plan.perf,
                float(shift),
                plan.origin_elev_ft,
                plan.dest_elev_ft,
            )
            traj = Trajectory(plan)
            leg = Leg(
                callsign,
                origin,
                dest,
                traj,
                ((0.0, _squawk(rng)),),
                source="mlat" if rng.random() < 0.04 else "adsb",
                callsign_dropout=0.08,
            )
            leg.fix_times = window_fix_times(
                rng, shift + w_start, shift + w_start + duration_s, interval_s
            )
            out.append(
                Aircraft(
                    icao24=icao24,
                    must_alert=False,
                    category=tpl.category,
                    description=f"{callsign} {origin}-{dest} ({tpl.name})",
                    legs=[leg],
                    operator=prefix,
                    route_name=f"{origin}-{dest}",
                )
            )
    return out


# --------------------------------------------------------------------------- scenario


@dataclass
class Scenario:
    """Everything generated: aircraft (with legs and fixes) and the encoded records."""

    aircraft: list[Aircraft]
    records: list[dict[str, Any]]


def build_scenario(seed: int = SEED) -> Scenario:
    """Build all flights and their position records, sorted by (ts, icao24)."""
    rng = random.Random(seed)
    il62 = build_il62(random.Random(f"{seed}/il62"))
    koryo = build_air_koryo(random.Random(f"{seed}/koryo"))
    china = build_air_china(random.Random(f"{seed}/cca121"))
    kor272 = build_air_koryo_vladivostok(random.Random(f"{seed}/kor272"))
    used_icao24 = {il62.icao24, china.icao24, *(a.icao24 for a in koryo)}
    used_icao24.add(kor272.icao24)
    used_callsigns = {IL62_CALLSIGN, "KOR151", "KOR152", "CCA121", KOR272_CALLSIGN}
    background = build_background(rng, used_icao24, used_callsigns)
    aircraft = [il62, *koryo, china, kor272, *background]
    records: list[dict[str, Any]] = []
    for ac in aircraft:
        fix_rng = random.Random(f"{seed}/fixes/{ac.icao24}")
        for leg in ac.legs:
            records.extend(
                fix_record(ac, leg, leg.traj.state_at(t), fix_rng) for t in leg.fix_times
            )
    records.sort(key=lambda r: (r["ts"], r["icao24"]))
    return Scenario(aircraft, records)


def encode_jsonl(records: Sequence[dict[str, Any]]) -> bytes:
    """JSON lines, one record per line, trailing newline."""
    return b"".join(orjson.dumps(r) + b"\n" for r in records)


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip: mtime 0, fixed member name, maximum compression."""
    buf = io.BytesIO()
    with gzip.GzipFile(
        filename=GZIP_MEMBER_NAME, mode="wb", fileobj=buf, mtime=0, compresslevel=9
    ) as gz:
        gz.write(data)
    return buf.getvalue()


# --------------------------------------------------------------------------- checks


class ScenarioError(AssertionError):
    """A generated scenario broke one of its own guarantees."""


def _require(cond: bool, message: str) -> None:
    """Fail loudly (even under ``python -O``) when ``cond`` is false."""
    if not cond:
        raise ScenarioError(message)


class Zone:
    """The DPRK zone in lon/lat (for containment) and in a local km projection (for distances)."""

    LAT0 = math.radians(40.0)
    LON0 = math.radians(127.0)

    def __init__(self) -> None:
        """Load ``Asia/Pyongyang`` from timezonefinder and project it."""
        from shapely import prepare
        from shapely.geometry import MultiPolygon, Polygon
        from timezonefinder import TimezoneFinder

        polys = TimezoneFinder().get_geometry(tz_name=ZONE_TZ_NAME, coords_as_pairs=True)
        self.lonlat = MultiPolygon([Polygon(p[0], p[1:]) for p in polys])
        self.km = MultiPolygon(
            [
                Polygon([self._xy(*c) for c in p[0]], [[self._xy(*c) for c in r] for r in p[1:]])
                for p in polys
            ]
        )
        _require(self.lonlat.is_valid and self.km.is_valid, "zone geometry is not valid")
        self.boundary_km = self.km.boundary
        prepare(self.lonlat)
        prepare(self.km)

    @classmethod
    def _xy(cls, lon: float, lat: float) -> tuple[float, float]:
        """Azimuthal equidistant projection (km) centred on 40N 127E."""
        la, lo = math.radians(lat), math.radians(lon)
        c = math.sin(cls.LAT0) * math.sin(la) + math.cos(cls.LAT0) * math.cos(la) * math.cos(
            lo - cls.LON0
        )
        ang = math.acos(max(-1.0, min(1.0, c)))
        k = 1.0 if ang < 1e-12 else ang / math.sin(ang)
        x = EARTH_RADIUS_KM * k * math.cos(la) * math.sin(lo - cls.LON0)
        y = (
            EARTH_RADIUS_KM
            * k
            * (
                math.cos(cls.LAT0) * math.sin(la)
                - math.sin(cls.LAT0) * math.cos(la) * math.cos(lo - cls.LON0)
            )
        )
        return x, y

    def contains(self, lat: float, lon: float) -> bool:
        """Whether (lat, lon) is inside the zone."""
        from shapely.geometry import Point

        return bool(self.lonlat.contains(Point(lon, lat)))

    def depth_km(self, lat: float, lon: float) -> float:
        """Distance to the zone boundary in km (positive inside, negative outside)."""
        from shapely.geometry import Point

        d = float(self.boundary_km.distance(Point(self._xy(lon, lat))))
        return d if self.contains(lat, lon) else -d

    def path_clearance_km(self, points: Sequence[LatLon]) -> float:
        """Smallest distance (km) from a lat/lon polyline to the zone (0 if it touches)."""
        from shapely.geometry import LineString, Point

        xy = [self._xy(lon, lat) for lat, lon in points]
        geom = Point(xy[0]) if len(xy) == 1 else LineString(xy)
        return float(self.km.distance(geom))

    def path_intersects_lonlat(self, points: Sequence[LatLon]) -> bool:
        """Whether the lon/lat polyline (linear in degrees) touches the zone."""
        from shapely.geometry import LineString, Point

        ll = [(lon, lat) for lat, lon in points]
        geom = Point(ll[0]) if len(ll) == 1 else LineString(ll)
        return bool(self.lonlat.intersects(geom))


@dataclass
class LegReport:
    """Inside-the-zone facts for one must-alert leg."""

    callsign: str
    origin: str
    dest: str
    fixes: int
    inside: list[dict[str, Any]]
    max_depth_km: float
    first_outside_after: dict[str, Any] | None
    last_outside_before: dict[str, Any] | None


@dataclass
class SignalLostReport:
    """Facts for a must-alert leg that fades before the zone (``expect == "signal_lost"``)."""

    callsign: str
    origin: str
    dest: str
    fixes: int
    last_fix: dict[str, Any]
    final_fixes: int  # fixes within SIGNAL_LOST_FINAL_S of the last one (all level, straight)
    predicted_entry_after_s: float
    predicted_entry_point: LatLon
    true_entry_s: float


@dataclass
class Report:
    """Results of checking a scenario against the zone."""

    must_alert: dict[str, list[LegReport]]
    clearance_km: dict[str, float]
    signal_lost: dict[str, SignalLostReport] = field(default_factory=dict)


def _leg_records(records: Sequence[dict[str, Any]], ac: Aircraft, leg: Leg) -> list[dict[str, Any]]:
    """The records belonging to one leg (by icao24 and time span)."""
    lo, hi = leg.fix_times[0], leg.fix_times[-1]
    return [r for r in records if r["icao24"] == ac.icao24 and lo <= r["ts"] <= hi]


def check_scenario(sc: Scenario, zone: Zone) -> Report:
    """Verify every guarantee the scenario makes; raise ``ScenarioError`` if one fails."""
    records = sc.records
    _require(len({a.icao24 for a in sc.aircraft}) == len(sc.aircraft), "duplicate icao24")
    keys = [(r["ts"], r["icao24"]) for r in records]
    _require(keys == sorted(keys), "records are not sorted by (ts, icao24)")
    _require(len(set(keys)) == len(keys), "duplicate (ts, icao24)")
    for r in records:
        _require(
            len(r["icao24"]) == 6 and all(c in "0123456789abcdef" for c in r["icao24"]),
            f"bad icao24 {r}",
        )
        _require(None not in r.values(), f"null in {r}")
        _require(len(r.get("callsign", "")) <= 8, f"callsign too long {r}")
        sq = r.get("squawk", "0000")
        _require(len(sq) == 4 and all(c in "01234567" for c in sq), f"bad squawk {r}")
        _require(0.0 <= r["track_deg"] < 360.0, f"bad track {r}")
    by_icao: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        by_icao.setdefault(r["icao24"], []).append(r)

    must_alert: dict[str, list[LegReport]] = {}
    clearance: dict[str, float] = {}
    signal_lost: dict[str, SignalLostReport] = {}
    for ac in sc.aircraft:
        recs = by_icao.get(ac.icao24, [])
        _require(len(recs) >= 10, f"{ac.icao24} has only {len(recs)} fixes")
        if ac.must_alert and ac.expect == "signal_lost":
            signal_lost[ac.icao24] = _check_signal_lost(ac, recs, zone)
        elif ac.must_alert:
            _require(ac.expect == "entered", f"{ac.icao24}: unknown expectation {ac.expect!r}")
            reports = []
            for leg in ac.legs:
                lrecs = _leg_records(records, ac, leg)
                inside = [r for r in lrecs if zone.contains(r["lat"], r["lon"])]
                depth = max((zone.depth_km(r["lat"], r["lon"]) for r in inside), default=0.0)
                _require(
                    len(inside) >= 3,
                    f"{ac.icao24} {leg.callsign}: only {len(inside)} fixes inside the zone",
                )
                _require(
                    depth >= CLEARLY_INSIDE_KM,
                    f"{ac.icao24} {leg.callsign}: deepest fix only {depth:.1f} km inside",
                )
                first_in, last_in = inside[0]["ts"], inside[-1]["ts"]
                after = next(
                    (
                        r
                        for r in lrecs
                        if r["ts"] > last_in and not zone.contains(r["lat"], r["lon"])
                    ),
                    None,
                )
                before = next(
                    (
                        r
                        for r in reversed(lrecs)
                        if r["ts"] < first_in and not zone.contains(r["lat"], r["lon"])
                    ),
                    None,
                )
                reports.append(
                    LegReport(
                        leg.callsign, leg.origin, leg.dest, len(lrecs), inside, depth, after, before
                    )
                )
            must_alert[ac.icao24] = reports
        else:
            pts = [(r["lat"], r["lon"]) for r in recs]
            _require(
                not any(zone.contains(lat, lon) for lat, lon in pts),
                f"{ac.icao24} {ac.description}: fix inside the zone",
            )
            _require(
                not zone.path_intersects_lonlat(pts),
                f"{ac.icao24} {ac.description}: path crosses the zone",
            )
            seen = zone.path_clearance_km(pts)
            truth = zone.path_clearance_km(ac.legs[0].traj.plan.route.dense_points(2.0))
            _require(
                seen >= MIN_CLEARANCE_KM,
                f"{ac.icao24} {ac.description}: recorded path {seen:.1f} km from the zone",
            )
            _require(
                truth >= MIN_CLEARANCE_KM,
                f"{ac.icao24} {ac.description}: flown path {truth:.1f} km from the zone",
            )
            if ac.category == "dandong":
                _require(
                    seen <= DANDONG_MAX_CLEARANCE_KM,
                    f"{ac.icao24} {ac.description}: only came within {seen:.1f} km",
                )
            clearance[ac.icao24] = seen

    _check_il62(sc, zone, must_alert[IL62_ICAO24])
    background = [a for a in sc.aircraft if not a.must_alert]
    _require(
        len(background) >= MIN_BACKGROUND_AIRCRAFT, f"only {len(background)} background aircraft"
    )
    for cat in ("yellow_sea", "dandong", "sea_of_japan", "other"):
        _require(any(a.category == cat for a in background), f"no {cat} flights")
    _require(bool(signal_lost), "no must-alert flight fades before the zone")
    return Report(must_alert, clearance, signal_lost)


def _angle_diff_deg(a: float, b: float) -> float:
    """Smallest absolute difference between two bearings in degrees."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


def _check_signal_lost(
    ac: Aircraft, recs: Sequence[dict[str, Any]], zone: Zone
) -> SignalLostReport:
    """A flight last heard level and straight, 3-6 min short of the zone, and never after.

    No fix is inside the zone. Extrapolating the last fix on a great circle at its reported
    ground speed and track enters the zone 3-6 min later (within 10 min) and stays inside
    for at least 2 min; the simulated truth does enter, close to the predicted time, still
    level at cruise.
    """
    _require(len(ac.legs) == 1, f"{ac.icao24}: a signal-lost flight has one leg")
    leg = ac.legs[0]
    name = f"{ac.icao24} {leg.callsign}"
    _require(
        not any(zone.contains(r["lat"], r["lon"]) for r in recs), f"{name}: fix inside the zone"
    )
    last = recs[-1]
    cruise_ft = max(lvl for _, lvl in leg.traj.plan.levels)
    final = [r for r in recs if r["ts"] >= last["ts"] - SIGNAL_LOST_FINAL_S]
    _require(len(final) >= 4, f"{name}: only {len(final)} fixes in the final stretch")
    for r in final:
        _require(
            all(k in r for k in ("alt_ft", "gs_kt", "track_deg", "vrate_fpm")),
            f"{name}: final fix without altitude, speed, track or vertical rate: {r}",
        )
        _require(not r["on_ground"], f"{name}: final fix on the ground: {r}")
        _require(r["vrate_fpm"] == 0, f"{name}: final fix not level: {r}")
        _require(abs(r["alt_ft"] - cruise_ft) <= 100, f"{name}: final fix not at cruise: {r}")
        _require(
            _angle_diff_deg(r["track_deg"], last["track_deg"]) <= 2.0,
            f"{name}: final stretch not straight: {r}",
        )
        _require(abs(r["gs_kt"] - last["gs_kt"]) <= 5.0, f"{name}: final speed not steady: {r}")
    origin: LatLon = (last["lat"], last["lon"])

    def ahead(dt_s: float) -> LatLon:
        return destination(origin, last["track_deg"], last["gs_kt"] * dt_s / 3600.0)

    entry_s = next(
        (
            float(dt)
            for dt in range(1, int(SIGNAL_LOST_HORIZON_S) + 1)
            if zone.contains(*ahead(float(dt)))
        ),
        None,
    )
    _require(entry_s is not None, f"{name}: extrapolated path does not enter the zone in 10 min")
    assert entry_s is not None
    _require(
        SIGNAL_LOST_ENTRY_S[0] <= entry_s <= SIGNAL_LOST_ENTRY_S[1],
        f"{name}: extrapolated entry {entry_s:.0f} s after the last fix (want 180-360 s)",
    )
    _require(
        all(zone.contains(*ahead(entry_s + k)) for k in range(int(SIGNAL_LOST_STAY_S) + 1)),
        f"{name}: extrapolated path leaves the zone within {SIGNAL_LOST_STAY_S:.0f} s",
    )
    traj = leg.traj
    true_entry = next(
        (
            last["ts"] + dt
            for dt in range(1, 1801)
            if zone.contains(*traj.state_at(last["ts"] + dt).pos)
        ),
        None,
    )
    _require(true_entry is not None, f"{name}: the simulated flight never enters the zone")
    assert true_entry is not None
    _require(
        abs(true_entry - (last["ts"] + entry_s)) <= 30.0,
        f"{name}: true entry {utc_text(true_entry)} far from the predicted one",
    )
    at_entry = traj.state_at(true_entry)
    _require(
        abs(at_entry.alt_ft - cruise_ft) <= 100 and abs(at_entry.vrate_fpm) < 1.0,
        f"{name}: not level at cruise when it enters the zone",
    )
    _require(
        leg.dest == "ZKPY" and traj.touchdown_s() > true_entry,
        f"{name}: does not land at Pyongyang after entering",
    )
    return SignalLostReport(
        leg.callsign,
        leg.origin,
        leg.dest,
        len(recs),
        last,
        len(final),
        entry_s,
        ahead(entry_s),
        true_entry,
    )


def _check_il62(sc: Scenario, zone: Zone, reports: list[LegReport]) -> None:
    """The Il-62M's story: timings, coverage shape, and only a few fixes inside the DPRK."""
    il62 = next(a for a in sc.aircraft if a.icao24 == IL62_ICAO24)
    out_leg, back_leg = il62.legs
    t_land = out_leg.traj.touchdown_s()
    _require(
        IL62_LANDING_EARLIEST_S <= t_land <= IL62_LANDING_LATEST_S,
        f"Il-62M lands at {utc_text(t_land)}",
    )
    _require(
        utc_epoch_s(2023, 9, 25, 16, 0) <= out_leg.traj.t0_s <= utc_epoch_s(2023, 9, 25, 21, 0),
        "Il-62M departure time",
    )
    t_up = back_leg.traj.liftoff_s()
    _require(
        utc_epoch_s(2023, 9, 28, 3, 0) <= t_up <= utc_epoch_s(2023, 9, 28, 6, 0),
        "Il-62M return time",
    )
    zkpy = AIRPORTS["ZKPY"].pos
    for rep in reports:
        _require(
            3 <= len(rep.inside) <= 8,
            f"Il-62M {rep.origin}-{rep.dest}: {len(rep.inside)} fixes inside (want 3-8)",
        )
        for r in rep.inside:
            _require(
                not r["on_ground"] and r.get("alt_ft", 0) >= 8000,
                f"Il-62M low/on ground inside the zone: {r}",
            )
            _require(
                gc_distance_nm(zkpy, (r["lat"], r["lon"])) * KM_PER_NM > 30.0,
                f"Il-62M fix near ZKPY: {r}",
            )
    recs = [r for r in sc.records if r["icao24"] == IL62_ICAO24]
    _require(
        not any(r["on_ground"] and r["lon"] > 100 for r in recs),
        "Il-62M seen on the ground in the east",
    )
    west = [
        b["ts"] - a["ts"] for a, b in itertools.pairwise(recs) if a["lon"] < 50 and b["lon"] < 50
    ]
    west.sort()
    _require(
        bool(west) and west[len(west) // 2] <= 10.0,
        "Il-62M coverage over western Russia is not dense",
    )
    siberia_gaps = [
        b["ts"] - a["ts"]
        for a, b in itertools.pairwise(recs)
        if 60 < a["lon"] < 118 and 60 < b["lon"] < 118
    ]
    _require(
        sum(g >= 600 for g in siberia_gaps) >= 3, "Il-62M coverage over Siberia has no long gaps"
    )
    _require(
        first_inside_day(reports[0]) == 26 and first_inside_day(reports[1]) == 28,
        "Il-62M inside-zone dates",
    )


def first_inside_day(rep: LegReport) -> int:
    """UTC day of month of a leg's first fix inside the zone."""
    return datetime.fromtimestamp(rep.inside[0]["ts"], tz=UTC).day


# --------------------------------------------------------------------------- expected flights


def expected_flights(sc: Scenario, report: Report, recording_name: str) -> dict[str, Any]:
    """The cross-check file for tests: who must alert, who must not, and why."""
    from importlib.metadata import version

    must_alert = []
    for ac in sc.aircraft:
        if not ac.must_alert:
            continue
        legs = []
        lost = report.signal_lost.get(ac.icao24)
        if lost is not None:
            last = lost.last_fix
            entry_ts = round(last["ts"] + lost.predicted_entry_after_s, 1)
            legs.append(
                {
                    "callsign": lost.callsign,
                    "from": lost.origin,
                    "to": lost.dest,
                    "fixes": lost.fixes,
                    "fixes_inside": 0,
                    "last_fix_ts": last["ts"],
                    "last_fix_utc": utc_text(last["ts"]),
                    "last_fix_lat": last["lat"],
                    "last_fix_lon": last["lon"],
                    "last_fix_alt_ft": last["alt_ft"],
                    "last_fix_gs_kt": last["gs_kt"],
                    "last_fix_track_deg": last["track_deg"],
                    "predicted_entry_after_s": lost.predicted_entry_after_s,
                    "predicted_entry_ts": entry_ts,
                    "predicted_entry_utc": utc_text(entry_ts),
                    "predicted_entry_lat": round(lost.predicted_entry_point[0], 5),
                    "predicted_entry_lon": round(lost.predicted_entry_point[1], 5),
                }
            )
        for rep in report.must_alert.get(ac.icao24, []):
            legs.append(
                {
                    "callsign": rep.callsign,
                    "from": rep.origin,
                    "to": rep.dest,
                    "fixes": rep.fixes,
                    "fixes_inside": len(rep.inside),
                    "first_inside_ts": rep.inside[0]["ts"],
                    "first_inside_utc": utc_text(rep.inside[0]["ts"]),
                    "last_inside_ts": rep.inside[-1]["ts"],
                    "last_inside_utc": utc_text(rep.inside[-1]["ts"]),
                    "max_depth_km": round(rep.max_depth_km, 1),
                }
            )
            if rep.last_outside_before:
                legs[-1]["last_outside_before_ts"] = rep.last_outside_before["ts"]
                legs[-1]["last_outside_before_utc"] = utc_text(rep.last_outside_before["ts"])
            if rep.first_outside_after:
                legs[-1]["first_outside_after_ts"] = rep.first_outside_after["ts"]
                legs[-1]["first_outside_after_utc"] = utc_text(rep.first_outside_after["ts"])
        entry: dict[str, Any] = {
            "icao24": ac.icao24,
            "callsign": ac.legs[0].callsign,
            "callsigns": list(dict.fromkeys(leg.callsign for leg in ac.legs)),
            "expect": ac.expect,
        }
        if ac.registration:
            entry["registration"] = ac.registration
        must_alert.append(
            entry
            | {
                "type": ac.type_code,
                "operator": ac.operator,
                "category": ac.category,
                "route": ac.route_name,
                "description": ac.description,
                "legs": legs,
            }
        )
    must_not = [
        {
            "icao24": ac.icao24,
            "callsign": ac.legs[0].callsign,
            "category": ac.category,
            "route": ac.route_name,
            "min_distance_km": round(report.clearance_km[ac.icao24], 1),
        }
        for ac in sorted(sc.aircraft, key=lambda a: a.icao24)
        if not ac.must_alert
    ]
    return {
        "scenario": SCENARIO,
        "recording": recording_name,
        "format_version": FORMAT_VERSION,
        "seed": SEED,
        "reconstruction": True,
        "zone": {
            "source": "timezonefinder",
            "tz_name": ZONE_TZ_NAME,
            "timezonefinder": version("timezonefinder"),
            "timezonefinder_data": version("timezonefinder-data"),
            "license": "ODbL-1.0 (OpenStreetMap contributors, via timezone-boundary-builder)",
        },
        "window": {"start_utc": utc_text(WINDOW_START_S), "end_utc": utc_text(WINDOW_END_S)},
        "counts": {
            "aircraft": len(sc.aircraft),
            "positions": len(sc.records),
            "must_alert": len(must_alert),
            "must_not_alert": len(must_not),
        },
        "min_clearance_km": MIN_CLEARANCE_KM,
        "must_alert": must_alert,
        "must_not_alert": must_not,
    }


def encode_expected(obj: dict[str, Any]) -> bytes:
    """Stable, human-readable JSON for the expected-flights file."""
    return (json.dumps(obj, indent=2, ensure_ascii=True) + "\n").encode("ascii")


def expected_path_for(out: Path) -> Path:
    """``x.jsonl.gz`` -> ``x.expected-flights.json`` (same directory)."""
    name = out.name
    stem = name[: -len(".jsonl.gz")] if name.endswith(".jsonl.gz") else name
    return out.with_name(stem + EXPECTED_SUFFIX)


# --------------------------------------------------------------------------- CLI


def generate() -> tuple[Scenario, Report, bytes, bytes]:
    """Build and check the scenario; return it with the gzip and expected-file bytes."""
    sc = build_scenario(SEED)
    report = check_scenario(sc, Zone())
    data = gzip_bytes(encode_jsonl(sc.records))
    _require(len(data) <= MAX_FILE_BYTES, f"recording is {len(data)} bytes, over {MAX_FILE_BYTES}")
    expected = encode_expected(expected_flights(sc, report, DEFAULT_OUT.name))
    return sc, report, data, expected


def summary_lines(sc: Scenario, report: Report, data: bytes) -> Iterator[str]:
    """Human-readable summary of the generated scenario."""
    cats: dict[str, int] = {}
    for ac in sc.aircraft:
        cats[ac.category] = cats.get(ac.category, 0) + 1
    yield f"{SCENARIO}: {len(sc.aircraft)} aircraft, {len(sc.records)} positions, {len(data)} bytes gzip"
    yield "  categories: " + ", ".join(f"{k}={v}" for k, v in sorted(cats.items()))
    yield f"  time span: {utc_text(sc.records[0]['ts'])} .. {utc_text(sc.records[-1]['ts'])}"
    yield "  must alert:"
    for icao24, reps in report.must_alert.items():
        for rep in reps:
            after = (
                f", first outside after {utc_text(rep.first_outside_after['ts'])}"
                if rep.first_outside_after
                else ""
            )
            yield (
                f"    {icao24} {rep.callsign:<7} {rep.origin}-{rep.dest}: {len(rep.inside)} fixes inside, "
                f"{utc_text(rep.inside[0]['ts'])} .. {utc_text(rep.inside[-1]['ts'])}{after}, deepest {rep.max_depth_km:.1f} km"
            )
    for icao24, lost in report.signal_lost.items():
        last = lost.last_fix
        entry = last["ts"] + lost.predicted_entry_after_s
        yield (
            f"    {icao24} {lost.callsign:<7} {lost.origin}-{lost.dest}: 0 fixes inside, last fix "
            f"{utc_text(last['ts'])} at {last['lat']:.5f} {last['lon']:.5f} FL{last['alt_ft'] // 100:03d}, "
            f"predicted entry {utc_text(entry)} (+{lost.predicted_entry_after_s:.0f} s) at "
            f"{lost.predicted_entry_point[0]:.5f} {lost.predicted_entry_point[1]:.5f} (signal lost)"
        )
    closest = sorted(report.clearance_km.items(), key=lambda kv: kv[1])[:3]
    yield (
        "  must not alert: "
        + f"{len(report.clearance_km)} aircraft, closest "
        + ", ".join(f"{k} {v:.1f} km" for k, v in closest)
    )


def _gunzip(data: bytes) -> bytes:
    """Decompress gzip bytes."""
    return gzip.decompress(data)


def main(argv: Sequence[str] | None = None, emit: Callable[[str], None] = print) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"recording path (default {DEFAULT_OUT.name})"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="regenerate in memory and compare with the files on disk",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    expected_out = expected_path_for(out)
    try:
        sc, report, data, expected = generate()
    except ScenarioError as exc:
        emit(f"scenario check failed: {exc}")
        return 2
    for line in summary_lines(sc, report, data):
        emit(line)
    if args.check:
        ok = True
        for path, fresh, unpack in ((out, data, _gunzip), (expected_out, expected, lambda b: b)):
            if not path.exists():
                emit(f"check: {path} is missing")
                ok = False
                continue
            old = path.read_bytes()
            if old == fresh:
                emit(f"check: {path.name} is up to date")
            elif unpack(old) == unpack(fresh):
                emit(
                    f"check: {path.name} content matches (compressed bytes differ; different zlib?)"
                )
            else:
                emit(f"check: {path.name} differs from a fresh generation")
                ok = False
        return 0 if ok else 1
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    expected_out.write_bytes(expected)
    emit(f"wrote {out} and {expected_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
