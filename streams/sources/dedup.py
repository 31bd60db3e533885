"""One stream from several sources: drop a position another source already gave.

Two feeds that hear the same aircraft (a desk's own receiver and an aggregator, or SBS and
aircraft.json from one readsb) report the same fixes, their times a fraction of a second
apart. :class:`Deduplicator` drops a position when a *different* source already gave one
of the same aircraft within ``tolerance_s`` seconds and ``tolerance_m`` metres; positions
of one source are never compared with each other (that source's own repeats are the
tracker's business, which drops duplicates and late fixes per aircraft). The position kept
is the first to arrive, with its ``source``.

Memory is bounded: the last :data:`KEEP_PER_AIRCRAFT` positions per aircraft, aircraft
forgotten :data:`FORGET_AFTER_S` (position time) after their last position, at most
``max_aircraft`` held.

Pure: standard library and this package only.
"""

from __future__ import annotations

import math
from collections import deque

from streams.models import PositionReport

__all__ = ["FORGET_AFTER_S", "KEEP_PER_AIRCRAFT", "Deduplicator"]

#: Recent positions kept per aircraft: a second's worth from a few sources.
KEEP_PER_AIRCRAFT = 8
#: An aircraft unheard this long (position time) is forgotten.
FORGET_AFTER_S = 120.0
#: Metres per degree of latitude (mean).
_M_PER_DEG = 111_195.0
#: Positions between two sweeps of forgotten aircraft.
_SWEEP_EVERY = 50_000


class Deduplicator:
    """Drops cross-source repeats (module docstring). Defaults: 1 s and 250 m, the ground
    a 500 kt aircraft covers in half a second, while two sources' copies of one message
    agree to metres."""

    def __init__(
        self, *, tolerance_s: float = 1.0, tolerance_m: float = 250.0, max_aircraft: int = 200_000
    ) -> None:
        self.tolerance_s = tolerance_s
        self.tolerance_m = tolerance_m
        self.max_aircraft = max_aircraft
        self._recent: dict[str, deque[tuple[float, float, float, str]]] = {}
        self._latest_ts = -math.inf
        self._seen = 0
        #: Positions dropped as repeats.
        self.duplicates = 0

    def __len__(self) -> int:
        return len(self._recent)

    def is_duplicate(self, report: PositionReport, origin: str) -> bool:
        """Whether a source other than ``origin`` (the source's name, e.g. its URL) already
        gave this position; else remember it."""
        self._seen += 1
        if self._seen % _SWEEP_EVERY == 0 or len(self._recent) >= self.max_aircraft:
            self._sweep()
        if report.ts > self._latest_ts:
            self._latest_ts = report.ts
        recent = self._recent.get(report.icao24)
        if recent is None:
            recent = self._recent[report.icao24] = deque(maxlen=KEEP_PER_AIRCRAFT)
        else:
            tol_s = self.tolerance_s
            tol_m2 = self.tolerance_m**2
            coslat = math.cos(math.radians(report.lat))
            for ts, lat, lon, seen_from in recent:
                if seen_from == origin or abs(ts - report.ts) > tol_s:
                    continue
                dlat = (lat - report.lat) * _M_PER_DEG
                dlon = ((lon - report.lon + 180.0) % 360.0 - 180.0) * _M_PER_DEG * coslat
                if dlat * dlat + dlon * dlon <= tol_m2:
                    self.duplicates += 1
                    return True
        recent.append((report.ts, report.lat, report.lon, origin))
        return False

    def _sweep(self) -> None:
        horizon = self._latest_ts - FORGET_AFTER_S
        for icao24 in [k for k, d in self._recent.items() if d[-1][0] < horizon]:
            del self._recent[icao24]
        if len(self._recent) >= self.max_aircraft:  # still full: forget the oldest half
            by_age = sorted(self._recent, key=lambda k: self._recent[k][-1][0])
            for icao24 in by_age[: len(by_age) // 2]:
                del self._recent[icao24]
