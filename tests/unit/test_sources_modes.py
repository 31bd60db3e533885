"""Mode S / ADS-B decoding through rs1090 (``streams.sources.mode_s``): the per-aircraft
streaming state around the library, specification vectors, CPR round trips, recorded data.

The vectors are the worked examples of "The 1090 Megahertz Riddle" (Junzi Sun, mode-s.org).
The recorded checks use pyModeS's sample CSV (one aircraft, 406B90, over the German-Dutch
border) and the rs1090 sample, whose frames come with rs1090's own decoded values. Frames
of chosen positions come from the test encoder (``tests.support.modes_frames``).
"""

from __future__ import annotations

import csv
import gzip
import itertools
from pathlib import Path

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from streams.geo import haversine_m
from streams.sources.mode_s import (
    EVICT_AFTER_S,
    JUMP_SLACK_NM,
    MAX_SPEED_KT,
    RECEIVER_MAX_RANGE_NM,
    ModeSDecoder,
    _nl,
    cpr_global_airborne,
)
from tests.support import modes_frames
from tests.support.modes_frames import crc24

CALLSIGN_MSG = "8D4840D6202CC371C32CE0576098"
EVEN_MSG = "8D40621D58C382D690C8AC2863A7"
ODD_MSG = "8D40621D58C386435CC412692AD6"
VELOCITY_MSG = "8D485020994409940838175B284F"


def position_msg(icao24: str, lat: float, lon: float, alt_ft: int, odd: bool) -> str:
    """A CRC-valid DF17 airborne position message (TC 11, 25 ft altitude), as hex."""
    return modes_frames.position_msg(icao24, lat, lon, alt_ft, odd).hex().upper()


def flip_bit(msg_hex: str, bit: int) -> str:
    value = int(msg_hex, 16) ^ (1 << bit)
    return f"{value:0{len(msg_hex)}X}"


# -- the test encoder agrees with the specification's vectors --------------------------------


@pytest.mark.parametrize("msg", [CALLSIGN_MSG, EVEN_MSG, ODD_MSG, VELOCITY_MSG])
def test_crc_of_good_messages_is_zero(msg: str) -> None:
    assert crc24(bytes.fromhex(msg)) == 0  # the remainder over data plus parity


@pytest.mark.parametrize("bit", [0, 5, 23, 24, 60, 87, 100, 111])
def test_any_single_bit_flip_is_a_bad_crc(bit: int) -> None:
    dec = ModeSDecoder()
    assert dec.feed(flip_bit(EVEN_MSG, bit), 1.0) is None
    # A flip in the first 5 bits may change the downlink format instead.
    assert dec.last_reject in ({"bad_crc"} if bit < 107 else {"bad_crc", "unknown_df"})


def test_callsign_velocity_and_altitude_vectors() -> None:
    dec = ModeSDecoder()
    dec.feed(CALLSIGN_MSG, 10.0)
    data = bytes.fromhex("8D40621D" + VELOCITY_MSG[8:22])
    dec.feed((data + crc24(data).to_bytes(3, "big")).hex(), 10.5)
    dec.feed(ODD_MSG, 11.0)
    report = dec.feed(EVEN_MSG, 12.0)
    assert report is not None and report.alt_ft == 38000
    assert report.gs_kt == pytest.approx(159.2) and report.track_deg == pytest.approx(182.88)
    assert report.vrate_fpm == -832
    assert dec.counters["identification"] == 1 and dec.counters["velocity"] == 1


@settings(max_examples=200, deadline=None)
@given(
    lat=st.floats(min_value=-85.0, max_value=85.0),
    lon=st.floats(min_value=-180.0, max_value=179.999),
    odd_last=st.booleans(),
)
def test_global_round_trip(lat: float, lon: float, odd_last: bool) -> None:
    """Any position, encoded as an even/odd pair, decodes back to within 10 m (or not at
    all when the two quantised latitudes straddle a longitude-zone boundary)."""
    dec = ModeSDecoder()
    dec.feed(position_msg("abcdef", lat, lon, 30000, not odd_last), 0.0)
    report = dec.feed(position_msg("abcdef", lat, lon, 30000, odd_last), 1.0)
    if report is not None:
        assert haversine_m(lat, lon, report.lat, report.lon) < 10.0


def test_receiver_reference_decodes_a_first_lone_frame() -> None:
    near = ModeSDecoder(reference=(52.258, 3.918))
    report = near.feed(EVEN_MSG, 1.0)
    assert report is not None and near.counters["receiver_decodes"] == 1
    assert (report.lat, report.lon) == (
        pytest.approx(52.25720, abs=1e-5),
        pytest.approx(3.91937, abs=1e-5),
    )
    # Without a reference a lone frame gives nothing.
    assert ModeSDecoder().feed(EVEN_MSG, 1.0) is None
    # An aircraft a whole zone (6 deg, 360 NM) from the receiver is placed a zone off: no
    # single message can tell. Such a fix is never the aircraft's reference: the first pair
    # anchors the track where it really is.
    far = ModeSDecoder(reference=(52.258 + 2 * RECEIVER_MAX_RANGE_NM / 60, 3.918))
    aliased = far.feed(EVEN_MSG, 1.0)
    assert aliased is not None and aliased.lat == pytest.approx(58.2572, abs=1e-3)
    anchored = far.feed(ODD_MSG, 2.0)
    assert anchored is not None and anchored.lat == pytest.approx(52.26578, abs=1e-4)
    assert far.counters["global_decodes"] == 1


# -- the streaming decoder ------------------------------------------------------------------


def test_decoder_pair_gives_the_book_position_with_latest_fields() -> None:
    dec = ModeSDecoder()
    t0 = 1_457_996_400.0
    assert dec.feed(ODD_MSG, t0) is None  # one frame alone gives no position
    report = dec.feed(EVEN_MSG, t0 + 2.0)
    assert report is not None
    assert (report.icao24, report.ts, report.alt_ft, report.source) == (
        "40621d", t0 + 2.0, 38000, "adsb",
    )  # fmt: skip
    assert (report.lat, report.lon) == (
        pytest.approx(52.25720, abs=1e-5),
        pytest.approx(3.91937, abs=1e-5),
    )
    assert report.on_ground is False
    assert dec.counters["global_decodes"] == 1


def test_decoder_needs_the_pair_within_ten_seconds() -> None:
    dec = ModeSDecoder()
    assert dec.feed(ODD_MSG, 100.0) is None
    assert dec.feed(EVEN_MSG, 110.5) is None
    assert dec.counters["positions"] == 0


def test_corrupt_messages_are_counted_not_raised() -> None:
    dec = ModeSDecoder()
    assert dec.feed(flip_bit(EVEN_MSG, 40), 1.0) is None
    assert dec.last_reject == "bad_crc"
    assert dec.feed("8D40621Dzz", 2.0) is None
    assert dec.last_reject == "bad_hex"
    assert dec.feed("8D40621D58C3", 3.0) is None
    assert dec.last_reject == "bad_length"
    assert dec.feed("08" + EVEN_MSG[2:], 4.0) is None  # DF1 is not defined
    assert dec.last_reject == "unknown_df"
    assert dec.feed("5D40621D58C382", 5.0) is None  # DF11 all-call reply: valid, not decoded
    assert dec.last_reject is None
    assert dec.counters["bad_crc"] == 1
    assert dec.counters["bad_hex"] == 1
    assert dec.counters["bad_length"] == 1
    assert dec.counters["unknown_df"] == 1
    assert dec.counters["not_decoded"] == 1
    assert dec.counters["messages"] == 5
    assert len(dec) == 0  # nothing corrupt created aircraft state


def test_report_carries_latest_callsign_and_velocity() -> None:
    dec = ModeSDecoder()
    icao = "4840d6"
    dec.feed(CALLSIGN_MSG, 10.0)
    # Re-address the velocity vector to the same aircraft: recompute its parity.
    data = bytes.fromhex("8D" + icao + VELOCITY_MSG[8:22])
    dec.feed((data + crc24(data).to_bytes(3, "big")).hex(), 10.5)
    dec.feed(position_msg(icao, 52.0, 4.0, 35000, odd=False), 11.0)
    report = dec.feed(position_msg(icao, 52.001, 4.001, 35000, odd=True), 11.5)
    assert report is not None
    assert report.callsign == "KLM1023"
    assert report.gs_kt == pytest.approx(159.2)
    assert report.track_deg == pytest.approx(182.88)
    assert report.vrate_fpm == -832
    assert report.alt_ft == 35000


def test_local_decoding_follows_and_rejects_an_implausible_jump() -> None:
    dec = ModeSDecoder()
    icao = "abcdef"
    dec.feed(position_msg(icao, 40.0, 10.0, 30000, odd=False), 0.0)
    assert dec.feed(position_msg(icao, 40.01, 10.0, 30000, odd=True), 1.0) is not None
    # A single later frame is decoded locally, relative to the last position.
    report = dec.feed(position_msg(icao, 40.02, 10.0, 30000, odd=False), 12.0)
    assert report is not None and report.lat == pytest.approx(40.02, abs=1e-4)
    assert dec.counters["local_decodes"] == 1
    # 400 NM away a second later: local decoding would alias it to a wrong place; the
    # plausibility check rejects it and the next fresh pair decodes globally again.
    assert dec.feed(position_msg(icao, 46.7, 10.0, 30000, odd=True), 13.0) is None
    assert dec.counters["cpr_rejected"] == 1
    report = dec.feed(position_msg(icao, 46.7, 10.0, 30000, odd=False), 14.0)
    assert report is not None and report.lat == pytest.approx(46.7, abs=1e-4)
    assert dec.counters["global_decodes"] == 2


def test_silent_aircraft_are_evicted_by_event_time() -> None:
    dec = ModeSDecoder()
    dec.feed(position_msg("aaaaaa", 50.0, 5.0, 30000, odd=False), 0.0)
    dec.feed(position_msg("bbbbbb", 51.0, 5.0, 30000, odd=False), 30.0)
    assert len(dec) == 2
    dec.feed(position_msg("bbbbbb", 51.0, 5.0, 30000, odd=False), 30.0 + EVICT_AFTER_S)
    assert len(dec) == 1 and dec.counters["evicted"] == 1
    # An odd frame for the evicted aircraft does not pair with its forgotten even frame.
    assert dec.feed(position_msg("aaaaaa", 50.0, 5.0, 30000, odd=True), 95.0) is None


# -- recorded data --------------------------------------------------------------------------


def _pymodes_rows(shared_data: Path) -> list[list[str]]:
    with open(shared_data / "pymodes_sample_data_adsb.csv", newline="") as fh:
        return list(csv.reader(fh))


def test_whole_pymodes_recording_gives_a_continuous_track(shared_data: Path) -> None:
    dec = ModeSDecoder()
    reports = [r for row in _pymodes_rows(shared_data) if (r := dec.feed(row[1], float(row[0])))]
    corrupt = sum(dec.counters[k] for k in ("bad_hex", "bad_length", "bad_crc", "unknown_df"))
    print(f"406b90: {len(reports)} positions, counters {dec.counters}")
    assert corrupt == 0
    assert len(reports) == 933
    assert {r.icao24 for r in reports} == {"406b90"}
    assert {r.callsign for r in reports} == {"EZY85MH"}
    for a, b in itertools.pairwise(reports):
        gap_s = b.ts - a.ts
        if gap_s <= 2.0:
            assert haversine_m(a.lat, a.lon, b.lat, b.lon) < 5000.0, (a, b)
    # It passes by 51.3 N 6.2 E, where it crosses from Germany into the Netherlands.
    nearest_m = min(haversine_m(r.lat, r.lon, 51.34, 6.19) for r in reports)
    assert nearest_m < 3000.0
    assert all(50.5 < r.lat < 52.5 and 4.0 < r.lon < 8.0 for r in reports)
    assert {r.alt_ft for r in reports} == {35975, 36000, 36025}  # FL360 in level flight


def test_agrees_with_rs1090_decoded_values(shared_data: Path) -> None:
    """Every airborne position and velocity in rs1090's own sample, the streaming decoder
    gives the same (its per-aircraft state picks the same pairs and references)."""
    dec = ModeSDecoder()
    compared = velocities = 0
    with gzip.open(shared_data / "rs1090_full_flight_short.jsonl.gz") as fh:
        for line in fh:
            obj = orjson.loads(line)
            report = dec.feed(obj["frame"], obj["timestamp"])
            if obj.get("bds") == "05" and report is not None and "latitude" in obj:
                assert haversine_m(report.lat, report.lon, obj["latitude"], obj["longitude"]) < 1.0
                assert report.alt_ft == obj["altitude"]
                compared += 1
            if obj.get("bds") == "09" and obj.get("groundspeed") is not None:
                ac = dec._aircraft[obj["icao24"]]
                assert ac.gs_kt == pytest.approx(obj["groundspeed"], abs=0.06)
                assert ac.track_deg == pytest.approx(obj["track"] % 360.0, abs=0.006)
                if obj.get("vertical_rate") is not None:
                    assert ac.vrate_fpm == obj["vertical_rate"]
                velocities += 1
    print(f"rs1090: {compared} positions and {velocities} velocities agree; {dec.counters}")
    assert compared > 6000 and velocities > 6000
    assert dec.counters["bad_crc"] == 0


# -- the decoder's own arithmetic agrees with rs1090's --------------------------------------


@settings(max_examples=400, deadline=None)
@given(
    lat=st.floats(-85.0, 85.0),
    lon=st.floats(-180.0, 179.999),
    latest_odd=st.booleans(),
)
def test_global_cpr_matches_rs1090s_pair_decode(lat: float, lon: float, latest_odd: bool) -> None:
    import rs1090

    even = rs1090.decode(position_msg("abc123", lat, lon, 30000, False))
    odd = rs1090.decode(position_msg("abc123", lat, lon, 30000, True))
    frames = [odd, even] if not latest_odd else [even, odd]
    pair = rs1090.decode(
        [position_msg("abc123", lat, lon, 30000, f is odd) for f in frames], [0.0, 1.0]
    )
    ours = cpr_global_airborne(
        (even["lat_cpr"], even["lon_cpr"]), (odd["lat_cpr"], odd["lon_cpr"]), latest_odd
    )
    theirs = pair[1].get("latitude"), pair[1].get("longitude")
    if theirs[0] is None:
        assert ours is None
        return
    assert ours is not None
    assert ours[0] == pytest.approx(theirs[0], abs=1e-9)
    assert ours[1] == pytest.approx(theirs[1], abs=1e-9)
    # and both are the encoded position, to CPR's resolution (~5 m)
    assert haversine_m(lat, lon, *ours) < 10.0


@pytest.mark.parametrize(
    ("lat", "nl"), [(0.0, 59), (10.47, 59), (10.48, 58), (52.0, 36), (86.9, 2), (87.0, 2), (87.1, 1)]
)
def test_nl_function_at_known_latitudes(lat: float, nl: int) -> None:
    assert _nl(lat) == nl == _nl(-lat) == modes_frames.cpr_nl(lat)


def test_a_pair_straddling_a_longitude_zone_boundary_is_not_decoded() -> None:
    # NL changes from 59 to 58 at 10.4705 N: even and odd fixes on either side of it.
    even = modes_frames.cpr_encode(10.4704, 20.0, False)
    odd = modes_frames.cpr_encode(10.4706, 20.0, True)
    assert cpr_global_airborne(even, odd, latest_odd=True) is None


@settings(max_examples=500, deadline=None)
@given(
    lat=st.floats(-80.0, 80.0),
    lon=st.floats(-180.0, 180.0),
    north=st.floats(-1.5, 1.5),
    east=st.floats(-1.5, 1.5),
    dt=st.floats(0.0, 300.0),
)
@example(lat=0.0, lon=0.0, north=0.9, east=0.9, dt=0.0)
def test_plausibility_shortcut_never_accepts_what_the_distance_refuses(
    lat: float, lon: float, north: float, east: float, dt: float
) -> None:
    # Jumps of up to 1.5 times the limit in each direction, as fractions of it.
    dec = ModeSDecoder()
    limit_nm = JUMP_SLACK_NM + MAX_SPEED_KT * dt / 3600.0
    lat2, lon2 = lat + north * limit_nm / 60.0, lon + east * limit_nm / 60.0
    exact = haversine_m(lat, lon, lat2, lon2) / 1852.0 <= limit_nm
    assert dec._plausible((lat, lon, 0.0), lat2, lon2, dt) == exact
