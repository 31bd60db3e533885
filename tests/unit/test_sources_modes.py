"""The Mode S / ADS-B decoder: specification vectors, CPR properties, the streaming decoder.

The vectors are the worked examples of "The 1090 Megahertz Riddle" (Junzi Sun, mode-s.org).
The recorded checks use pyModeS's sample CSV (one aircraft, 406B90, over the German-Dutch
border) and the rs1090 sample, whose frames come with rs1090's own decoded values (an
independent decoder, MIT licensed) to compare against.
"""

from __future__ import annotations

import csv
import gzip
import itertools
import math
from pathlib import Path

import orjson
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from streams.geo import haversine_m
from streams.sources.modes import (
    EVICT_AFTER_S,
    ModeSDecoder,
    cpr_global,
    cpr_local,
    cpr_nl,
    crc24,
    decode_altitude_ft,
    decode_extended_squitter,
    parity_syndrome,
)

CALLSIGN_MSG = "8D4840D6202CC371C32CE0576098"
EVEN_MSG = "8D40621D58C382D690C8AC2863A7"
ODD_MSG = "8D40621D58C386435CC412692AD6"
VELOCITY_MSG = "8D485020994409940838175B284F"


# -- a test-only encoder, the inverse of the decoder (DO-260B A.1.7) --------------------------


def cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """Airborne CPR encoding of a position: the raw 17-bit (lat_cpr, lon_cpr)."""
    i = 1 if odd else 0
    dlat = 360.0 / (60 - i)
    yz = math.floor(131072 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 131072 + math.floor(lat / dlat))
    dlon = 360.0 / max(cpr_nl(rlat) - i, 1)
    xz = math.floor(131072 * (lon % dlon) / dlon + 0.5)
    return yz % 131072, xz % 131072


def position_msg(icao24: str, lat: float, lon: float, alt_ft: int, odd: bool) -> str:
    """A CRC-valid DF17 airborne position message (TC 11, 25 ft altitude)."""
    lat_cpr, lon_cpr = cpr_encode(lat, lon, odd)
    n = (alt_ft + 1000) // 25
    ac12 = ((n >> 4) << 5) | 0x10 | (n & 0x0F)
    me = (11 << 51) | (ac12 << 36) | (int(odd) << 34) | (lat_cpr << 17) | lon_cpr
    data = bytes([0x8D]) + bytes.fromhex(icao24) + me.to_bytes(7, "big")
    return (data + crc24(data).to_bytes(3, "big")).hex().upper()


def flip_bit(msg_hex: str, bit: int) -> str:
    value = int(msg_hex, 16) ^ (1 << bit)
    return f"{value:0{len(msg_hex)}X}"


# -- CRC ------------------------------------------------------------------------------------


@pytest.mark.parametrize("msg", [CALLSIGN_MSG, EVEN_MSG, ODD_MSG, VELOCITY_MSG])
def test_crc_of_good_messages_is_zero(msg: str) -> None:
    data = bytes.fromhex(msg)
    assert parity_syndrome(data) == 0
    assert crc24(data) == 0  # the remainder over data plus parity


@pytest.mark.parametrize("bit", [0, 5, 23, 24, 60, 87, 100, 111])
def test_any_single_bit_flip_breaks_the_crc(bit: int) -> None:
    assert parity_syndrome(bytes.fromhex(flip_bit(EVEN_MSG, bit))) != 0


# -- fields ---------------------------------------------------------------------------------


def test_callsign_vector() -> None:
    sq = decode_extended_squitter(CALLSIGN_MSG)
    assert sq is not None
    assert (sq.icao24, sq.df, sq.type_code, sq.callsign) == ("4840d6", 17, 4, "KLM1023")


def test_altitude_vector_and_special_cases() -> None:
    sq = decode_extended_squitter(EVEN_MSG)
    assert sq is not None and sq.position is not None
    assert sq.position.alt_ft == 38000
    assert decode_altitude_ft(0b110000111000) == 38000
    assert decode_altitude_ft(0) is None  # no altitude information
    assert decode_altitude_ft(0b110000101000) is None  # Q bit clear: Gillham, not decoded
    assert decode_altitude_ft(0b000000010000) == -1000


def test_velocity_vector() -> None:
    sq = decode_extended_squitter(VELOCITY_MSG)
    assert sq is not None and sq.velocity is not None
    v = sq.velocity
    assert v.subtype == 1
    assert v.gs_kt == pytest.approx(159.20, abs=0.01)
    assert v.track_deg == pytest.approx(182.88, abs=0.01)
    assert v.vrate_fpm == -832


# -- CPR ------------------------------------------------------------------------------------


def test_nl_at_table_transitions() -> None:
    assert cpr_nl(0.0) == 59
    assert (cpr_nl(10.4704712), cpr_nl(10.4704714)) == (59, 58)
    assert (cpr_nl(51.8934246), cpr_nl(51.8934248)) == (37, 36)
    assert (cpr_nl(86.5353699), cpr_nl(86.5353700)) == (3, 2)
    assert cpr_nl(87.0) == 2
    assert cpr_nl(-88.0) == 1
    assert cpr_nl(-52.0) == cpr_nl(52.0)


def _frames() -> tuple[tuple[int, int], tuple[int, int]]:
    even = decode_extended_squitter(EVEN_MSG)
    odd = decode_extended_squitter(ODD_MSG)
    assert even is not None and even.position is not None and not even.position.odd
    assert odd is not None and odd.position is not None and odd.position.odd
    return (
        (even.position.lat_cpr, even.position.lon_cpr),
        (odd.position.lat_cpr, odd.position.lon_cpr),
    )


def test_cpr_global_vector() -> None:
    even, odd = _frames()
    assert even == (93000, 51372)
    assert odd == (74158, 50194)
    lat, lon = cpr_global(even, odd, newest_is_odd=False) or (0.0, 0.0)
    assert (lat, lon) == (pytest.approx(52.25720, abs=1e-5), pytest.approx(3.91937, abs=1e-5))
    # With the odd message newest, the position is the odd one's (the book: 52.26578, 3.93891).
    lat, lon = cpr_global(even, odd, newest_is_odd=True) or (0.0, 0.0)
    assert (lat, lon) == (pytest.approx(52.26578, abs=1e-5), pytest.approx(3.93891, abs=1e-5))


def test_cpr_local_vector() -> None:
    even, _odd = _frames()
    lat, lon = cpr_local(even[0], even[1], False, 52.258, 3.918)
    assert (lat, lon) == (pytest.approx(52.25720, abs=1e-5), pytest.approx(3.91937, abs=1e-5))


@given(
    lat=st.floats(min_value=-85.0, max_value=85.0),
    lon=st.floats(min_value=-180.0, max_value=179.999),
    newest_is_odd=st.booleans(),
)
def test_cpr_global_round_trip(lat: float, lon: float, newest_is_odd: bool) -> None:
    pos = cpr_global(cpr_encode(lat, lon, False), cpr_encode(lat, lon, True), newest_is_odd)
    assume(pos is not None)  # an NL boundary between the two quantised latitudes
    assert pos is not None
    assert haversine_m(lat, lon, pos[0], pos[1]) < 10.0


@given(
    lat=st.floats(min_value=-80.0, max_value=80.0),
    lon=st.floats(min_value=-180.0, max_value=179.999),
    dlat=st.floats(min_value=-1.5, max_value=1.5),
    dlon=st.floats(min_value=-1.5, max_value=1.5),
    odd=st.booleans(),
)
def test_cpr_local_round_trip(lat: float, lon: float, dlat: float, dlon: float, odd: bool) -> None:
    """Within 90 NM of the reference (well inside half a zone) local decoding is exact."""
    lat_cpr, lon_cpr = cpr_encode(lat, lon, odd)
    ref_lon = (lon + dlon + 180.0) % 360.0 - 180.0
    got = cpr_local(lat_cpr, lon_cpr, odd, lat + dlat, ref_lon)
    assert haversine_m(lat, lon, got[0], got[1]) < 10.0


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
    """Every airborne position and velocity rs1090 decoded, we decode the same."""
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
                sq = decode_extended_squitter(obj["frame"])
                assert sq is not None and sq.velocity is not None
                assert sq.velocity.gs_kt == pytest.approx(obj["groundspeed"], abs=0.01)
                assert sq.velocity.track_deg == pytest.approx(obj["track"] % 360.0, abs=0.01)
                assert sq.velocity.vrate_fpm == obj.get("vertical_rate")
                velocities += 1
    print(f"rs1090: {compared} positions and {velocities} velocities agree; {dec.counters}")
    assert compared > 6000 and velocities > 6000
    assert dec.counters["bad_crc"] == 0
