"""Fuzzing the codec and every source parser with hypothesis (issue 12).

Inputs are built from each format's structure (a valid record with one field broken or
replaced by a wrong type or an extreme number, truncated frames, Mode S messages with a
valid CRC) as well as random bytes. The properties, for every parser:

- no exception escapes;
- every input is either accepted (a :class:`PositionReport`) or rejected with a reason
  (a :class:`DecodeError` or :class:`BadLine` with a non-empty bounded ``reason``);
- accepted values are within the documented ranges (:data:`streams.codec.FIELD_RANGES`...).

``make test`` runs a few hundred examples per parser; ``make fuzz`` runs them under the
``fuzz`` marker with ``SKYFENCE_FUZZ_EXAMPLES=10000`` and prints the examples run per parser.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import math
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import (
    CALLSIGN_MAX_CHARS,
    FIELD_RANGES,
    SOURCE_MAX_CHARS,
    TS_MAX,
    TS_MIN,
    PositionBatch,
    RawBatch,
    decode_event,
    decode_position,
    decode_positions,
    encode_event,
)
from streams.errors import DecodeError
from streams.models import AirspaceEvent, BadLine, PositionReport, Watermark
from streams.replay import read_recording_raw
from streams.sources.beast import parse_beast
from streams.sources.fr24 import parse_fr24
from streams.sources.mode_s import ModeSDecoder
from streams.sources.modes_csv import parse_modes_csv
from streams.sources.opensky import parse_opensky_json
from streams.sources.readsb import parse_readsb_trace
from tests.support.modes_frames import crc24

pytestmark = pytest.mark.fuzz

#: Examples per parser: a few hundred in `make test`, 10,000 in `make fuzz`.
EXAMPLES = int(os.environ.get("SKYFENCE_FUZZ_EXAMPLES", "300"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
T0 = 1_695_690_000.0
_REASON_MAX_CHARS = 40
#: Examples run, and examples that failed, per parser (printed by the fixture below).
RUN: dict[str, int] = {}
FAILED: dict[str, int] = {}


@pytest.fixture(scope="module", autouse=True)
def _report(request: pytest.FixtureRequest) -> Iterable[None]:
    yield
    plugins = request.config.pluginmanager
    reporter = plugins.get_plugin("terminalreporter")
    capture = plugins.get_plugin("capturemanager")
    if reporter is None or not RUN:
        return
    lines = [f"fuzz: {name}: {n} examples, {FAILED.get(name, 0)} failures" for name, n in sorted(RUN.items())]
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        reporter.write_line("")
        for line in lines:
            reporter.write_line(line)


def counted(name: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Count the examples a fuzz test runs, and those that fail."""

    def wrap(test: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(test)
        def run(*args: Any, **kwargs: Any) -> None:
            RUN[name] = RUN.get(name, 0) + 1
            try:
                test(*args, **kwargs)
            except Exception:  # not hypothesis's own control flow (BaseException)
                FAILED[name] = FAILED.get(name, 0) + 1
                raise

        return run

    return wrap


def check_report(report: PositionReport) -> None:
    """An accepted position obeys every documented range."""
    assert len(report.icao24) == 6 and set(report.icao24) <= set("0123456789abcdef")
    assert TS_MIN <= report.ts <= TS_MAX
    assert -90.0 <= report.lat <= 90.0 and -180.0 <= report.lon <= 180.0
    for key, (low, high) in FIELD_RANGES.items():
        value = getattr(report, key)
        if value is None:
            continue
        assert math.isfinite(value), key
        if key == "track_deg":
            assert 0.0 <= value < 360.0
        else:
            assert low <= value <= high, (key, value)
    assert report.callsign is None or 0 < len(report.callsign) <= CALLSIGN_MAX_CHARS
    assert report.squawk is None or (len(report.squawk) == 4 and set(report.squawk) <= set("01234567"))
    assert report.source is None or len(report.source) <= SOURCE_MAX_CHARS
    assert report.on_ground in (None, True, False)


def check_items(items: Iterable[Any]) -> None:
    for item in items:
        if isinstance(item, BadLine):
            assert item.reason and len(item.reason) <= _REASON_MAX_CHARS
        else:
            assert isinstance(item, PositionReport)
            check_report(item)


# -- strategies ----------------------------------------------------------------------------

EXTREME = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1e30, -1e30, 1e308, -1e308, 2**63, 2**64, 1e-300]),
    st.text(max_size=40),
    st.text(min_size=2000, max_size=3000),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)
VALID_POSITION = st.fixed_dictionaries(
    {
        "icao24": st.text("0123456789abcdefABCDEF", min_size=6, max_size=6),
        "ts": st.floats(TS_MIN, TS_MAX),
        "lat": st.floats(-90, 90),
        "lon": st.floats(-180, 180),
    },
    optional={
        "alt_ft": st.integers(-5000, 200_000),
        "gs_kt": st.floats(0, 6000),
        "track_deg": st.floats(-720, 720),
        "vrate_fpm": st.integers(-100_000, 100_000),
        "callsign": st.text(max_size=CALLSIGN_MAX_CHARS),
        "squawk": st.text("01234567", min_size=4, max_size=4),
        "on_ground": st.booleans(),
        "source": st.text(max_size=SOURCE_MAX_CHARS),
    },
)
FIELDS = ["icao24", "ts", "lat", "lon", "alt_ft", "gs_kt", "track_deg", "vrate_fpm",
          "callsign", "squawk", "on_ground", "source", "watermark"]  # fmt: skip


@st.composite
def broken_position(draw: st.DrawFn) -> dict[str, Any]:
    """A valid position with one field broken (replaced, removed, or a wrong type)."""
    obj = dict(draw(VALID_POSITION))
    key = draw(st.sampled_from(FIELDS))
    if draw(st.booleans()):
        obj[key] = draw(EXTREME)
    else:
        obj.pop(key, None)
    return obj


def _dumps(obj: Any) -> bytes:
    try:
        return orjson.dumps(obj, option=orjson.OPT_PASSTHROUGH_SUBCLASS)
    except TypeError:  # integers beyond 64 bits: orjson refuses them, JSON allows them
        return repr(obj).replace("'", '"').replace("None", "null").encode()


MESSAGE = st.one_of(
    VALID_POSITION.map(_dumps),
    broken_position().map(_dumps),
    st.lists(st.one_of(VALID_POSITION, broken_position()), max_size=5).map(_dumps),
    st.binary(max_size=300),
    VALID_POSITION.map(_dumps).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.builds(lambda v: _dumps({"watermark": v}), EXTREME),
)


def _rejects(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except DecodeError as exc:
        assert exc.reason and len(exc.reason) <= _REASON_MAX_CHARS
        return None


# -- the codec -----------------------------------------------------------------------------


@FUZZ
@given(MESSAGE)
@counted("codec.decode_positions")
def test_fuzz_codec_positions(data: bytes) -> None:
    decoded = _rejects(lambda: decode_positions(data))
    if isinstance(decoded, PositionReport):
        check_report(decoded)
    elif isinstance(decoded, PositionBatch):
        check_report_list(decoded.reports)
        assert all(b.reason for b in decoded.bad)
    elif isinstance(decoded, Watermark):
        assert TS_MIN <= decoded.ts <= TS_MAX
    else:
        assert decoded is None or isinstance(decoded, RawBatch)


def check_report_list(reports: list[PositionReport]) -> None:
    for report in reports:
        check_report(report)


EVENT = st.fixed_dictionaries(
    {
        "v": st.just(1), "event_id": st.text(max_size=20),
        "type": st.sampled_from(["entered", "exited", "approaching", "bogus"]),
        "icao24": st.text(max_size=6), "zone": st.text(max_size=8),
        "ts": EXTREME, "lat": EXTREME, "lon": EXTREME, "observed_ts": EXTREME,
        "confidence": st.sampled_from(["observed", "inferred", "x"]),
    },
    optional={"trail": st.one_of(EXTREME, st.lists(st.lists(EXTREME, max_size=3), max_size=4)),
              "callsign": EXTREME, "alt_ft": EXTREME},
)  # fmt: skip


def check_event(event: AirspaceEvent) -> None:
    """An accepted event has its declared types, finite numbers, and encodes back to itself."""
    for key in ("event_id", "icao24", "zone"):
        assert isinstance(getattr(event, key), str), key
    for key in ("ts", "lat", "lon", "observed_ts"):
        value = getattr(event, key)
        assert isinstance(value, float) and math.isfinite(value), key
    assert -90.0 <= event.lat <= 90.0 and -180.0 <= event.lon <= 180.0
    for key in ("callsign", "zone_name", "verdict"):
        assert getattr(event, key) is None or isinstance(getattr(event, key), str), key
    assert event.alt_ft is None or (type(event.alt_ft) is int), event.alt_ft
    for key in ("gs_kt", "track_deg", "eta_ts", "last_seen_ts"):
        value = getattr(event, key)
        assert value is None or (isinstance(value, float) and math.isfinite(value)), key
    assert decode_event(encode_event(event)) == event


@FUZZ
@given(st.one_of(EVENT.map(_dumps), st.binary(max_size=200)))
@counted("codec.decode_event")
def test_fuzz_codec_events(data: bytes) -> None:
    event = _rejects(lambda: decode_event(data))
    if event is not None:
        check_event(event)


# -- source parsers ------------------------------------------------------------------------


def _modes_frame(draw: st.DrawFn) -> str:
    """A 112-bit DF17 message with random ME field and a valid CRC, or random hex."""
    if draw(st.booleans()):
        return draw(st.text("0123456789ABCDEFabcdefXZ ", max_size=30))
    tc = draw(st.integers(1, 31))
    me = (tc << 51) | draw(st.integers(0, (1 << 51) - 1))
    icao = draw(st.sampled_from([0x406B90, 0x7278A2, 0xABCDEF]))
    body = ((17 << 3 | 5) << 80 | icao << 56 | me).to_bytes(11, "big")
    frame = body + crc24(body + b"\x00\x00\x00").to_bytes(3, "big")
    return frame.hex().upper()


@st.composite
def modes_csv(draw: st.DrawFn) -> bytes:
    lines = []
    for _ in range(draw(st.integers(1, 8))):
        ts = draw(st.one_of(st.floats(T0, T0 + 100), EXTREME.map(str)))
        lines.append(f'{ts},"{_modes_frame(draw)}",x')
    text = "\n".join(lines).encode()
    return draw(st.one_of(st.just(text), st.binary(max_size=200), st.just(text[: len(text) // 2])))


@FUZZ
@given(modes_csv())
@counted("modes-csv")
def test_fuzz_modes_csv(data: bytes) -> None:
    check_items(parse_modes_csv(data))


@st.composite
def beast(draw: st.DrawFn) -> bytes:
    out = bytearray()
    for i in range(draw(st.integers(1, 6))):
        frame = _modes_frame(draw)
        valid = len(frame) == 28 and all(c in "0123456789ABCDEF" for c in frame)
        msg = bytes.fromhex(frame) if valid else draw(st.binary(max_size=14))
        kind = draw(st.sampled_from([b"1", b"2", b"3", b"4", b"\x1a"]))
        payload = (i * 12_000_000).to_bytes(6, "big") + b"\x80" + msg
        out += b"\x1a" + kind + payload.replace(b"\x1a", b"\x1a\x1a")
    data = bytes(out)
    return draw(st.one_of(st.just(data), st.just(data[: draw(st.integers(0, len(data)))]),
                          st.binary(max_size=300)))  # fmt: skip


@FUZZ
@given(beast())
@counted("beast")
def test_fuzz_beast(data: bytes) -> None:
    check_items(parse_beast(data, start_ts=T0))


def _json_doc(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, EXTREME, st.recursive(EXTREME, lambda c: st.lists(c, max_size=3), max_leaves=8))


@st.composite
def readsb_doc(draw: st.DrawFn) -> Any:
    rows = []
    for i in range(draw(st.integers(0, 5))):
        row: list[Any] = [i * 5.0, draw(st.floats(-90, 90)), draw(st.floats(-180, 180)),
                          draw(st.one_of(st.integers(-1000, 45000), st.just("ground"))),
                          draw(st.floats(0, 600)), draw(st.floats(0, 360)), 0, 0,
                          {"flight": "KOR123  ", "squawk": "1000"}, "adsb_icao"]  # fmt: skip
        if draw(st.booleans()):
            row[draw(st.integers(0, len(row) - 1))] = draw(EXTREME)
        rows.append(row)
    doc = {"icao": draw(st.sampled_from(["ac671b", "zzzzzz", "AC671B"])), "timestamp": T0, "trace": rows}
    if draw(st.booleans()):
        doc[draw(st.sampled_from(["icao", "timestamp", "trace"]))] = draw(EXTREME)
    return doc


@FUZZ
@given(_json_doc(readsb_doc()))
@counted("readsb-trace")
def test_fuzz_readsb_trace(doc: Any) -> None:
    check_items(parse_readsb_trace(doc))


@st.composite
def fr24_doc(draw: st.DrawFn) -> Any:
    points = []
    for i in range(draw(st.integers(0, 5))):
        point: dict[str, Any] = {
            "latitude": draw(st.floats(-90, 90)), "longitude": draw(st.floats(-180, 180)),
            "altitude": {"feet": draw(st.integers(0, 45000))}, "speed": {"kts": 400},
            "verticalSpeed": {"fpm": 0}, "heading": 90, "squawk": "2127", "timestamp": T0 + i,
        }  # fmt: skip
        if draw(st.booleans()):
            point[draw(st.sampled_from(sorted(point)))] = draw(EXTREME)
        points.append(point)
    flight = {"identification": {"callsign": draw(st.one_of(st.just("SPAR19"), EXTREME))},
              "aircraft": {"identification": {"modes": draw(st.one_of(st.just("AE503D"), EXTREME))}},
              "track": points}  # fmt: skip
    return {"result": {"response": {"data": {"flight": flight}}}}


@FUZZ
@given(_json_doc(fr24_doc()))
@counted("fr24")
def test_fuzz_fr24(doc: Any) -> None:
    check_items(parse_fr24(doc))


@st.composite
def opensky_doc(draw: st.DrawFn) -> Any:
    rows = []
    for i in range(draw(st.integers(0, 5))):
        row: dict[str, Any] = {
            "icao24": "3c6444", "timestamp": int((T0 + i) * 1000), "latitude": 50.0,
            "longitude": 8.0, "altitude": 30000, "groundspeed": 400, "track": 90,
            "vertical_rate": 0, "callsign": "DLH1", "squawk": "1000", "onground": False,
        }  # fmt: skip
        if draw(st.booleans()):
            row[draw(st.sampled_from(sorted(row)))] = draw(EXTREME)
        rows.append(row)
    return rows


@FUZZ
@given(_json_doc(opensky_doc()))
@counted("opensky-json")
def test_fuzz_opensky_json(doc: Any) -> None:
    check_items(parse_opensky_json(doc))


#: The outcome counters of ModeSDecoder: each message fed adds one to exactly one of them.
_MODES_OUTCOMES = ("bad_hex", "bad_length", "unknown_df", "bad_crc", "not_decoded",
                   "identification", "velocity", "position_frames")  # fmt: skip
_MODES_CORRUPT = ("bad_hex", "bad_length", "unknown_df", "bad_crc")


@FUZZ
@given(st.data())
@counted("modes decoder")
def test_fuzz_modes_decoder(data: st.DataObject) -> None:
    decoder = ModeSDecoder()
    for i in range(data.draw(st.integers(1, 6))):
        before = dict(decoder.counters)
        report = decoder.feed(_modes_frame(data.draw), T0 + i)
        grown = {k for k in _MODES_OUTCOMES if decoder.counters[k] != before[k]}
        assert len(grown) == 1, grown
        (outcome,) = grown
        assert decoder.counters[outcome] == before[outcome] + 1
        assert decoder.counters["messages"] == before["messages"] + 1
        if outcome in _MODES_CORRUPT:
            assert decoder.last_reject == outcome
        else:
            assert decoder.last_reject is None
        if report is not None:
            assert outcome == "position_frames"
            assert decoder.counters["positions"] == before["positions"] + 1
            check_report(report)


# -- skyfence recordings (jsonl, optionally gzip) -----------------------------------------------

_RECORDING_LINE = st.one_of(
    VALID_POSITION.map(_dumps),
    broken_position().map(_dumps),
    VALID_POSITION.map(_dumps).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),
    st.sampled_from([b"", b"   ", b"\t", b"# a comment", b"  # indented comment", b"#", b"\r"]),
    st.binary(max_size=80).map(lambda b: b.replace(b"\n", b"")),
    st.builds(lambda v: _dumps({"watermark": v}), EXTREME),
)


@st.composite
def recording(draw: st.DrawFn) -> tuple[list[bytes], bytes, str]:
    """Lines, the file's bytes, and how they were written: plain, gzip, or gzip cut short or
    damaged (or random bytes, as ``plain`` with no lines known)."""
    lines = draw(st.lists(_RECORDING_LINE, max_size=12))
    eol = draw(st.sampled_from([b"\n", b"\r\n"]))
    text = eol.join(lines) + draw(st.sampled_from([b"", eol]))
    how = draw(st.sampled_from(["plain", "gzip", "gzip-cut", "gzip-damaged", "random"]))
    if how == "plain":
        return lines, text, how
    if how == "random":
        return [], draw(st.binary(max_size=300)), how
    data = gzip.compress(text, mtime=0)
    if how == "gzip-cut":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "gzip-damaged":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1 :]
    return lines, data, how


def _counted_lines(lines: list[bytes]) -> list[tuple[int, bytes]]:
    """The lines a recording reader must answer for: not blank and not a ``#`` comment."""
    out = []
    for no, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith(b"#"):
            out.append((no, stripped))
    return out


def _read(data: bytes) -> list[tuple[PositionReport | BadLine, bytes]]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "recording.jsonl")
        path.write_bytes(data)
        return list(read_recording_raw(path))


@FUZZ
@given(recording())
@counted("recording (jsonl)")
def test_fuzz_recording_reader(rec: tuple[list[bytes], bytes, str]) -> None:
    lines, data, how = rec
    items = _read(data)
    check_items(item for item, _raw in items)
    numbers = [item.line_no if isinstance(item, BadLine) else None for item, _ in items]
    for item, raw in items:  # an accepted line is exactly what decode_position makes of it
        if isinstance(item, PositionReport):
            assert decode_position(raw) == item
    cut = [i for i, (item, _) in enumerate(items)
           if isinstance(item, BadLine) and item.reason in ("truncated", "corrupt")]  # fmt: skip
    assert cut in ([], [len(items) - 1]), "a damaged gzip ends the file with one bad line"
    expected = _counted_lines(lines)
    if how in ("plain", "gzip"):
        # every counted line gives exactly one item, in order, under its own line number
        assert not cut
        assert [raw for _, raw in items] == [raw for _, raw in expected]
        for (no, _), got in zip(expected, numbers, strict=True):
            assert got is None or got == no
    elif how == "gzip-cut" and len(data) >= 2:  # (shorter, it is not a gzip file any more)
        # what was read before the cut is kept: the items are a prefix of the whole file's
        # (the last line read may itself be cut short), then one ``truncated`` bad line
        assert cut, "a gzip stream cut short is reported"
        kept = [raw for _, raw in items[:-1]]
        full = [raw for _, raw in expected]
        assert len(kept) <= len(full)
        assert kept[:-1] == full[: max(len(kept) - 1, 0)]
        if kept:
            assert full[len(kept) - 1].startswith(kept[-1])
    # a damaged (not cut) gzip: decompressed bytes may be garbage up to the CRC check, so
    # only the properties above hold (each item accepted in range, or rejected with a reason)
