"""Who the aircraft is: several watchlists (plane-alert-db with its quirks, the desk's own),
the aircraft database and N-numbers combined into the event, once per event; files that
reload on change and keep their old contents when broken; routing on the result."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from alerts.aircraftdb import AircraftDb
from alerts.enrich import Enricher, open_enrichment
from alerts.reload import Reloader, ReloadingFile
from alerts.render import build_context, plain_text
from alerts.routing import Router, RoutingConfig
from alerts.watchlist import Watchlist, read_watchlist
from streams.codec import decode_event, encode_event
from streams.errors import ConfigError
from streams.models import AirspaceEvent, Confidence, EventType, WatchlistMatch, make_event_id
from tests.conftest import SEED_GOLDEN

PAD_HEADER = (
    "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link,"
    "#ImageLink\n"
)


def _event(icao24: str = "1551e0", type_: EventType = EventType.ENTERED, **kw: object) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id(icao24, "dprk", type_.value, 1.0e9), type=type_, icao24=icao24,
        zone="dprk", ts=1.0e9, lat=40.0, lon=124.5, observed_ts=1.0e9, callsign="RSD352",
        confidence=Confidence.OBSERVED, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def test_plane_alert_db_quirks() -> None:
    text = (
        PAD_HEADER
        + "1551e0,RA-86496,Russian Air Force,Ilyushin IL-62M,IL62,Mil,Classic,,,Other Air Forces,,x\n"
        + '10166.0,SU-BNO,"Egyptian Air Force, VIP",Lockheed C-130H,C130,Mil,,,,Other Air Forces,,,,\n'
        + "4.00E+123,X-1,Someone,Type,T,Civ,,,,Cat,,\n"
        + "4.30E+124,X-2,Someone,Type,T,Civ,,,,Cat,,\n"
        + " 7278A2 ,P-882,Government Of North Korea,Ilyushin IL-62M,IL62,Gov,,,,Dictator Alert,,\n"
    )
    wl = Watchlist.parse(text, name="pad")
    assert wl.name == "pad" and wl.bad_rows == ()
    assert wl.get("1551E0") is not None  # lower case in the file, any case asked
    egypt = wl.get("010166")
    assert egypt is not None and egypt.operator == "Egyptian Air Force, VIP"  # quoted comma
    assert wl.get("04e123") is not None and wl.get("43e123") is not None  # Excel's E-notation
    assert wl.repaired == 3
    kim = wl.get("7278a2")
    assert kim is not None and kim.list_name == "pad" and kim.category == "Dictator Alert"
    assert wl.by_registration("p 882") is kim  # registration compared without dash/space/case


def test_desk_list_by_address_or_registration() -> None:
    text = (
        "Registration,ICAO24,Category,Tags,Note,Owner\n"
        ",7278a2,Dictator Alert,DPRK;VIP|Kim,his Il-62M,x\n"
        "ra-86496,,Priority,Russia,seed story aircraft,\n"
        ",zzzzzz,Bad,,,\n"
        ",,No key,,,\n"
    )
    wl = Watchlist.parse(text, name="desk")
    assert len(wl) == 2
    assert [r.reason for r in wl.bad_rows] == ["bad_icao", "no_key"]
    kim = wl.get("7278A2")
    assert kim is not None and kim.tags == ("DPRK", "VIP", "Kim") and kim.note == "his Il-62M"
    assert wl.get("1551e0") is None
    by_reg = wl.match("1551e0", "RA-86496")
    assert by_reg is not None and by_reg.category == "Priority" and by_reg.icao24 == "1551e0"
    with pytest.raises(ValueError, match="not a watchlist"):
        Watchlist.parse("a,b\n1,2\n")


def test_real_plane_alert_db_and_a_desk_list_together(shared_data: Path, tmp_path: Path) -> None:
    desk = tmp_path / "desk.csv"
    desk.write_text("registration,category,tags\nRA-86496,Priority,Russia;Seed\n")
    lists, db = open_enrichment([str(shared_data / "plane-alert-db.csv"), f"ops={desk}"])
    assert db is None and [f.name for f in lists] == ["plane-alert-db", "ops"]
    enricher = Enricher(watchlists=lists, images=False)
    facts = enricher.facts("1551e0")
    assert (facts.registration, facts.operator) == ("RA-86496", "Russian Air Force")
    assert facts.aircraft_type is not None and "IL-62M" in facts.aircraft_type
    assert facts.country is not None and facts.country.code == "RU"
    assert [(m.list, m.category) for m in facts.watchlists] == [
        ("plane-alert-db", "Other Air Forces"),
        ("ops", "Priority"),  # matched by the registration plane-alert-db gave
    ]
    assert facts.watchlists[1].tags == ("Russia", "Seed")


def test_seed_il62_alerts_say_who_it_is(shared_data: Path) -> None:
    """The seed scenario's 1551e0 events, enriched with the real plane-alert-db, say
    RA-86496, IL-62M and Russian Air Force: in the event (format v1) and in the alert."""
    golden = [decode_event(line) for line in SEED_GOLDEN.read_bytes().splitlines()]
    il62 = [e for e in golden if e.icao24 == "1551e0"]
    assert il62
    lists, _ = open_enrichment([str(shared_data / "plane-alert-db.csv")])
    enricher = Enricher(watchlists=lists, images=False)
    for event in il62:
        enriched = decode_event(encode_event(enricher.enrich(event)))
        assert enriched.registration == "RA-86496"
        assert enriched.aircraft_type is not None and "IL-62M" in enriched.aircraft_type
        assert (enriched.operator, enriched.country) == ("Russian Air Force", "RU")
        assert enriched.watchlists[0].list == "plane-alert-db"
        text = plain_text(build_context(enriched))
        assert "RA-86496" in text and "IL-62M" in text and "Russian Air Force" in text


def test_aircraft_db_and_n_numbers_fill_in_the_rest() -> None:
    db = AircraftDb.parse(
        [
            '"icao24","registration","manufacturername","model","typecode","operator"',
            '"3c6444","D-AIBD","Airbus","A319-112","A319","Lufthansa"',
        ]
    )
    desk = Watchlist.parse("registration,category\nD-AIBD,Watched\nN628TS,Jets\n", name="desk")
    enricher = Enricher(watchlists=[desk], aircraft_db=db, images=False)
    lh = enricher.enrich(_event("3c6444"))
    assert (lh.registration, lh.aircraft_type, lh.operator, lh.country) == (
        "D-AIBD", "Airbus A319-112", "Lufthansa", "DE",
    )  # fmt: skip
    assert lh.watchlists == (WatchlistMatch("desk", "Watched", ()),)
    us = enricher.enrich(_event("a835af"))  # in no database: the N-number rule
    assert us.registration == "N628TS" and us.country == "US"
    assert us.watchlists == (WatchlistMatch("desk", "Jets", ()),)
    nobody = enricher.enrich(_event("7c0000"))
    assert (nobody.registration, nobody.operator, nobody.watchlists) == (None, None, ())
    # Fields an enriching producer already set are kept.
    preset = enricher.enrich(_event("3c6444", registration="D-XXXX"))
    assert preset.registration == "D-XXXX" and preset.operator == "Lufthansa"


def test_routing_on_several_lists_and_a_squawk_event() -> None:
    config = RoutingConfig.from_toml(
        """
        [channels.watch]
        kind = "console"
        [channels.emergencies]
        kind = "console"
        [channels.rest]
        kind = "console"
        [[rules]]
        name = "squawks"
        types = ["squawk_emergency"]
        channels = ["emergencies"]
        stop = true
        [[rules]]
        name = "desk priority"
        categories = ["Priority"]
        channels = ["watch"]
        stop = true
        [[rules]]
        name = "everything else"
        channels = ["rest"]
        """
    )
    router = Router(config)
    pad = Watchlist.parse(PAD_HEADER + "1551E0,RA-86496,RuAF,Il-62M,IL62,Mil,,,,Other Air Forces,,\n")
    desk = Watchlist.parse("registration,category\nRA-86496,Priority\n", name="desk")
    enricher = Enricher(watchlists=[pad, desk], images=False)

    def route(event: AirspaceEvent) -> list[str]:
        facts = enricher.facts(event.icao24)
        return router.route(event, country=facts.country, aircraft=facts.entries)

    assert route(_event("1551e0")) == ["watch"]  # the desk list's category, second list
    assert route(_event("1551e0", EventType.SQUAWK_EMERGENCY, squawk="7700")) == ["emergencies"]
    assert route(_event("7c0000")) == ["rest"]


def _rewrite(path: Path, text: str) -> None:
    """Rewrite a file as an editor would (new contents, a later modification time)."""
    before = path.stat().st_mtime_ns
    path.write_text(text)
    if path.stat().st_mtime_ns == before:  # coarse file-system clocks
        os.utime(path, ns=(before + 1_000_000, before + 1_000_000))


def test_reloading_file_takes_changes_and_keeps_old_data_when_broken(tmp_path: Path) -> None:
    path = tmp_path / "desk.csv"
    path.write_text("icao24,category\n1551e0,First\n")
    seen: list[tuple[str, str]] = []
    rf = ReloadingFile(path, read_watchlist, kind="watchlist", on_result=lambda *a: seen.append(a))
    assert rf.value.get("1551e0").category == "First"  # type: ignore[union-attr]
    assert rf.check() is False  # unchanged: not re-read
    _rewrite(path, "icao24,category\n1551e0,Second\n")
    assert rf.check() is True and rf.value.get("1551e0").category == "Second"  # type: ignore[union-attr]
    _rewrite(path, "this is not,a watchlist\n")
    assert rf.check() is False
    assert rf.value.get("1551e0").category == "Second"  # type: ignore[union-attr]
    assert rf.failures == 1 and rf.last_error is not None and "not a watchlist" in rf.last_error
    assert rf.check() is False and rf.failures == 1  # the broken version is not retried
    path.unlink()
    assert rf.check() is False and rf.failures == 2
    path.write_text("icao24,category\n1551e0,Third\n")
    assert rf.check() is True and rf.value.get("1551e0").category == "Third"  # type: ignore[union-attr]
    assert seen == [
        ("watchlist", "reloaded"), ("watchlist", "failed"), ("watchlist", "failed"),
        ("watchlist", "reloaded"),
    ]  # fmt: skip


def test_reloader_thread_picks_up_a_change(tmp_path: Path) -> None:
    import time

    path = tmp_path / "desk.csv"
    path.write_text("icao24,category\n1551e0,Before\n")
    lists, _ = open_enrichment([str(path)])
    enricher = Enricher(watchlists=lists, images=False)
    reloader = Reloader(enricher.reloading, interval_s=0.02)
    reloader.start()
    try:
        _rewrite(path, "icao24,category\n1551e0,After\n")
        deadline = time.monotonic() + 10
        while lists[0].reloads == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        reloader.stop()
    assert enricher.enrich(_event()).watchlists == (WatchlistMatch("desk", "After", ()),)


def test_broken_files_at_start_up_are_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.csv"):
        open_enrichment([str(tmp_path / "missing.csv")])
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n")
    with pytest.raises(ConfigError, match="not a watchlist"):
        open_enrichment([str(bad)])
    with pytest.raises(ConfigError, match="aircraft_db"):
        open_enrichment([], str(bad))


def test_event_fields_round_trip_and_old_events_still_decode() -> None:
    event = _event(
        squawk="7700", registration="RA-86496", aircraft_type="Ilyushin IL-62M",
        operator="Russian Air Force", country="RU",
        watchlists=(WatchlistMatch("pad", "Other Air Forces", ("Classic",)), WatchlistMatch("desk")),
    )  # fmt: skip
    assert decode_event(encode_event(event)) == event
    plain = dataclasses.replace(event, squawk=None, registration=None, aircraft_type=None,
                                operator=None, country=None, watchlists=())  # fmt: skip
    assert b"registration" not in encode_event(plain)  # unknown: left out, reads back None
    assert decode_event(encode_event(plain)) == plain


def test_squawk_alerts_say_what_the_code_means() -> None:
    from alerts.formatting import console_line
    from alerts.render import slack_blocks, telegram_html
    from alerts.routing import cooldown_key
    from tests.unit.test_render import _check_slack

    for code, meaning in (("7500", "hijack"), ("7600", "radio failure"), ("7700", "emergency")):
        event = _event("1551e0", EventType.SQUAWK_EMERGENCY, squawk=code, zone_name="DPRK airspace")
        ctx = build_context(event)
        assert f"squawking {code} ({meaning}) near DPRK airspace" in ctx.headline
        assert f"squawk {code}: {meaning}" in console_line(event)
        assert "SQUAWK EMERGENCY" in console_line(event)
        _check_slack(slack_blocks(ctx))
        assert code in telegram_html(ctx)
    # A 7600 that becomes a 7700 is not held back by a cooldown on the first.
    k7600 = cooldown_key(_event(type_=EventType.SQUAWK_EMERGENCY, squawk="7600"))
    k7700 = cooldown_key(_event(type_=EventType.SQUAWK_EMERGENCY, squawk="7700"))
    assert k7600 != k7700



def test_the_aircraft_database_reloads_too(tmp_path: Path) -> None:
    path = tmp_path / "aircraftDatabase.csv"
    path.write_text('"icao24","registration","operator"\n"3c6444","D-AIBD","Lufthansa"\n')
    _, db = open_enrichment([], str(path))
    assert db is not None
    enricher = Enricher(aircraft_db=db, images=False)
    assert enricher.enrich(_event("3c6444")).operator == "Lufthansa"
    _rewrite(path, '"icao24","registration","operator"\n"3c6444","D-AIBD","Lufthansa CityLine"\n')
    assert Reloader([db]).check_all() == 1
    assert enricher.enrich(_event("3c6444")).operator == "Lufthansa CityLine"
    _rewrite(path, "garbage\n")
    assert Reloader([db]).check_all() == 0 and db.failures == 1
    assert enricher.enrich(_event("3c6444")).operator == "Lufthansa CityLine"



def test_config_check_reads_every_watchlist_and_the_database(tmp_path: Path) -> None:
    import io

    from alerts.configcheck import check_config

    good = tmp_path / "desk.csv"
    good.write_text("icao24,category\n1551e0,Priority\n")
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n")

    def check(env: dict[str, str]) -> tuple[int, str]:
        out, err = io.StringIO(), io.StringIO()
        return check_config(env, out=out, err=err), err.getvalue()

    assert check({"SKYFENCE_WATCHLIST": f"desk={good}", "SKYFENCE_AIRCRAFT_DB": ""})[0] == 0
    code, err = check({"SKYFENCE_WATCHLIST": f"desk={good},{bad}"})
    assert code == 2 and "SKYFENCE_WATCHLIST" in err and "not a watchlist" in err
    code, err = check({"SKYFENCE_AIRCRAFT_DB": str(bad)})
    assert code == 2 and "SKYFENCE_AIRCRAFT_DB" in err and "no icao24 column" in err
