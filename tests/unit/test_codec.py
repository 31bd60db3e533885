"""Recording format v1 and event format v1: round trips and every rejection reason."""

from __future__ import annotations

import orjson
import pytest

from streams.codec import decode_event, decode_position, encode_event, encode_position
from streams.errors import DecodeError
from streams.models import AirspaceEvent, Confidence, EventType, PositionReport, make_event_id

GOOD = {
    "icao24": "1551E0",
    "ts": 1695690000.5,
    "lat": 40.1,
    "lon": 124.3,
    "alt_ft": 35000,
    "gs_kt": 455.0,
    "track_deg": 480.0,
    "vrate_fpm": -1500,
    "callsign": " RSD352 ",
    "squawk": "1000",
    "on_ground": False,
    "source": "adsb",
    "unknown_key": "ignored",
}


def test_decode_normalises_and_keeps_every_field() -> None:
    report = decode_position(orjson.dumps(GOOD))
    assert report.icao24 == "1551e0"
    assert report.callsign == "RSD352"
    assert report.track_deg == 120.0
    assert (report.alt_ft, report.gs_kt, report.vrate_fpm) == (35000, 455.0, -1500)
    assert report.squawk == "1000" and report.on_ground is False and report.source == "adsb"


def test_position_round_trip_leaves_out_absent_fields() -> None:
    report = PositionReport(icao24="abcdef", ts=1.7e9, lat=1.5, lon=-2.25, alt_ft=100)
    raw = encode_position(report)
    assert orjson.loads(raw) == {"icao24": "abcdef", "ts": 1.7e9, "lat": 1.5, "lon": -2.25, "alt_ft": 100}
    assert decode_position(raw) == report


def test_nulls_are_absent() -> None:
    report = decode_position(b'{"icao24":"abcdef","ts":1700000000,"lat":1,"lon":2,"alt_ft":null,"callsign":null}')
    assert report.alt_ft is None and report.callsign is None


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"icao24": None}, "missing_field"),
        ({"icao24": "12345"}, "bad_icao24"),
        ({"icao24": "12345g"}, "bad_icao24"),
        ({"icao24": 123456}, "bad_icao24"),
        ({"ts": "now"}, "bad_ts"),
        ({"ts": 1695690000500}, "bad_ts"),  # milliseconds, a unit error
        ({"ts": True}, "bad_ts"),
        ({"lat": 91}, "bad_lat"),
        ({"lon": -180.5}, "bad_lon"),
        ({"lat": None}, "missing_field"),
        ({"alt_ft": "high"}, "bad_field"),
        ({"squawk": "7800"}, "bad_field"),
        ({"on_ground": "no"}, "bad_field"),
        ({"callsign": 5}, "bad_field"),
    ],
)
def test_rejections_name_a_bounded_reason(patch: dict, reason: str) -> None:
    obj = {**GOOD, **patch}
    obj = {k: v for k, v in obj.items() if v is not None}
    with pytest.raises(DecodeError) as info:
        decode_position(orjson.dumps(obj))
    assert info.value.reason == reason


@pytest.mark.parametrize(("raw", "reason"), [(b"{not json", "json"), (b"[1,2]", "not_object"), (b"", "json")])
def test_garbage(raw: bytes, reason: str) -> None:
    with pytest.raises(DecodeError) as info:
        decode_position(raw)
    assert info.value.reason == reason


def test_nan_is_rejected() -> None:
    with pytest.raises(DecodeError) as info:
        decode_position(b'{"icao24":"abcdef","ts":1700000000,"lat":NaN,"lon":2}')
    assert info.value.reason == "json"  # orjson refuses NaN literals, as JSON does


def test_event_round_trip_and_version() -> None:
    event = AirspaceEvent(
        event_id=make_event_id("1551e0", "dprk", "entered", 1695690000.5),
        type=EventType.ENTERED,
        icao24="1551e0",
        zone="dprk",
        ts=1695689990.25,
        lat=40.1,
        lon=124.4,
        observed_ts=1695690000.5,
        callsign="RSD352",
        confidence=Confidence.OBSERVED,
        alt_ft=35000,
    )
    raw = encode_event(event)
    obj = orjson.loads(raw)
    assert obj["v"] == 1 and obj["type"] == "entered" and "eta_ts" not in obj
    assert decode_event(raw) == event


def test_event_id_is_deterministic_and_distinguishes() -> None:
    a = make_event_id("1551e0", "dprk", "entered", 1695690000.5)
    assert a == make_event_id("1551e0", "dprk", "entered", 1695690000.5004)  # same ms
    assert a != make_event_id("1551e0", "dprk", "exited", 1695690000.5)
    assert a != make_event_id("1551e1", "dprk", "entered", 1695690000.5)
    assert len(a) == 20


def test_decode_event_rejects_missing_fields() -> None:
    with pytest.raises(DecodeError) as info:
        decode_event(b'{"event_id":"x","type":"entered"}')
    assert info.value.reason == "missing_field"


@pytest.mark.parametrize(
    ("key", "value"),
    [("ts", False), ("lat", 181), ("lon", "1"), ("observed_ts", None), ("zone", 5),
     ("icao24", ["a"]), ("callsign", {"x": 1}), ("alt_ft", "30000"), ("gs_kt", True),
     ("eta_ts", "inf"), ("trail", [[True, 1.0]])],
)  # fmt: skip
def test_decode_event_rejects_wrong_types_and_ranges(key: str, value: object) -> None:
    # found by the fuzz tests (issue 12): `false` was read as 0.0, lon 181 and a dict
    # callsign were accepted
    good = {"v": 1, "event_id": "e", "type": "entered", "icao24": "abc123", "zone": "dprk",
            "ts": 1.7e9, "lat": 40.0, "lon": 125.0, "observed_ts": 1.7e9, "confidence": "observed"}  # fmt: skip
    decode_event(orjson.dumps(good))
    raw = orjson.dumps({**good, key: value})
    with pytest.raises(DecodeError) as info:
        decode_event(raw)
    assert info.value.reason in ("bad_field", "missing_field")
