"""Flightradar24 flight-playback JSON: one flight's track.

The document (the ``flight/playback`` API answer, as saved by the ``traffic`` package)::

    {"result": {"response": {"data": {"flight": {
        "identification": {"callsign": "SPAR19", ...},
        "aircraft": {"identification": {"modes": "AE503D", ...}, ...},
        "track": [{"latitude": 3.12, "longitude": 101.55,
                   "altitude": {"feet": 0, ...}, "speed": {"kts": 23, ...},
                   "verticalSpeed": {"fpm": 0, ...}, "heading": 329,
                   "squawk": "2127", "timestamp": 1659425766, "ems": null}, ...]}}}}}

``timestamp`` is epoch seconds; ``heading`` is the track over ground in degrees (FR24 calls
it heading); ``squawk`` ``"0"`` means none. The flight has one Mode S address
(``aircraft.identification.modes``) and one callsign for every point; ``source="fr24"``.
FR24 gives no on-ground flag, so ``on_ground`` is left ``None`` (altitude 0 is not proof).

Out of scope: the ``ems`` (enhanced Mode S) block, airport and schedule data, the other
FR24 endpoints (live feed, ``clickhandler``).

Pure except :func:`read_fr24`, which only reads the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from streams.models import BadLine, PositionReport
from streams.sources._common import (
    clean_callsign,
    clean_squawk,
    load_json_file,
    report_or_bad,
)

__all__ = ["fr24_flight", "parse_fr24", "read_fr24"]


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def fr24_flight(doc: Any) -> dict[str, Any] | None:
    """The ``flight`` object of a playback document, or ``None`` when it has none."""
    flight = _get(doc, "result", "response", "data", "flight")
    return flight if isinstance(flight, dict) else None


def parse_fr24(doc: Any) -> Iterator[PositionReport | BadLine]:
    """Yield a report per track point (``BadLine.line_no`` = 1-based point index).

    A document without a flight and track, or without the aircraft's Mode S address, gives
    one ``BadLine(0, "bad_document", ...)``.
    """
    flight = fr24_flight(doc)
    track = _get(flight, "track")
    icao24 = _get(flight, "aircraft", "identification", "modes")
    if flight is None or not isinstance(track, list):
        yield BadLine(0, "bad_document", "no result.response.data.flight.track", b"")
        return
    if not isinstance(icao24, str):
        yield BadLine(0, "bad_document", "no aircraft.identification.modes address", b"")
        return
    callsign = clean_callsign(_get(flight, "identification", "callsign"))
    for row_no, point in enumerate(track, start=1):
        if not isinstance(point, dict):
            yield BadLine(row_no, "not_object", "a track point is an object", b"")
            continue
        yield report_or_bad(
            {
                "icao24": icao24,
                "ts": point.get("timestamp"),
                "lat": point.get("latitude"),
                "lon": point.get("longitude"),
                "alt_ft": _get(point, "altitude", "feet"),
                "gs_kt": _get(point, "speed", "kts"),
                "track_deg": point.get("heading"),
                "vrate_fpm": _get(point, "verticalSpeed", "fpm"),
                "callsign": callsign,
                "squawk": clean_squawk(point.get("squawk")),
                "source": "fr24",
            },
            row_no,
            point,
        )


def read_fr24(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read an FR24 playback file (plain or gzipped) and parse it."""
    doc, bad = load_json_file(path)
    if bad is not None:
        yield bad
        return
    yield from parse_fr24(doc)
