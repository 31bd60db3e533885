"""Every live parser survives malformed input: no exception escapes, and every input is either
parsed (a valid position, or a message that carries none) or rejected with a bounded reason.

Inputs: garbage bytes, truncated and mutated real records, huge, NaN and out-of-range values,
HTML error pages where JSON was expected, split at random chunk boundaries. The normal suite
runs a moderate number of examples per parser; ``SKYFENCE_FUZZ_EXAMPLES=10000`` runs the
issue's 10,000 (about a minute per parser on the project machine).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.codec import encode_position
from streams.models import BadLine, PositionReport
from streams.sources._common import load_json
from streams.sources.aircraft_json import parse_aircraft_json
from streams.sources.beast import BeastFramer
from streams.sources.normalize import validate_live
from streams.sources.opensky_states import parse_opensky_csv, parse_opensky_states
from streams.sources.sbs import SbsDecoder, SbsFramer

EXAMPLES = int(os.environ.get("SKYFENCE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOW = 1695690860.0
REASON = re.compile(r"^[a-z][a-z0-9_]{1,30}$")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def check(item: PositionReport | BadLine | None) -> None:
    """A parsed position obeys the contract (it encodes and is in range); a rejection has a
    bounded reason and bytes."""
    if item is None:
        return
    if isinstance(item, BadLine):
        assert REASON.match(item.reason), item.reason
        assert isinstance(item.raw, bytes) and isinstance(item.detail, str)
        return
    assert isinstance(item, PositionReport)
    assert re.fullmatch(r"[0-9a-f]{6}", item.icao24)
    assert math.isfinite(item.ts) and -90 <= item.lat <= 90 and -180 <= item.lon <= 180
    checked = validate_live(item, NOW, max_age_s=None, max_future_s=math.inf)
    check(checked if isinstance(checked, BadLine) else None)
    if isinstance(checked, PositionReport):
        encode_position(checked)  # JSON can hold it


# -- SBS --------------------------------------------------------------------------------

GOOD_SBS = [
    b"MSG,1,1,1,1551E0,1,2023/09/26,01:14:15.250,2023/09/26,01:14:15.250,RSD352,,,,,,,,,,,0",
    b"MSG,4,1,1,1551E0,1,2023/09/26,01:14:15.250,2023/09/26,01:14:15.250,,,413.0,135.0,,,-1500,,,,,0",
    b"MSG,3,1,1,1551E0,1,2023/09/26,01:14:15.250,2023/09/26,01:14:15.250,,27600,,,40.16810,124.44570,,1234,0,0,0,0",
    b"MSG,2,1,1,720632,1,,,,,,0,5.0,90.0,39.2,125.6,,,0,0,0,-1",
]
NASTY_NUMBERS = st.sampled_from(
    [
        "nan",
        "inf",
        "-inf",
        "1e308",
        "-1e999",
        "99999999999999999999",
        "0x10",
        "",
        " ",
        "1,2",
        "ground",
    ]
)


@st.composite
def sbs_lines(draw: Any) -> bytes:
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.binary(max_size=300))
    line = draw(st.sampled_from(GOOD_SBS))
    if kind == 1:  # truncated
        return line[: draw(st.integers(0, len(line)))]
    fields = line.split(b",")
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(fields) - 1))
        if kind == 2:
            fields[i] = draw(NASTY_NUMBERS).encode()
        else:
            fields[i] = draw(st.text(max_size=12)).encode("utf-8", "replace")
    return b",".join(fields)


@FUZZ
@given(st.lists(sbs_lines(), max_size=20), st.floats(allow_nan=True, allow_infinity=True))
def test_sbs_decoder_never_raises(lines: list[bytes], recv_ts: float) -> None:
    dec = SbsDecoder()
    for line in lines:
        check(dec.feed(line, recv_ts))
        check(dec.feed(line.decode("latin-1"), NOW))


@FUZZ
@given(st.lists(sbs_lines(), max_size=20), st.lists(st.integers(1, 64), min_size=1, max_size=10))
def test_sbs_framer_accounts_for_every_line(lines: list[bytes], cuts: list[int]) -> None:
    data = b"\n".join(lines)
    framer = SbsFramer()
    fed_lines = 0
    i = 0
    k = 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        items, count = framer.feed(data[i : i + n], NOW)
        fed_lines += count
        for item in items:
            check(item)
        i += n
        k += 1
    for item in framer.reset():
        check(item)
    # Every newline-terminated line was handed to the decoder exactly once.
    assert fed_lines == data.count(b"\n")


# -- Beast ------------------------------------------------------------------------------


def _beast_sample() -> bytes:
    path = DATA / "sample_dump1090.bin"
    if path.exists():
        return path.read_bytes()[:1200]
    # A well-formed long frame (escaped 0x1a inside) when the shared data is absent.
    return b"\x1a3\x00\x00\x15\xbe\x1a\x1a\x0c\x0f\x8d\x40\x62\x1d\x58\xc3\x82\xd6\x90\xc8\xac\x28\x63\xa7"


BEAST = _beast_sample()


@st.composite
def beast_streams(draw: Any) -> bytes:
    kind = draw(st.integers(0, 2))
    if kind == 0:
        return draw(st.binary(max_size=600))
    data = bytearray(BEAST[: draw(st.integers(0, len(BEAST)))])
    if kind == 2 and data:
        for _ in range(draw(st.integers(1, 20))):  # flipped bytes: CRC failures, broken escapes
            i = draw(st.integers(0, len(data) - 1))
            data[i] = draw(st.integers(0, 255))
    return bytes(data)


@FUZZ
@given(beast_streams(), st.lists(st.integers(1, 80), min_size=1, max_size=8))
def test_beast_framer_never_raises(data: bytes, cuts: list[int]) -> None:
    framer = BeastFramer()
    i = k = 0
    while i < len(data):
        n = cuts[k % len(cuts)]
        items, count = framer.feed(data[i : i + n], NOW)
        assert count >= 0
        for item in items:
            check(item)
        i += n
        k += 1
    for item in framer.reset():
        check(item)


# -- JSON snapshots ---------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=10)
    | st.sampled_from(["ground", "~abc123", "1551e0", "1551E0"]),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=20,
)
AIRCRAFT = st.fixed_dictionaries(
    {},
    optional={
        "hex": st.sampled_from(["1551e0", "~1551e0", "1551E0", "zzzzzz", "", "1551e0ff"])
        | JSON_VALUES,
        "lat": st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES,
        "lon": st.floats(-200, 200) | JSON_VALUES,
        "alt_baro": st.sampled_from(["ground", 37000, -5000, 10**12]) | JSON_VALUES,
        "gs": st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES,
        "track": st.floats(-1e6, 1e6) | JSON_VALUES,
        "baro_rate": st.integers(-(10**10), 10**10) | JSON_VALUES,
        "flight": st.text(max_size=12) | JSON_VALUES,
        "squawk": st.text(max_size=5) | JSON_VALUES,
        "seen_pos": st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES,
        "seen": JSON_VALUES,
    },
)


@FUZZ
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {"aircraft": st.lists(AIRCRAFT | JSON_VALUES, max_size=6)},
            optional={"now": st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES},
        ),
        st.fixed_dictionaries(
            {
                "ac": st.none() | st.lists(AIRCRAFT, max_size=6),
                "now": st.integers(0, 2**64) | JSON_VALUES,
            }
        ),
    )
)
def test_aircraft_json_never_raises(doc: Any) -> None:
    rows = doc.get("aircraft", doc.get("ac")) if isinstance(doc, dict) else None
    items = list(parse_aircraft_json(doc, now_s=NOW))
    for item in items:
        check(item)
    whole_doc_rejected = any(isinstance(i, BadLine) and i.line_no == 0 for i in items)
    if isinstance(rows, list) and not whole_doc_rejected:
        assert len(items) == len(rows)  # one outcome per aircraft entry


@FUZZ
@given(
    st.binary(max_size=200)
    | st.sampled_from([b"<html><body><h1>502 Bad Gateway</h1></body></html>", b'{"ac": [', b""])
)
def test_non_json_bodies_are_one_rejection(body: bytes) -> None:
    doc, bad = load_json(body)
    if bad is not None:
        check(bad)
        assert bad.reason == "json"
    else:
        for item in parse_aircraft_json(doc, now_s=NOW):
            check(item)
        for item in parse_opensky_states(doc):
            check(item)


STATE_VALUE = st.floats(allow_nan=True, allow_infinity=True) | JSON_VALUES


@FUZZ
@given(
    st.one_of(
        JSON_VALUES,
        st.fixed_dictionaries(
            {
                "time": JSON_VALUES,
                "states": st.none()
                | st.lists(
                    st.lists(STATE_VALUE, min_size=0, max_size=19)
                    | st.tuples(
                        st.sampled_from(["1551e0", "~1551e", "zz"]),
                        st.text(max_size=9),
                        st.just("RU"),
                        st.integers(0, 2**40) | STATE_VALUE,
                        STATE_VALUE,
                        st.floats(-200, 200) | STATE_VALUE,
                        st.floats(-100, 100) | STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        STATE_VALUE,
                        st.integers(-1, 5) | STATE_VALUE,
                    ).map(list),
                    max_size=6,
                ),
            }
        ),
    )
)
def test_opensky_states_never_raise(doc: Any) -> None:
    items = list(parse_opensky_states(doc))
    for item in items:
        check(item)
    states = doc.get("states") if isinstance(doc, dict) else None
    if isinstance(states, list):
        assert len(items) == len(states)


HEADER = "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,geoaltitude,lastposupdate,lastcontact"
ROW = "1695690860,1551e0,40.1681,124.4457,212.46,135.0,-7.62,RSD352  ,False,False,False,1234,8412.48,8600.1,1695690858.5,1695690859.9"


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.text(max_size=120),
            st.builds(lambda n, t: ROW[:n] + t, st.integers(0, len(ROW)), st.text(max_size=20)),
        ),
        max_size=10,
    )
)
def test_opensky_csv_never_raises(rows: list[str]) -> None:
    lines = [HEADER + "\n", *[r + "\n" for r in rows]]
    items = list(parse_opensky_csv(lines))
    for item in items:
        check(item)


def test_fuzz_reasons_are_json_safe() -> None:
    # The dead-letter header carries the reason: it must be plain ASCII.
    assert orjson.dumps({"reason": "sbs_bad_time"})


RS1090_LINE = b'{"timestamp":1720249161.85,"frame":"8d39","df":"17","icao24":"393322","bds":"05","altitude":700,"latitude":48.99,"longitude":2.56}'


@FUZZ
@given(
    st.lists(
        st.one_of(
            st.binary(max_size=120),
            st.builds(lambda n: RS1090_LINE[:n], st.integers(0, len(RS1090_LINE))),
            st.builds(lambda d: json.dumps(d).encode(), st.fixed_dictionaries({"timestamp": JSON_VALUES, "icao24": JSON_VALUES},
                      optional={"latitude": STATE_VALUE, "longitude": STATE_VALUE, "altitude": STATE_VALUE,
                                "groundspeed": STATE_VALUE, "callsign": JSON_VALUES, "bds": JSON_VALUES})),
        ),
        max_size=12,
    )
)  # fmt: skip
def test_rs1090_never_raises(lines: list[bytes]) -> None:
    from streams.sources.rs1090 import parse_rs1090

    for item in parse_rs1090(lines):
        check(item)
