"""The built-in ``zkkp`` zone: the Pyongyang FIR, packaged with its provenance and licence.

The outline is the VATSpy Data Project's (CC BY-SA 4.0), one feature of ``Boundaries.geojson``
at commit 9f8d09cb copied into ``streams/zone_data/zkkp_fir.geojson`` with its coordinates
unchanged. These tests check what it contains, that it is the upstream outline, and that its
attribution and licence travel with it (package data, exports, alerts' maps, the desk page).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest
import shapely.geometry

from streams.models import EventType
from streams.zones import (
    BUILTIN_ZONES,
    ZKKP_ATTRIBUTION,
    builtin_zone,
    load_geojson_zones,
    load_zones,
    parse_zone_spec,
)
from tests.conftest import SEED_GOLDEN, SEED_SCENARIO

COMMIT = "9f8d09cbdf139063510823f82325ab79c740a4ca"


def _packaged() -> dict:
    data = resources.files("streams.zone_data").joinpath("zkkp_fir.geojson")
    return json.loads(data.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("place", "lat", "lon", "inside"),
    [
        ("Pyongyang", 39.0392, 125.7625, True),
        ("Sunan airport ZKPY", 39.2241, 125.6700, True),
        ("Sunan ZKPY, VATSpy's own airport position", 39.201667, 125.673333, True),
        ("Sinuiju", 40.1006, 124.3981, True),
        ("Wonsan", 39.1528, 127.4436, True),
        ("Chongjin", 41.7956, 129.7758, True),
        ("Kaesong", 37.9708, 126.5544, True),
        # A FIR is more than territorial airspace: it reaches far over the Sea of Japan.
        ("Sea of Japan, 60 km off Wonsan", 39.3, 128.2, True),
        ("Sea of Japan at 132 E", 40.0, 132.0, True),
        ("Seoul", 37.5665, 126.9780, False),
        ("Incheon RKSI", 37.4602, 126.4407, False),
        ("Beijing", 39.9042, 116.4074, False),
        ("Dandong ZYDD, across the Yalu", 40.0247, 124.2866, False),
        ("Vladivostok", 43.1155, 131.8855, False),
        ("Yellow Sea, Seoul-Beijing airway", 37.8, 123.5, False),
    ],
)
def test_builtin_zkkp(place: str, lat: float, lon: float, inside: bool) -> None:
    assert builtin_zone("zkkp").contains(lat, lon) is inside, place


def test_zkkp_is_a_valid_built_in_zone_with_its_source() -> None:
    assert "zkkp" in BUILTIN_ZONES and "dprk" in BUILTIN_ZONES
    zone = builtin_zone("zkkp")
    assert zone.id == "zkkp" and zone.name == "Pyongyang FIR (ZKKP)"
    assert zone.geometry.is_valid and len(zone.geometry.geoms) == 1
    assert zone.floor_ft is None and zone.ceiling_ft is None and zone.antimeridian == ""
    assert "VATSpy" in zone.source and COMMIT[:8] in zone.source
    assert zone.attribution == ZKKP_ATTRIBUTION
    assert parse_zone_spec("zkkp") == [zone]


def test_zkkp_holds_the_dprk_zone_and_the_sea_beyond() -> None:
    # Two sources for the same border: the FIR approximation (102 vertices) leaves out slivers
    # of the 17,000-vertex territorial outline along the Yalu and the Tumen (Hyesan, on the
    # Yalu, is one: 1.5 km outside the FIR), 0.7% of its area in all.
    fir, dprk = builtin_zone("zkkp").geometry, builtin_zone("dprk").geometry
    assert dprk.difference(fir).area < 0.01 * dprk.area
    assert fir.area > 1.8 * dprk.area  # and the FIR reaches over the sea


def test_the_packaged_geometry_is_the_upstream_feature_unchanged() -> None:
    (feature,) = _packaged()["features"]
    geometry = feature["geometry"]
    assert geometry["type"] == "MultiPolygon"
    ((ring,),) = geometry["coordinates"]
    assert len(ring) == 102 and ring[0] == ring[-1] == [124.0, 38.0]
    # Loading repairs nothing and moves no vertex.
    assert builtin_zone("zkkp").geometry.equals(shapely.geometry.shape(geometry))


def test_the_packaged_geometry_equals_the_shared_data_copy(shared_data: Path) -> None:
    # ../shared/data/zkkp_fir.geojson is an independent cut of the same upstream feature.
    path = shared_data / "zkkp_fir.geojson"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    shared = json.loads(path.read_text(encoding="utf-8"))
    (upstream,) = [f for f in shared["features"] if f["properties"].get("id") == "ZKKP"]
    (packaged,) = _packaged()["features"]
    assert packaged["geometry"] == upstream["geometry"]  # every coordinate, exactly
    assert packaged["properties"]["source_properties"] == upstream["properties"]
    assert shared["source"]["commit"] == packaged["properties"]["source_commit"]


def test_provenance_and_licence_ship_in_the_package() -> None:
    (feature,) = _packaged()["features"]
    props = feature["properties"]
    assert props["id"] == "zkkp" and props["name"] == "Pyongyang FIR (ZKKP)"
    assert props["source_url"] == "https://github.com/vatsimnetwork/vatspy-data-project"
    assert props["source_file"] == "Boundaries.geojson" and props["source_commit"] == COMMIT
    assert props["source_properties"]["id"] == "ZKKP"
    assert props["licence"] == "CC BY-SA 4.0"
    assert props["licence_url"] == "https://creativecommons.org/licenses/by-sa/4.0/"
    assert props["attribution"] == "VATSpy Data Project contributors"
    assert "approximation" in props["note"] and "not official" in props["note"]
    licence = resources.files("streams.zone_data").joinpath("LICENSE-zkkp.txt").read_text("utf-8")
    words = " ".join(licence.split())
    assert "streams/zone_data/zkkp_fir.geojson. That file, and only that file, is licensed" in words
    assert "Apache-2.0" in licence and COMMIT in licence
    assert "VATSpy Data Project contributors" in licence
    assert "Attribution-ShareAlike 4.0 International Public" in licence  # the licence's text
    for needed in ("VATSpy Data Project contributors", "CC BY-SA 4.0", COMMIT[:8], "approximation"):
        assert needed in ZKKP_ATTRIBUTION


def test_zkkp_buffer_spec_keeps_the_attribution() -> None:
    (ring,) = parse_zone_spec("zkkp+20km")
    assert ring.id == "zkkp+20km" and ring.attribution == ZKKP_ATTRIBUTION
    assert ring.contains(40.0247, 124.2866)  # Dandong, 5 km out
    assert not builtin_zone("zkkp").contains(40.0247, 124.2866)


def test_zones_list_and_export_name_the_source_and_licence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from alerts.cli import main

    assert main(["zones", "list", "--zones", "dprk", "zkkp"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    (row,) = [i for i, line in enumerate(lines) if line.startswith("zkkp ")]
    assert "Pyongyang FIR (ZKKP)" in lines[row] and "VATSpy" in lines[row]
    assert lines[row + 1].strip() == ZKKP_ATTRIBUTION
    assert main(["zones", "export", "zkkp"]) == 0
    exported = tmp_path / "zkkp.geojson"
    exported.write_text(capsys.readouterr().out)
    (zone,) = load_geojson_zones(exported)
    assert zone.id == "zkkp" and zone.geometry.equals(builtin_zone("zkkp").geometry)
    feature = json.loads(exported.read_text())["features"][0]
    assert feature["properties"]["attribution"] == ZKKP_ATTRIBUTION  # derived files keep it


def test_evaluate_the_seed_with_dprk_and_zkkp_raises_events_in_both(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from alerts.cli import main

    assert main(["evaluate", str(SEED_SCENARIO), "--zones", "dprk", "zkkp"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    entered = {(e["icao24"], e["zone"]) for e in events if e["type"] == EventType.ENTERED.value}
    assert {("1551e0", "dprk"), ("1551e0", "zkkp")} <= entered  # the Il-62M RSD352
    assert {e["zone_name"] for e in events if e["zone"] == "zkkp"} == {"Pyongyang FIR (ZKKP)"}
    # Overlapping zones each raise their own events: dprk's are the golden file's (the seed
    # with dprk alone), but for the trail (recent fixes near any zone, longer near more zones).
    golden = [json.loads(line) for line in SEED_GOLDEN.read_text().splitlines() if line.strip()]
    assert [_sans_trail(e) for e in events if e["zone"] == "dprk"] == [
        _sans_trail(e) for e in golden
    ]


def _sans_trail(event: dict) -> dict:
    return {k: v for k, v in event.items() if k != "trail"}


def test_alerts_credit_the_zkkp_outline() -> None:
    from alerts.desk import zones_geojson
    from alerts.enrich import _SHORT_ATTRIBUTION, zone_time_zone

    assert zone_time_zone("zkkp", 39.3, 128.2) == "Asia/Pyongyang"
    assert zone_time_zone("zkkp+50km", 39.3, 128.2) == "Asia/Pyongyang"
    assert "VATSpy" in _SHORT_ATTRIBUTION["zkkp"] and "CC BY-SA" in _SHORT_ATTRIBUTION["zkkp"]
    credits = [
        f["properties"]["attribution"]
        for f in zones_geojson(load_zones(["dprk", "zkkp"]))["features"]
    ]
    assert "OpenStreetMap" in credits[0] and credits[1] == ZKKP_ATTRIBUTION
    # The desk page shows each zone's attribution in its footer.
    static = resources.files("alerts").joinpath("desk_static")
    assert 'id="zone-credit"' in static.joinpath("index.html").read_text("utf-8")
    script = static.joinpath("desk.js").read_text("utf-8")
    assert "properties.attribution" in script and '$("zone-credit")' in script
