"""The ``skyfence`` command's offline sub-commands, run in-process."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pytest

from alerts.cli import main


def _recording(tmp_path: Path) -> Path:
    t0 = 1_695_690_000.0
    lines = [
        orjson.dumps({"icao24": "1551e0", "ts": t0 + 10 * i, "lat": 40.30 - 0.01 * i, "lon": 124.0 + 0.025 * i})
        for i in range(40)
    ]
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b"\n".join([*lines, b"# a comment", b"", b"{broken"]) + b"\n")
    return path


def test_evaluate_prints_events_as_json_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(_recording(tmp_path)), "--zones", "dprk"]) == 0
    out, err = capsys.readouterr()
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["type"], e["zone"], e["icao24"]) for e in events] == [
        ("approaching", "dprk", "1551e0"),
        ("entered", "dprk", "1551e0"),
    ]
    assert "1 bad lines" in err and "line 43: json" in err


def test_evaluate_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rec = str(_recording(tmp_path))
    main(["evaluate", rec])
    first = capsys.readouterr().out
    main(["evaluate", rec])
    assert capsys.readouterr().out == first != ""


def test_custom_geojson_zone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    square = [[124.5, 39.5], [125.5, 39.5], [125.5, 40.5], [124.5, 40.5], [124.5, 39.5]]
    zones = tmp_path / "mine.geojson"
    zones.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"id": "box", "name": "Box"}, "geometry": {"type": "Polygon", "coordinates": [square]}}
    ]}))
    assert main(["evaluate", str(_recording(tmp_path)), "--zones", "dprk", str(zones)]) == 0
    entered = sorted(
        e["zone"] for e in map(json.loads, capsys.readouterr().out.splitlines()) if e["type"] == "entered"
    )
    assert entered == ["box", "dprk"]


def test_zones_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["zones", "list"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dprk") and "ODbL" in out


def test_unknown_zone_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(_recording(tmp_path)), "--zones", "atlantis"]) == 2
    assert "unknown zone 'atlantis'" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["demo", "worker", "replay", "evaluate", "zones"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    assert "usage: skyfence" in capsys.readouterr().out


def test_ref_lat_lon_give_a_beast_capture_its_first_fixes(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--ref-lat/--ref-lon reach the Mode S decoder (a first fix before the even/odd pair);
    one without the other is a usage error (exit 2)."""
    capture = str(shared_data / "sample_dump1090.bin")
    args = ["evaluate", capture, "--format", "beast", "--start-ts", "1700000000"]
    assert main(args) == 0
    without = capsys.readouterr().err
    assert main([*args, "--ref-lat", "43.6", "--ref-lon", "1.3"]) == 0
    with_ref = capsys.readouterr().err
    assert "evaluate: 3 positions" in without and "evaluate: 4 positions" in with_ref
    with pytest.raises(SystemExit) as info:
        main([*args, "--ref-lat", "43.6"])
    assert info.value.code == 2 and "--ref-lon" in capsys.readouterr().err
