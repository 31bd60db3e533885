"""What an alert says beyond the event: watchlist entry, distance to the boundary, local time,
and the map image. Built once at start-up from the loaded zones and an optional watchlist.

:class:`Enricher` is what the notifier hands to channels as their ``context_factory`` (and
uses for routing: country of registration, watchlist entry). Results are cached per event id
(a few dozen), so an alert routed to three channels is enriched and drawn once.

Local time: the zone's IANA time zone (``dprk`` -> ``Asia/Pyongyang``, ``tz:Area/City`` -> that
zone, otherwise the time zone at the zone's representative point, looked up once), and the
offset and abbreviation in force at the event's time (``KST``, UTC+09:00; the DPRK used
UTC+08:30 from 2015 to 2018, which :mod:`zoneinfo` knows).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.icao import Country, country_of
from alerts.render import AlertContext, build_context
from alerts.watchlist import Aircraft, Watchlist
from streams.models import AirspaceEvent
from streams.zones import Zone

__all__ = ["Enricher", "load_watchlist", "zone_time_zone"]

log = logging.getLogger(__name__)

#: Time zones of the built-in zones.
_BUILTIN_TZ = {"dprk": "Asia/Pyongyang"}
#: Contexts and images remembered (by event id): enough for one event's fan-out and retries.
_CACHE_SIZE = 64
#: Map attribution when the zone gives none.
_SHORT_ATTRIBUTION = {
    "dprk": "Outline: timezone-boundary-builder, (c) OpenStreetMap contributors, ODbL"
}

T = TypeVar("T")


@cache
def zone_time_zone(zone_id: str, lat: float, lon: float) -> str | None:
    """The IANA time zone of a zone: built-in, ``tz:`` spec, or looked up at (lat, lon)."""
    base = zone_id.split("+", 1)[0]
    if base in _BUILTIN_TZ:
        return _BUILTIN_TZ[base]
    if base.startswith("tz:"):
        return base[3:]
    try:
        from timezonefinder import TimezoneFinder

        return TimezoneFinder().timezone_at(lat=lat, lng=lon)
    except Exception:  # a missing local time is not worth failing an alert for
        log.warning("no time zone found for zone %s", zone_id)
        return None


def load_watchlist(path: str | Path | None) -> Watchlist | None:
    """Read a plane-alert-db CSV (``None`` -> ``None``); bad rows are counted and logged."""
    if not path:
        return None
    watchlist = Watchlist.from_csv(Path(path).read_text(encoding="utf-8"))
    log.info(
        "watchlist %s: %d aircraft, %d bad rows skipped",
        path,
        len(watchlist),
        len(watchlist.bad_rows),
    )
    return watchlist


class Enricher:
    """Context, routing facts and map images for events (see the module docstring)."""

    def __init__(
        self,
        zones: Iterable[Zone] = (),
        watchlist: Watchlist | None = None,
        *,
        images: bool = True,
    ) -> None:
        self.zones = {z.id: z for z in zones}
        self.watchlist = watchlist
        self.images = images
        self._contexts: OrderedDict[str, AlertContext] = OrderedDict()
        self._images: OrderedDict[str, bytes | None] = OrderedDict()

    def country(self, icao24: str) -> Country | None:
        """State of registry from the ICAO address block."""
        return country_of(icao24)

    def aircraft(self, icao24: str) -> Aircraft | None:
        """The watchlist entry, if there is a watchlist and the aircraft is on it."""
        return self.watchlist.get(icao24) if self.watchlist is not None else None

    def context(self, event: AirspaceEvent) -> AlertContext:
        """The alert context of ``event`` (cached by event id)."""
        return _cached(self._contexts, event.event_id, lambda: self._build(event))

    def _build(self, event: AirspaceEvent) -> AlertContext:
        zone = self.zones.get(event.zone)
        distance_m = tz_name = tz_offset_s = inside = None
        if zone is not None:
            # From the aircraft's latest fix (the trail ends there), not the crossing point,
            # which is on the boundary: how deep inside, or how close, the aircraft is now.
            lat, lon = event.trail[-1] if event.trail else (event.lat, event.lon)
            try:
                distance_m = zone.distance_m(lat, lon)
                inside = zone.contains_2d(lat, lon)
            except Exception:
                log.warning("distance to %s failed for %s", zone.id, event.event_id)
            point = zone.geometry.representative_point()
            tz = zone_time_zone(zone.id, point.y, point.x)
            if tz:
                try:
                    at = datetime.fromtimestamp(event.ts, tz=UTC).astimezone(ZoneInfo(tz))
                    offset = at.utcoffset()
                    tz_offset_s = int(offset.total_seconds()) if offset is not None else None
                    tz_name = at.tzname()
                except ZoneInfoNotFoundError:
                    log.warning("time zone %s unknown to zoneinfo", tz)
        return build_context(
            event,
            aircraft=self.aircraft(event.icao24),
            distance_to_boundary_m=distance_m,
            tz_name=tz_name,
            tz_offset_s=tz_offset_s,
            distance_inside=inside,
        )

    def image(self, event: AirspaceEvent) -> bytes | None:
        """A PNG map of the event (zone, recent track, crossing), or None (no zone / off)."""
        if not self.images:
            return None
        return _cached(self._images, event.event_id, lambda: self._render(event))

    def _render(self, event: AirspaceEvent) -> bytes | None:
        zone = self.zones.get(event.zone)
        if zone is None:
            return None
        from alerts.maps import render_map

        track = list(event.trail)
        attribution = _SHORT_ATTRIBUTION.get(zone.id.split("+", 1)[0]) or (
            zone.attribution[:120] if zone.attribution else None
        )
        return render_map(zone.geometry, track, event, attribution=attribution)


def _cached(store: OrderedDict[str, T], key: str, make: Callable[[], T]) -> T:
    if key in store:
        store.move_to_end(key)
        return store[key]
    value = make()
    store[key] = value
    while len(store) > _CACHE_SIZE:
        store.popitem(last=False)
    return value
