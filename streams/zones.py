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
- GeoJSON files: a FeatureCollection (or single Feature) of Polygon/MultiPolygon features, with
  optional ``properties`` ``id``, ``name``, ``floor_ft``, ``ceiling_ft``.

Pure: imports the standard library, shapely and this package; reads files only when asked.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import shapely
from shapely.geometry import LineString, MultiPolygon, Polygon, shape
from shapely.validation import explain_validity

from streams.errors import ZoneError

__all__ = [
    "BUILTIN_ZONES",
    "DPRK_ATTRIBUTION",
    "Crossing",
    "Zone",
    "builtin_zone",
    "load_geojson_zones",
    "load_zones",
]

#: Attribution required by the ODbL for the built-in DPRK outline (README and derived files).
DPRK_ATTRIBUTION = (
    "DPRK airspace outline: Asia/Pyongyang time-zone boundary from timezone-boundary-builder "
    "(timezonefinder-data), data (c) OpenStreetMap contributors, ODbL 1.0"
)

#: Built-in zone ids and their descriptions.
BUILTIN_ZONES: dict[str, str] = {
    "dprk": "DPRK territorial airspace: land plus the 12 NM territorial sea (Asia/Pyongyang outline)",
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
    # Derived, filled in __post_init__: bounds for the cheap reject, prepared geometry.
    _bounds: tuple[float, float, float, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.geometry.is_empty:
            raise ZoneError(f"zone {self.id!r}: geometry is empty")
        shapely.prepare(self.geometry)
        object.__setattr__(self, "_bounds", tuple(self.geometry.bounds))

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
        """True when the point is inside the zone's outline (boundary counts as inside)."""
        min_lon, min_lat, max_lon, max_lat = self._bounds
        if lat < min_lat or lat > max_lat or lon < min_lon or lon > max_lon:
            return False
        return bool(shapely.intersects_xy(self.geometry, lon, lat))

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
        if not self.segment_may_touch(lat1, lon1, lat2, lon2):
            return []
        if lat1 == lat2 and lon1 == lon2:
            return []
        line = LineString([(lon1, lat1), (lon2, lat2)])
        hits = line.intersection(self.geometry.boundary)
        if hits.is_empty:
            return []
        fractions = sorted({0.0, 1.0, *(_fractions_of(line, hits))})
        # Status is constant between consecutive boundary hits: sample each interval's middle.
        out: list[Crossing] = []
        prev_inside = self.contains_2d(lat1, lon1)
        for lo, hi in itertools.pairwise(fractions):
            if hi - lo <= 1e-12:
                continue
            mid = (lo + hi) / 2.0
            inside = self.contains_2d(lat1 + (lat2 - lat1) * mid, lon1 + (lon2 - lon1) * mid)
            if inside != prev_inside:
                out.append(
                    Crossing(
                        fraction=lo,
                        lat=lat1 + (lat2 - lat1) * lo,
                        lon=lon1 + (lon2 - lon1) * lo,
                        entering=inside,
                    )
                )
                prev_inside = inside
        # The last interval's end: the second fix may sit exactly on the boundary.
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
    if zone_id != "dprk":
        raise ZoneError(f"unknown built-in zone {zone_id!r}; known: {', '.join(BUILTIN_ZONES)}")
    from timezonefinder import TimezoneFinder

    parts = TimezoneFinder().get_geometry(tz_name="Asia/Pyongyang", coords_as_pairs=True)
    polygons = [Polygon(rings[0], rings[1:]) for rings in parts]
    geometry = _as_multipolygon(MultiPolygon(polygons), "built-in zone 'dprk'")
    return Zone(
        id="dprk",
        name="DPRK airspace",
        geometry=geometry,
        source="timezonefinder-data Asia/Pyongyang",
        attribution=DPRK_ATTRIBUTION,
    )


def _feature_zone(feature: dict[str, Any], index: int, path: Path) -> Zone:
    props = feature.get("properties") or {}
    zone_id = str(props.get("id") or props.get("name") or f"{path.stem}-{index}")
    what = f"{path.name} feature {index} ({zone_id!r})"
    geom_obj = feature.get("geometry")
    if not isinstance(geom_obj, dict) or geom_obj.get("type") not in ("Polygon", "MultiPolygon"):
        raise ZoneError(f"{what}: geometry must be a Polygon or MultiPolygon")
    try:
        geom = shape(geom_obj)
    except Exception as exc:  # shapely raises several types for malformed coordinates
        raise ZoneError(f"{what}: malformed coordinates ({exc})") from None
    _check_lon_lat_order(geom, what)
    floor_ft = props.get("floor_ft")
    ceiling_ft = props.get("ceiling_ft")
    return Zone(
        id=zone_id,
        name=str(props.get("name") or zone_id),
        geometry=_as_multipolygon(geom, what),
        floor_ft=None if floor_ft is None else float(floor_ft),
        ceiling_ft=None if ceiling_ft is None else float(ceiling_ft),
        source=str(path),
    )


def _check_lon_lat_order(geom: Any, what: str) -> None:
    """Reject coordinates that cannot be [lon, lat] (a latitude beyond +-90)."""
    min_x, min_y, max_x, max_y = geom.bounds
    if min_y < -90 or max_y > 90:
        raise ZoneError(f"{what}: latitude beyond +-90; GeoJSON order is [lon, lat]")
    if min_x < -180 or max_x > 180:
        raise ZoneError(f"{what}: longitude beyond +-180")


def load_geojson_zones(path: str | Path) -> list[Zone]:
    """Load every Polygon/MultiPolygon feature of a GeoJSON file as a zone."""
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
    zones = [_feature_zone(f, i, path) for i, f in enumerate(features)]
    if not zones:
        raise ZoneError(f"zone file {path} has no features")
    return zones


def load_zones(specs: Sequence[str]) -> list[Zone]:
    """Resolve zone specs (built-in ids or GeoJSON paths) to zones; ids must be unique."""
    zones: list[Zone] = []
    for spec in specs:
        if spec in BUILTIN_ZONES:
            zones.append(builtin_zone(spec))
        elif Path(spec).suffix.lower() in (".geojson", ".json") or Path(spec).exists():
            zones.extend(load_geojson_zones(spec))
        else:
            raise ZoneError(
                f"unknown zone {spec!r}: not a built-in ({', '.join(BUILTIN_ZONES)}) "
                "and not a GeoJSON file"
            )
    seen: set[str] = set()
    for zone in zones:
        if zone.id in seen:
            raise ZoneError(f"zone id {zone.id!r} is defined twice")
        seen.add(zone.id)
    return zones
