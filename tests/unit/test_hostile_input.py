"""Regression tests for issue 12's defects in the pure code: the codec's limits and the file
readers on damaged input. Each test is named after the defect it pins (``defect_<n>`` is the
issue's numbering); each failed before the fix.
"""

from __future__ import annotations

import gzip
import os
import resource
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from streams.codec import (
    CALLSIGN_MAX_CHARS,
    FIELD_RANGES,
    MESSAGE_MAX_BYTES,
    SOURCE_MAX_CHARS,
    decode_message,
    decode_position,
    decode_positions,
    encode_event,
    position_fields,
    position_from_mapping,
)
from streams.errors import DecodeError
from streams.models import BadLine, PositionReport
from streams.replay import evaluate, read_recording
from streams.sources import detect_format, read_source
from streams.sources._common import DOCUMENT_MAX_BYTES, read_bytes_partial
from streams.tracking import Tracker
from streams.zones import builtin_zone

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "dprk-2023-09.jsonl.gz"
T0 = 1_695_690_000.0


def _pos(**extra: object) -> dict[str, object]:
    return {"icao24": "1551e0", "ts": T0, "lat": 45.0, "lon": 100.0, **extra}


def _reason(data: bytes) -> str:
    with pytest.raises(DecodeError) as info:
        decode_positions(data)
    return info.value.reason


# -- defect 1: a 5 MB callsign was accepted, and its state could not be produced -----------


def test_defect_1_5mb_callsign_message_is_too_large_before_parsing() -> None:
    message = orjson.dumps(_pos(callsign="A" * 5_000_000))
    assert _reason(message) == "too_large"
    with pytest.raises(DecodeError, match="too_large"):
        decode_position(message)
    with pytest.raises(DecodeError, match="too_large"):
        decode_message(message)


def test_defect_1_every_string_field_has_a_size_limit() -> None:
    # Within the message limit, a long callsign or source is still refused as bad_field.
    for key, limit in (("callsign", CALLSIGN_MAX_CHARS), ("source", SOURCE_MAX_CHARS)):
        with pytest.raises(DecodeError) as info:
            decode_position(orjson.dumps(_pos(**{key: "A" * (limit + 1)})))
        assert info.value.reason == "bad_field", key
        assert position_fields(_pos(**{key: "A" * (limit + 1)})) is None
        ok = decode_position(orjson.dumps(_pos(**{key: "A" * limit})))
        assert getattr(ok, key) == "A" * limit
    # Padding around a callsign is trimmed before it is measured (ADS-B pads to 8).
    padded = decode_position(orjson.dumps(_pos(callsign="RSD352" + " " * 40)))
    assert padded.callsign == "RSD352"
    with pytest.raises(DecodeError, match="bad_field"):
        decode_position(orjson.dumps(_pos(squawk="7" * 10_000)))


def test_defect_1_a_message_at_the_limit_is_still_parsed() -> None:
    filler = " " * (MESSAGE_MAX_BYTES - len(orjson.dumps(_pos())))
    message = orjson.dumps(_pos())[:-1] + filler.encode() + b"}"
    assert len(message) == MESSAGE_MAX_BYTES
    assert isinstance(decode_positions(message), PositionReport)
    assert _reason(message + b" ") == "too_large"


# -- defect 2: {"watermark": 1e308} was accepted -------------------------------------------


@pytest.mark.parametrize("value", [1e308, -1e308, 4.2e9, 0, 1e12, True, "1695690000"])
def test_defect_2_watermark_outside_the_time_range_is_bad_ts(value: object) -> None:
    message = orjson.dumps({"watermark": value})
    assert _reason(message) == "bad_ts"
    with pytest.raises(DecodeError, match="bad_ts"):
        decode_message(message)


# -- defect 3: numbers beyond range crashed evaluate ---------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("alt_ft", 1e30),
        ("alt_ft", 10**30),
        ("alt_ft", -1e6),
        ("gs_kt", 1e308),
        ("gs_kt", -5.0),
        ("track_deg", 1e300),
        ("vrate_fpm", 1e30),
        ("vrate_fpm", -(10**40)),
    ],
)
def test_defect_3_out_of_range_numbers_are_bad_field(key: str, value: float) -> None:
    obj = _pos(**{key: value})
    assert position_fields(obj) is None  # the fast path defers to the full validation
    with pytest.raises(DecodeError) as info:
        position_from_mapping(obj)
    assert info.value.reason == "bad_field"
    assert key in info.value.detail


def test_defect_3_accepted_numbers_are_within_documented_ranges() -> None:
    for key, (low, high) in FIELD_RANGES.items():
        for value in (low, high):
            report = position_from_mapping(_pos(**{key: value}))
            got = getattr(report, key)
            assert got is not None
            if key == "track_deg":
                assert 0.0 <= got < 360.0
            else:
                assert low <= got <= high


def test_defect_3_huge_integers_in_required_fields_are_rejected_not_raised() -> None:
    for key, reason in (("ts", "bad_ts"), ("lat", "bad_lat"), ("lon", "bad_lon")):
        with pytest.raises(DecodeError) as info:
            position_from_mapping(_pos(**{key: 10**400}))
        assert info.value.reason == reason


def test_defect_3_evaluate_survives_alt_1e30_and_gs_1e308(tmp_path: Path) -> None:
    lines = [
        orjson.dumps(_pos(ts=T0 + i, lat=40.30 - 0.01 * i, lon=124.0 + 0.025 * i))
        for i in range(3)
    ]
    lines.insert(1, orjson.dumps(_pos(ts=T0 + 1.5, alt_ft=1e30)))
    lines.insert(2, orjson.dumps(_pos(ts=T0 + 1.7, gs_kt=1e308, track_deg=90.0)))
    path = tmp_path / "hostile.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = evaluate(read_recording(path), Tracker([builtin_zone("dprk")]))
    assert [b.reason for b in result.bad_lines] == ["bad_field", "bad_field"]
    assert sum(result.outcomes.values()) == 3
    for event in result.events:
        encode_event(event)


def _truncated_seed(tmp_path: Path, keep: int) -> Path:
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(SEED.read_bytes()[:keep])
    return path


def test_defect_3_truncated_gzip_keeps_what_was_read(tmp_path: Path) -> None:
    path = _truncated_seed(tmp_path, 300_000)
    items = list(read_recording(path))
    *good, last = items
    assert isinstance(last, BadLine) and last.reason == "truncated"
    assert len(good) > 10_000 and all(isinstance(i, PositionReport) for i in good)
    assert f"after line {len(good)}" in last.detail
    # The events of the part read are kept.
    result = evaluate(iter(items), Tracker([builtin_zone("dprk")]))
    assert result.events


def test_defect_3_corrupt_gzip_is_a_bad_line(tmp_path: Path) -> None:
    data = bytearray(SEED.read_bytes())
    data[200_000:200_100] = b"\x00" * 100
    path = tmp_path / "corrupt.jsonl.gz"
    path.write_bytes(bytes(data))
    items = list(read_recording(path))
    assert isinstance(items[-1], BadLine) and items[-1].reason in ("corrupt", "truncated")
    assert sum(isinstance(i, PositionReport) for i in items) > 1000


def test_defect_3_only_the_gzip_magic(tmp_path: Path) -> None:
    path = tmp_path / "magic.jsonl.gz"
    path.write_bytes(b"\x1f\x8b")
    assert [(b.reason) for b in read_recording(path)] == ["truncated"]  # type: ignore[union-attr]
    data, damage = read_bytes_partial(path)
    assert data == b"" and damage is not None and damage.reason == "truncated"


def test_defect_3_damaged_gzip_in_whole_document_formats(tmp_path: Path) -> None:
    doc = orjson.dumps([{"icao24": "1551e0", "timestamp": 1_695_690_000_000}] * 2000)
    path = tmp_path / "states.json.gz"
    path.write_bytes(gzip.compress(doc)[:-200])
    items = list(read_source(path, "opensky-json"))
    assert [getattr(i, "reason", None) for i in items] == ["truncated"]


def test_defect_3_modes_csv_field_over_128kb_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    good = '1457996400,"8D406B902015A678D4D220AA4BDA"'
    path.write_text(f'1457996400,"{"A" * 200_000}"\n{good}\n')
    items = list(read_source(path, "modes-csv"))
    assert isinstance(items[0], BadLine) and items[0].reason == "too_large"
    assert len(items) == 1 or not isinstance(items[1], BadLine) or items[1].line_no == 2


def test_defect_5_random_binary_is_not_taken_as_beast(tmp_path: Path) -> None:
    rnd = os.urandom(100_000)
    for name in ("capture.bin", "capture.beast", "capture"):
        path = tmp_path / name
        path.write_bytes(b"\x1a1" + rnd)  # even starting like a Beast frame
        with pytest.raises(DecodeError) as info:
            detect_format(path)
        assert info.value.reason == "bad_format"


# -- defect 6: memory grew with the longest decompressed line ------------------------------


def test_defect_6_long_line_is_too_large_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as gz:
        gz.write(orjson.dumps(_pos()) + b"\n")
        chunk = b"A" * (1 << 20)
        for _ in range(300):  # 300 MB without a newline
            gz.write(chunk)
        gz.write(b"\n" + orjson.dumps(_pos(ts=T0 + 1)) + b"\n")
    small = tmp_path / "small.jsonl.gz"
    with gzip.open(small, "wb") as gz:
        gz.write(orjson.dumps(_pos()) + b"\n")
    # In child processes, so their peak memory is their own; the same reader over a one-line
    # file gives the baseline (interpreter, numpy, shapely), which varies from run to run.
    code = (
        "import resource, sys\n"
        "from streams.replay import read_recording\n"
        "items = list(read_recording(sys.argv[1]))\n"
        "print([getattr(i, 'reason', 'ok') for i in items])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )

    def run(target: Path) -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", code, str(target)], capture_output=True, text=True,
            check=True, cwd=ROOT,
        ).stdout.split("\n")  # fmt: skip

    out, base = run(path), run(small)
    assert out[0] == "['ok', 'too_large', 'ok']"
    grown_mb = (int(out[1]) - int(base[1])) / 1024
    print(f"peak RSS grew by {grown_mb:.1f} MB")
    assert grown_mb < 64, f"a 300 MB line grew peak RSS by {grown_mb:.0f} MB"
    assert resource.getrusage(resource.RUSAGE_SELF)  # the parent is untouched


def test_defect_6_whole_documents_are_capped(tmp_path: Path) -> None:
    assert DOCUMENT_MAX_BYTES < 1 << 30
    path = tmp_path / "bomb.json.gz"
    with gzip.open(path, "wb", compresslevel=1) as gz:
        gz.write(b"[" + b" " * (1 << 20))
    data, damage = read_bytes_partial(path)
    assert damage is None and len(data) == (1 << 20) + 1
