"""The records that cross process boundaries: position reports in, airspace events out.

Events are frozen, slotted dataclasses: cheap, hashable, and not changed by accident on their
way to the desk. Position reports are slotted but not frozen, and are treated as read-only by
convention: a frozen dataclass pays ``object.__setattr__`` per field, 1.1 us against 0.2 us
to build one, on a path that sees every position in the world. Their JSON form (recording format v1 and event
format v1) is defined in :mod:`streams.codec` and documented in the README.

Units are in the field names: ``_ft`` feet, ``_kt`` knots, ``_deg`` degrees, ``_fpm`` feet per
minute; ``ts`` fields are epoch seconds (UTC) as floats.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AirspaceEvent",
    "BadLine",
    "Confidence",
    "EventType",
    "PositionReport",
    "WatchlistMatch",
    "Watermark",
    "make_event_id",
]


@dataclass(frozen=True, slots=True)
class BadLine:
    """An input record that could not be decoded (kept, counted, never fatal).

    The result type every source yields beside :class:`PositionReport`: ``line_no`` is the
    line (or record) number in its input, ``reason`` a bounded identifier (a metric label),
    ``detail`` a human explanation and ``raw`` the original bytes. ``icao24``, when the
    record named its aircraft, lets ``ingest`` rate-limit the dead letters of a reason that
    repeats per aircraft (``no_position`` of polled APIs).
    """

    line_no: int
    reason: str
    detail: str
    raw: bytes
    icao24: str | None = None


@dataclass(slots=True)
class PositionReport:
    """One position of one aircraft (recording format v1).

    ``icao24`` is the 24-bit ICAO address as 6 lowercase hex digits; ``ts`` the time of the
    position in epoch seconds UTC; ``lat``/``lon`` WGS84 degrees.
    """

    icao24: str
    ts: float
    lat: float
    lon: float
    alt_ft: int | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    vrate_fpm: int | None = None
    callsign: str | None = None
    squawk: str | None = None
    on_ground: bool | None = None
    source: str | None = None


@dataclass(frozen=True, slots=True)
class Watermark:
    """A producer's promise that it has sent every position up to event time ``ts``.

    Producers send one to every partition of the positions topic now and then (and at the end
    of a replay), so a partition with no traffic of its own still moves its timers on, and
    the same recording gives the same events however it is partitioned.
    """

    ts: float


class EventType(StrEnum):
    """What happened between an aircraft and a zone. See the README for each exact rule."""

    ENTERED = "entered"
    EXITED = "exited"
    FIRST_SEEN_INSIDE = "first_seen_inside"
    APPROACHING = "approaching"
    SIGNAL_LOST = "signal_lost"
    SIGNAL_REGAINED = "signal_regained"
    #: A persisting 7500, 7600 or 7700 squawk in or near a zone (``squawk`` says which).
    SQUAWK_EMERGENCY = "squawk_emergency"


class Confidence(StrEnum):
    """How the event's crossing was established.

    ``observed``: a position inside the zone was seen (for an exit: one inside, then one
    outside). ``inferred``: the crossing was deduced, e.g. from two positions outside whose
    path cuts through the zone, or from dead reckoning.
    """

    OBSERVED = "observed"
    INFERRED = "inferred"


def make_event_id(icao24: str, zone: str, type_: str, observed_ts: float) -> str:
    """Deterministic event id: the same aircraft, zone, type and revealing fix give the same id.

    The id hashes the observed time in whole milliseconds, so it survives a JSON round trip
    and a redelivery of the same position after a crash (the key of idempotent delivery).
    """
    ms = round(observed_ts * 1000)
    digest = hashlib.blake2b(f"{icao24}|{zone}|{type_}|{ms}".encode(), digest_size=10)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class WatchlistMatch:
    """An event's aircraft is on a watchlist: the list's name, the entry's category and tags."""

    list: str
    category: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AirspaceEvent:
    """One airspace event (event format v1).

    ``ts`` is the best estimate of when the boundary was crossed (for ``approaching``: when the
    alert was raised); ``lat``/``lon`` where; ``observed_ts`` the time of the position that
    revealed it. ``eta_ts`` is the predicted entry time of an ``approaching`` (or
    ``signal_lost``) event; ``last_seen_ts`` the time of the last position before a
    ``signal_lost`` or ``signal_regained``; ``verdict`` of a ``signal_regained`` is
    ``confirmed`` (it was inside after all) or ``withdrawn``.

    Who the aircraft is (``registration``, ``aircraft_type``, ``operator``, ``country``: ISO
    3166 code of the State of registry, ``watchlists``) is filled in by enrichment, once per
    event, after the tracker (which never looks anything up); ``None``/empty when unknown.
    ``squawk`` is the Mode A code of the revealing fix, when the feed gave one.
    """

    event_id: str
    type: EventType
    icao24: str
    zone: str
    ts: float
    lat: float
    lon: float
    observed_ts: float
    callsign: str | None
    confidence: Confidence
    zone_name: str | None = None
    alt_ft: int | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    eta_ts: float | None = None
    last_seen_ts: float | None = None
    verdict: str | None = None
    #: Recent fixes of the aircraft near the zone, oldest first, as (lat, lon): context for
    #: the alert's map, not part of the event's identity (empty far from zones).
    trail: tuple[tuple[float, float], ...] = ()
    squawk: str | None = None
    registration: str | None = None
    aircraft_type: str | None = None
    operator: str | None = None
    country: str | None = None
    watchlists: tuple[WatchlistMatch, ...] = ()
