"""Which alert goes to which channel: mutes, rules in order, cooldowns. Pure, time is data.

The decisions taken on a validated :class:`~alerts.routing_config.RoutingConfig` (the routing
file, parsed and checked at start-up by :mod:`alerts.routing_config`). A rule matches an
event when all its criteria do; a missing criterion matches anything, a list matches when any
of its values does. ``callsign`` and mute globs (``fnmatch``) compare upper case; an event
without a callsign never matches a rule that has one. Criteria on the watchlist
(``categories``, ``cmpg``, ``tags``) never match an aircraft that is not on it (with several
lists, a criterion holds when any list's entry satisfies it); ``countries`` never matches an
address outside every State block.

Order of decisions (:func:`plan`): ``[mute]`` drops the event first; then the rules give the
channels (de-duplicated, in rule order); then, only if some channel was chosen, the cooldown:
the same aircraft, zone and event type alerts at most once per ``per_aircraft_zone_s``
seconds of **event time** (``observed_ts``, the time of the fix that revealed the event, so
a replay behaves like live). ``0`` disables the cooldown.

:meth:`Router.priority` names the first matching rule with ``priority = true`` (the alert
gets an Acknowledge button and may escalate: :mod:`alerts.escalation`).

Out of scope: parsing and validating the file (:mod:`alerts.routing_config`), building
channel objects, rate limits.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from typing import Any

from alerts.icao import Country
from alerts.routing_config import MuteSpec, RoutingConfig, Rule
from alerts.watchlist import Aircraft
from streams.models import AirspaceEvent, EventType

__all__ = [
    "DEFAULT_MAX_COOLDOWN_KEYS",
    "Cooldowns",
    "Router",
    "cooldown_key",
    "plan",
]

#: Hard cap on remembered cooldown keys, whatever the window: at 10,000 aircraft in view,
#: two zones and two event types each this is 2.5 windows' worth; beyond it the oldest go.
DEFAULT_MAX_COOLDOWN_KEYS = 100_000

#: What routing is told of the watchlists: no entry, one, or one per list the aircraft is on.
WatchlistEntries = Aircraft | Sequence[Aircraft] | None


class Router:
    """Applies a :class:`RoutingConfig` to events. Stateless: cooldowns live in
    :class:`Cooldowns` so the same router can serve replays and live traffic."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config

    def muted(self, event: AirspaceEvent) -> bool:
        """Whether ``[mute]`` drops this event."""
        return _mutes(self.config.mute, event)

    def route(
        self, event: AirspaceEvent, *, country: Country | None, aircraft: WatchlistEntries
    ) -> list[str]:
        """Channel names for the event: de-duplicated, in rule order; ``[]`` when muted or
        when no rule matches. ``country`` is the State of registry
        (:func:`alerts.icao.country_of`), ``aircraft`` the watchlist entry (or the entries, one per
        list the aircraft is on), each if known."""
        if self.muted(event):
            return []
        out: list[str] = []
        for rule in self.config.rules:
            if not _rule_matches(rule, event, country=country, aircraft=aircraft):
                continue
            out.extend(c for c in rule.channels if c not in out)
            if rule.stop:
                break
        return out

    def priority(
        self, event: AirspaceEvent, *, country: Country | None, aircraft: WatchlistEntries
    ) -> Rule | None:
        """The first matching rule with ``priority = true`` among those :meth:`route`
        consults (mutes and ``stop`` respected), or None: the alert then has no Acknowledge
        button and never escalates."""
        if self.muted(event):
            return None
        for rule in self.config.rules:
            if not _rule_matches(rule, event, country=country, aircraft=aircraft):
                continue
            if rule.priority:
                return rule
            if rule.stop:
                break
        return None


class Cooldowns:
    """At most one alert per key per ``window_s`` seconds of event time. Pure: the caller
    passes the time; memory is bounded by evicting keys whose last alert is older than the
    window (measured from the latest time seen, so late events do not hold memory) and, as a
    backstop, by ``max_keys``."""

    def __init__(self, window_s: float, *, max_keys: int = DEFAULT_MAX_COOLDOWN_KEYS) -> None:
        if window_s < 0:
            raise ValueError(f"window_s must be >= 0, got {window_s}")
        self.window_s = window_s
        self.max_keys = max_keys
        # key -> ts of its last allowed alert; insertion order = order of last allow.
        self._last: dict[Any, float] = {}
        self._latest_ts = float("-inf")

    def __len__(self) -> int:
        return len(self._last)

    def allow(self, key: Any, now_ts: float) -> bool:
        """True (and remember ``now_ts``) unless ``key`` alerted within the window of
        ``now_ts``, before or after it (a late event close to an alert is a repeat too)."""
        if self.window_s <= 0:
            return True
        self._latest_ts = max(self._latest_ts, now_ts)
        self._evict()
        last = self._last.get(key)
        if last is not None and abs(now_ts - last) < self.window_s:
            return False
        self._last.pop(key, None)
        self._last[key] = now_ts
        while len(self._last) > self.max_keys:
            del self._last[next(iter(self._last))]
        return True

    def remember(self, key: Any, ts: float) -> None:
        """Take in an alert of ``key`` at event time ``ts`` made before (a record restored
        after a restart), keeping the later one if ``key`` is known already."""
        if self.window_s <= 0:
            return
        last = self._last.pop(key, None)
        self._last[key] = ts if last is None else max(last, ts)
        self._latest_ts = max(self._latest_ts, ts)
        self._evict()

    def _evict(self) -> None:
        horizon = self._latest_ts - self.window_s
        # Oldest allows first; with out-of-order event times an entry can outlive its window
        # by at most the disorder, which the max_keys cap bounds anyway.
        while self._last:
            key, ts = next(iter(self._last.items()))
            if ts > horizon:
                break
            del self._last[key]


def cooldown_key(event: AirspaceEvent) -> tuple[str, str, str]:
    """The cooldown identity of an event: (aircraft, zone, event type); for an emergency
    squawk the type includes the code, so a 7600 turning into a 7700 still alerts."""
    if event.type is EventType.SQUAWK_EMERGENCY and event.squawk:
        return (event.icao24, event.zone, f"{event.type}:{event.squawk}")
    return (event.icao24, event.zone, str(event.type))


def plan(
    router: Router,
    cooldowns: Cooldowns,
    event: AirspaceEvent,
    *,
    country: Country | None,
    aircraft: WatchlistEntries,
) -> list[str]:
    """Mute, route, then cooldown (consulted only when some channel was chosen, so unrouted
    events do not use up the window). Returns the channels to deliver to."""
    channels = router.route(event, country=country, aircraft=aircraft)
    if channels and not cooldowns.allow(cooldown_key(event), event.observed_ts):
        return []
    return channels


# --- matching ---------------------------------------------------------------------------


def _rule_matches(
    rule: Rule, event: AirspaceEvent, *, country: Country | None, aircraft: WatchlistEntries
) -> bool:
    """Whether every criterion of ``rule`` holds for the event."""
    if rule.zones and event.zone not in rule.zones:
        return False
    if rule.types and event.type not in rule.types:
        return False
    if rule.confidence and event.confidence not in rule.confidence:
        return False
    if rule.icao24 and event.icao24 not in rule.icao24:
        return False
    if rule.countries and (country is None or country.code not in rule.countries):
        return False
    if rule.callsign and not _glob_any(event.callsign, rule.callsign):
        return False
    if rule.categories or rule.cmpg or rule.tags:
        # Several watchlists: a criterion holds when any list's entry satisfies it.
        entries = _entries(aircraft)
        if rule.categories and not any(_in(e.category, rule.categories) for e in entries):
            return False
        if rule.cmpg and not any(_in(e.cmpg, rule.cmpg) for e in entries):
            return False
        if rule.tags and not any(
            t.strip().casefold() in rule.tags for e in entries for t in e.tags
        ):
            return False
    return True


def _entries(aircraft: WatchlistEntries) -> Sequence[Aircraft]:
    if aircraft is None:
        return ()
    return (aircraft,) if isinstance(aircraft, Aircraft) else aircraft


def _mutes(mute: MuteSpec, event: AirspaceEvent) -> bool:
    """Whether ``[mute]`` drops the event."""
    return event.icao24 in mute.icao24 or _glob_any(event.callsign, mute.callsigns)


def _glob_any(text: str | None, globs: Sequence[str]) -> bool:
    if not globs or text is None:
        return False
    value = text.strip().upper()
    return bool(value) and any(fnmatch.fnmatchcase(value, g) for g in globs)


def _in(value: str | None, allowed: frozenset[str]) -> bool:
    return value is not None and value.strip().casefold() in allowed
