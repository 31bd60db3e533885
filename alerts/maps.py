"""A small offline map of an airspace event, as PNG bytes: zone, track, crossing. Pure.

:func:`render_map` draws, with Pillow and no tiles or network:

- the zone, lightly filled and outlined, clipped to a view box around the event;
- the aircraft's recent track (``(lat, lon)`` pairs, oldest first) as a polyline with a dot
  at each fix;
- the event position (the estimated crossing point; for ``approaching`` the position when
  the alert was raised) as a ringed marker;
- a scale bar in kilometres, a north arrow, a title (callsign or address, event type, zone,
  UTC time) and an optional attribution line (the built-in DPRK outline is ODbL: pass
  :data:`streams.zones.DPRK_ATTRIBUTION` or a short form of it).

Projection: equirectangular scaled by ``cos(lat)`` at the view centre (:class:`View`), so
distances are true to a few per cent across a few hundred kilometres, which is what a view
box this size spans. North is up.

The view box (:func:`view_for`) holds the event and the track, each point no further than
:data:`MAX_HALF_SPAN_KM` from the event (a long track is cut, never the event), at least
:data:`MIN_HALF_SPAN_KM` around, padded, at the image's aspect ratio.

Speed: the zone is clipped to the view box with shapely and simplified to about a pixel
before drawing, so the 17,000-vertex DPRK outline renders in a few milliseconds
(``tests.bench.maps.bench_render_ms`` measures it).

The same input gives the same bytes: no timestamps or other metadata go into the PNG.

Out of scope: coastlines and other base-map layers, zones across the antimeridian,
high-DPI rendering.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import shapely
from PIL import Image, ImageDraw, ImageFont
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from streams.models import AirspaceEvent
from streams.text import printable

__all__ = [
    "COLOURS",
    "KM_PER_DEG",
    "MAX_HALF_SPAN_KM",
    "MIN_HALF_SPAN_KM",
    "View",
    "render_map",
    "view_for",
]

#: Kilometres per degree of latitude (mean Earth radius 6371.0088 km).
KM_PER_DEG = 2 * math.pi * 6371.0088 / 360
#: Smallest half-width of the view: 40 km shows a border crossing with some context.
MIN_HALF_SPAN_KM = 40.0
#: Largest half-width: 400 km keeps the DPRK (about 600 km tall) mostly in view while the
#: ``cos(lat)`` projection stays within a few per cent of true distance.
MAX_HALF_SPAN_KM = 400.0
#: Margin around the points, as a fraction of their extent.
_PAD_FRACTION = 0.15
#: Simplification tolerance of the zone, in pixels: finer detail cannot be seen.
_SIMPLIFY_PX = 1.0
#: Zone clip margin, pixels: the clip box's own edges fall outside the image, unoutlined.
_CLIP_MARGIN_PX = 4.0

#: Colours (RGB). Track and marker colours appear nowhere else, so tests can find them.
COLOURS: dict[str, tuple[int, int, int]] = {
    "background": (244, 246, 248),
    "zone_fill": (252, 222, 222),
    "zone_edge": (196, 40, 40),
    "track": (20, 90, 200),
    "marker": (255, 140, 0),
    "marker_edge": (0, 0, 0),
    "text": (25, 25, 25),
    "panel": (255, 255, 255),
}
_TRACK_WIDTH_PX = 3
_FIX_RADIUS_PX = 2
_MARKER_RADIUS_PX = 6


@dataclass(frozen=True, slots=True)
class View:
    """The projection of one map: view centre, scale and image size.

    ``x = w/2 + (lon - centre_lon) * cos(centre_lat) * KM_PER_DEG * px_per_km``,
    ``y = h/2 - (lat - centre_lat) * KM_PER_DEG * px_per_km``.
    """

    centre_lat: float
    centre_lon: float
    px_per_km: float
    width_px: int
    height_px: int

    @property
    def _kx(self) -> float:
        return math.cos(math.radians(self.centre_lat)) * KM_PER_DEG * self.px_per_km

    @property
    def _ky(self) -> float:
        return KM_PER_DEG * self.px_per_km

    def to_px(self, lat: float, lon: float) -> tuple[float, float]:
        """(lat, lon) degrees -> (x, y) pixels, origin top left, y down."""
        x = self.width_px / 2 + (lon - self.centre_lon) * self._kx
        y = self.height_px / 2 - (lat - self.centre_lat) * self._ky
        return x, y

    def bounds_deg(self, margin_px: float = 0.0) -> tuple[float, float, float, float]:
        """The view box as (min_lon, min_lat, max_lon, max_lat), widened by ``margin_px``."""
        half_w = (self.width_px / 2 + margin_px) / self._kx
        half_h = (self.height_px / 2 + margin_px) / self._ky
        return (
            self.centre_lon - half_w,
            self.centre_lat - half_h,
            self.centre_lon + half_w,
            self.centre_lat + half_h,
        )


def view_for(
    track: Sequence[tuple[float, float]],
    event_lat: float,
    event_lon: float,
    size_px: tuple[int, int],
) -> View:
    """The view box for an event at (``event_lat``, ``event_lon``) and its track (see the
    module docstring)."""
    width_px, height_px = size_px
    kx = math.cos(math.radians(event_lat)) * KM_PER_DEG
    xs, ys = [0.0], [0.0]
    for lat, lon in track:
        xs.append(_clamp((lon - event_lon) * kx, MAX_HALF_SPAN_KM))
        ys.append(_clamp((lat - event_lat) * KM_PER_DEG, MAX_HALF_SPAN_KM))
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    half_w = max((max(xs) - min(xs)) / 2 * (1 + 2 * _PAD_FRACTION), MIN_HALF_SPAN_KM)
    half_h = max((max(ys) - min(ys)) / 2 * (1 + 2 * _PAD_FRACTION), MIN_HALF_SPAN_KM)
    # Widen the narrower side to the image's aspect ratio.
    aspect = width_px / height_px
    if half_w / half_h < aspect:
        half_w = half_h * aspect
    else:
        half_h = half_w / aspect
    centre_lat = event_lat + cy / KM_PER_DEG
    centre_lon = event_lon + cx / kx
    return View(centre_lat, centre_lon, width_px / (2 * half_w), width_px, height_px)


def render_map(
    zone_geometry: BaseGeometry,
    track: Sequence[tuple[float, float]],
    event: AirspaceEvent,
    *,
    size_px: tuple[int, int] = (640, 400),
    attribution: str | None = None,
) -> bytes:
    """Render the event's map as PNG bytes of ``size_px`` (width, height).

    ``zone_geometry`` is the zone's (multi)polygon in lon/lat (``Zone.geometry``); ``track``
    the recent fixes as ``(lat, lon)``, oldest first (may be empty).
    """
    width_px, height_px = size_px
    if width_px < 64 or height_px < 64:
        raise ValueError(f"size_px must be at least 64x64, got {size_px}")
    view = view_for(track, event.lat, event.lon, size_px)
    image = Image.new("RGB", size_px, COLOURS["background"])
    draw = ImageDraw.Draw(image)
    _draw_zone(draw, zone_geometry, view)
    _draw_track(draw, track, view)
    _draw_marker(draw, view.to_px(event.lat, event.lon))
    _draw_title(draw, event, width_px)
    _draw_scale_bar(draw, view)
    _draw_north_arrow(draw, width_px)
    if attribution:
        _draw_attribution(draw, attribution, width_px, height_px)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


# --- layers -------------------------------------------------------------------------------


def _draw_zone(draw: ImageDraw.ImageDraw, geometry: BaseGeometry, view: View) -> None:
    clipped = shapely.clip_by_rect(geometry, *view.bounds_deg(_CLIP_MARGIN_PX))
    if clipped.is_empty:
        return
    tolerance_deg = _SIMPLIFY_PX / (KM_PER_DEG * view.px_per_km)
    simple = shapely.simplify(clipped, tolerance_deg, preserve_topology=False)
    polygons = [p for p in _polygons(simple) if not p.is_empty]
    # Fill every exterior, punch the holes, then outline everything on top.
    for polygon in polygons:
        draw.polygon(_ring_px(polygon.exterior.coords, view), fill=COLOURS["zone_fill"])
    for polygon in polygons:
        for hole in polygon.interiors:
            draw.polygon(_ring_px(hole.coords, view), fill=COLOURS["background"])
    for polygon in polygons:
        for ring in (polygon.exterior, *polygon.interiors):
            draw.line(_ring_px(ring.coords, view), fill=COLOURS["zone_edge"], width=2)


def _draw_track(
    draw: ImageDraw.ImageDraw, track: Sequence[tuple[float, float]], view: View
) -> None:
    points = [_limit(view.to_px(lat, lon), view) for lat, lon in track]
    if len(points) >= 2:
        draw.line(points, fill=COLOURS["track"], width=_TRACK_WIDTH_PX, joint="curve")
    r = _FIX_RADIUS_PX
    for x, y in points:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS["track"])


def _draw_marker(draw: ImageDraw.ImageDraw, xy: tuple[float, float]) -> None:
    x, y = round(xy[0]), round(xy[1])
    r = _MARKER_RADIUS_PX
    draw.ellipse((x - r - 2, y - r - 2, x + r + 2, y + r + 2), fill=COLOURS["marker_edge"])
    draw.ellipse((x - r, y - r, x + r, y + r), fill=COLOURS["marker"])


def _draw_title(draw: ImageDraw.ImageDraw, event: AirspaceEvent, width_px: int) -> None:
    who = (event.callsign or "").strip() or event.icao24
    zone = printable(event.zone_name or event.zone)  # free text from a zone file (issue 12)
    when = datetime.fromtimestamp(event.ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    text = f"{who}  {event.type.value.replace('_', ' ')}  {zone}  {when}"
    font = _font(14)
    box = draw.textbbox((8, 6), text, font=font)
    draw.rectangle((0, 0, width_px, box[3] + 6), fill=COLOURS["panel"])
    draw.text((8, 6), text, fill=COLOURS["text"], font=font)


def _draw_scale_bar(draw: ImageDraw.ImageDraw, view: View) -> None:
    length_km = _nice_length_km(view.width_px * 0.22 / view.px_per_km)
    length_px = length_km * view.px_per_km
    x0, y0 = 12.0, view.height_px - 16.0
    label = f"{length_km:g} km"
    font = _font(12)
    box = draw.textbbox((x0, y0 - 18), label, font=font)
    draw.rectangle(
        (x0 - 6, box[1] - 4, max(x0 + length_px, box[2]) + 6, y0 + 8), fill=COLOURS["panel"]
    )
    draw.line((x0, y0, x0 + length_px, y0), fill=COLOURS["text"], width=2)
    for x in (x0, x0 + length_px):
        draw.line((x, y0 - 5, x, y0 + 5), fill=COLOURS["text"], width=2)
    draw.text((x0, y0 - 18), label, fill=COLOURS["text"], font=font)


def _draw_north_arrow(draw: ImageDraw.ImageDraw, width_px: int) -> None:
    cx, top = width_px - 24.0, 34.0
    draw.polygon(
        [(cx, top), (cx - 8, top + 22), (cx, top + 16), (cx + 8, top + 22)], fill=COLOURS["text"]
    )
    font = _font(13)
    box = draw.textbbox((0, 0), "N", font=font)
    draw.text((cx - (box[2] - box[0]) / 2, top + 24), "N", fill=COLOURS["text"], font=font)


def _draw_attribution(draw: ImageDraw.ImageDraw, text: str, width_px: int, height_px: int) -> None:
    font = _font(10)
    box = draw.textbbox((0, 0), text, font=font)
    w, h = box[2] - box[0], box[3] - box[1]
    x, y = width_px - w - 6, height_px - h - 6
    draw.rectangle((x - 3, y - 2, width_px, height_px), fill=COLOURS["panel"])
    draw.text((x, y - box[1]), text, fill=COLOURS["text"], font=font)


# --- helpers ------------------------------------------------------------------------------


@cache
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled default font: no font files needed, the same glyphs everywhere.
    return ImageFont.load_default(size=size)


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    if isinstance(geometry, Polygon):
        return [geometry]
    if isinstance(geometry, MultiPolygon):
        return list(geometry.geoms)
    if hasattr(geometry, "geoms"):  # a collection left by the clip: keep its polygons
        return [p for g in geometry.geoms for p in _polygons(g)]
    return []


def _ring_px(coords: object, view: View) -> list[tuple[float, float]]:
    return [view.to_px(lat, lon) for lon, lat, *_ in coords]  # type: ignore[attr-defined]


def _limit(xy: tuple[float, float], view: View) -> tuple[float, float]:
    # Keep far-off fixes within a few image sizes: the line still leaves the frame in the
    # right direction without feeding the rasteriser huge coordinates.
    span = 4.0 * max(view.width_px, view.height_px)
    return (max(-span, min(span, xy[0])), max(-span, min(span, xy[1])))


def _clamp(value: float, limit: float) -> float:
    return max(-limit, min(limit, value))


def _nice_length_km(target_km: float) -> float:
    """The largest 1, 2 or 5 x 10^k kilometres not above ``target_km``."""
    exponent = math.floor(math.log10(target_km))
    best = 10.0**exponent
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * 10.0**exponent <= target_km:
            best = step * 10.0**exponent
    return best
