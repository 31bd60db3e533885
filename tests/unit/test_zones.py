"""Zones: the built-in DPRK airspace, GeoJSON loading and validation, crossings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streams.errors import ZoneError
from streams.zones import builtin_zone, load_geojson_zones, load_zones


@pytest.mark.parametrize(
    ("place", "lat", "lon", "inside"),
    [
        ("Pyongyang", 39.0392, 125.7625, True),
        ("Sunan airport ZKPY", 39.2241, 125.6700, True),
        ("Sinuiju", 40.1006, 124.3981, True),
        ("Wonsan", 39.1528, 127.4436, True),
        ("West Sea 10 km off the coast", 38.75, 124.95, True),
        ("Dandong ZYDD, across the Yalu", 40.0247, 124.2866, False),
        ("Seoul", 37.5665, 126.9780, False),
        ("Incheon RKSI", 37.4602, 126.4407, False),
        ("Vladivostok", 43.1155, 131.8855, False),
        ("Yellow Sea, Seoul-Beijing airway", 37.8, 123.5, False),
        ("Sea of Japan, 60 km off Wonsan", 39.3, 128.2, False),
    ],
)
def test_builtin_dprk(place: str, lat: float, lon: float, inside: bool) -> None:
    assert builtin_zone("dprk").contains(lat, lon) is inside, place


def test_builtin_dprk_has_attribution() -> None:
    zone = builtin_zone("dprk")
    assert "OpenStreetMap" in (zone.attribution or "") and "ODbL" in (zone.attribution or "")


def _write(tmp_path: Path, features: list[dict]) -> Path:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _square(x0: float, y0: float, size: float) -> list[list[float]]:
    return [[x0, y0], [x0 + size, y0], [x0 + size, y0 + size], [x0, y0 + size], [x0, y0]]


def test_geojson_polygon_with_hole_and_band(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        [
            {
                "type": "Feature",
                "properties": {"id": "ring", "name": "Ring", "floor_ft": 0, "ceiling_ft": 18000},
                "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 4), _square(1, 1, 2)]},
            }
        ],
    )
    (zone,) = load_geojson_zones(path)
    assert zone.id == "ring" and zone.ceiling_ft == 18000
    assert zone.contains(0.5, 0.5) and not zone.contains(2, 2)
    assert not zone.contains(0.5, 0.5, alt_ft=30000)
    # Through the hole: in, out, in, out.
    kinds = [c.entering for c in zone.crossings(2, -1, 2, 5)]
    assert kinds == [True, False, True, False]


def test_invalid_geometry_is_repaired(tmp_path: Path) -> None:
    bowtie = [[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]
    path = _write(tmp_path, [{"type": "Feature", "properties": {"id": "bow"}, "geometry": {"type": "Polygon", "coordinates": [bowtie]}}])
    (zone,) = load_geojson_zones(path)
    assert zone.geometry.is_valid and zone.contains(1.0, 0.2)


def test_lat_lon_order_error_names_the_feature(tmp_path: Path) -> None:
    swapped = [[39, 125], [40, 125], [40, 126], [39, 126], [39, 125]]  # [lat, lon]
    path = _write(tmp_path, [{"type": "Feature", "properties": {"id": "oops"}, "geometry": {"type": "Polygon", "coordinates": [swapped]}}])
    with pytest.raises(ZoneError, match=r"oops.*lon, lat"):
        load_geojson_zones(path)


def test_non_polygon_feature_is_rejected(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"type": "Feature", "properties": {"id": "pt"}, "geometry": {"type": "Point", "coordinates": [1, 2]}}])
    with pytest.raises(ZoneError, match=r"'pt'.*Polygon"):
        load_geojson_zones(path)


def test_load_zones_mixes_builtin_and_files(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"type": "Feature", "properties": {"id": "box"}, "geometry": {"type": "Polygon", "coordinates": [_square(0, 0, 1)]}}])
    zones = load_zones(["dprk", str(path)])
    assert [z.id for z in zones] == ["dprk", "box"]
    with pytest.raises(ZoneError, match="defined twice"):
        load_zones([str(path), str(path)])
    with pytest.raises(ZoneError, match="unknown zone"):
        load_zones(["atlantis"])


def test_crossing_into_dprk_from_dandong_side() -> None:
    zone = builtin_zone("dprk")
    crossings = zone.crossings(40.30, 124.00, 39.90, 125.00)
    assert [c.entering for c in crossings] == [True]
    c = crossings[0]
    assert 0 < c.fraction < 1 and zone.contains(c.lat - 0.01, c.lon + 0.025)


# -- issue 3: agreement with an independent polygon, buffers, antimeridian, export -------------


def test_builtin_dprk_agrees_with_independent_osm_polygon(shared_data: Path) -> None:
    """>= 99.5% agreement on random points in a box around the DPRK (the issue's bar)."""
    import random

    import shapely
    from shapely.geometry import shape

    doc = json.loads((shared_data / "prk_maritime_osm_geo-maps-10m.geojson").read_text())
    features = doc["features"] if doc.get("type") == "FeatureCollection" else [doc]
    osm = shapely.union_all([shape(f["geometry"]) for f in features])
    shapely.prepare(osm)
    zone = builtin_zone("dprk")
    rng = random.Random(20230926)
    n = 20_000
    agree = 0
    for _ in range(n):
        lat, lon = rng.uniform(37.0, 43.5), rng.uniform(123.5, 131.5)
        agree += zone.contains(lat, lon) == bool(shapely.intersects_xy(osm, lon, lat))
    assert agree / n >= 0.995, f"agreement {agree / n:.4%}"


def test_distance_and_buffer_are_geodesic() -> None:
    import random

    import numpy as np

    def _haversine_np(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
        p1, p2 = np.radians(lat), np.radians(lats)
        a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
        return 2 * 6_371_008.8 * np.arcsin(np.sqrt(a))

    zone = builtin_zone("dprk")
    ring = zone.buffered(50_000)
    assert ring.id == "dprk+50km"
    # distance_m against brute force: haversine to the nearest of the outline's ~17,000
    # vertices (an upper bound; offshore edges are long, so up to ~2 km above the truth).
    coords = np.concatenate([np.asarray(p.exterior.coords) for p in zone.geometry.geoms])
    rng = random.Random(7)
    checked = 0
    for _ in range(200):
        lat, lon = rng.uniform(36.5, 44.0), rng.uniform(122.5, 132.0)
        if zone.contains(lat, lon):
            continue
        nearest = float(_haversine_np(lat, lon, coords[:, 1], coords[:, 0]).min())
        d = zone.distance_m(lat, lon)
        assert d <= nearest * 1.005 + 1.0 and nearest - d <= 0.01 * d + 2_000, (lat, lon, d, nearest)
        # The ring holds exactly the points within 50 km (2% slack for the projection and
        # the 100 m simplification).
        if abs(d - 50_000) > 1_000:
            assert ring.contains(lat, lon) is (d < 50_000), (lat, lon, d)
        checked += 1
    assert checked > 100


def test_zone_across_the_antimeridian(tmp_path: Path) -> None:
    # A box from 170E to 170W, given with longitudes beyond 180 as GeoJSON allows.
    coords = [[170, 50], [190, 50], [190, 60], [170, 60], [170, 50]]
    path = _write(tmp_path, [{"type": "Feature", "properties": {"id": "bering"}, "geometry": {"type": "Polygon", "coordinates": [coords]}}])
    (zone,) = load_geojson_zones(path)
    assert zone.wraps
    assert zone.contains(55, 175) and zone.contains(55, -175) and zone.contains(55, 179.9) and zone.contains(55, -179.9)
    assert not zone.contains(55, 165) and not zone.contains(55, -165)
    # A short flight from 165E to 165W crosses in at 170E and out at 170W, not the long way round.
    crossings = zone.crossings(55, 165, 55, -165)
    assert [c.entering for c in crossings] == [True, False]
    assert crossings[0].lon == pytest.approx(170.0, abs=1e-6)
    assert crossings[1].lon == pytest.approx(-170.0, abs=1e-6)
    # The tracker flies through it eastwards (~480 kt, a fix every 30 min) with one entry and
    # one exit, and no spurious exit where the track crosses 180.
    from streams.models import PositionReport
    from streams.tracking import Tracker

    tracker = Tracker([zone])
    state, events = None, []
    for i, lon in enumerate([168.0, 175.0, -178.0, -171.0, -164.0]):
        result = tracker.step(state, PositionReport("abcdef", 1.7e9 + 1800 * i, 55.0, lon))
        state, events = result.state, events + result.events
    assert [(e.type.value, e.confidence.value) for e in events] == [("entered", "observed"), ("exited", "observed")]
    assert events[0].lon == pytest.approx(170.0, abs=1e-6) and events[1].lon == pytest.approx(-170.0, abs=1e-6)


def test_zone_spec_grammar() -> None:
    from streams.zones import parse_zone_spec

    (ring,) = parse_zone_spec("dprk+12nm")
    assert ring.id == "dprk+12nm" and ring.contains(40.0247, 124.2866)  # Dandong is 5 km out
    (ams,) = parse_zone_spec("tz:Europe/Amsterdam")
    assert ams.contains(52.37, 4.90) and not ams.contains(50.85, 4.35)  # Amsterdam, not Brussels
    with pytest.raises(ZoneError, match="unknown time zone"):
        parse_zone_spec("tz:Mars/Olympus_Mons")


def test_zones_export_round_trips(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from alerts.cli import main

    assert main(["zones", "export", "dprk+20km"]) == 0
    exported = tmp_path / "ring.geojson"
    exported.write_text(capsys.readouterr().out)
    (zone,) = load_geojson_zones(exported)
    assert zone.id == "dprk+20km" and zone.contains(40.0247, 124.2866)


def test_timezone_outlines_read_fast_agree_with_timezonefinder_vertex_for_vertex() -> None:
    """``timezone_zone`` reads timezonefinder's int32 arrays directly (10x faster than its
    per-vertex conversion); the rings must be exactly those of ``get_geometry``."""
    import numpy as np
    from timezonefinder import TimezoneFinder

    from streams.zones import _timezone_finder, _timezone_rings

    for tz_name in ("Asia/Pyongyang", "Europe/Amsterdam", "America/Belize"):
        public = TimezoneFinder().get_geometry(tz_name=tz_name, coords_as_pairs=True)
        fast = _timezone_rings(_timezone_finder(), tz_name)
        assert len(fast) == len(public)
        for rings_fast, rings_public in zip(fast, public, strict=True):
            assert len(rings_fast) == len(rings_public)
            for ring_fast, ring_public in zip(rings_fast, rings_public, strict=True):
                assert np.array_equal(ring_fast, np.asarray(ring_public, dtype=float))


def test_crossings_from_cell_edges_agree_with_shapely_on_the_dprk_border() -> None:
    """``Zone.crossings`` intersects the path with the outline's edges in the grid cells it
    passes through (vectorised, cached per cell); on thousands of short paths across the
    DPRK outline it must give what shapely gives against the whole outline."""
    import itertools
    import random

    import shapely
    from shapely.geometry import LineString

    zone = builtin_zone("dprk")
    boundary = zone.geometry.boundary
    rng = random.Random(4)
    ring = zone.buffered(15_000)
    min_lon, min_lat, max_lon, max_lat = ring.bounds
    checked = crossed = 0
    while checked < 3_000:
        lat, lon = rng.uniform(min_lat, max_lat), rng.uniform(min_lon, max_lon)
        if not ring.contains_2d(lat, lon):
            continue
        lat2, lon2 = lat + rng.uniform(-0.15, 0.15), lon + rng.uniform(-0.15, 0.15)
        got = zone.crossings(lat, lon, lat2, lon2)
        # Reference: shapely's intersection with the whole outline, status at midpoints.
        line = LineString([(lon, lat), (lon2, lat2)])
        hits = line.intersection(boundary)
        found = [] if hits.is_empty else [
            line.project(shapely.Point(c), normalized=True)
            for g in getattr(hits, "geoms", [hits]) for c in g.coords
        ]  # fmt: skip
        want = []
        if found:
            prev = bool(shapely.intersects_xy(zone.geometry, lon, lat))
            for lo, hi in itertools.pairwise(sorted({0.0, 1.0, *found})):
                if hi - lo <= 1e-12:
                    continue
                mid = (lo + hi) / 2
                inside = bool(shapely.intersects_xy(zone.geometry, lon + (lon2 - lon) * mid, lat + (lat2 - lat) * mid))
                if inside != prev:
                    want.append((lo, inside))
                    prev = inside
        assert [c.entering for c in got] == [w[1] for w in want], (lat, lon, lat2, lon2)
        for c, (fraction, _) in zip(got, want, strict=True):
            assert c.fraction == pytest.approx(fraction, abs=1e-9)
        checked += 1
        crossed += bool(got)
    assert crossed > 200


def test_point_tests_through_the_sub_cells_agree_with_shapely_near_the_dprk_border() -> None:
    """``Zone.contains_2d`` resolves most points in a grid cell the outline crosses through
    that cell's sub-cells (built on first use); near the border, where nearly every point
    falls in such a cell, it must say what shapely says of the whole outline."""
    import random

    import shapely

    zone = builtin_zone("dprk")
    rng = random.Random(15)
    coords = [c for polygon in zone.geometry.geoms for c in polygon.exterior.coords]
    checked = sub_resolved = 0
    for _ in range(4_000):
        lon, lat = coords[rng.randrange(len(coords))]
        lon, lat = lon + rng.uniform(-0.02, 0.02), lat + rng.uniform(-0.02, 0.02)
        want = bool(shapely.intersects_xy(zone.geometry, lon, lat))
        assert zone.contains_2d(lat, lon) == want, (lat, lon)
        checked += 1
    grid = zone._grid
    assert grid is not None and grid.sub
    for sub in grid.sub.values():
        sub_resolved += sum(1 for c in sub if c != 2)
    assert checked == 4_000 and sub_resolved > 0


def test_scalar_segment_hits_equal_the_vectorised_ones() -> None:
    """Short paths near a border take the scalar intersection (a few edges); it must give
    the vectorised pass's fractions bit for bit, including parallel and touching edges."""
    import random

    import numpy as np

    from streams.zones import _segment_hits, _segment_hits_rows

    rng = random.Random(18)
    for _ in range(2_000):
        x1, y1, x2, y2 = (rng.uniform(0, 1) for _ in range(4))
        rows = [tuple(rng.uniform(0, 1) for _ in range(4)) for _ in range(rng.randrange(1, 30))]
        rows.append((x1, y1, x2, y2))  # collinear: reported by neither
        rows.append((x2, y2, x2 + 0.1, y2 - 0.3))  # touching the path's end
        array = np.asarray(rows, dtype=float)
        assert _segment_hits_rows(x1, y1, x2, y2, tuple(rows)) == _segment_hits(x1, y1, x2, y2, array)
