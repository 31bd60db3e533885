"""Enrichment of real alerts: every golden seed event, with the watchlist, valid everywhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from alerts.enrich import Enricher, zone_time_zone
from alerts.render import (
    TELEGRAM_CAPTION_MAX,
    TELEGRAM_MESSAGE_MAX,
    slack_blocks,
    telegram_caption,
    telegram_html,
)
from alerts.watchlist import Aircraft, Watchlist
from streams.codec import decode_event
from streams.zones import load_zones
from tests.conftest import SEED_GOLDEN
from tests.unit.test_render import _check_slack, _check_telegram

GOLDEN = [decode_event(line) for line in SEED_GOLDEN.read_bytes().splitlines()]
IL62 = Aircraft(
    icao24="1551e0", registration="RA-86496", operator="Russian Air Force", type="Ilyushin IL-62M",
    icao_type="IL62", category="Other Air Forces", tags=("Classic",), cmpg="Mil", link=None,
)  # fmt: skip


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher(load_zones(["dprk"]), Watchlist({"1551e0": IL62}))


def test_the_il62_entry_reads_like_a_desk_alert(enricher: Enricher) -> None:
    entered = next(e for e in GOLDEN if e.icao24 == "1551e0" and e.type.value == "entered")
    ctx = enricher.context(entered)
    assert ctx.registration == "RA-86496" and ctx.operator == "Russian Air Force"
    assert ctx.country is not None and ctx.country.code == "RU"
    assert ctx.tz_name == "KST" and ctx.tz_offset_s == 9 * 3600
    assert ctx.local_text is not None and "KST (UTC+09:00)" in ctx.local_text
    # Measured from the latest fix (inside, past the interpolated crossing on the boundary).
    lat, lon = entered.trail[-1]
    zone = enricher.zones["dprk"]
    assert zone.contains_2d(lat, lon)
    assert ctx.distance_to_boundary_m == pytest.approx(zone.distance_m(lat, lon))
    assert ctx.distance_to_boundary_m > 0
    assert ctx.distance_text is not None and ctx.distance_text.endswith("inside the boundary")
    assert enricher.context(entered) is ctx  # cached: one enrichment per fan-out


@pytest.mark.parametrize("event", GOLDEN, ids=[f"{e.type.value}-{e.icao24}" for e in GOLDEN])
def test_every_golden_event_renders_valid_payloads(enricher: Enricher, event) -> None:  # type: ignore[no-untyped-def]
    ctx = enricher.context(event)
    _check_slack(slack_blocks(ctx))
    _check_telegram(telegram_html(ctx), TELEGRAM_MESSAGE_MAX)
    _check_telegram(telegram_caption(ctx), TELEGRAM_CAPTION_MAX)
    assert event.event_id in telegram_html(ctx)


def test_maps_show_the_track_and_render_fast(enricher: Enricher) -> None:
    from io import BytesIO

    from PIL import Image

    from alerts.maps import COLOURS

    slowest_ms = 0.0
    for event in GOLDEN:
        started = time.perf_counter()
        png = enricher._render(event)  # uncached
        slowest_ms = max(slowest_ms, (time.perf_counter() - started) * 1000)
        assert png is not None and png.startswith(b"\x89PNG")
        if len(event.trail) >= 2:
            colours = {c for _, c in Image.open(BytesIO(png)).convert("RGB").getcolors(1 << 20)}
            assert COLOURS["track"] in colours
    # The 200 ms budget is the benchmark's to check; this only catches a pathological render.
    assert slowest_ms < 2000


def test_time_zone_of_zones() -> None:
    assert zone_time_zone("dprk", 40.0, 127.0) == "Asia/Pyongyang"
    assert zone_time_zone("dprk+50km", 40.0, 127.0) == "Asia/Pyongyang"
    assert zone_time_zone("tz:Europe/Amsterdam", 52.0, 5.0) == "Europe/Amsterdam"
    assert zone_time_zone("custom-zone", 52.37, 4.90) == "Europe/Amsterdam"  # looked up


def test_golden_events_carry_a_trail_near_the_zone() -> None:
    entered = [e for e in GOLDEN if e.type.value == "entered"]
    assert entered and all(len(e.trail) >= 2 for e in entered)
    for e in entered:
        assert all(-90 <= lat <= 90 and -180 <= lon <= 180 for lat, lon in e.trail)


def test_watchlist_file_is_loaded(tmp_path: Path) -> None:
    from alerts.enrich import load_watchlist

    csv = tmp_path / "w.csv"
    csv.write_text("$ICAO,$Registration,Operator,Type,ICAO Type,#CMPG,$Tag 1,Category\n"
                   "1551E0,RA-86496,Russian Air Force,Ilyushin IL-62M,IL62,Mil,Classic,Other Air Forces\n")
    wl = load_watchlist(csv)
    assert wl is not None and wl.get("1551e0") is not None
    assert load_watchlist(None) is None
