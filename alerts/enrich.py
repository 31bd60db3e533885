"""What an alert says beyond the event: who the aircraft is, distance to the boundary, local
time, and the map image. Built once at start-up from the loaded zones, the watchlists and
the optional aircraft database.

**Who the aircraft is** (:meth:`Enricher.facts`, :meth:`Enricher.enrich`): once per event,
never per position (the notifier calls it when it reads an event; the tracker never looks
anything up). Field by field, the first source that knows wins:

- ``registration``: a watchlist entry (in ``--watchlist`` order), the aircraft database, the
  US N-number rule (:mod:`alerts.nnumber`, no database needed);
- ``aircraft_type``, ``operator``: a watchlist entry, then the aircraft database (curated
  lists are the better source for the aircraft they list);
- ``country``: the ICAO address block (:mod:`alerts.icao`);
- ``watchlists``: every list the aircraft is on, by address or, for lists keyed by
  registration, by the registration found above, each as {list, category, tags}.

Watchlists and the database may be :class:`~alerts.reload.ReloadingFile` objects: each
lookup reads their current contents, so a file rewritten on disk is used by the next event
once the reloader has re-read it.

:class:`Enricher` is what the notifier hands to channels as their ``context_factory`` (and
uses for routing: country of registration, watchlist entries). Results are cached per event
id (a few dozen), so an alert routed to three channels is enriched and drawn once.

Local time: the zone's IANA time zone (``dprk`` and ``zkkp`` -> ``Asia/Pyongyang``,
``tz:Area/City`` -> that zone, otherwise the time zone at the zone's representative point,
looked up once), and the offset and abbreviation in force at the event's time (``KST``,
UTC+09:00; the DPRK used UTC+08:30 from 2015 to 2018, which :mod:`zoneinfo` knows).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.aircraftdb import AircraftDb, AircraftRecord, read_aircraft_db
from alerts.icao import Country, country_of
from alerts.nnumber import n_number
from alerts.reload import ReloadingFile
from alerts.render import AlertContext, build_context
from alerts.watchlist import Aircraft, Watchlist, parse_watchlist_spec
from streams.errors import ConfigError
from streams.models import AirspaceEvent, WatchlistMatch
from streams.zones import Zone

__all__ = ["AircraftFacts", "Enricher", "load_watchlist", "open_enrichment", "zone_time_zone"]

log = logging.getLogger(__name__)

#: Time zones of the built-in zones.
_BUILTIN_TZ = {"dprk": "Asia/Pyongyang", "zkkp": "Asia/Pyongyang"}
#: Contexts and images remembered (by event id): enough for one event's fan-out and retries.
_CACHE_SIZE = 64
#: Map attribution when the zone gives none.
_SHORT_ATTRIBUTION = {
    "dprk": "Outline: timezone-boundary-builder, (c) OpenStreetMap contributors, ODbL",
    "zkkp": "Outline: (c) VATSpy Data Project contributors, CC BY-SA 4.0 (approximate FIR)",
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


def open_enrichment(
    watchlists: Sequence[str] = (),
    aircraft_db: str | None = None,
    *,
    on_result: Callable[[str, str], None] | None = None,
) -> tuple[list[ReloadingFile[Watchlist]], ReloadingFile[AircraftDb] | None]:
    """Load the watchlists (``NAME=PATH`` or ``PATH``) and the aircraft database as files
    that reload on change (:mod:`alerts.reload`). A file that cannot be read or parsed now
    is a :class:`~streams.errors.ConfigError` naming it: start-up is where to find out."""
    lists: list[ReloadingFile[Watchlist]] = []
    for spec in watchlists:
        name, path = parse_watchlist_spec(spec)
        lists.append(
            _open(path, _watchlist_reader(name), kind="watchlist", name=name, on_result=on_result)
        )
    db = None
    if aircraft_db:
        db = _open(
            Path(aircraft_db), read_aircraft_db, kind="aircraft_db", name=Path(aircraft_db).name,
            on_result=on_result,
        )  # fmt: skip
    return lists, db


def _watchlist_reader(name: str) -> Callable[[Path], Watchlist]:
    def read(path: Path) -> Watchlist:
        return Watchlist.parse(path.read_text(encoding="utf-8-sig"), name=name)

    return read


def _open(
    path: Path,
    load: Callable[[Path], T],
    *,
    kind: str,
    name: str,
    on_result: Callable[[str, str], None] | None,
) -> ReloadingFile[T]:
    try:
        loaded = ReloadingFile(path, load, kind=kind, name=name, on_result=on_result)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{kind} {path}: {exc}") from None
    log.info("%s %s: %r", kind, name, loaded.value)
    bad = getattr(loaded.value, "bad_rows", None)
    if bad:  # counted and skipped, never fatal: say so once, with where to look
        first = bad[0] if isinstance(bad, tuple) else loaded.value.bad_examples[0]  # type: ignore[attr-defined]
        log.warning(
            "%s %s: %d bad rows skipped (first: %s)",
            kind,
            name,
            len(bad) if isinstance(bad, tuple) else bad,
            first,
        )
    return loaded


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


@dataclass(frozen=True, slots=True)
class AircraftFacts:
    """Who an aircraft is, as far as the enricher knows (see the module docstring).
    ``entries`` are the watchlist entries themselves (routing reads their class and tags)."""

    registration: str | None = None
    aircraft_type: str | None = None
    operator: str | None = None
    country: Country | None = None
    entries: tuple[Aircraft, ...] = ()

    @property
    def watchlists(self) -> tuple[WatchlistMatch, ...]:
        """The lists the aircraft is on, as the event carries them."""
        return tuple(
            WatchlistMatch(e.list_name or "watchlist", e.category, e.tags) for e in self.entries
        )


WatchlistSource = Watchlist | ReloadingFile[Watchlist]
AircraftDbSource = AircraftDb | ReloadingFile[AircraftDb]


def _current(
    source: Watchlist | AircraftDb | ReloadingFile[Watchlist] | ReloadingFile[AircraftDb],
) -> Watchlist | AircraftDb:
    return source.value if isinstance(source, ReloadingFile) else source


class Enricher:
    """Context, routing facts and map images for events (see the module docstring).

    ``watchlist`` (one list, the older form) and ``watchlists`` are consulted in that order.
    """

    def __init__(
        self,
        zones: Iterable[Zone] = (),
        watchlist: Watchlist | None = None,
        *,
        images: bool = True,
        watchlists: Sequence[WatchlistSource] = (),
        aircraft_db: AircraftDbSource | None = None,
    ) -> None:
        self.zones = {z.id: z for z in zones}
        self.watchlists: list[WatchlistSource] = [
            *([watchlist] if watchlist is not None else []),
            *watchlists,
        ]
        self.aircraft_db = aircraft_db
        self.images = images
        self._contexts: OrderedDict[str, AlertContext] = OrderedDict()
        self._images: OrderedDict[str, bytes | None] = OrderedDict()

    @property
    def reloading(self) -> list[ReloadingFile[object]]:
        """The files this enricher reads that reload on change (for :class:`Reloader`)."""
        sources: list[object] = [*self.watchlists, self.aircraft_db]
        return [s for s in sources if isinstance(s, ReloadingFile)]

    def on_reload(self, callback: Callable[[str, str], None]) -> None:
        """Call ``callback(kind, outcome)`` after each re-read (``reloaded`` / ``failed``)."""
        for source in self.reloading:
            source.on_result = callback

    @property
    def watchlist(self) -> Watchlist | None:
        """The first watchlist's current contents (``None`` without any)."""
        if not self.watchlists:
            return None
        first = _current(self.watchlists[0])
        assert isinstance(first, Watchlist)
        return first

    def country(self, icao24: str) -> Country | None:
        """State of registry from the ICAO address block."""
        return country_of(icao24)

    def aircraft(self, icao24: str) -> Aircraft | None:
        """The first watchlist entry for the aircraft, if it is on any list."""
        entries = self.facts(icao24).entries
        return entries[0] if entries else None

    def record(self, icao24: str) -> AircraftRecord | None:
        """The aircraft database's record, if there is a database and it knows the address."""
        if self.aircraft_db is None:
            return None
        db = _current(self.aircraft_db)
        assert isinstance(db, AircraftDb)
        return db.get(icao24)

    def facts(self, icao24: str) -> AircraftFacts:
        """Everything known about the aircraft now (current list and database contents)."""
        lists = [_current(w) for w in self.watchlists]
        by_icao: list[Aircraft | None] = [
            wl.get(icao24) if isinstance(wl, Watchlist) else None for wl in lists
        ]
        record = self.record(icao24)
        registration = next((e.registration for e in by_icao if e and e.registration), None)
        registration = registration or (record.registration if record else None)
        registration = registration or n_number(icao24)
        entries: list[Aircraft] = []
        for wl, entry in zip(lists, by_icao, strict=True):
            if entry is None and isinstance(wl, Watchlist):
                entry = wl.match(icao24, registration)
            if entry is not None:
                entries.append(entry)
        aircraft_type = next((e.type for e in entries if e.type), None)
        operator = next((e.operator for e in entries if e.operator), None)
        if record is not None:
            aircraft_type = aircraft_type or record.aircraft_type
            operator = operator or record.operator
        return AircraftFacts(
            registration=registration,
            aircraft_type=aircraft_type,
            operator=operator,
            country=country_of(icao24),
            entries=tuple(entries),
        )

    def enrich(self, event: AirspaceEvent, facts: AircraftFacts | None = None) -> AirspaceEvent:
        """The event with who the aircraft is filled in; fields it already carries (from an
        enriching producer) are kept."""
        facts = facts if facts is not None else self.facts(event.icao24)
        return dataclasses.replace(
            event,
            registration=event.registration or facts.registration,
            aircraft_type=event.aircraft_type or facts.aircraft_type,
            operator=event.operator or facts.operator,
            country=event.country or (facts.country.code if facts.country else None),
            watchlists=event.watchlists or facts.watchlists,
        )

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
