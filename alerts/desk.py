"""The desk's live page, pure part: what the page shows, built from tracker state and events.

The live page (served by :mod:`alerts.desk_http` beside ``/metrics``) answers the desk's
questions: who is inside, who is approaching, who went silent, and what happened to each.
This module turns the tracker's in-memory :class:`~streams.tracking.AircraftState` and its
:class:`~streams.models.AirspaceEvent` stream into plain JSON-ready dicts:

- :func:`aircraft_view`: one aircraft's status (``inside``, ``approaching``, ``lost``, or
  None when it is none of these and the page leaves it out), position, altitude, callsign,
  country of registry with its flag, and recent track.
- :func:`event_view`: one alert as the history and timelines show it.
- :class:`DeskBoard`: a bounded alert history and bounded per-aircraft visit timelines, with
  the history's filters (zone, type, country, watchlist).
- :func:`zones_geojson`: the zones' outlines, the only map data the page draws (no tiles)
  besides the region outlines:
- :func:`region_outlines`: country and region outlines around the zones, for orientation.
  skyfence packages no country borders; what it has is the time-zone outlines of
  ``timezonefinder-data`` (timezone-boundary-builder, OpenStreetMap data, ODbL), many of
  which follow a country's border and territorial sea (Asia/Pyongyang, Asia/Seoul,
  Asia/Tokyo...). So the page's "country outlines" are those time-zone outlines, clipped to
  the area around the zones and simplified; a country with several time zones shows as
  several regions, and zones over the open sea (``Etc/...``) are left out.

Pure: standard library, :mod:`alerts.icao` and :mod:`streams` models only; times are the
events' and states' own (event time), never the clock.
"""

from __future__ import annotations

import functools
import math
import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from alerts.icao import country_of
from streams.models import AirspaceEvent
from streams.tracking import AircraftState

if TYPE_CHECKING:
    from streams.zones import Zone

__all__ = [
    "DEFAULT_HISTORY_SIZE",
    "DEFAULT_TIMELINE_SIZE",
    "DeskBoard",
    "aircraft_view",
    "aircraft_views",
    "country_view",
    "event_view",
    "region_outlines",
    "zones_geojson",
]

#: Alerts kept for the page's history (oldest dropped first).
DEFAULT_HISTORY_SIZE = 1000
#: Events kept per aircraft for its visit timeline.
DEFAULT_TIMELINE_SIZE = 50
#: Aircraft whose timelines are kept (least recently active dropped first).
DEFAULT_TIMELINE_AIRCRAFT = 5000
#: Fixes of an aircraft's recent track sent to the page.
TRACK_POINTS = 40


def _iso(ts: float | None) -> str | None:
    """Event time as ISO 8601 UTC (formatting data, not reading the clock)."""
    if ts is None:
        return None
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def country_view(icao24: str) -> dict[str, str] | None:
    """State of registry by ICAO address: ``{"code", "name", "flag"}`` or None if unassigned."""
    country = country_of(icao24)
    if country is None:
        return None
    return {"code": country.code, "name": country.name, "flag": country.flag}


def aircraft_view(state: AircraftState) -> dict[str, Any] | None:
    """What the page shows of one aircraft, or None when it is neither inside a zone,
    approaching one, nor lost near one (the page shows only those).

    ``status`` is the most pressing of ``lost`` (signal lost inside or on its way in, no fix
    heard since), ``inside`` (a zone visit open) and ``approaching`` (a predicted entry);
    ``zones`` the zone ids behind it.
    """
    if state.lost:
        status, zones = "lost", sorted(state.lost)
    elif state.visits:
        status, zones = "inside", sorted(state.visits)
    elif state.approach:
        status, zones = "approaching", sorted(state.approach)
    else:
        return None
    track = [[lat, lon] for _, lat, lon in state.trail[-TRACK_POINTS:]]
    if not track or track[-1] != [state.lat, state.lon]:
        track.append([state.lat, state.lon])
    view: dict[str, Any] = {
        "icao24": state.icao24,
        "callsign": state.callsign,
        "status": status,
        "zones": zones,
        "lat": state.lat,
        "lon": state.lon,
        "alt_ft": state.alt_ft,
        "ts": state.ts,
        "time": _iso(state.ts),
        "country": country_view(state.icao24),
        "track": track,
    }
    if status == "approaching":
        eta_ts = min(entry[0] for entry in state.approach.values())
        view["eta_ts"], view["eta"] = eta_ts, _iso(eta_ts)
    return view


def aircraft_views(states: Iterable[AircraftState]) -> list[dict[str, Any]]:
    """:func:`aircraft_view` of every state worth showing, by status then icao24."""
    order = {"lost": 0, "inside": 1, "approaching": 2}
    views = [v for v in (aircraft_view(s) for s in states) if v is not None]
    views.sort(key=lambda v: (order[v["status"]], v["icao24"]))
    return views


def event_view(event: AirspaceEvent) -> dict[str, Any]:
    """One alert as the page's history and timelines show it."""
    return {
        "event_id": event.event_id,
        "type": event.type.value,
        "icao24": event.icao24,
        "callsign": event.callsign,
        "zone": event.zone,
        "zone_name": event.zone_name or event.zone,
        "ts": event.ts,
        "time": _iso(event.ts),
        "lat": event.lat,
        "lon": event.lon,
        "alt_ft": event.alt_ft,
        "confidence": event.confidence.value,
        "eta": _iso(event.eta_ts),
        "last_seen": _iso(event.last_seen_ts),
        "verdict": event.verdict,
        "country": country_view(event.icao24),
        # The watchlists the aircraft is on (enrichment; empty for an unenriched event).
        "watchlists": [
            {"list": m.list, "category": m.category, "tags": list(m.tags)}
            for m in event.watchlists
        ],
        "track": [[lat, lon] for lat, lon in event.trail[-TRACK_POINTS:]],
    }


def _on_watchlist(view: dict[str, Any], watchlist: str) -> bool:
    lists = [m["list"] for m in view.get("watchlists", ())]
    return bool(lists) if watchlist == "*" else watchlist in lists


def zones_geojson(zones: Sequence[Zone]) -> dict[str, Any]:
    """The zones as one GeoJSON FeatureCollection (what ``skyfence zones export`` prints)."""
    return {"type": "FeatureCollection", "features": [z.to_geojson() for z in zones]}


@dataclass
class DeskBoard:
    """The alert history and per-aircraft visit timelines the page shows; all bounded.

    An event seen twice (Faust may replay a changelog after a crash) is recorded once.
    """

    history_size: int = DEFAULT_HISTORY_SIZE
    timeline_size: int = DEFAULT_TIMELINE_SIZE
    timeline_aircraft: int = DEFAULT_TIMELINE_AIRCRAFT
    _history: deque[dict[str, Any]] = field(init=False)
    _ids: set[str] = field(init=False, default_factory=set)
    _timelines: OrderedDict[str, deque[dict[str, Any]]] = field(
        init=False, default_factory=OrderedDict
    )

    def __post_init__(self) -> None:
        self._history = deque()

    def record(self, event: AirspaceEvent) -> dict[str, Any] | None:
        """Add ``event``; returns its view, or None if it was already recorded."""
        if event.event_id in self._ids:
            return None
        view = event_view(event)
        self._history.append(view)
        self._ids.add(event.event_id)
        while len(self._history) > self.history_size:
            self._ids.discard(self._history.popleft()["event_id"])
        timeline = self._timelines.pop(event.icao24, None)
        if timeline is None:
            timeline = deque(maxlen=self.timeline_size)
        timeline.append(view)
        self._timelines[event.icao24] = timeline  # most recently active last
        while len(self._timelines) > self.timeline_aircraft:
            self._timelines.popitem(last=False)
        return view

    def history(
        self,
        *,
        zone: str | None = None,
        type: str | None = None,  # the filter's name on the page and in the API
        country: str | None = None,
        watchlist: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Alerts, newest (by event time) first, filtered by zone id, event type, country
        code and watchlist (a list's name, or ``"*"``: on any list); any filter left None or
        empty matches everything."""
        out = []
        # Partitions deliver in parallel, so arrival order is not event-time order.
        for view in sorted(self._history, key=lambda v: (v["ts"], v["event_id"]), reverse=True):
            if zone and view["zone"] != zone:
                continue
            if type and view["type"] != type:
                continue
            if country and (view["country"] or {}).get("code") != country.upper():
                continue
            if watchlist and not _on_watchlist(view, watchlist):
                continue
            out.append(view)
            if limit is not None and len(out) >= limit:
                break
        return out

    def timeline(self, icao24: str) -> list[dict[str, Any]]:
        """One aircraft's events, oldest first (empty if none is kept)."""
        return list(self._timelines.get(icao24.lower(), ()))


#: Degrees around the zones' bounding box in which region outlines are drawn.
OUTLINE_PAD_DEG = 8.0
#: Spacing of the points sampled to find which time zones the area covers (degrees).
OUTLINE_STEP_DEG = 0.5
#: At most this many points are sampled (the spacing grows for a very large area).
OUTLINE_MAX_SAMPLES = 6000
#: Simplification tolerance (degrees; ~1 km), and the decimals kept (~100 m).
OUTLINE_TOLERANCE_DEG = 0.01
OUTLINE_DECIMALS = 3


@functools.cache
def _tz_finder() -> Any:
    from timezonefinder import TimezoneFinder

    return TimezoneFinder()


def _rounded(coords: Any, decimals: int) -> Any:
    if isinstance(coords, tuple | list) and coords and isinstance(coords[0], int | float):
        return [round(float(c), decimals) for c in coords]
    return [_rounded(c, decimals) for c in coords]


def region_outlines(
    zones: Sequence[Zone],
    *,
    pad_deg: float = OUTLINE_PAD_DEG,
    step_deg: float = OUTLINE_STEP_DEG,
    tolerance_deg: float = OUTLINE_TOLERANCE_DEG,
) -> dict[str, Any]:
    """The time-zone outlines (the country/region outlines skyfence packages, see the module
    docstring) around ``zones``: a GeoJSON FeatureCollection, one feature per time zone
    (``properties``: ``tz``; its border as (Multi)LineString), clipped to the zones' bounding box plus ``pad_deg`` and
    simplified, with an ``attribution`` member. Reads packaged data only (~1 s for the DPRK's
    surroundings: call it once and keep the result)."""
    from shapely.geometry import box, mapping

    from streams.zones import TZ_ATTRIBUTION, timezone_zone

    empty: dict[str, Any] = {"type": "FeatureCollection", "features": [], "attribution": TZ_ATTRIBUTION}
    if not zones:
        return empty
    bounds = [z.geometry.bounds for z in zones]
    west = max(-180.0, min(b[0] for b in bounds) - pad_deg)
    south = max(-90.0, min(b[1] for b in bounds) - pad_deg)
    east = min(180.0, max(b[2] for b in bounds) + pad_deg)
    north = min(90.0, max(b[3] for b in bounds) + pad_deg)
    area = (east - west) * (north - south)
    step = max(step_deg, math.sqrt(area / OUTLINE_MAX_SAMPLES))
    tolerance = max(tolerance_deg, step / 50)
    finder = _tz_finder()
    names: set[str] = set()
    lat = south
    while lat <= north:
        lon = west
        while lon <= east:
            name = finder.timezone_at(lng=lon, lat=lat)
            if name and not name.startswith("Etc/"):
                names.add(name)
            lon += step
        lat += step
    clip = box(west, south, east, north)
    features = []
    for name in sorted(names):
        # Borders only (lines, not areas), so the clip box draws no false edges.
        geometry = timezone_zone(name).geometry.boundary.intersection(clip)
        geometry = geometry.simplify(tolerance, preserve_topology=True)
        if geometry.is_empty:
            continue
        shape = mapping(geometry)
        features.append(
            {
                "type": "Feature",
                "properties": {"tz": name},
                "geometry": {
                    "type": shape["type"],
                    "coordinates": _rounded(shape["coordinates"], OUTLINE_DECIMALS),
                },
            }
        )
    return {**empty, "features": features}
