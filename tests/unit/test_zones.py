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
