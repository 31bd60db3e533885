"""Airspace zones: polygons, point-in-zone tests, boundary crossings along a path, loading.

A :class:`Zone` is an id, a human name and a (multi)polygon in WGS84 lon/lat, with holes, and
an optional altitude band in feet. Paths between two fixes are modelled as straight lines in
lon/lat (the "plate carrée" path): over the tens of kilometres between sparse fixes this
differs from the great circle by far less than the uncertainty of where the aircraft really
flew, and it keeps the crossing computation exact and cheap.

Sources:

- built-in ``dprk``: DPRK territorial airspace (land plus the 12 NM territorial sea), built at
  first use from the ``Asia/Pyongyang`` outline in the installed ``timezonefinder-data``
  package (OpenStreetMap contributors via timezone-boundary-builder, ODbL 1.0);
- built-in ``zkkp``: the Pyongyang FIR, an approximation drawn by a flight-simulation network
  (VATSpy Data Project, CC BY-SA 4.0), read from the packaged
  ``streams/zone_data/zkkp_fir.geojson`` (provenance and licence notice beside it);
- GeoJSON files: a FeatureCollection (or single Feature) of Polygon/MultiPolygon features, with
  optional ``properties`` ``id``, ``name``, ``floor_ft``, ``ceiling_ft``, ``antimeridian``.

Hostile or mistaken zone files: a file may hold at most ``max_zones_per_file`` zones and a zone
at most ``max_vertices`` vertices (:data:`MAX_VERTICES`, :data:`MAX_ZONES_PER_FILE`; the
settings ``SKYFENCE_ZONE_MAX_VERTICES`` and ``SKYFENCE_ZONE_FILE_MAX_ZONES``), counted before
any geometry is built, so a huge file fails at once with a :class:`ZoneError` naming the limit.
A polygon whose outer ring spans more than 180 deg of longitude, all within +-180, is read as
crossing the antimeridian (RFC 7946: ``175`` to ``-175`` is 10 deg wide, not 350), logged, and
recorded in :attr:`Zone.antimeridian`; ``"antimeridian": false`` in its properties keeps the
literal reading. Zone ids and names are free text: print them through
:func:`streams.text.printable`.

Pure: imports the standard library, shapely and this package; reads files only when asked.
"""

from __future__ import annotations

import functools
import importlib.resources
import itertools
import logging
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
import shapely.affinity
import shapely.geometry
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.validation import explain_validity

from streams.errors import ZoneError
from streams.geo import EARTH_RADIUS_M
from streams.text import printable

__all__ = [
    "BUILTIN_ZONES",
    "DPRK_ATTRIBUTION",
    "MAX_VERTICES",
    "MAX_ZONES_PER_FILE",
    "ZKKP_ATTRIBUTION",
    "Crossing",
    "Zone",
    "ZoneIndex",
    "builtin_zone",
    "load_geojson_zones",
    "load_zones",
    "parse_zone_spec",
    "timezone_names",
    "timezone_zone",
]

#: Attribution required by the ODbL for the built-in DPRK outline (README and derived files).
DPRK_ATTRIBUTION = (
    "DPRK airspace outline: Asia/Pyongyang time-zone boundary from timezone-boundary-builder "
    "(timezonefinder-data), data (c) OpenStreetMap contributors, ODbL 1.0"
)

#: Upstream commit of the built-in ZKKP outline (``streams/zone_data/zkkp_fir.geojson``).
ZKKP_COMMIT = "9f8d09cbdf139063510823f82325ab79c740a4ca"

#: Attribution required by CC BY-SA 4.0 for the built-in ZKKP outline (README, derived files).
ZKKP_ATTRIBUTION = (
    "Pyongyang FIR (ZKKP) outline: (c) VATSpy Data Project contributors "
    f"(github.com/vatsimnetwork/vatspy-data-project, Boundaries.geojson at {ZKKP_COMMIT[:8]}), "
    "CC BY-SA 4.0 (creativecommons.org/licenses/by-sa/4.0); a flight-simulation network's "
    "approximation, not official chart data"
)

#: Attribution for zones built from any time-zone outline (``tz:`` specs).
TZ_ATTRIBUTION = (
    "Time-zone boundaries from timezone-boundary-builder (timezonefinder-data), "
    "data (c) OpenStreetMap contributors, ODbL 1.0"
)

log = logging.getLogger(__name__)

#: Default cap on the vertices of one zone read from a file (SKYFENCE_ZONE_MAX_VERTICES): a
#: 100k-vertex zone loads in well under 2 s (`make bench`, zones_100k); 1M took minutes.
MAX_VERTICES = 200_000
#: Default cap on the zones of one file (SKYFENCE_ZONE_FILE_MAX_ZONES).
MAX_ZONES_PER_FILE = 10_000

#: Built-in zone ids and their descriptions.
BUILTIN_ZONES: dict[str, str] = {
    "dprk": "DPRK territorial airspace: land plus the 12 NM territorial sea (Asia/Pyongyang outline)",
    "zkkp": "Pyongyang FIR (ZKKP): the VATSpy Data Project's approximation (CC BY-SA 4.0)",
}


@dataclass(frozen=True, slots=True)
class Crossing:
    """A boundary crossing on the segment between two fixes.

    ``fraction`` is the position along the segment (0 = first fix, 1 = second fix);
    ``entering`` is True when the path goes from outside to inside at this point.
    """

    fraction: float
    lat: float
    lon: float
    entering: bool


@dataclass(frozen=True)
class Zone:
    """An airspace zone: id, name, lon/lat (multi)polygon, optional altitude band in feet."""

    id: str
    name: str
    geometry: MultiPolygon
    floor_ft: float | None = None
    ceiling_ft: float | None = None
    source: str = ""
    attribution: str | None = None
    #: How a file's ring spanning more than 180 deg of longitude was read: ``"crossing"``
    #: (across the antimeridian, RFC 7946), ``"literal"`` (as given, asked for by the file's
    #: ``"antimeridian": false``), or ``""`` (no such ring).
    antimeridian: str = ""
    # Derived, filled in __post_init__: bounds for the cheap reject, prepared geometry, and
    # for zones that touch the antimeridian a copy extended by +-360 deg for unwrapped paths.
    _bounds: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)
    _ext: MultiPolygon = field(init=False, repr=False, compare=False)
    _cache: dict[str, Any] = field(init=False, repr=False, compare=False)
    _grid: _Grid | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.geometry.is_empty:
            raise ZoneError(f"zone {self.id!r}: geometry is empty")
        geometry = _normalise_longitudes(self.geometry)
        object.__setattr__(self, "geometry", geometry)
        shapely.prepare(geometry)
        object.__setattr__(self, "_bounds", tuple(geometry.bounds))
        min_lon, _, max_lon, _ = self._bounds
        ext = geometry
        if min_lon <= -180.0 + _WRAP_MARGIN_DEG or max_lon >= 180.0 - _WRAP_MARGIN_DEG:
            ext = _as_multipolygon(
                shapely.union_all(
                    [
                        geometry,
                        shapely.affinity.translate(geometry, 360.0),
                        shapely.affinity.translate(geometry, -360.0),
                    ]
                ),
                f"zone {self.id!r}",
            )
            shapely.prepare(ext)
        object.__setattr__(self, "_ext", ext)
        object.__setattr__(self, "_cache", {})
        object.__setattr__(self, "_grid", None)

    @property
    def wraps(self) -> bool:
        """True when the zone touches the antimeridian (paths across it need unwrapping)."""
        return self._ext is not self.geometry

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of the zone."""
        return self._bounds

    def in_band(self, alt_ft: float | None) -> bool:
        """True when ``alt_ft`` is within the zone's altitude band (unknown altitude counts)."""
        if alt_ft is None:
            return True
        if self.floor_ft is not None and alt_ft < self.floor_ft:
            return False
        return not (self.ceiling_ft is not None and alt_ft > self.ceiling_ft)

    def contains_2d(self, lat: float, lon: float) -> bool:
        """True when the point is inside the zone's outline (boundary counts as inside).

        Three tiers, cheapest first: the bounding box; a grid of cells known to be wholly
        inside or outside (built on first use); shapely only for cells the outline crosses.
        """
        min_lon, min_lat, max_lon, max_lat = self._bounds
        if lat < min_lat or lat > max_lat or lon < min_lon or lon > max_lon:
            return False
        grid = self._grid
        if grid is None:
            grid = _Grid(self.geometry, self._bounds)
            object.__setattr__(self, "_grid", grid)
        col = int((lon - min_lon) * grid.inv_cell_deg)
        row = int((lat - min_lat) * grid.inv_cell_deg)
        index = row * grid.cols + col
        cell = grid.cells[index]
        if cell != _BOUNDARY:
            return cell == _INSIDE
        # A cell the outline crosses: its sub-cells, classified alike on first use, resolve
        # most points near a border without calling shapely.
        sub = grid.sub.get(index)
        if sub is None:
            sub = grid.sub[index] = self._sub_cells(index)
        sub_col = int(((lon - min_lon) * grid.inv_cell_deg - col) * _SUB)
        sub_row = int(((lat - min_lat) * grid.inv_cell_deg - row) * _SUB)
        if 0 <= sub_col < _SUB and 0 <= sub_row < _SUB:
            cell = sub[sub_row * _SUB + sub_col]
            if cell != _BOUNDARY:
                return cell == _INSIDE
        return bool(_intersects_xy(self.geometry, lon, lat))

    def _sub_cells(self, index: int) -> bytes:
        """Boundary grid cell ``index`` split into ``_SUB`` x ``_SUB`` sub-cells, each wholly
        outside, wholly inside, or crossed (as the grid's cells; row-major)."""
        grid = self._grid
        assert grid is not None
        row, col = divmod(index, grid.cols)
        cell_deg = 1.0 / grid.inv_cell_deg
        sub_deg = cell_deg / _SUB
        steps = np.arange(_SUB) * sub_deg
        x0, y0 = np.meshgrid(
            self._bounds[0] + col * cell_deg + steps, self._bounds[1] + row * cell_deg + steps
        )
        # Padded a hair, so a point whose sub-cell index rounds across a side is still in
        # the box it is classified by.
        pad = sub_deg * 1e-6
        boxes = shapely.box(
            x0.ravel() - pad, y0.ravel() - pad, x0.ravel() + sub_deg + pad, y0.ravel() + sub_deg + pad
        )
        inside = shapely.contains_properly(self.geometry, boxes)
        touches = shapely.intersects(self.geometry, boxes)
        return np.where(inside, _INSIDE, np.where(touches, _BOUNDARY, _OUTSIDE)).astype(np.uint8).tobytes()

    def contains(self, lat: float, lon: float, alt_ft: float | None = None) -> bool:
        """True when the point is inside the outline and within the altitude band."""
        return self.contains_2d(lat, lon) and self.in_band(alt_ft)

    def segment_may_touch(self, lat1: float, lon1: float, lat2: float, lon2: float) -> bool:
        """Cheap bounding-box test: False means the segment certainly misses the zone."""
        min_lon, min_lat, max_lon, max_lat = self._bounds
        return not (
            max(lat1, lat2) < min_lat
            or min(lat1, lat2) > max_lat
            or max(lon1, lon2) < min_lon
            or min(lon1, lon2) > max_lon
        )

    def crossings(self, lat1: float, lon1: float, lat2: float, lon2: float) -> list[Crossing]:
        """Where the straight lon/lat path from fix 1 to fix 2 crosses the outline, in order.

        Only changes of inside/outside status are reported: a path that touches the boundary
        and turns back gives nothing. The altitude band is not considered here.
        """
        if lat1 == lat2 and lon1 == lon2:
            return []
        geometry = self.geometry
        unwrapped = False
        if abs(lon2 - lon1) > 180.0:
            # The short way round crosses the antimeridian: unwrap the second fix.
            lon2 = lon1 + ((lon2 - lon1 + 180.0) % 360.0 - 180.0)
            if not self.wraps:
                return []
            geometry = self._ext
            unwrapped = True
        elif not self.segment_may_touch(lat1, lon1, lat2, lon2):
            return []
        # The outline's edges in the grid cells along the path: an empty list when the
        # grid says the path touches no outline cell (it cannot cross), None for long or
        # unwrapped paths (then shapely intersects the whole outline).
        cells = None if unwrapped else self._edges_in_one_cell(lat1, lon1, lat2, lon2)
        if cells is _NOT_ONE_CELL:
            cells = self._edges_along(lat1, lon1, lat2, lon2)
        if cells is None:
            line = LineString([(lon1, lat1), (lon2, lat2)])
            hits = line.intersection(self._boundary(geometry, unwrapped))
            found = [] if hits.is_empty else list(_fractions_of(line, hits))
        elif not cells:
            return []
        elif sum(len(c.rows) for c in cells) <= _SCALAR_EDGES_MAX:
            # A few edges (a short step near the border, the usual case): plain float
            # arithmetic, the same operations as the vectorised pass, without its overhead.
            found = []
            for cell in cells:
                found.extend(_segment_hits_rows(lon1, lat1, lon2, lat2, cell.rows))
        else:
            edges = cells[0].array if len(cells) == 1 else np.concatenate([c.array for c in cells])
            found = _segment_hits(lon1, lat1, lon2, lat2, edges)
        if not found:
            return []
        fractions = sorted({0.0, 1.0, *found})
        # Status is constant between consecutive boundary hits: sample each interval's middle
        # (through the cell grid: most middles are in cells wholly inside or outside).
        if unwrapped:
            def inside_at(lon: float, lat: float) -> bool:
                return bool(_intersects_xy(geometry, lon, lat))
        else:
            def inside_at(lon: float, lat: float) -> bool:
                return self.contains_2d(lat, lon)
        out: list[Crossing] = []
        prev_inside = inside_at(lon1, lat1)
        for lo, hi in itertools.pairwise(fractions):
            if hi - lo <= 1e-12:
                continue
            mid = (lo + hi) / 2.0
            inside = inside_at(lon1 + (lon2 - lon1) * mid, lat1 + (lat2 - lat1) * mid)
            if inside != prev_inside:
                out.append(
                    Crossing(
                        fraction=lo,
                        lat=lat1 + (lat2 - lat1) * lo,
                        lon=_wrap_lon(lon1 + (lon2 - lon1) * lo),
                        entering=inside,
                    )
                )
                prev_inside = inside
        return out

    def _boundary(self, geometry: MultiPolygon, unwrapped: bool) -> Any:
        """The outline of ``geometry`` (cached: 17,000 vertices for the DPRK)."""
        key = "boundary-ext" if unwrapped else "boundary"
        boundary = self._cache.get(key)
        if boundary is None:
            boundary = self._cache[key] = geometry.boundary
        return boundary

    def _segment_cells(
        self, lat1: float, lon1: float, lat2: float, lon2: float
    ) -> list[int] | None:
        """Indices of the grid cells the segment passes through (within the zone's bounding
        box), by a grid walk (Amanatides-Woo); None when the grid is not built or the walk
        would be long. Cells meeting the segment only at a corner are included."""
        grid = self._grid
        if grid is None:
            grid = _Grid(self.geometry, self._bounds)
            object.__setattr__(self, "_grid", grid)
        min_lon, min_lat, _, _ = self._bounds
        inv, cols = grid.inv_cell_deg, grid.cols
        rows = len(grid.cells) // cols
        gx1, gy1 = (lon1 - min_lon) * inv, (lat1 - min_lat) * inv
        gx2, gy2 = (lon2 - min_lon) * inv, (lat2 - min_lat) * inv
        col, row = math.floor(gx1), math.floor(gy1)
        end_col, end_row = math.floor(gx2), math.floor(gy2)
        if col == end_col and row == end_row:  # dense feeds: most steps stay in one cell
            return [row * cols + col] if 0 <= col < cols and 0 <= row < rows else []
        steps = abs(end_col - col) + abs(end_row - row)
        if steps > _WALK_CELLS_MAX:
            return None
        dx, dy = gx2 - gx1, gy2 - gy1
        step_c = 1 if dx > 0 else -1
        step_r = 1 if dy > 0 else -1
        inf = math.inf
        t_x = ((col + (dx > 0)) - gx1) / dx if dx else inf
        t_y = ((row + (dy > 0)) - gy1) / dy if dy else inf
        d_x = abs(1.0 / dx) if dx else inf
        d_y = abs(1.0 / dy) if dy else inf
        out: list[int] = []
        append = out.append
        # (Cells are appended inline, not through a helper: long walks visit ~100 cells.)
        if 0 <= col < cols and 0 <= row < rows:
            append(row * cols + col)
        for _ in range(steps + 2):
            if col == end_col and row == end_row:
                break
            if abs(t_x - t_y) < 1e-9:  # through a corner: take both neighbours too
                c = col + step_c
                if 0 <= c < cols and 0 <= row < rows:
                    append(row * cols + c)
                r = row + step_r
                if 0 <= col < cols and 0 <= r < rows:
                    append(r * cols + col)
                col, row = c, r
                t_x, t_y = t_x + d_x, t_y + d_y
            elif t_x < t_y:
                col, t_x = col + step_c, t_x + d_x
            else:
                row, t_y = row + step_r, t_y + d_y
            if 0 <= col < cols and 0 <= row < rows:
                append(row * cols + col)
        return out

    def _edges_in_one_cell(
        self, lat1: float, lon1: float, lat2: float, lon2: float
    ) -> list[_CellEdges]:
        """:meth:`_edges_along` for a step within one grid cell (most steps of a dense feed,
        even near a border), without the walk; :data:`_NOT_ONE_CELL` for any other step.
        (int() puts an end up to one cell outside the box in the edge cell, where the walk
        would find only that cell too: the part of the path outside the box crosses nothing.)"""
        grid = self._grid
        if grid is None:
            return _NOT_ONE_CELL
        min_lon, min_lat = self._bounds[0], self._bounds[1]
        inv = grid.inv_cell_deg
        col = int((lon1 - min_lon) * inv)
        row = int((lat1 - min_lat) * inv)
        if (
            col != int((lon2 - min_lon) * inv)
            or row != int((lat2 - min_lat) * inv)
            or not 0 <= col < grid.cols
            or not 0 <= row < grid.rows
        ):
            return _NOT_ONE_CELL
        index = row * grid.cols + col
        if grid.cells[index] != _BOUNDARY:
            return []
        found = grid.edges.get(index)
        if found is None:
            found = grid.edges[index] = _CellEdges(self._cell_edges(index))
        return [found] if found.rows else []

    def _edges_along(
        self, lat1: float, lon1: float, lat2: float, lon2: float
    ) -> list[_CellEdges] | None:
        """The outline's edges in the boundary cells the segment passes through, one entry per
        cell that holds any (each cell's edges found once, then cached), or None when the
        cells are not known (long paths). An edge spanning cells may appear more than once."""
        cells_on = self._segment_cells(lat1, lon1, lat2, lon2)
        grid = self._grid
        if cells_on is None or grid is None:
            return None
        cells = grid.cells
        by_cell = grid.edges
        out = []
        for index in cells_on:
            if cells[index] != _BOUNDARY:
                continue
            found = by_cell.get(index)
            if found is None:
                found = by_cell[index] = _CellEdges(self._cell_edges(index))
            if found.rows:
                out.append(found)
        return out

    def _cell_edges(self, index: int) -> np.ndarray:
        """The outline's edges whose bounding box meets grid cell ``index`` (a hair padded,
        so a crossing on a cell's side is not lost)."""
        grid = self._grid
        assert grid is not None
        edges = self._cache.get("edges")
        if edges is None:
            edges = self._cache["edges"] = _outline_edges(self.geometry)
        row, col = divmod(index, grid.cols)
        cell_deg = 1.0 / grid.inv_cell_deg
        pad = cell_deg * 1e-6
        x0 = self._bounds[0] + col * cell_deg - pad
        y0 = self._bounds[1] + row * cell_deg - pad
        x1, y1 = x0 + cell_deg + 2 * pad, y0 + cell_deg + 2 * pad
        ex1, ey1, ex2, ey2 = edges[:, 0], edges[:, 1], edges[:, 2], edges[:, 3]
        meets = (
            (np.minimum(ex1, ex2) <= x1) & (np.maximum(ex1, ex2) >= x0)
            & (np.minimum(ey1, ey2) <= y1) & (np.maximum(ey1, ey2) >= y0)
        )  # fmt: skip
        return np.ascontiguousarray(edges[meets])

    def distance_m(self, lat: float, lon: float) -> float:
        """Distance in metres from the point to the zone's outline (0 on the boundary).

        Computed in an azimuthal equidistant projection centred on the zone, accurate to about
        1% within 1,000 km of the centre (plenty for "how far past the border").
        """
        proj = self._cache.get("aeqd")
        if proj is None:
            centre = self.geometry.centroid
            proj = (
                centre.y,
                centre.x,
                _aeqd_forward_geom(self.geometry.boundary, centre.y, centre.x),
            )
            shapely.prepare(proj[2])
            self._cache["aeqd"] = proj
        lat0, lon0, boundary = proj
        x, y = _aeqd_forward(np.array([[lon, lat]]), lat0, lon0)[0]
        return float(shapely.distance(boundary, shapely.Point(x, y)))

    def buffered(self, distance_m: float, *, zone_id: str | None = None) -> Zone:
        """The zone grown by a geodesic ``distance_m`` (an approach or early-warning ring).

        The buffer is computed in an azimuthal equidistant projection centred on the zone and
        simplified to 100 m, so it is exact to well under 1% of the distance for zones up to
        a few thousand kilometres across.
        """
        key = f"buffer:{distance_m}"
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        centre = self.geometry.centroid
        lat0, lon0 = centre.y, centre.x
        projected = _aeqd_forward_geom(self.geometry, lat0, lon0)
        rest_m = distance_m
        if shapely.get_num_coordinates(projected) > _BUFFER_STEP_VERTICES:
            # Large, detailed outlines (a 100k-vertex coastline) grow in two steps: buffers of
            # discs add up, and the small first step fills the fjords and spikes whose offset
            # curves would otherwise overlap by the hundred (~4x faster on tests/bench/zones.py).
            step_m = distance_m / 10.0
            projected = projected.simplify(_BUFFER_SIMPLIFY_M / 2)
            projected = projected.buffer(step_m, quad_segs=8).simplify(_BUFFER_SIMPLIFY_M / 2)
            rest_m = distance_m - step_m
        grown = projected.buffer(rest_m, quad_segs=8).simplify(_BUFFER_SIMPLIFY_M)
        back = shapely.transform(grown, lambda xy: _aeqd_inverse(xy, lat0, lon0))
        label = _distance_label(distance_m)
        zone = Zone(
            id=zone_id or f"{self.id}+{label}",
            name=f"{self.name} + {label}",
            geometry=_as_multipolygon(back, f"buffer of zone {self.id!r}"),
            floor_ft=self.floor_ft,
            ceiling_ft=self.ceiling_ft,
            source=f"{self.source}, buffered {label}",
            attribution=self.attribution,
        )
        self._cache[key] = zone
        return zone

    def to_geojson(self) -> dict[str, Any]:
        """The zone as a GeoJSON Feature (properties: id, name, band, source, attribution)."""
        props: dict[str, Any] = {"id": self.id, "name": self.name, "source": self.source}
        if self.floor_ft is not None:
            props["floor_ft"] = self.floor_ft
        if self.ceiling_ft is not None:
            props["ceiling_ft"] = self.ceiling_ft
        if self.attribution:
            props["attribution"] = self.attribution
        return {
            "type": "Feature",
            "properties": props,
            "geometry": shapely.geometry.mapping(self.geometry),
        }


#: How close to +-180 deg a zone must reach to be treated as touching the antimeridian.
_WRAP_MARGIN_DEG = 1e-6
#: Buffers are simplified to this tolerance (metres): far below position accuracy, and it
#: keeps a buffered 17,000-vertex coastline fast to test against.
_BUFFER_SIMPLIFY_M = 100.0
#: Outlines with more vertices than this are buffered in two steps (see Zone.buffered); the
#: built-in DPRK (17,197) is below it, so its rings stay as they were.
_BUFFER_STEP_VERTICES = 50_000


_OUTSIDE, _INSIDE, _BOUNDARY = 0, 1, 2
#: Target number of grid cells per zone: ~64k cells (64 KB) resolve ~95% of points near the
#: DPRK outline without calling shapely, and build in well under a second.
_GRID_TARGET_CELLS = 65_536
#: ...but no more than this many per outline vertex (at least _GRID_MIN_CELLS): a simple
#: outline is cheap for shapely to test, and its grid would cost more to build than it saves.
_GRID_CELLS_PER_VERTEX = 64
_GRID_MIN_CELLS = 1_024
#: Boundary cells are split into this many sub-cells a side when a point falls in one: ~80%
#: of the points near the DPRK border then resolve without shapely (8 x 8 take ~0.3 ms a cell).
_SUB = 8
#: Segments crossing more grid cells than this go straight to shapely (long, sparse paths).
_WALK_CELLS_MAX = 2_000


#: Up to this many outline edges along a path, crossings are found with plain float
#: arithmetic; above it, in one vectorised numpy pass (whose fixed cost is ~10 us).
_SCALAR_EDGES_MAX = 48


class _CellEdges:
    """The outline's edges in one grid cell: as a numpy array (x1, y1, x2, y2 rows) for the
    vectorised pass and as tuples of floats for the scalar one (built once per cell)."""

    __slots__ = ("array", "rows")

    def __init__(self, array: np.ndarray) -> None:
        self.array = array
        self.rows: tuple[tuple[float, float, float, float], ...] = tuple(
            (float(a), float(b), float(c), float(d)) for a, b, c, d in array.tolist()
        )


#: What Zone._edges_in_one_cell returns for a step that is not within one cell (shared).
_NOT_ONE_CELL: list[_CellEdges] = []


class _Grid:
    """Cells over a zone's bounding box, each wholly outside, wholly inside, or crossed."""

    __slots__ = ("cells", "cols", "edges", "inv_cell_deg", "rows", "sub")

    def __init__(self, geometry: MultiPolygon, bounds: tuple[float, float, float, float]) -> None:
        min_lon, min_lat, max_lon, max_lat = bounds
        width, height = max(max_lon - min_lon, 1e-9), max(max_lat - min_lat, 1e-9)
        vertices = int(shapely.get_num_coordinates(geometry))
        target = min(_GRID_TARGET_CELLS, max(_GRID_MIN_CELLS, _GRID_CELLS_PER_VERTEX * vertices))
        cell_deg = math.sqrt(width * height / target)
        self.inv_cell_deg = 1.0 / cell_deg
        # One extra row and column so a point on the max bound indexes a real cell.
        self.cols = int(width / cell_deg) + 2
        rows = self.rows = int(height / cell_deg) + 2
        xs = min_lon + np.arange(self.cols) * cell_deg
        ys = min_lat + np.arange(rows) * cell_deg
        x0, y0 = np.meshgrid(xs, ys)
        boxes = shapely.box(x0.ravel(), y0.ravel(), x0.ravel() + cell_deg, y0.ravel() + cell_deg)
        inside = shapely.contains_properly(geometry, boxes)
        touches = shapely.intersects(geometry, boxes)
        cells = np.where(inside, _INSIDE, np.where(touches, _BOUNDARY, _OUTSIDE)).astype(np.uint8)
        self.cells = cells.tobytes()
        #: The outline's edges per boundary cell, found on first use (see Zone._cell_edges).
        self.edges: dict[int, _CellEdges] = {}
        #: Sub-cell classes per boundary cell, found on first use (see Zone._sub_cells).
        self.sub: dict[int, bytes] = {}


#: Cell size of the index across zones: 1 deg keeps a world index at 64,800 cells, and a
#: zone with its 2 deg near margin covers a few dozen of them (a country, hundreds).
_INDEX_CELL_DEG = 1.0
#: With this few zones, a path's zones are found by testing each box (cheaper than the walk).
_INDEX_LINEAR_MAX = 8
#: A segment whose bounding box spans more index cells than this is tested against every
#: zone's box instead (long, sparse paths; rare).
_INDEX_WALK_CELLS_MAX = 400


class ZoneIndex:
    """Which zones a point or a path may concern, by bounding box, for any number of zones.

    A grid of 1 deg cells over the world; each cell lists (in zone order) the zones whose
    bounding box, widened by ``margin_deg``, meets it. A point far from every zone finds an
    empty cell: one dictionary lookup whatever the number of zones. Zones across the
    antimeridian are listed in every cell of their latitude band (their box spans it).
    """

    __slots__ = ("_boxes", "_cells", "_margin_deg", "_wide", "zones")

    def __init__(self, zones: Sequence[Zone], margin_deg: float = 0.0) -> None:
        self.zones = tuple(zones)
        self._margin_deg = margin_deg
        self._boxes = [
            (z.bounds[0] - margin_deg, z.bounds[1] - margin_deg,
             z.bounds[2] + margin_deg, z.bounds[3] + margin_deg)
            for z in self.zones
        ]  # fmt: skip
        cells: dict[int, list[int]] = {}
        for index, (min_lon, min_lat, max_lon, max_lat) in enumerate(self._boxes):
            for key in self._keys(min_lon, min_lat, max_lon, max_lat):
                cells.setdefault(key, []).append(index)
        self._cells = {key: tuple(found) for key, found in cells.items()}
        self._wide = tuple(range(len(self.zones)))

    @property
    def boxes(self) -> tuple[tuple[float, float, float, float], ...]:
        """Each zone's box widened by the margin, (min_lon, min_lat, max_lon, max_lat)."""
        return tuple(self._boxes)

    @staticmethod
    def _keys(min_lon: float, min_lat: float, max_lon: float, max_lat: float) -> Iterator[int]:
        c0 = max(-180, math.floor(min_lon / _INDEX_CELL_DEG))
        c1 = min(179, math.floor(max_lon / _INDEX_CELL_DEG))
        r0 = max(-90, math.floor(min_lat / _INDEX_CELL_DEG))
        r1 = min(89, math.floor(max_lat / _INDEX_CELL_DEG))
        for row in range(r0, r1 + 1):
            for col in range(c0, c1 + 1):
                yield row * 1000 + col

    def near(self, lat: float, lon: float) -> tuple[int, ...]:
        """Indices (in zone order) of the zones whose widened box holds the point."""
        found = self._cells.get(
            math.floor(lat / _INDEX_CELL_DEG) * 1000 + math.floor(lon / _INDEX_CELL_DEG)
        )
        if not found:
            return ()
        boxes = self._boxes
        if len(found) == 1:  # one zone near (a desk's usual set): no generator
            box = boxes[found[0]]
            return found if box[1] <= lat <= box[3] and box[0] <= lon <= box[2] else ()
        return tuple(
            i for i in found
            if boxes[i][1] <= lat <= boxes[i][3] and boxes[i][0] <= lon <= boxes[i][2]
        )  # fmt: skip

    def along(self, lat1: float, lon1: float, lat2: float, lon2: float) -> tuple[int, ...]:
        """Indices (in zone order) of the zones whose widened box meets the segment's box."""
        cell = _INDEX_CELL_DEG
        key = math.floor(lat1 / cell) * 1000 + math.floor(lon1 / cell)
        same_cell = key == math.floor(lat2 / cell) * 1000 + math.floor(lon2 / cell)
        if same_cell and not self._cells.get(key):
            return ()  # the usual case: a short step in a cell no zone is near
        lo_lat, hi_lat = (lat1, lat2) if lat1 <= lat2 else (lat2, lat1)
        lo_lon, hi_lon = (lon1, lon2) if lon1 <= lon2 else (lon2, lon1)
        if hi_lon - lo_lon > 180.0 or lo_lon < -180.0 or hi_lon > 180.0:
            return self._wide  # across the antimeridian: every zone may be concerned
        span = (hi_lat - lo_lat + 1.0) * (hi_lon - lo_lon + 1.0) / _INDEX_CELL_DEG**2
        if len(self._wide) <= _INDEX_LINEAR_MAX or span > _INDEX_WALK_CELLS_MAX:
            candidates: Iterable[int] = self._wide
        else:
            seen: set[int] = set()
            for key in self._keys(lo_lon, lo_lat, hi_lon, hi_lat):
                found = self._cells.get(key)
                if found:
                    seen.update(found)
            if not seen:
                return ()
            candidates = sorted(seen)
        boxes = self._boxes
        return tuple(
            i for i in candidates
            if not (hi_lat < boxes[i][1] or lo_lat > boxes[i][3]
                    or hi_lon < boxes[i][0] or lo_lon > boxes[i][2])
        )  # fmt: skip


def _wrap_lon(lon: float) -> float:
    """Longitude into [-180, 180)."""
    if -180.0 <= lon < 180.0:
        return lon
    return (lon + 180.0) % 360.0 - 180.0


def _distance_label(distance_m: float) -> str:
    km = distance_m / 1000.0
    return f"{km:g}km"


def _aeqd_forward(lonlat: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Spherical azimuthal equidistant projection (metres) of (lon, lat) rows."""
    phi0, lam0 = np.radians(lat0), np.radians(lon0)
    lam = np.radians(lonlat[:, 0]) - lam0
    phi = np.radians(lonlat[:, 1])
    cos_c = np.clip(
        np.sin(phi0) * np.sin(phi) + np.cos(phi0) * np.cos(phi) * np.cos(lam), -1.0, 1.0
    )
    c = np.arccos(cos_c)
    sin_c = np.sin(c)
    k = np.where(sin_c > 1e-12, c / np.where(sin_c > 1e-12, sin_c, 1.0), 1.0)
    x = EARTH_RADIUS_M * k * np.cos(phi) * np.sin(lam)
    y = EARTH_RADIUS_M * k * (np.cos(phi0) * np.sin(phi) - np.sin(phi0) * np.cos(phi) * np.cos(lam))
    return np.column_stack([x, y])


def _aeqd_inverse(xy: np.ndarray, lat0: float, lon0: float) -> np.ndarray:
    """Inverse of :func:`_aeqd_forward`: metres back to (lon, lat) rows."""
    phi0, lam0 = np.radians(lat0), np.radians(lon0)
    x, y = xy[:, 0], xy[:, 1]
    rho = np.hypot(x, y)
    c = rho / EARTH_RADIUS_M
    safe = np.where(rho > 1e-9, rho, 1.0)
    phi = np.where(
        rho > 1e-9,
        np.arcsin(
            np.clip(np.cos(c) * np.sin(phi0) + y * np.sin(c) * np.cos(phi0) / safe, -1.0, 1.0)
        ),
        phi0,
    )
    lam = lam0 + np.arctan2(
        x * np.sin(c), rho * np.cos(phi0) * np.cos(c) - y * np.sin(phi0) * np.sin(c)
    )
    lon = (np.degrees(lam) + 180.0) % 360.0 - 180.0
    return np.column_stack([lon, np.degrees(phi)])


def _aeqd_forward_geom(geom: Any, lat0: float, lon0: float) -> Any:
    return shapely.transform(geom, lambda lonlat: _aeqd_forward(lonlat, lat0, lon0))


def _normalise_longitudes(geom: MultiPolygon) -> MultiPolygon:
    """Bring parts given beyond +-180 deg (e.g. 170..190) back into [-180, 180]."""
    min_lon, _, max_lon, _ = geom.bounds
    if min_lon >= -180.0 and max_lon <= 180.0:
        return geom
    parts = []
    for shift in (-360.0, 0.0, 360.0):
        window = shapely.box(-180.0 - shift, -90.0, 180.0 - shift, 90.0)
        piece = geom.intersection(window)
        if not piece.is_empty:
            parts.append(shapely.affinity.translate(piece, shift))
    return _as_multipolygon(shapely.union_all(parts), "zone across the antimeridian")


#: ``shapely.intersects_xy`` without its Python wrapper (argument checks, a deprecation
#: decorator and a prepare call: half the cost of one point test). Zone geometries are
#: prepared when the zone is built, which the wrapper would otherwise see to.
_intersects_xy = shapely.lib.intersects_xy

#: No outline edge along a path (shared, never written).
_NO_EDGES = np.empty((0, 4))


def _outline_edges(geometry: MultiPolygon) -> np.ndarray:
    """Every edge of every ring of ``geometry``, as (n, 4) rows of x1, y1, x2, y2."""
    rows = []
    for polygon in geometry.geoms:
        for ring in (polygon.exterior, *polygon.interiors):
            xy = np.asarray(ring.coords)[:, :2]
            rows.append(np.hstack([xy[:-1], xy[1:]]))
    return np.ascontiguousarray(np.vstack(rows)) if rows else _NO_EDGES


def _segment_hits(
    x1: float, y1: float, x2: float, y2: float, edges: np.ndarray
) -> list[float]:
    """Fractions along the segment (x1, y1)-(x2, y2) where it meets any of ``edges``, in one
    vectorised pass (parametric line intersection; an edge collinear with the path, of
    measure zero in real tracks, is not reported)."""
    rx, ry = x2 - x1, y2 - y1
    sx = edges[:, 2] - edges[:, 0]
    sy = edges[:, 3] - edges[:, 1]
    qx = edges[:, 0] - x1
    qy = edges[:, 1] - y1
    denom = rx * sy - ry * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (qx * sy - qy * sx) / denom
        u = (qx * ry - qy * rx) / denom
    ok = (denom != 0.0) & (t >= 0.0) & (t <= 1.0) & (u >= 0.0) & (u <= 1.0)
    return t[ok].tolist()


def _segment_hits_rows(
    x1: float, y1: float, x2: float, y2: float,
    rows: tuple[tuple[float, float, float, float], ...],
) -> list[float]:
    """:func:`_segment_hits` for a few edges given as tuples: the same operations in the same
    order on the same doubles, so the same fractions, without numpy's per-call cost."""
    rx, ry = x2 - x1, y2 - y1
    out = []
    for ex1, ey1, ex2, ey2 in rows:
        sx = ex2 - ex1
        sy = ey2 - ey1
        denom = rx * sy - ry * sx
        if denom == 0.0:
            continue
        qx = ex1 - x1
        qy = ey1 - y1
        t = (qx * sy - qy * sx) / denom
        if t < 0.0 or t > 1.0:
            continue
        u = (qx * ry - qy * rx) / denom
        if 0.0 <= u <= 1.0:
            out.append(t)
    return out


def _fractions_of(line: LineString, hits: Any) -> Iterable[float]:
    """Normalised positions along ``line`` of every vertex of the intersection ``hits``."""
    for geom in getattr(hits, "geoms", [hits]):
        for x, y in geom.coords:
            yield float(line.project(shapely.Point(x, y), normalized=True))


def _as_multipolygon(geom: Any, what: str) -> MultiPolygon:
    """Coerce a shapely geometry to a valid MultiPolygon, repairing it if needed."""
    if not geom.is_valid:
        reason = explain_validity(geom)
        geom = shapely.make_valid(geom)
        if geom.is_empty:
            raise ZoneError(f"{what}: invalid geometry that cannot be repaired ({reason})")
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    if isinstance(geom, MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    parts: list[Polygon] = []
    for p in polys:
        parts.extend(p.geoms if isinstance(p, MultiPolygon) else [p])
    if not parts:
        raise ZoneError(f"{what}: expected a Polygon or MultiPolygon, got {geom.geom_type}")
    return MultiPolygon(parts)


@functools.cache
def builtin_zone(zone_id: str) -> Zone:
    """Build (once per process) the built-in zone ``zone_id``; see :data:`BUILTIN_ZONES`."""
    if zone_id == "dprk":
        zone = timezone_zone("Asia/Pyongyang")
        return Zone(
            id="dprk",
            name="DPRK airspace",
            geometry=zone.geometry,
            source="timezonefinder-data Asia/Pyongyang",
            attribution=DPRK_ATTRIBUTION,
        )
    if zone_id == "zkkp":
        # Packaged data, read through the GeoJSON loader (its checks and repairs apply).
        data = importlib.resources.files("streams.zone_data") / "zkkp_fir.geojson"
        with importlib.resources.as_file(data) as path:
            (zone,) = load_geojson_zones(path)
        return Zone(
            id="zkkp",
            name="Pyongyang FIR (ZKKP)",
            geometry=zone.geometry,
            source=f"VATSpy Data Project Boundaries.geojson ZKKP at {ZKKP_COMMIT[:8]}",
            attribution=ZKKP_ATTRIBUTION,
        )
    raise ZoneError(f"unknown built-in zone {zone_id!r}; known: {', '.join(BUILTIN_ZONES)}")


@functools.cache
def timezone_zone(tz_name: str) -> Zone:
    """A zone from a time-zone outline in ``timezonefinder-data`` (land plus territorial sea).

    Many time zones follow a country's border and its 12 NM territorial sea (Asia/Pyongyang,
    Europe/Amsterdam, America/Belize...), which makes them a ready, offline, ODbL-licensed
    source of national airspace outlines. Spec form: ``tz:Europe/Amsterdam``.
    """
    finder = _timezone_finder()
    if tz_name not in finder.timezone_names:
        raise ZoneError(f"unknown time zone {tz_name!r} for a tz: zone")
    polygons = [Polygon(rings[0], rings[1:]) for rings in _timezone_rings(finder, tz_name)]
    return Zone(
        id=f"tz:{tz_name}",
        name=tz_name,
        geometry=_as_multipolygon(MultiPolygon(polygons), f"time zone {tz_name!r}"),
        source=f"timezonefinder-data {tz_name}",
        attribution=TZ_ATTRIBUTION,
    )


def _count_vertices(geom_obj: dict[str, Any]) -> int:
    """Vertices of a GeoJSON Polygon/MultiPolygon object, counted without building it
    (malformed parts count 0: building the shape then names the problem)."""
    coords = geom_obj.get("coordinates")
    if not isinstance(coords, list):
        return 0
    polygons = coords if geom_obj.get("type") == "MultiPolygon" else [coords]
    return sum(
        len(ring)
        for polygon in polygons
        if isinstance(polygon, list)
        for ring in polygon
        if isinstance(ring, list)
    )


@functools.cache
def _timezone_finder() -> Any:
    """One ``TimezoneFinder`` per process (it maps its data files; ~0.1 s to open)."""
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def _timezone_rings(finder: Any, tz_name: str) -> list[list[np.ndarray]]:
    """Each polygon of a time zone as [outer ring, holes...], (n, 2) lon/lat arrays.

    ``get_geometry(coords_as_pairs=True)`` converts every vertex in a Python loop (~0.1 s per
    100,000 vertices; all ~450 zones hold millions); the pinned timezonefinder 9 keeps them as
    int32 arrays scaled by 1e-7, converted here at once with the same arithmetic (a test
    checks the two agree vertex for vertex). Other versions take the public path.
    """
    try:
        from timezonefinder.utils_numba import INT2COORD_FACTOR

        tz_id = finder.timezone_names.index(tz_name)
        return [
            [
                np.asarray(finder.coords_of(boundary_id=bid)).T * INT2COORD_FACTOR,
                *(np.asarray(h).T * INT2COORD_FACTOR for h in finder._holes_of_poly(bid)),
            ]
            for bid in finder._iter_boundary_ids_of_zone(tz_id)
        ]
    except (ImportError, AttributeError):  # another timezonefinder: the public, slower path
        parts = finder.get_geometry(tz_name=tz_name, coords_as_pairs=True)
        return [[np.asarray(ring, dtype=float) for ring in rings] for rings in parts]


def timezone_names() -> list[str]:
    """Every time-zone name in the installed ``timezonefinder-data`` (for ``tz:*``)."""
    return list(_timezone_finder().timezone_names)


def _feature_zone(feature: Any, index: int, path: Path, max_vertices: int) -> Zone:
    if not isinstance(feature, dict):
        raise ZoneError(f"{path.name} feature {index}: expected a GeoJSON Feature object")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ZoneError(f"{path.name} feature {index}: properties must be an object")
    zone_id = str(props.get("id") or props.get("name") or f"{path.stem}-{index}")
    what = f"{path.name} feature {index} ({zone_id!r})"
    geom_obj = feature.get("geometry")
    if not isinstance(geom_obj, dict) or geom_obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise ZoneError(f"{what}: geometry must be a Polygon or MultiPolygon")
    vertices = _count_vertices(geom_obj)
    if vertices > max_vertices:
        raise ZoneError(
            f"{what}: {vertices} vertices, more than the limit of {max_vertices} per zone "
            "(SKYFENCE_ZONE_MAX_VERTICES; or simplify the outline)"
        )
    try:
        geom = _shape(geom_obj)
    except Exception as exc:  # numpy and shapely raise several types for malformed coordinates
        raise ZoneError(f"{what}: malformed coordinates ({exc})") from None
    _check_lon_lat_order(geom, what)
    geom, reading = _read_antimeridian(geom, props.get("antimeridian", True), what)
    floor_ft = props.get("floor_ft")
    ceiling_ft = props.get("ceiling_ft")
    return Zone(
        id=zone_id,
        name=str(props.get("name") or zone_id),
        geometry=_as_multipolygon(geom, what),
        floor_ft=None if floor_ft is None else float(floor_ft),
        ceiling_ft=None if ceiling_ft is None else float(ceiling_ft),
        source=str(path),
        antimeridian=reading,
    )


def _shape(geom_obj: dict[str, Any]) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon object as a shapely geometry, built from numpy arrays
    (shapely's ``shape()`` walks every vertex in Python: 1.5 s for 100,000 vertices on a
    loaded machine)."""
    coords = geom_obj.get("coordinates")
    if geom_obj["type"] == "Polygon":
        return _polygon(coords)
    if not isinstance(coords, list):
        raise ValueError("MultiPolygon coordinates must be a list of polygons")
    return MultiPolygon([_polygon(rings) for rings in coords])


def _polygon(rings: Any) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise ValueError("a polygon must be a non-empty list of rings")
    arrays = []
    for ring in rings:
        array = np.asarray(ring, dtype=float)
        if array.ndim != 2 or array.shape[1] < 2 or len(array) < 4:
            raise ValueError("a ring must be a list of at least 4 [lon, lat] positions")
        if not np.isfinite(array[:, :2]).all():
            raise ValueError("coordinates must be finite numbers")
        arrays.append(shapely.linearrings(array[:, :2]))
    return shapely.polygons(arrays[0], holes=arrays[1:] or None)


def _read_antimeridian(geom: Any, crossing: Any, what: str) -> tuple[Any, str]:
    """Read each polygon whose outer ring spans more than 180 deg of longitude (less than 360,
    all within +-180) as crossing the antimeridian: its negative longitudes move up by 360 deg (the
    zone is later split back into [-180, 180]). ``crossing`` is the file's ``antimeridian``
    property: ``False`` keeps the literal, wide reading. Returns the geometry and the reading
    taken (see :attr:`Zone.antimeridian`)."""
    if not isinstance(crossing, bool):
        raise ZoneError(f"{what}: property 'antimeridian' must be true or false")
    polygons = list(geom.geoms) if isinstance(geom, MultiPolygon) else [geom]
    wide = []
    for polygon in polygons:
        min_lon, _, max_lon, _ = polygon.exterior.bounds
        # (a ring from -180 to 180 is a band around the globe: crossing would leave nothing)
        if 180.0 < max_lon - min_lon < 360.0 and min_lon >= -180.0 and max_lon <= 180.0:
            wide.append((polygon, max_lon - min_lon))
    if not wide:
        return geom, ""
    span_deg = max(span for _, span in wide)
    if not crossing:
        log.warning(
            "%s: a ring spans %.1f deg of longitude; read literally (antimeridian: false)",
            printable(what), span_deg,
        )  # fmt: skip
        return geom, "literal"
    shifted = {id(polygon) for polygon, _ in wide}
    out = [shapely.transform(p, _east_of_antimeridian) if id(p) in shifted else p for p in polygons]
    log.warning(
        "%s: a ring spans %.1f deg of longitude; read as crossing the antimeridian (RFC 7946), "
        "%.1f deg wide; set properties.antimeridian to false for the literal reading",
        printable(what), span_deg, 360.0 - span_deg,
    )  # fmt: skip
    return MultiPolygon(out), "crossing"


def _east_of_antimeridian(lonlat: np.ndarray) -> np.ndarray:
    """Negative longitudes + 360 (so -175 follows 175 as 185)."""
    lon = np.where(lonlat[:, 0] < 0.0, lonlat[:, 0] + 360.0, lonlat[:, 0])
    return np.column_stack([lon, lonlat[:, 1]])


def _check_lon_lat_order(geom: Any, what: str) -> None:
    """Reject coordinates that cannot be [lon, lat] (a latitude beyond +-90)."""
    min_x, min_y, max_x, max_y = geom.bounds
    if min_y < -90 or max_y > 90:
        raise ZoneError(f"{what}: latitude beyond +-90; GeoJSON order is [lon, lat]")
    if min_x < -540 or max_x > 540:
        raise ZoneError(f"{what}: longitude beyond +-540")


def load_geojson_zones(
    path: str | Path,
    *,
    max_vertices: int = MAX_VERTICES,
    max_zones_per_file: int = MAX_ZONES_PER_FILE,
) -> list[Zone]:
    """Load every Polygon/MultiPolygon feature of a GeoJSON file as a zone (at most
    ``max_zones_per_file`` zones of at most ``max_vertices`` vertices each)."""
    path = Path(path)
    try:
        doc = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ZoneError(f"cannot read zone file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise ZoneError(f"zone file {path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ZoneError(f"zone file {path}: expected a GeoJSON object")
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features") or []
    elif doc.get("type") == "Feature":
        features = [doc]
    elif doc.get("type") in ("Polygon", "MultiPolygon"):
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        raise ZoneError(f"zone file {path}: expected a FeatureCollection, Feature or Polygon")
    if not isinstance(features, list):
        raise ZoneError(f"zone file {path}: 'features' must be a list")
    if len(features) > max_zones_per_file:
        raise ZoneError(
            f"zone file {path}: {len(features)} zones, more than the limit of "
            f"{max_zones_per_file} per file (SKYFENCE_ZONE_FILE_MAX_ZONES)"
        )
    zones = [_feature_zone(f, i, path, max_vertices) for i, f in enumerate(features)]
    if not zones:
        raise ZoneError(f"zone file {path} has no features")
    return zones


#: ``BASE+50km`` or ``BASE+27nm``: a zone grown by a geodesic distance.
_BUFFER_SPEC = re.compile(r"^(?P<base>.+?)\+(?P<dist>\d+(?:\.\d+)?)(?P<unit>km|nm|m)$")
_UNIT_M = {"km": 1000.0, "nm": 1852.0, "m": 1.0}


def parse_zone_spec(spec: str, **limits: int) -> list[Zone]:
    """Resolve one zone spec: ``dprk``, ``zkkp``, ``tz:Area/City``, ``tz:*`` (every time-zone
    outline, ~450 zones), a GeoJSON path, each optionally followed by ``+DISTANCE`` (``km``,
    ``nm`` or ``m``) for an approach ring."""
    match = _BUFFER_SPEC.match(spec)
    if match and not Path(spec).exists():
        distance_m = float(match["dist"]) * _UNIT_M[match["unit"]]
        return [
            z.buffered(distance_m, zone_id=f"{z.id}+{match['dist']}{match['unit']}")
            for z in parse_zone_spec(match["base"], **limits)
        ]
    if spec in BUILTIN_ZONES:
        return [builtin_zone(spec)]
    if spec == "tz:*":
        return [timezone_zone(name) for name in timezone_names()]
    if spec.startswith("tz:"):
        return [timezone_zone(spec[3:])]
    if Path(spec).suffix.lower() in (".geojson", ".json") or Path(spec).exists():
        return load_geojson_zones(spec, **limits)
    raise ZoneError(
        f"unknown zone {spec!r}: not a built-in ({', '.join(BUILTIN_ZONES)}), "
        "not tz:Area/City and not a GeoJSON file"
    )


def load_zones(specs: Sequence[str], **limits: int) -> list[Zone]:
    """Resolve zone specs (see :func:`parse_zone_spec`) to zones; ids must be unique.
    ``limits`` (``max_vertices``, ``max_zones_per_file``) apply to GeoJSON files."""
    zones: list[Zone] = []
    for spec in specs:
        zones.extend(parse_zone_spec(spec, **limits))
    seen: set[str] = set()
    for zone in zones:
        if zone.id in seen:
            raise ZoneError(f"zone id {zone.id!r} is defined twice")
        seen.add(zone.id)
    return zones
