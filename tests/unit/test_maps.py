"""Offline event maps: a valid PNG of the asked size, track and marker where the projection
puts them, the zone clipped to the view, the same bytes for the same input. No timing here:
``tests.bench.maps.bench_render_ms`` measures speed."""

from __future__ import annotations

import io
import itertools
import math

import pytest
from PIL import Image
from shapely.geometry import MultiPolygon, Polygon

import alerts.maps as maps
from alerts.maps import COLOURS, KM_PER_DEG, MIN_HALF_SPAN_KM, render_map, view_for
from streams.models import AirspaceEvent, Confidence, EventType

#: A 1 x 1 degree square zone with a hole, north of the track's end.
ZONE = MultiPolygon(
    [
        Polygon(
            [(125.0, 39.0), (126.0, 39.0), (126.0, 40.0), (125.0, 40.0)],
            [[(125.6, 39.6), (125.8, 39.6), (125.8, 39.8), (125.6, 39.8)]],
        )
    ]
)
#: Flying north along 125.5 E, crossing the zone's southern edge at 39.0 N.
TRACK = [(38.6 + 0.05 * i, 125.5) for i in range(12)]  # 38.60 .. 39.15
CROSSING = (39.0, 125.5)


def event(
    lat: float = CROSSING[0], lon: float = CROSSING[1], callsign: str | None = "RSD089"
) -> AirspaceEvent:
    return AirspaceEvent(
        event_id="e1",
        type=EventType.ENTERED,
        icao24="1551e0",
        zone="sq",
        ts=1_695_000_000.0,
        lat=lat,
        lon=lon,
        observed_ts=1_695_000_030.0,
        callsign=callsign,
        confidence=Confidence.OBSERVED,
        zone_name="Square",
    )


def open_png(data: bytes) -> Image.Image:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    image = Image.open(io.BytesIO(data))
    image.load()
    return image.convert("RGB")


def pixels_of(image: Image.Image, colour: tuple[int, int, int]) -> list[tuple[int, int]]:
    w, h = image.size
    data = image.load()
    assert data is not None
    return [(x, y) for y in range(h) for x in range(w) if data[x, y] == colour]


def expected_px(view: maps.View, lat: float, lon: float) -> tuple[float, float]:
    """The projection written out independently: equirectangular, cos(lat) at the centre."""
    kx = math.cos(math.radians(view.centre_lat)) * KM_PER_DEG * view.px_per_km
    ky = KM_PER_DEG * view.px_per_km
    return (
        view.width_px / 2 + (lon - view.centre_lon) * kx,
        view.height_px / 2 - (lat - view.centre_lat) * ky,
    )


@pytest.mark.parametrize("size", [(640, 400), (320, 320), (200, 500)])
def test_a_valid_png_of_the_requested_size(size: tuple[int, int]) -> None:
    image = Image.open(io.BytesIO(render_map(ZONE, TRACK, event(), size_px=size)))
    assert image.format == "PNG"
    assert image.size == size


def test_the_same_input_gives_the_same_bytes() -> None:
    assert render_map(ZONE, TRACK, event()) == render_map(ZONE, TRACK, event())
    assert render_map(ZONE, TRACK, event()) != render_map(ZONE, TRACK, event(callsign="RFF1"))


def test_the_crossing_marker_is_where_the_projection_puts_it() -> None:
    image = open_png(render_map(ZONE, TRACK, event()))
    view = view_for(TRACK, *CROSSING, image.size)
    ex, ey = expected_px(view, *CROSSING)
    marker = pixels_of(image, COLOURS["marker"])
    assert marker, "no marker pixels"
    mx = sum(x for x, _ in marker) / len(marker)
    my = sum(y for _, y in marker) / len(marker)
    assert abs(mx - ex) <= 1.0 and abs(my - ey) <= 1.0, ((mx, my), (ex, ey))


def test_track_pixels_lie_along_the_track() -> None:
    image = open_png(render_map(ZONE, TRACK, event()))
    view = view_for(TRACK, *CROSSING, image.size)
    data = image.load()
    assert data is not None
    # The middle of each segment away from the marker is drawn in the track colour.
    for (lat1, lon1), (lat2, lon2) in itertools.pairwise(TRACK[:7]):
        x, y = expected_px(view, (lat1 + lat2) / 2, (lon1 + lon2) / 2)
        around = {data[round(x) + dx, round(y) + dy] for dx in (-1, 0, 1) for dy in (-1, 0, 1)}
        assert COLOURS["track"] in around, (x, y)
    # And every track pixel is within the line's width of the track's column.
    x_track, _ = expected_px(view, *TRACK[0])
    assert all(abs(x - x_track) <= 3 for x, _ in pixels_of(image, COLOURS["track"]))


def test_the_zone_is_filled_with_its_hole_punched() -> None:
    track = [(39.5 + 0.02 * i, 125.7) for i in range(3)]
    ev = event(39.55, 125.7)
    image = open_png(render_map(ZONE, track, ev))
    view = view_for(track, ev.lat, ev.lon, image.size)
    data = image.load()
    assert data is not None
    inside = expected_px(view, 39.3, 125.3)
    hole = expected_px(view, 39.7, 125.75)
    assert data[round(inside[0]), round(inside[1])] == COLOURS["zone_fill"]
    assert data[round(hole[0]), round(hole[1])] == COLOURS["background"]
    assert pixels_of(image, COLOURS["zone_edge"])


def test_a_zone_outside_the_view_draws_nothing_and_an_empty_track_is_fine() -> None:
    image = open_png(render_map(ZONE, [], event(10.0, 10.0)))
    assert not pixels_of(image, COLOURS["zone_fill"])
    assert not pixels_of(image, COLOURS["track"])
    assert pixels_of(image, COLOURS["marker"])


def test_view_box_holds_event_and_track_at_the_image_aspect() -> None:
    view = view_for(TRACK, *CROSSING, (640, 400))
    for lat, lon in [*TRACK, CROSSING]:
        x, y = view.to_px(lat, lon)
        assert 0 <= x <= 640 and 0 <= y <= 400
    min_lon, min_lat, max_lon, max_lat = view.bounds_deg()
    width_km = (max_lon - min_lon) * math.cos(math.radians(view.centre_lat)) * KM_PER_DEG
    height_km = (max_lat - min_lat) * KM_PER_DEG
    assert width_km / height_km == pytest.approx(640 / 400)
    assert width_km >= 2 * MIN_HALF_SPAN_KM


def test_a_long_track_is_cut_but_the_event_stays_in_view() -> None:
    track = [(30.0, 120.0), (39.0, 125.5)]
    view = view_for(track, *CROSSING, (640, 400))
    x, y = view.to_px(*CROSSING)
    assert 0 <= x <= 640 and 0 <= y <= 400
    assert render_map(ZONE, track, event())  # far-off fixes draw without error


def test_the_dprk_zone_renders() -> None:
    from streams.zones import builtin_zone

    zone = builtin_zone("dprk")
    start, end = (43.1, 131.9), (39.03, 125.75)
    track = [
        (start[0] + (end[0] - start[0]) * i / 60, start[1] + (end[1] - start[1]) * i / 60)
        for i in range(20)
    ]
    crossing = zone.crossings(*start, *end)[0]
    image = open_png(render_map(zone.geometry, track, event(crossing.lat, crossing.lon)))
    assert image.size == (640, 400)
    assert pixels_of(image, COLOURS["zone_fill"])


def test_too_small_an_image_is_refused() -> None:
    with pytest.raises(ValueError):
        render_map(ZONE, TRACK, event(), size_px=(10, 10))
