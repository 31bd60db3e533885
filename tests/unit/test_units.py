"""One formatter per quantity (alerts.units), and the console line and the desk renderers
saying a number the same way."""

from __future__ import annotations

import pytest

from alerts.formatting import console_line
from alerts.render import build_context
from alerts.units import (
    format_altitude,
    format_distance,
    format_hms,
    format_lat_lon,
    format_local,
    format_speed,
    format_track,
    format_utc,
    format_utc_offset,
)
from streams.models import AirspaceEvent, Confidence, EventType

TS = 1_695_688_867.0  # 2023-09-26 00:41:07Z


@pytest.mark.parametrize(
    ("alt_ft", "text"),
    [(None, "alt ?"), (0, "0 ft"), (9_500, "9,500 ft"), (9_999, "9,999 ft"), (10_000, "FL100"), (35_100, "FL351")],
)
def test_altitude(alt_ft: int | None, text: str) -> None:
    assert format_altitude(alt_ft) == text


def test_speed_track_distance_position() -> None:
    assert format_speed(464.6) == "465 kt"
    assert format_track(7.0) == "track 007°"
    assert format_distance(12_300.0) == "12.3 km (6.6 NM)"
    assert format_lat_lon(40.13691, -124.40789) == "40.1369N 124.4079W"


def test_times() -> None:
    assert format_utc(TS) == "2023-09-26 00:41:07Z"
    assert format_hms(TS) == "00:41:07Z"
    assert format_utc_offset(32_400) == "UTC+09:00" and format_utc_offset(-12_600) == "UTC-03:30"
    assert format_local(TS, "KST", 32_400) == "2023-09-26 09:41:07 KST (UTC+09:00)"
    assert format_local(TS, None, 0) == "2023-09-26 00:41:07 (UTC+00:00)"
    assert format_local(TS, "KST", None) is None


@pytest.mark.parametrize("alt_ft", [None, 2_500, 9_500, 35_100])
def test_console_and_desk_say_the_altitude_alike(alt_ft: int | None) -> None:
    event = AirspaceEvent(
        event_id="e",
        type=EventType.ENTERED,
        icao24="1551e0",
        zone="dprk",
        ts=TS,
        lat=40.1369,
        lon=124.4079,
        observed_ts=TS + 10,
        callsign="RSD352",
        confidence=Confidence.OBSERVED,
        alt_ft=alt_ft,
    )
    words = format_altitude(alt_ft)
    assert f"  {words}  " in console_line(event)
    assert build_context(event).flight_text.split(" · ")[0] == words
