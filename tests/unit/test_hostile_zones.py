"""Regression tests for issue 12's zone defects (``defect_4``): antimeridian polygons written
the RFC 7946 way, caps on vertices and zones per file, and zone ids and names escaped
wherever they are printed or rendered.
"""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from alerts.formatting import console_line
from alerts.render import build_context, plain_text, slack_blocks, telegram_caption, telegram_html
from streams.config import StreamSettings
from streams.errors import ConfigError, ZoneError
from streams.models import AirspaceEvent, Confidence, EventType, PositionReport
from streams.text import printable
from streams.tracking import Tracker
from streams.zones import MAX_VERTICES, load_geojson_zones, load_zones

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_695_690_000.0


def _feature(ring: list[list[float]], **props: Any) -> dict[str, Any]:
    return {"type": "Feature", "properties": props, "geometry": {"type": "Polygon", "coordinates": [ring]}}


def _write(path: Path, *features: dict[str, Any]) -> Path:
    path.write_bytes(orjson.dumps({"type": "FeatureCollection", "features": list(features)}))
    return path


#: 175E to 175W, 10 to 20N, written the RFC 7946 way (no coordinate beyond +-180).
PACIFIC = [[175.0, 10.0], [-175.0, 10.0], [-175.0, 20.0], [175.0, 20.0], [175.0, 10.0]]


# -- antimeridian -------------------------------------------------------------------------


def test_defect_4_rfc7946_antimeridian_polygon_is_read_as_crossing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="streams.zones"):
        (zone,) = load_geojson_zones(_write(tmp_path / "z.geojson", _feature(PACIFIC, id="pac")))
    assert zone.antimeridian == "crossing"
    # the intended 10-degree zone, not its 350-degree complement
    assert zone.contains_2d(15.0, 179.9) and zone.contains_2d(15.0, -179.9)
    assert zone.contains_2d(15.0, 176.0) and zone.contains_2d(15.0, -176.0)
    assert not zone.contains_2d(15.0, 0.0) and not zone.contains_2d(15.0, 170.0)
    area = sum(p.area for p in zone.geometry.geoms)
    assert math.isclose(area, 100.0, rel_tol=1e-9)
    assert "read as crossing the antimeridian" in caplog.text and "pac" in caplog.text


def test_defect_4_track_inside_an_antimeridian_zone_gives_events(tmp_path: Path) -> None:
    zones = load_zones([str(_write(tmp_path / "z.geojson", _feature(PACIFIC, id="pac")))])
    tracker = Tracker(zones)
    state = None
    events = []
    # eastbound at ~350 kt: across 175E into the zone, across the antimeridian, out at 175W
    for i in range(140):
        lon = (173.0 + 0.1 * i + 180.0) % 360.0 - 180.0
        step = tracker.step(state, PositionReport("abc123", T0 + 60 * i, 15.0, lon, alt_ft=30000))
        state = step.state
        events.extend(step.events)
    types = [e.type for e in events if e.zone == "pac"]
    assert types.count(EventType.ENTERED) == 1 and types.count(EventType.EXITED) == 1, types
    entered = next(e for e in events if e.type is EventType.ENTERED)
    assert math.isclose(entered.lon, 175.0, abs_tol=0.01)


def test_defect_4_antimeridian_false_keeps_the_literal_reading(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.geojson", _feature(PACIFIC, id="band", antimeridian=False))
    (zone,) = load_geojson_zones(path)
    assert zone.antimeridian == "literal"
    assert zone.contains_2d(15.0, 0.0) and not zone.contains_2d(15.0, 179.0)


def test_defect_4_narrow_and_split_zones_are_read_as_before(tmp_path: Path) -> None:
    west = [[175.0, 10.0], [180.0, 10.0], [180.0, 20.0], [175.0, 20.0], [175.0, 10.0]]
    east = [[-180.0, 10.0], [-175.0, 10.0], [-175.0, 20.0], [-180.0, 20.0], [-180.0, 10.0]]
    split = {"type": "Feature", "properties": {"id": "split"},
             "geometry": {"type": "MultiPolygon", "coordinates": [[west], [east]]}}  # fmt: skip
    (zone,) = load_geojson_zones(_write(tmp_path / "z.geojson", split))
    assert zone.antimeridian == ""
    assert zone.contains_2d(15.0, 179.0) and zone.contains_2d(15.0, -179.0)
    assert not zone.contains_2d(15.0, 0.0)


def test_defect_4_a_band_around_the_globe_is_read_as_given(tmp_path: Path) -> None:
    band = [[-180.0, 10.0], [180.0, 10.0], [180.0, 20.0], [-180.0, 20.0], [-180.0, 10.0]]
    (zone,) = load_geojson_zones(_write(tmp_path / "z.geojson", _feature(band, id="band")))
    assert zone.antimeridian == ""
    assert zone.contains_2d(15.0, 0.0) and zone.contains_2d(15.0, 179.0)


def test_defect_4_antimeridian_property_must_be_a_boolean(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.geojson", _feature(PACIFIC, id="pac", antimeridian="no"))
    with pytest.raises(ZoneError, match="antimeridian"):
        load_geojson_zones(path)


def test_defect_4_zones_list_says_which_reading_was_taken(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.geojson", _feature(PACIFIC, id="pac"))
    proc = subprocess.run(
        [sys.executable, "-m", "alerts.cli", "zones", "list", "--zones", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "antimeridian: crossing" in proc.stdout
    assert "-175.00..175.00E" not in proc.stdout or "crossing" in proc.stdout


# -- limits ---------------------------------------------------------------------------------


def _circle(n: int) -> list[list[float]]:
    ring = [[125.0 + math.cos(2 * math.pi * i / n), 40.0 + math.sin(2 * math.pi * i / n)] for i in range(n)]
    return [*ring, ring[0]]


def test_defect_4_vertices_per_zone_are_capped(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.geojson", _feature(_circle(1000), id="big"))
    with pytest.raises(ZoneError, match=r"1001 vertices, more than the limit of 500 per zone"):
        load_zones([str(path)], max_vertices=500)
    assert len(load_zones([str(path)], max_vertices=1001)) == 1  # at the limit: loads


def test_defect_4_default_vertex_cap_refuses_a_million_vertex_zone_at_once(tmp_path: Path) -> None:
    n = MAX_VERTICES + 1
    coords = [[125.0 + i * 1e-6, 40.0] for i in range(n)]  # counted, never built
    path = _write(tmp_path / "z.geojson", _feature(coords, id="huge"))
    with pytest.raises(ZoneError, match="SKYFENCE_ZONE_MAX_VERTICES"):
        load_geojson_zones(path)


def test_defect_4_zones_per_file_are_capped(tmp_path: Path) -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    path = _write(tmp_path / "z.geojson", *[_feature(square, id=f"z{i}") for i in range(5)])
    with pytest.raises(ZoneError, match=r"5 zones, more than the limit of 4 per file"):
        load_geojson_zones(path, max_zones_per_file=4)
    assert len(load_geojson_zones(path, max_zones_per_file=5)) == 5


def test_defect_4_zone_limits_are_settings() -> None:
    settings = StreamSettings.from_env(
        {"SKYFENCE_ZONE_MAX_VERTICES": "1234", "SKYFENCE_ZONE_FILE_MAX_ZONES": "7"}
    )
    assert settings.zone_limits() == {"max_vertices": 1234, "max_zones_per_file": 7}
    with pytest.raises(ConfigError, match="SKYFENCE_ZONE_MAX_VERTICES"):
        StreamSettings.from_env({"SKYFENCE_ZONE_MAX_VERTICES": "0"})
    with pytest.raises(ConfigError, match="SKYFENCE_ZONE_FILE_MAX_ZONES"):
        StreamSettings.from_env({"SKYFENCE_ZONE_FILE_MAX_ZONES": "many"})


def test_defect_4_cli_applies_the_zone_limit_from_the_environment(tmp_path: Path) -> None:
    path = _write(tmp_path / "z.geojson", _feature(_circle(100), id="c"))
    proc = subprocess.run(
        [sys.executable, "-m", "alerts.cli", "zones", "list", "--zones", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "SKYFENCE_ZONE_MAX_VERTICES": "50"},
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "101 vertices, more than the limit of 50" in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


# -- escaping -------------------------------------------------------------------------------

HOSTILE_ID = "evil\x1b[2J\rzone\n\u202e"
HOSTILE_NAME = "Name\x07\x00 with\tcontrols\u202e"
_CONTROLS = ("\x1b", "\r", "\n", "\u202e", "\x07", "\x00", "\t")


def _clean(text: str) -> None:
    for c in _CONTROLS:
        assert c not in text, (c, text)


def test_defect_4_printable_escapes_control_and_format_characters() -> None:
    assert printable("dprk") == "dprk"
    assert printable("Zone Ñ 北 ✈") == "Zone Ñ 北 ✈"
    assert printable("a\nb\x1b[31m\u202e") == "a\\nb\\x1b[31m\\u202e"


def test_defect_4_zones_list_escapes_ids_and_names(tmp_path: Path) -> None:
    square = [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]]
    path = _write(tmp_path / "z.geojson", _feature(square, id=HOSTILE_ID, name=HOSTILE_NAME))
    proc = subprocess.run(
        [sys.executable, "-m", "alerts.cli", "zones", "list", "--zones", str(path)],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    _clean(proc.stdout.replace("\n", ""))
    assert len(proc.stdout.splitlines()) == 1
    assert "evil\\x1b[2J\\rzone\\n\\u202e" in proc.stdout


def _event() -> AirspaceEvent:
    return AirspaceEvent(
        event_id="e1", type=EventType.ENTERED, icao24="abc123", zone=HOSTILE_ID, ts=T0,
        lat=40.0, lon=125.0, observed_ts=T0, callsign="KOR123", confidence=Confidence.OBSERVED,
    )  # fmt: skip


@pytest.mark.parametrize("zone_name", [None, HOSTILE_NAME])
def test_defect_4_alerts_escape_zone_ids_and_names(zone_name: str | None) -> None:
    from dataclasses import replace

    event = replace(_event(), zone_name=zone_name)
    line = console_line(event)
    _clean(line)
    assert "evil\\x1b[2J" in line
    ctx = build_context(event)
    _clean(ctx.headline)
    _clean(ctx.what)
    slack = orjson.dumps(slack_blocks(ctx)).decode()
    assert "\\u001b" not in slack and "\u202e" not in slack  # no ESC (JSON-escaped), no raw RLO
    shown = "evil\\x1b[2J" if zone_name is None else "Name\\x07\\x00"  # the escape, as text
    assert shown.replace("\\", "\\\\") in slack
    for text in (telegram_html(ctx), telegram_caption(ctx), plain_text(ctx)):
        _clean(text.replace("\n", ""))  # (their own line breaks are theirs)
        assert shown in text
