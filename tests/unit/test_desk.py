"""The live page's pure part: which aircraft it shows and how, and the alert history."""

from __future__ import annotations

from alerts.desk import (
    DeskBoard,
    aircraft_view,
    aircraft_views,
    event_view,
    region_outlines,
    zones_geojson,
)
from streams.models import AirspaceEvent, Confidence, EventType, WatchlistMatch
from streams.tracking import AircraftState, Visit
from streams.zones import load_zones


def _event(**over: object) -> AirspaceEvent:
    base: dict[str, object] = {
        "event_id": "e1", "type": EventType.ENTERED, "icao24": "1551e0", "zone": "dprk",
        "ts": 1695690867.0, "lat": 39.5, "lon": 124.3, "observed_ts": 1695690870.0,
        "callsign": "RSD352", "confidence": Confidence.OBSERVED, "zone_name": "DPRK airspace",
        "alt_ft": 35100, "trail": ((39.9, 124.0), (39.7, 124.2)),
    }  # fmt: skip
    base.update(over)
    return AirspaceEvent(**base)  # type: ignore[arg-type]


def _state(**over: object) -> AircraftState:
    base: dict[str, object] = {"icao24": "1551e0", "ts": 100.0, "lat": 39.5, "lon": 124.3,
                               "alt_ft": 35000, "callsign": "RSD352"}  # fmt: skip
    base.update(over)
    return AircraftState(**base)  # type: ignore[arg-type]


def test_an_aircraft_far_from_every_zone_is_not_shown() -> None:
    assert aircraft_view(_state()) is None


def test_inside_shows_position_altitude_callsign_country_and_track() -> None:
    view = aircraft_view(
        _state(
            visits={"dprk": Visit(entered_ts=90.0)},
            trail=((80.0, 40.0, 124.0), (90.0, 39.8, 124.1)),
        )
    )
    assert view is not None
    assert view["status"] == "inside" and view["zones"] == ["dprk"]
    assert view["callsign"] == "RSD352" and view["alt_ft"] == 35000
    assert view["country"] == {"code": "RU", "name": "Russia", "flag": "\U0001f1f7\U0001f1fa"}
    assert view["track"] == [[40.0, 124.0], [39.8, 124.1], [39.5, 124.3]]  # ends at the aircraft


def test_lost_outranks_inside_and_approaching_carries_the_eta() -> None:
    lost = aircraft_view(_state(visits={"dprk": Visit(entered_ts=90.0)}, lost=["dprk"]))
    assert lost is not None and lost["status"] == "lost"
    near = aircraft_view(_state(approach={"dprk": (160.0, 39.6, 124.4), "x": (130.0, 1.0, 2.0)}))
    assert near is not None and near["status"] == "approaching" and near["eta_ts"] == 130.0
    order = aircraft_views([
        _state(icao24="aaaaaa", approach={"dprk": (160.0, 39.6, 124.4)}),
        _state(icao24="bbbbbb", visits={"dprk": Visit(entered_ts=90.0)}),
        _state(icao24="cccccc", lost=["dprk"]),
        _state(icao24="dddddd"),
    ])  # fmt: skip
    assert [(v["icao24"], v["status"]) for v in order] == [
        ("cccccc", "lost"),
        ("bbbbbb", "inside"),
        ("aaaaaa", "approaching"),
    ]


def test_event_view_unknown_country_and_times() -> None:
    view = event_view(_event(icao24="000001", eta_ts=1695690900.0))
    assert view["country"] is None
    assert view["time"] == "2023-09-26T01:14:27Z" and view["eta"] == "2023-09-26T01:15:00Z"
    assert view["track"] == [[39.9, 124.0], [39.7, 124.2]]


def test_history_filters_orders_by_event_time_and_records_each_event_once() -> None:
    board = DeskBoard()
    assert board.record(_event(event_id="a", ts=300.0)) is not None
    assert board.record(_event(event_id="a", ts=300.0)) is None  # a replayed duplicate
    board.record(_event(event_id="b", ts=100.0, type=EventType.APPROACHING))
    board.record(_event(event_id="c", ts=200.0, icao24="720632", zone="other"))
    assert [v["event_id"] for v in board.history()] == ["a", "c", "b"]
    assert [v["event_id"] for v in board.history(type="approaching")] == ["b"]
    assert [v["event_id"] for v in board.history(zone="other")] == ["c"]
    assert [v["event_id"] for v in board.history(country="kp")] == ["c"]
    assert [v["event_id"] for v in board.history(country="RU", limit=1)] == ["a"]
    assert [v["event_id"] for v in board.timeline("1551E0")] == ["a", "b"]  # arrival order
    assert board.timeline("ffffff") == []


def test_history_filters_by_watchlist_from_the_events_enrichment() -> None:
    board = DeskBoard()
    board.record(_event(event_id="a", ts=3.0, watchlists=(WatchlistMatch("plane-alert", "Dictator Alert", ("VIP",)),)))
    board.record(_event(event_id="b", ts=2.0, watchlists=(WatchlistMatch("desk"), WatchlistMatch("plane-alert"))))
    board.record(_event(event_id="c", ts=1.0))  # on no list (or not enriched)
    assert board.history()[0]["watchlists"] == [
        {"list": "plane-alert", "category": "Dictator Alert", "tags": ["VIP"]}
    ]
    assert [v["event_id"] for v in board.history(watchlist="plane-alert")] == ["a", "b"]
    assert [v["event_id"] for v in board.history(watchlist="desk")] == ["b"]
    assert [v["event_id"] for v in board.history(watchlist="*")] == ["a", "b"]
    assert board.history(watchlist="nobody") == []
    assert [v["event_id"] for v in board.history(watchlist="desk", country="RU")] == ["b"]
    assert board.history()[2]["watchlists"] == []


def test_history_and_timelines_are_bounded() -> None:
    board = DeskBoard(history_size=3, timeline_size=2, timeline_aircraft=2)
    for i in range(5):
        board.record(_event(event_id=f"e{i}", ts=float(i), icao24=f"00000{i}"))
    assert [v["event_id"] for v in board.history()] == ["e4", "e3", "e2"]
    assert board.timeline("000000") == [] and len(board.timeline("000004")) == 1
    for i in range(3):
        board.record(_event(event_id=f"x{i}", ts=10.0 + i, icao24="000004"))
    assert [v["event_id"] for v in board.timeline("000004")] == ["x1", "x2"]
    # an evicted event id may be recorded again
    assert board.record(_event(event_id="e0", ts=0.0, icao24="000000")) is not None


def test_zones_geojson_is_what_zones_export_prints() -> None:
    doc = zones_geojson(load_zones(["dprk"]))
    assert doc["type"] == "FeatureCollection"
    assert [f["properties"]["id"] for f in doc["features"]] == ["dprk"]
    assert doc["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")


def test_region_outlines_are_the_packaged_time_zones_around_the_zones() -> None:
    zones = load_zones(["dprk"])
    outlines = region_outlines(zones)
    names = [f["properties"]["tz"] for f in outlines["features"]]
    # The neighbours a desk watching the DPRK needs, from packaged data only.
    assert {"Asia/Pyongyang", "Asia/Seoul", "Asia/Shanghai", "Asia/Tokyo", "Asia/Vladivostok"} <= set(names)
    assert not any(n.startswith("Etc/") for n in names)  # open sea is not a region
    assert "OpenStreetMap" in outlines["attribution"] and "ODbL" in outlines["attribution"]
    west, south, east, north = zones[0].geometry.bounds
    assert {f["geometry"]["type"] for f in outlines["features"]} <= {"LineString", "MultiLineString"}
    points = [
        p
        for f in outlines["features"]
        for line in (f["geometry"]["coordinates"] if f["geometry"]["type"] == "MultiLineString" else [f["geometry"]["coordinates"]])
        for p in line
    ]  # fmt: skip
    assert all(west - 8.001 <= lon <= east + 8.001 and south - 8.001 <= lat <= north + 8.001 for lon, lat in points)
    assert all(p == [round(p[0], 3), round(p[1], 3)] for p in points[:1000])
    assert 1000 < len(points) < 20_000  # simplified: a page loads it at once
    assert region_outlines([])["features"] == []
