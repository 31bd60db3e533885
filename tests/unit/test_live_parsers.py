"""The pure halves of the live sources: SBS, aircraft.json/ADSBx v2, OpenSky, normalisation,
dedup and source URLs. Each parser is given real-shaped input and broken input."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import orjson
import pytest

from streams.errors import ConfigError
from streams.models import BadLine, PositionReport
from streams.replay import read_recording
from streams.sources._common import load_json
from streams.sources.aircraft_json import SnapshotFilter, parse_aircraft_json
from streams.sources.beast import BeastFramer, parse_beast
from streams.sources.dedup import Deduplicator
from streams.sources.live import Backoff, CountingStats, check_items
from streams.sources.normalize import check_fresh, validate_live
from streams.sources.opensky_states import parse_opensky_csv, parse_opensky_states
from streams.sources.sbs import SbsDecoder, SbsFramer, format_sbs, parse_sbs
from streams.sources.spec import parse_source_url

SEED = Path(__file__).resolve().parents[2] / "seeds" / "dprk-2023-09.jsonl.gz"
DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
T0 = 1695690855.25  # 2023-09-26 01:14:15.25Z

IL62 = PositionReport(
    "1551e0", T0, 40.1681, 124.4457, 27600, 413.0, 135.0, -1500, "RSD352", "1234", False, "sbs"
)


# -- SBS --------------------------------------------------------------------------------


def test_sbs_merges_callsign_velocity_and_position() -> None:
    dec = SbsDecoder()
    lines = format_sbs(IL62)
    assert [ln.split(",")[1] for ln in lines] == ["1", "4", "3"]
    out = [dec.feed(ln.encode(), 0.0) for ln in lines]
    assert out[:2] == [None, None]
    assert out[2] == IL62


def test_sbs_line_without_time_uses_receive_time_and_ground_flag() -> None:
    dec = SbsDecoder()
    line = "MSG,2,1,1,4CA2E6,1,,,,,,0,12.0,270.0,53.42,-6.27,,,0,0,0,-1"
    rep = dec.feed(line, 1_700_000_000.5)
    assert isinstance(rep, PositionReport)
    assert rep.ts == 1_700_000_000.5 and rep.on_ground is True and rep.gs_kt == 12.0
    assert rep.icao24 == "4ca2e6" and rep.track_deg == 270.0


def test_sbs_stale_velocity_is_not_attached() -> None:
    dec = SbsDecoder()
    early = PositionReport("abcdef", T0 - 60, 40.0, 124.0, 30000, 400.0, 90.0, 0, None, None, False)
    for ln in format_sbs(early):
        dec.feed(ln, 0.0)
    late = PositionReport("abcdef", T0, 40.1, 124.1, 30000)
    rep = dec.feed(format_sbs(late)[-1], 0.0)
    assert isinstance(rep, PositionReport)
    assert rep.gs_kt is None and rep.track_deg is None and rep.alt_ft == 30000


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("MSG,3,1,1,~4CA2E,1,2023/09/26,01:00:00.000,,,,100,,,40.0,124.0,,,0,0,0,0", "non_icao"),
        ("MSG,3,1,1,4CA2,1,2023/09/26,01:00:00.000,,,,100,,,40.0,124.0,,,0,0,0,0", "bad_icao24"),
        (
            "MSG,9,1,1,4CA2E6,1,2023/09/26,01:00:00.000,,,,100,,,40.0,124.0,,,0,0,0,0",
            "sbs_bad_type",
        ),
        (
            "MSG,3,1,1,4CA2E6,1,2023/13/26,01:00:00.000,,,,100,,,40.0,124.0,,,0,0,0,0",
            "sbs_bad_time",
        ),
        (
            "MSG,3,1,1,4CA2E6,1,2023/09/26,25:00:00.000,,,,100,,,40.0,124.0,,,0,0,0,0",
            "sbs_bad_time",
        ),
        ("MSG,3,1,1,4CA2E6,1,2023/09/26,01:00:00.000,,,,100,,,95.0,124.0,,,0,0,0,0", "bad_lat"),
        ("MSG,3,1,1,4CA2E6,1,2023/09/26,01:00:00.000,,,,100,,,40.0,nan,,,0,0,0,0", "no_position"),
        ("MSG,3,1,1", "sbs_malformed"),
        ("<html><body>502 Bad Gateway</body></html>", "sbs_malformed"),
    ],
)
def test_sbs_rejections_have_reasons(line: str, reason: str) -> None:
    item = SbsDecoder().feed(line, T0)
    assert isinstance(item, BadLine) and item.reason == reason


def test_sbs_non_ascii_and_other_kinds() -> None:
    dec = SbsDecoder()
    bad = dec.feed(b"MSG,3,\xff\xfe", T0)
    assert isinstance(bad, BadLine) and bad.reason == "sbs_malformed"
    assert dec.feed("AIR,,333,1,4CA2E6,,,,,,,,,,,,,,,,,", T0) is None
    assert dec.feed("", T0) is None


def test_sbs_framer_joins_lines_split_across_chunks_and_reports_a_cut_line() -> None:
    data = ("\r\n".join(format_sbs(IL62)) + "\r\n").encode()
    framer = SbsFramer()
    items: list[PositionReport | BadLine] = []
    lines = 0
    for i in range(0, len(data), 7):
        got, n = framer.feed(data[i : i + 7], 0.0)
        items += got
        lines += n
    assert items == [IL62] and lines == 3
    got, _ = framer.feed(b"MSG,3,1,1,1551E0,1,2023/09", 0.0)
    assert got == []
    cut = framer.reset()
    assert [b.reason for b in cut if isinstance(b, BadLine)] == ["sbs_truncated"]
    assert framer.reset() == []


def test_sbs_framer_drops_an_endless_line() -> None:
    framer = SbsFramer()
    got, _ = framer.feed(b"x" * 2000, 0.0)
    assert [b.reason for b in got if isinstance(b, BadLine)] == ["sbs_malformed"]


def test_sbs_roundtrips_the_seed_scenario() -> None:
    reports = [r for r in read_recording(SEED) if isinstance(r, PositionReport)][:3000]
    lines = [ln for r in reports for ln in format_sbs(r)]
    out = [r for r in parse_sbs(lines) if isinstance(r, PositionReport)]
    assert len(out) == len(reports)
    for a, b in zip(reports, out, strict=True):
        assert (a.icao24, a.alt_ft) == (b.icao24, b.alt_ft)
        if a.callsign is not None:  # SBS carries the last callsign/squawk forward
            assert b.callsign == a.callsign
        if a.squawk is not None:
            assert b.squawk == a.squawk
        assert abs(a.ts - b.ts) < 0.0011 and abs(a.lat - b.lat) < 1e-5 and abs(a.lon - b.lon) < 1e-5
        if a.gs_kt is not None:
            assert b.gs_kt is not None and abs(a.gs_kt - b.gs_kt) < 0.051


def test_sbs_log_without_times_is_rejected() -> None:
    items = list(parse_sbs(["MSG,3,1,1,4CA2E6,1,,,,,,100,,,40.0,124.0,,,0,0,0,0"]))
    assert [i.reason for i in items if isinstance(i, BadLine)] == ["sbs_bad_time"]


def test_sbs_memory_is_bounded_by_event_time() -> None:
    dec = SbsDecoder()
    for n in range(200):
        dec.feed(f"MSG,5,1,1,{n:06X},1,,,,,,1000,,,,,,,0,0,0,0", T0 + n * 10)
    for n in range(10_000):
        dec.feed("MSG,5,1,1,ABCDEF,1,,,,,,1000,,,,,,,0,0,0,0", T0 + 2000 + n * 0.01)
    assert dec.aircraft < 50


# -- aircraft.json / ADSBx v2 -----------------------------------------------------------

READSB = {
    "now": 1695690860.0,
    "messages": 10,
    "aircraft": [
        {"hex": "1551e0", "flight": "RSD352  ", "alt_baro": 27600, "gs": 413.0, "track": 135.0,
         "baro_rate": -1500, "squawk": "1234", "lat": 40.1681, "lon": 124.4457, "seen_pos": 0.5, "seen": 0.1},
        {"hex": "~2a1b3c", "lat": 40.0, "lon": 124.0, "seen_pos": 1.0},
        {"hex": "7278a2", "alt_baro": 35000, "seen": 2.0},
        {"hex": "720632", "alt_baro": "ground", "gs": 5.0, "lat": 39.22, "lon": 125.67, "seen_pos": 3.0},
        "junk",
    ],
}  # fmt: skip


def test_readsb_aircraft_json() -> None:
    items = list(parse_aircraft_json(READSB))
    good = [i for i in items if isinstance(i, PositionReport)]
    bad = [i.reason for i in items if isinstance(i, BadLine)]
    assert bad == ["non_icao", "no_position", "not_object"]
    # the aircraft is named, for ingest's per-aircraft rate limit of no_position dead letters
    assert [i.icao24 for i in items if isinstance(i, BadLine)] == [None, "7278a2", None]
    il62, ground = good
    assert il62.ts == pytest.approx(1695690859.5) and il62.callsign == "RSD352"
    assert (il62.alt_ft, il62.gs_kt, il62.vrate_fpm, il62.squawk) == (27600, 413.0, -1500, "1234")
    assert ground.on_ground is True and ground.alt_ft == 0 and ground.ts == 1695690857.0


def test_adsbx_v2_milliseconds_null_list_and_single_aircraft() -> None:
    doc = {"ac": READSB["aircraft"][:1], "now": 1695690860000, "msg": "No error", "total": 1}
    (rep,) = list(parse_aircraft_json(doc, source="adsbx:api.adsb.lol"))
    assert isinstance(rep, PositionReport)
    assert rep.ts == pytest.approx(1695690859.5) and rep.source == "adsbx:api.adsb.lol"
    assert list(parse_aircraft_json({"ac": None, "now": 1695690860000})) == []
    single = dict(READSB["aircraft"][0], now=1695690860000)  # type: ignore[arg-type]
    (one,) = list(parse_aircraft_json(single))
    assert isinstance(one, PositionReport) and one.icao24 == "1551e0"


def test_aircraft_json_bad_documents() -> None:
    for doc in ([], {"aircraft": {}}, {"aircraft": []}, "x", None):
        items = list(parse_aircraft_json(doc))
        assert [i.reason for i in items if isinstance(i, BadLine)] == ["bad_document"]
    _, bad = load_json(b"<!DOCTYPE html><html><title>429 Too Many Requests</title></html>")
    assert bad is not None and bad.reason == "json"
    # No "now": the caller's receive time stands in.
    (rep,) = list(parse_aircraft_json({"aircraft": READSB["aircraft"][:1]}, now_s=1695690860.0))
    assert isinstance(rep, PositionReport) and rep.ts == pytest.approx(1695690859.5)


def test_snapshot_filter_passes_only_new_positions() -> None:
    f = SnapshotFilter()
    a = PositionReport("1551e0", T0, 40.0, 124.0)
    assert f.is_new(a) and not f.is_new(a)
    assert f.is_new(PositionReport("1551e0", T0 + 1, 40.0, 124.0))
    f.sweep(T0 + 10_000)
    assert len(f) == 0


# -- OpenSky ----------------------------------------------------------------------------

STATE = ["1551e0", "RSD352  ", "Russian Federation", 1695690858, 1695690859, 124.4457, 40.1681,
         8412.48, False, 212.46, 135.0, -7.62, None, 8600.1, "1234", False, 0]  # fmt: skip


def test_opensky_states_converts_units() -> None:
    doc = {"time": 1695690860, "states": [STATE, [*STATE[:5], None, None, *STATE[7:]], [1, 2], "x"]}
    items = list(parse_opensky_states(doc))
    rep = items[0]
    assert isinstance(rep, PositionReport)
    assert rep.ts == 1695690858 and (rep.lat, rep.lon) == (40.1681, 124.4457)
    assert rep.alt_ft == 27600  # 8412.48 m
    assert rep.gs_kt == pytest.approx(413.0, abs=0.05)  # 212.46 m/s
    assert rep.vrate_fpm == -1500  # -7.62 m/s
    assert rep.callsign == "RSD352" and rep.squawk == "1234" and rep.source == "opensky"
    assert [i.reason for i in items[1:] if isinstance(i, BadLine)] == [
        "no_position",
        "not_array",
        "not_array",
    ]
    assert next(i for i in items if isinstance(i, BadLine)).icao24 is not None
    assert list(parse_opensky_states({"time": 1, "states": None})) == []
    assert [i.reason for i in parse_opensky_states({"error": "x"}) if isinstance(i, BadLine)] == [
        "bad_document"
    ]


def test_opensky_csv() -> None:
    lines = [
        "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,geoaltitude,lastposupdate,lastcontact\n",
        "1695690860,1551e0,40.1681,124.4457,212.46,135.0,-7.62,RSD352  ,False,False,False,1234,8412.48,8600.1,1695690858.5,1695690859.9\n",
        "1695690870,1551e0,,,212.46,135.0,-7.62,RSD352  ,False,False,False,,,,,1695690869.9\n",
        "1695690870,1551e0\n",
        '\x00"\n',
    ]
    items = list(parse_opensky_csv(lines))
    rep = items[0]
    assert isinstance(rep, PositionReport)
    assert rep.ts == 1695690858.5 and rep.alt_ft == 27600 and rep.on_ground is False
    assert [i.reason for i in items[1:] if isinstance(i, BadLine)] == [
        "no_position",
        "bad_row",
        "bad_row",
    ]
    assert [i.reason for i in parse_opensky_csv(["a,b\n"]) if isinstance(i, BadLine)] == [
        "bad_document"
    ]


# -- normalisation, dedup, backoff ------------------------------------------------------


def test_freshness_and_plausibility() -> None:
    now = T0
    assert check_fresh(now + 61, now, max_age_s=600) == "future_ts"
    assert check_fresh(now + 59, now, max_age_s=600) is None
    assert check_fresh(now - 601, now, max_age_s=600) == "stale_ts"
    assert check_fresh(now - 10_000, now, max_age_s=0) is None
    huge = PositionReport("1551e0", now, 40.0, 124.0, alt_ft=10**30)
    bad = validate_live(huge, now)
    assert isinstance(bad, BadLine) and bad.reason == "bad_field" and bad.raw
    fast = PositionReport("1551e0", now, 40.0, 124.0, gs_kt=9000.0)
    assert isinstance(validate_live(fast, now), BadLine)
    stats = CountingStats()
    items = check_items(
        [IL62, PositionReport("1551e0", T0 - 700, 40.0, 124.0)], T0, stats, max_age_s=600
    )
    assert items[0] == IL62 and isinstance(items[1], BadLine)
    assert stats.positions == 1 and stats.rejections == {"stale_ts": 1}


def test_dedup_across_sources_only() -> None:
    d = Deduplicator()
    a = PositionReport("1551e0", T0, 40.1681, 124.4457, source="sbs")
    b = PositionReport("1551e0", T0 + 0.4, 40.1690, 124.4460, source="readsb")  # 100 m away
    far = PositionReport("1551e0", T0 + 0.5, 40.2, 124.5, source="readsb")
    assert not d.is_duplicate(a, "sbs://a:1")
    assert d.is_duplicate(b, "http://b/aircraft.json")
    assert not d.is_duplicate(far, "http://b/aircraft.json")
    assert not d.is_duplicate(PositionReport("1551e0", T0 + 0.1, 40.1681, 124.4457), "sbs://a:1")
    assert not d.is_duplicate(
        PositionReport("1551e0", T0 + 5, 40.1681, 124.4457), "http://b/aircraft.json"
    )
    assert d.duplicates == 1


def test_backoff_grows_with_jitter_and_resets() -> None:
    import random

    b = Backoff(0.5, 8.0, random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    caps = [min(8.0, 0.5 * 2**n) for n in range(8)]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))
    assert len(set(delays)) == len(delays)
    b.reset()
    assert b.next_delay() <= 0.5


# -- source URLs ------------------------------------------------------------------------


def test_source_urls() -> None:
    s = parse_source_url("sbs://127.0.0.1:30003")
    assert (s.kind, s.host, s.port, s.name) == ("sbs", "127.0.0.1", 30003, "sbs://127.0.0.1:30003")
    assert parse_source_url("beast://radar.local:30005").kind == "beast"
    a = parse_source_url("http://pi.local/tar1090/data/aircraft.json")
    assert (
        a.kind == "aircraft_json" and a.url.endswith("/data/aircraft.json") and a.interval_s == 1.0
    )
    assert parse_source_url("file:///run/readsb/aircraft.json").path == "/run/readsb/aircraft.json"
    fi = parse_source_url("adsbx://opendata.adsb.fi?lat=40&lon=125.5&radius_nm=250")
    assert fi.url == "https://opendata.adsb.fi/api/v2/lat/40/lon/125.5/dist/250"
    lol = parse_source_url("adsbx://api.adsb.lol?hex=1551E0,7278a2&interval_s=5")
    assert lol.url == "https://api.adsb.lol/v2/hex/1551e0,7278a2" and lol.interval_s == 5
    local = parse_source_url("adsbx+http://127.0.0.1:8080/api/v2?lat=1&lon=2&radius_nm=3")
    assert local.url == "http://127.0.0.1:8080/api/v2/point/1/2/3"
    osk = parse_source_url("opensky://?bbox=37.5,124,43,131")
    assert (
        osk.url
        == "https://opensky-network.org/api/states/all?lamin=37.5&lomin=124&lamax=43&lomax=131"
    )
    assert osk.interval_s == 30.0 and "auth.opensky-network.org" in osk.token_url


@pytest.mark.parametrize(
    "url",
    [
        "sbs://127.0.0.1",
        "tcp://127.0.0.1:30003",
        "adsbx://api.adsb.lol?lat=40&lon=125",
        "adsbx://api.adsb.lol?lat=40&lon=125&radius_nm=400",
        "adsbx://api.adsb.lol?hex=zzzzzz",
        "adsbx://api.airplanes.live?hex=1551e0&interval_s=0.2",
        "opensky://?bbox=43,124,37,131",
        "opensky://?bbox=1,2,3",
        "opensky://?bbox=37,124,43,131&interval_s=1",
    ],
)
def test_bad_source_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        parse_source_url(url)


# -- Beast, streamed --------------------------------------------------------------------


@pytest.mark.skipif(not (DATA / "sample_dump1090.bin").exists(), reason="../shared/data absent")
def test_beast_framer_in_chunks_matches_the_file_parser() -> None:
    data = (DATA / "sample_dump1090.bin").read_bytes()
    whole = [i for i in parse_beast(data, start_ts=T0) if isinstance(i, PositionReport)]
    framer = BeastFramer()
    got: list[PositionReport] = []
    frames = 0
    for i in range(0, len(data), 5):
        items, n = framer.feed(data[i : i + 5], T0)
        frames += n
        got += [x for x in items if isinstance(x, PositionReport)]
    assert frames == 239
    assert [(r.icao24, round(r.lat, 5), round(r.lon, 5)) for r in got] == [
        (r.icao24, round(r.lat, 5), round(r.lon, 5)) for r in whole
    ]
    assert len(got) == 3 and all(math.isfinite(r.ts) for r in got)
    assert framer.feed(b"\x1a3\x00\x01", T0)[0] == []
    assert [b.reason for b in framer.reset() if isinstance(b, BadLine)] == ["beast_truncated"]


def test_gzipped_sbs_log_reads(tmp_path: Path) -> None:
    from streams.sources.sbs import read_sbs

    path = tmp_path / "log.sbs.gz"
    path.write_bytes(gzip.compress("\n".join(format_sbs(IL62)).encode()))
    assert list(read_sbs(path)) == [IL62]
    assert orjson.loads(orjson.dumps({"ok": True}))


# -- recorded formats: SBS logs, rs1090, OpenSky CSV ------------------------------------


def test_seed_as_an_sbs_log_gives_the_golden_events(tmp_path: Path) -> None:
    from streams.replay import evaluate
    from streams.sources import detect_format, read_source
    from streams.tracking import Tracker
    from streams.zones import load_zones

    reports = [r for r in read_recording(SEED) if isinstance(r, PositionReport)]
    path = tmp_path / "seed.sbs.gz"
    path.write_bytes(gzip.compress("\n".join(ln for r in reports for ln in format_sbs(r)).encode()))
    assert detect_format(path) == "sbs"
    result = evaluate(read_source(path, "sbs"), Tracker(load_zones(["dprk"])))
    golden = [
        orjson.loads(ln)
        for ln in (SEED.parent / "dprk-2023-09.events.jsonl").read_bytes().splitlines()
        if ln.strip()
    ]
    assert not result.bad_lines
    assert sorted(e.event_id for e in result.events) == sorted(g["event_id"] for g in golden)


@pytest.mark.skipif(
    not (DATA / "rs1090_full_flight_short.jsonl.gz").exists(), reason="../shared/data absent"
)
def test_rs1090_sample_cdg_to_toulouse() -> None:
    from streams.sources import detect_format, read_source

    path = DATA / "rs1090_full_flight_short.jsonl.gz"
    assert detect_format(path) == "rs1090"
    items = list(read_source(path, "rs1090"))
    good = [i for i in items if isinstance(i, PositionReport)]
    assert len(good) == len(items) == 8324
    assert abs(good[0].lat - 49.006) < 0.01 and abs(good[0].lon - 2.574) < 0.01  # Paris CDG
    assert abs(good[-1].lat - 43.629) < 0.01 and abs(good[-1].lon - 1.374) < 0.01  # Toulouse
    assert good[-1].callsign == "AFR34ZG" and good[0].on_ground is True
    airborne = [r for r in good if r.alt_ft is not None and r.alt_ft > 30000]
    assert airborne and all(r.gs_kt is None or 300 < r.gs_kt < 600 for r in airborne)
    from streams.sources.rs1090 import parse_rs1090

    bad = list(
        parse_rs1090([b"<html>", b"[1]", b'{"icao24":"393322"}', b'{"timestamp":1,"icao24":"x"}'])
    )
    assert [b.reason for b in bad if isinstance(b, BadLine)] == [
        "json",
        "not_object",
        "bad_ts",
        "bad_icao24",
    ]


def test_opensky_csv_is_detected(tmp_path: Path) -> None:
    from streams.sources import detect_format, read_source

    path = tmp_path / "states_2023-09-26-01.csv"
    path.write_text(
        "time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,baroaltitude,geoaltitude,lastposupdate,lastcontact\n"
        "1695690860,1551e0,40.1681,124.4457,212.46,135.0,-7.62,RSD352  ,False,False,False,1234,8412.48,8600.1,1695690858.5,1695690859.9\n"
    )
    assert detect_format(path) == "opensky-csv"
    (rep,) = list(read_source(path, "opensky-csv"))
    assert isinstance(rep, PositionReport) and rep.callsign == "RSD352"
