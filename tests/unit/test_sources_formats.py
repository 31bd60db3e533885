"""Each source format parses its real sample, survives broken rows, and is detected by content.

Samples are third-party files in the shared data folder (see its README); the broken-row
cases are small synthetic inputs built here.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import streams.sources as sources
from streams.errors import DecodeError
from streams.geo import haversine_m
from streams.models import BadLine, PositionReport
from streams.replay import read_recording
from streams.sources import FORMATS, detect_format, read_source
from streams.sources.beast import iter_beast_frames, parse_beast, scan_beast
from streams.sources.fr24 import parse_fr24
from streams.sources.modes_csv import parse_modes_csv
from streams.sources.opensky import parse_opensky_json
from streams.sources.readsb import parse_readsb_trace
from tests.support.modes_frames import crc24

SEED = Path(__file__).resolve().parents[2] / "seeds" / "dprk-2023-09.jsonl.gz"

SAMPLES = {
    "pymodes_sample_data_adsb.csv": "modes-csv",
    "sample_dump1090.bin": "beast",
    "trace_full_ac671b.json": "readsb-trace",
    "fr24_2ce4f83f_SPAR19.json": "fr24",
    "fr24_3376ab31_JAL516.json": "fr24",
    "quickstart.json.gz": "opensky-json",
}

EVEN_MSG = "8D40621D58C382D690C8AC2863A7"
ODD_MSG = "8D40621D58C386435CC412692AD6"


def split(items: Iterable[PositionReport | BadLine]) -> tuple[list[PositionReport], list[BadLine]]:
    good: list[PositionReport] = []
    bad: list[BadLine] = []
    for item in items:
        if isinstance(item, BadLine):
            bad.append(item)
        else:
            good.append(item)
    return good, bad


# -- the package surface --------------------------------------------------------------------


def test_public_surface() -> None:
    assert sorted(sources.__all__) == [
        "FORMATS", "ModeSDecoder", "detect_format", "read_source", "read_source_raw", "sniff_format",
    ]  # fmt: skip
    assert list(FORMATS) == [
        "jsonl", "modes-csv", "beast", "readsb-trace", "fr24", "opensky-json", "opensky-csv", "sbs", "rs1090",
    ]  # fmt: skip


def test_sources_load_no_io_library() -> None:
    code = (
        "import sys, streams.sources; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('faust', 'aiokafka', 'aiohttp', 'prometheus_client', 'mode')); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_unknown_format_is_a_clear_error() -> None:
    with pytest.raises(DecodeError) as info:
        read_source("whatever.bin", "sbs1")
    assert info.value.reason == "bad_format"
    for name in FORMATS:
        assert name in str(info.value)


@pytest.mark.parametrize(("name", "fmt"), sorted(SAMPLES.items()))
def test_detect_format_of_each_sample(shared_data: Path, name: str, fmt: str) -> None:
    assert detect_format(shared_data / name) == fmt


def test_detect_format_of_a_recording_and_by_extension(tmp_path: Path) -> None:
    assert detect_format(SEED) == "jsonl"
    odd = tmp_path / "capture.jsonl"
    odd.write_bytes(b"\n\n")  # says nothing by content: the name decides
    assert detect_format(odd) == "jsonl"
    # A name says little about binary data: Beast only if the bytes are Beast frames.
    garbage = tmp_path / "capture.beast"
    garbage.write_bytes(b"\x00\x01")
    with pytest.raises(DecodeError):
        detect_format(garbage)
    unknown = tmp_path / "mystery.dat"
    unknown.write_bytes(b"hello")
    with pytest.raises(DecodeError) as info:
        detect_format(unknown)
    assert info.value.reason == "bad_format"


def test_jsonl_delegates_to_the_recording_reader() -> None:
    assert list(read_source(SEED, "jsonl")) == list(read_recording(SEED))


# -- modes-csv ------------------------------------------------------------------------------


def test_modes_csv_sample(shared_data: Path) -> None:
    good, bad = split(read_source(shared_data / "pymodes_sample_data_adsb.csv", "modes-csv"))
    assert (len(good), len(bad)) == (933, 0)
    first, last = good[0], good[-1]
    assert (first.icao24, first.ts, first.callsign) == ("406b90", 1457996403.0, "EZY85MH")
    assert (first.lat, first.lon) == (pytest.approx(51.14566), pytest.approx(7.244296))
    assert first.alt_ft == 36000 and first.gs_kt == pytest.approx(493.6)
    assert last.ts == 1457997130.0
    assert (last.lat, last.lon) == (pytest.approx(51.700031), pytest.approx(4.773407))


def test_modes_csv_broken_rows_become_bad_lines() -> None:
    flipped = f"{int(EVEN_MSG, 16) ^ (1 << 30):028X}"
    data = (
        "# comment\n"
        "\n"
        f'1000,"{ODD_MSG}","40621D",11\n'
        "1001\n"
        f'soon,"{EVEN_MSG}"\n'
        f'1001,"{flipped}"\n'
        f'1001,"{EVEN_MSG[:-2]}"\n'
        '1001,"8D40621DZZ"\n'
        f'1002,"{EVEN_MSG}","40621D",11\n'
    ).encode()
    good, bad = split(parse_modes_csv(data))
    assert [(b.line_no, b.reason) for b in bad] == [
        (4, "bad_row"), (5, "bad_ts"), (6, "bad_crc"), (7, "bad_length"), (8, "bad_hex"),
    ]  # fmt: skip
    assert len(good) == 1 and good[0].lat == pytest.approx(52.2572, abs=1e-4)


# -- beast ----------------------------------------------------------------------------------


def escape(body: bytes) -> bytes:
    return body.replace(b"\x1a", b"\x1a\x1a")


def beast_frame(ticks: int, signal: int, msg: bytes) -> bytes:
    kind = {2: b"1", 7: b"2", 14: b"3"}[len(msg)]
    return b"\x1a" + kind + escape(ticks.to_bytes(6, "big") + bytes([signal]) + msg)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, (1 << 48) - 1),
            st.integers(0, 255),
            st.sampled_from([2, 7, 14]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        ),
        max_size=20,
    )
)
def test_beast_scanner_unescapes_every_frame(frames: list[tuple[int, int, bytes]]) -> None:
    # Bodies with and without 0x1a: the one-slice path and the byte-by-byte path agree.
    data = b"".join(beast_frame(*f) for f in frames)
    assert list(iter_beast_frames(data)) == frames


def test_beast_sample(shared_data: Path) -> None:
    data = (shared_data / "sample_dump1090.bin").read_bytes()
    frames = list(iter_beast_frames(data))
    assert len(frames) == 239
    assert Counter(len(m) for _t, _s, m in frames) == {7: 185, 14: 54}
    assert not [e for e in scan_beast(data) if not isinstance(e, tuple)]
    assert (frames[0][0], frames[-1][0]) == (363366270, 650372130)  # 23.9 s of 12 MHz ticks
    good, bad = split(read_source(shared_data / "sample_dump1090.bin", "beast"))
    assert (len(good), len(bad)) == (3, 0)
    assert {r.icao24 for r in good} == {"48520a"}
    assert good[0].ts == pytest.approx(5.795062)  # seconds after the first frame (start_ts 0)
    assert (good[0].lat, good[0].lon) == (pytest.approx(43.644213), pytest.approx(1.231515))
    assert good[-1].callsign == "TRA89M" and good[-1].alt_ft == 38000


def test_beast_start_ts_dates_the_first_frame(shared_data: Path) -> None:
    start = 1_700_000_000.0
    good, _ = split(read_source(shared_data / "sample_dump1090.bin", "beast", start_ts=start))
    assert good[0].ts == pytest.approx(start + 5.795062)


def test_beast_unescapes_0x1a_in_timestamp_signal_and_message() -> None:
    msg = bytes.fromhex("8D1A621D") + bytes(7)
    msg = msg + crc24(msg).to_bytes(3, "big")
    ticks = 0x1A00001A1A1A
    data = beast_frame(ticks, 0x1A, msg) + beast_frame(5, 7, bytes.fromhex("5D40621D58C382"))
    assert data.count(b"\x1a\x1a") >= 4
    frames = list(iter_beast_frames(data))
    assert frames == [(ticks, 0x1A, msg), (5, 7, bytes.fromhex("5D40621D58C382"))]


def test_beast_damage_is_reported_and_skipped() -> None:
    even, odd = bytes.fromhex(EVEN_MSG), bytes.fromhex(ODD_MSG)
    data = (
        b"junk"
        + beast_frame(12_000_000, 1, odd)
        + b"\x1a3\x00\x00"  # a long frame cut short by the next marker
        + b"\x1a9\x01\x02"  # an unknown frame type
        + beast_frame(36_000_000, 1, even)
    )
    items = list(parse_beast(data, start_ts=100.0))
    good, bad = split(items)
    assert [b.reason for b in bad] == ["beast_garbage", "beast_truncated", "beast_unknown_type"]
    assert len(good) == 1 and good[0].ts == pytest.approx(102.0)


# -- readsb-trace ---------------------------------------------------------------------------


def test_readsb_trace_sample(shared_data: Path) -> None:
    good, bad = split(read_source(shared_data / "trace_full_ac671b.json", "readsb-trace"))
    assert (len(good), len(bad)) == (2500, 0)
    first, last = good[0], good[-1]
    assert (first.icao24, first.ts, first.lat, first.lon) == (
        "ac671b", pytest.approx(1738703622.619), 16.777359, -88.036868,
    )  # fmt: skip
    assert (first.alt_ft, first.gs_kt, first.track_deg, first.on_ground) == (
        32000,
        478.6,
        327.8,
        False,
    )
    assert first.callsign is None  # the first detail (callsign) comes with the 4th row
    assert good[3].callsign == "DAL1812" and good[3].squawk == "4637"
    assert good[4].callsign == "DAL1812"  # carried forward
    assert (last.ts, last.on_ground, last.alt_ft) == (pytest.approx(1738785278.089), True, 0)
    assert (last.callsign, last.squawk) == ("DAL2927", "2676")
    ground = [r for r in good if r.on_ground]
    assert len(ground) == 394 and {r.alt_ft for r in ground} == {0}
    assert first.source == "readsb:adsb_icao"


def test_readsb_ground_new_leg_and_broken_rows() -> None:
    doc = {
        "icao": "abc123",
        "timestamp": 1_700_000_000.0,
        "trace": [
            [0.0, 10.0, 20.0, "ground", 5.0, 90.0, 0, None, {"flight": "ABC1  ", "squawk": "1200"}],
            [10.0, 10.01, 20.0, 1500, 150.0, 90.0, 0, 1200],
            [20.0, 10.02, 20.0, None, None, None, 2, None],  # new leg: forget the callsign
            ["x", 10.0, 20.0, 1500, None, None, 0, None],
            [30.0, None, None, 1500, None, None, 0, None],
            [40.0, 10.0],
            [50.0, 95.0, 20.0, 1500, None, None, 0, None],
            "not a row",
        ],
    }
    good, bad = split(parse_readsb_trace(doc))
    assert [(r.on_ground, r.alt_ft, r.callsign, r.squawk) for r in good] == [
        (True, 0, "ABC1", "1200"), (False, 1500, "ABC1", "1200"), (None, None, None, None),
    ]  # fmt: skip
    assert good[1].ts == 1_700_000_010.0 and good[1].vrate_fpm == 1200
    assert [(b.line_no, b.reason) for b in bad] == [
        (4, "bad_ts"), (5, "no_position"), (6, "bad_row"), (7, "bad_lat"), (8, "bad_row"),
    ]  # fmt: skip
    assert [b.reason for b in split(parse_readsb_trace({"icao": "abc123"}))[1]] == ["bad_document"]


# -- fr24 -----------------------------------------------------------------------------------


def test_fr24_samples(shared_data: Path) -> None:
    good, bad = split(read_source(shared_data / "fr24_2ce4f83f_SPAR19.json", "fr24"))
    assert (len(good), len(bad)) == (871, 0)
    first, last = good[0], good[-1]
    assert (first.icao24, first.callsign, first.ts) == ("ae503d", "SPAR19", 1659425766.0)
    assert (first.lat, first.lon, first.alt_ft, first.gs_kt) == (3.123632, 101.553513, 0, 23.0)
    assert (first.track_deg, first.squawk, first.source) == (329.0, "2127", "fr24")
    assert (last.ts, last.lat, last.lon, last.squawk) == (
        1659451735.0,
        25.06636,
        121.562103,
        "3603",
    )
    assert max(r.alt_ft or 0 for r in good) >= 35000

    good, bad = split(read_source(shared_data / "fr24_3376ab31_JAL516.json", "fr24"))
    assert (len(good), len(bad)) == (305, 0)
    assert (good[0].icao24, good[0].callsign) == ("8467d8", "JAL516")
    assert good[0].squawk is None  # FR24 writes "0" for no squawk


def test_fr24_broken_points_and_documents() -> None:
    point = {
        "latitude": 35.0, "longitude": 139.0, "altitude": {"feet": 1000}, "speed": {"kts": 150},
        "verticalSpeed": {"fpm": -500}, "heading": 180, "squawk": "1234", "timestamp": 1_704_180_175,
    }  # fmt: skip
    flight = {
        "identification": {"callsign": "TEST1"},
        "aircraft": {"identification": {"modes": "8467D8"}},
        "track": [point, {**point, "latitude": None}, {**point, "timestamp": "noon"}, 7],
    }
    doc = {"result": {"response": {"data": {"flight": flight}}}}
    good, bad = split(parse_fr24(doc))
    assert len(good) == 1 and good[0].vrate_fpm == -500 and good[0].icao24 == "8467d8"
    assert [(b.line_no, b.reason) for b in bad] == [
        (2, "no_position"),
        (3, "bad_ts"),
        (4, "not_object"),
    ]
    assert [b.reason for b in split(parse_fr24({"result": {}}))[1]] == ["bad_document"]


# -- opensky-json ---------------------------------------------------------------------------


def test_opensky_quickstart_sample(shared_data: Path) -> None:
    """The whole 284,505-row file, once (about three seconds)."""
    good, bad = split(read_source(shared_data / "quickstart.json.gz", "opensky-json"))
    assert (len(good), len(bad)) == (284_505, 0)
    assert len({r.icao24 for r in good}) == 213
    first, last = good[0], good[-1]
    assert (first.icao24, first.ts, first.callsign, first.squawk) == (
        "0101de",
        1633608773.0,
        "MSR799",
        "1000",
    )
    assert (first.lat, first.lon, first.alt_ft) == (48.4824371338, 3.8288057767, 13650)
    assert (first.gs_kt, first.vrate_fpm, first.on_ground) == (325.0, -896, False)
    assert (last.icao24, last.ts, last.callsign) == ("39b002", 1633616277.0, "FHMAC")
    assert min(r.ts for r in good) >= 1633608000.0  # 2021-10-07, milliseconds converted
    assert sum(1 for r in good if r.on_ground) == 55_371


def test_opensky_rows_without_position_are_bad_lines(tmp_path: Path) -> None:
    rows = [
        {"timestamp": 1633608773000, "icao24": "0101de", "latitude": 48.5, "longitude": 3.8,
         "altitude": None, "callsign": "MSR799 ", "squawk": None, "onground": False},
        {"timestamp": 1633608774000, "icao24": "0101de", "latitude": None, "longitude": None},
        {"timestamp": 1633608775, "icao24": "0101de", "latitude": 48.6, "longitude": 3.9},
        {"timestamp": 1633608776000, "icao24": "NOTHEX", "latitude": 48.6, "longitude": 3.9},
        "row",
    ]  # fmt: skip
    good, bad = split(parse_opensky_json(rows))
    assert [r.ts for r in good] == [1633608773.0, 1633608775.0]  # ms and s both read right
    assert good[0].callsign == "MSR799" and good[0].alt_ft is None
    assert [(b.line_no, b.reason) for b in bad] == [
        (2, "no_position"),
        (4, "bad_icao24"),
        (5, "not_object"),
    ]
    path = tmp_path / "states.json.gz"
    path.write_bytes(gzip.compress(orjson.dumps(rows)))
    assert detect_format(path) == "opensky-json"
    assert len(split(read_source(path, "opensky-json"))[0]) == 2


def test_broken_json_file_is_one_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b'[{"icao24": ')
    assert [b.reason for b in split(read_source(path, "opensky-json"))[1]] == ["json"]


def test_read_source_raw_converts_feeds_to_recording_lines(shared_data: Path) -> None:
    from streams.codec import decode_position
    from streams.models import PositionReport
    from streams.sources import read_source_raw

    pairs = list(read_source_raw(shared_data / "fr24_3376ab31_JAL516.json"))
    assert pairs and all(isinstance(item, PositionReport) for item, _ in pairs)
    assert all(decode_position(raw) == item for item, raw in pairs)


def test_receiver_reference_reaches_the_mode_s_decoder(shared_data: Path) -> None:
    """``--ref-lat/--ref-lon`` (``reference``) gives the first frames of 406b90 a position
    before its first even/odd pair, and changes nothing once the pair has anchored it."""
    path = shared_data / "pymodes_sample_data_adsb.csv"
    plain, _ = split(read_source(path, "modes-csv"))
    with_ref, _ = split(read_source(path, "modes-csv", reference=(51.0, 7.0)))
    assert with_ref[0].ts == 1457996400.0 < plain[0].ts  # the lone odd frames now count
    assert with_ref[0].lat == pytest.approx(51.1, abs=0.1)
    anchored = {r.ts: (r.lat, r.lon) for r in plain}
    later = [r for r in with_ref if r.ts > plain[0].ts and r.ts in anchored]
    assert later
    for r in later:  # the same track (one second of flight: two fixes may share a time stamp)
        assert haversine_m(r.lat, r.lon, *anchored[r.ts]) < 600.0  # 2 s at 493 kt
