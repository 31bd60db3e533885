"""A shapely oracle for zone visits along a recorded track, independent of the tracker.

The true path is the full-resolution track, straight lon/lat lines between consecutive fixes
(the same path model as ``streams.zones``). The oracle asks shapely where each segment is
inside the zone, then applies the detection rules in their plainest form:

- stretches inside less than ``exit_confirm_s`` apart are one visit (hysteresis);
- a visit with no fix inside that spends less than ``min_cross_inside_s`` inside is none;
- across a silence longer than ``max_cross_gap_s`` nothing is known: the track is split
  there, and a visit at the first fix after the split is a sighting, not an entry.

It shares no code with ``streams.tracking`` beyond the ``Zone`` it is given (its geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from streams.models import PositionReport
from streams.tracking import Policy
from streams.zones import Zone

__all__ = ["OracleVisit", "oracle_visits"]


@dataclass(frozen=True, slots=True)
class OracleVisit:
    """A visit: when it began, and whether it began at the first fix of a track piece (a
    sighting: the track starts inside, or resumes inside after a long silence)."""

    start_ts: float
    end_ts: float
    sighting: bool


def _pieces(track: list[PositionReport], gap_s: float) -> list[list[PositionReport]]:
    """The track in strictly increasing time, split at silences longer than ``gap_s``."""
    pieces: list[list[PositionReport]] = []
    for report in track:
        if pieces and pieces[-1] and report.ts <= pieces[-1][-1].ts:
            continue  # duplicate or out of order: not part of the path
        if not pieces or report.ts - pieces[-1][-1].ts > gap_s:
            pieces.append([])
        pieces[-1].append(report)
    return pieces


def _inside_stretches(piece: list[PositionReport], zone: Zone) -> list[tuple[float, float, bool]]:
    """(start, end, a fix inside) stretches of time along the piece's path inside the zone."""
    geometry = zone.geometry
    lon = np.array([r.lon for r in piece])
    lat = np.array([r.lat for r in piece])
    ts = np.array([r.ts for r in piece])
    fix_in = shapely.intersects_xy(geometry, lon, lat)
    stretches: list[tuple[float, float, bool]] = []

    def add(t_a: float, t_b: float, fix: bool) -> None:
        if stretches and abs(stretches[-1][1] - t_a) < 1e-6:
            start, _, had_fix = stretches[-1]
            stretches[-1] = (start, t_b, had_fix or fix)
        else:
            stretches.append((t_a, t_b, fix))

    if len(piece) == 1:
        return [(ts[0], ts[0], True)] if fix_in[0] else []
    lines = shapely.linestrings(
        np.stack([np.stack([lon[:-1], lat[:-1]], 1), np.stack([lon[1:], lat[1:]], 1)], 1)
    )
    boundary = geometry.boundary
    shapely.prepare(boundary)
    crosses = shapely.intersects(boundary, lines)
    for i, line in enumerate(lines):
        t_a, t_b = float(ts[i]), float(ts[i + 1])
        if not crosses[i]:
            if fix_in[i]:
                add(t_a, t_b, True)
            continue
        inside = shapely.intersection(line, geometry)
        parts = [g for g in getattr(inside, "geoms", [inside]) if g.geom_type == "LineString"]
        spans = []
        for part in parts:
            if part.is_empty:
                continue
            f = sorted(line.project(shapely.Point(c), normalized=True) for c in part.coords)
            spans.append((f[0], f[-1]))
        for f0, f1 in sorted(spans):
            add(t_a + f0 * (t_b - t_a), t_a + f1 * (t_b - t_a), bool(
                (f0 < 1e-9 and fix_in[i]) or (f1 > 1 - 1e-9 and fix_in[i + 1])
            ))  # fmt: skip
        if not spans and fix_in[i + 1]:
            add(t_b, t_b, True)  # the path touches the zone at the next fix only
    return stretches


def oracle_visits(track: list[PositionReport], zone: Zone, policy: Policy) -> list[OracleVisit]:
    """The visits of one aircraft's time-ordered ``track`` to ``zone`` (2-D, no band)."""
    visits: list[OracleVisit] = []
    for piece in _pieces(track, policy.max_cross_gap_s):
        merged: list[list[float]] = []  # [start, end, inside_s, fix inside]
        for t_a, t_b, fix in _inside_stretches(piece, zone):
            if merged and t_a - merged[-1][1] < policy.exit_confirm_s:
                merged[-1][1] = t_b
                merged[-1][2] += t_b - t_a
                merged[-1][3] = merged[-1][3] or fix
            else:
                merged.append([t_a, t_b, t_b - t_a, fix])
        for start, end, inside_s, fix in merged:
            if not fix and inside_s < policy.min_cross_inside_s:
                continue
            visits.append(OracleVisit(start, end, sighting=abs(start - piece[0].ts) < 1e-6))
    return visits
