"""The wire contract: recording format v1 (positions) and event format v1, as JSON via orjson.

Positions (one JSON object per line in recordings, one per Kafka message value)::

    {"icao24": "1551e0", "ts": 1695690000.5, "lat": 40.1, "lon": 124.3,
     "alt_ft": 35000, "gs_kt": 455.0, "track_deg": 120.0, "vrate_fpm": 0,
     "callsign": "RSD352", "squawk": "1000", "on_ground": false, "source": "adsb"}

A producer may also send ``{"watermark": ts}`` to every partition: "every position up to
``ts`` has been sent" (see :class:`~streams.models.Watermark`).

``icao24``, ``ts``, ``lat`` and ``lon`` are required; the rest are optional and may be absent
or null. Unknown keys are ignored (forward compatible). Anything else is a
:class:`~streams.errors.DecodeError` with a bounded ``reason``.

Events carry ``"v": 1`` and the fields of :class:`~streams.models.AirspaceEvent`; optional
fields that are ``None`` are left out.

Pure: imports only the standard library, orjson and this package.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from streams.errors import DecodeError
from streams.models import AirspaceEvent, Confidence, EventType, PositionReport, Watermark

__all__ = [
    "EVENT_FORMAT_VERSION",
    "decode_event",
    "decode_message",
    "decode_position",
    "encode_event",
    "encode_position",
    "encode_watermark",
    "position_from_mapping",
]

#: Version of the event format written in every event as ``"v"``.
EVENT_FORMAT_VERSION = 1

_HEX = frozenset("0123456789abcdef")
_SQUAWK = frozenset("01234567")


def _number(obj: dict[str, Any], key: str, reason: str) -> float:
    value = obj.get(key)
    if value is None:
        raise DecodeError("missing_field", f"{key!r} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(reason, f"{key!r} must be a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise DecodeError(reason, f"{key!r} must be finite")
    return value


def _optional_number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise DecodeError("bad_field", f"{key!r} must be a finite number")
    return float(value)


def position_from_mapping(obj: Any) -> PositionReport:
    """Validate a decoded JSON object and build a :class:`PositionReport`.

    Raises :class:`DecodeError` naming the first problem found.
    """
    if not isinstance(obj, dict):
        raise DecodeError("not_object", f"expected a JSON object, got {type(obj).__name__}")
    icao24 = obj.get("icao24")
    if icao24 is None:
        raise DecodeError("missing_field", "'icao24' is required")
    if not isinstance(icao24, str) or len(icao24) != 6:
        raise DecodeError("bad_icao24", "'icao24' must be 6 hex digits")
    icao24 = icao24.lower()
    if not _HEX.issuperset(icao24):
        raise DecodeError("bad_icao24", "'icao24' must be 6 hex digits")
    ts = _number(obj, "ts", "bad_ts")
    # Before 2000 or after 2100 is a unit error (milliseconds) or garbage, not a position.
    if not 946_684_800.0 <= ts <= 4_102_444_800.0:
        raise DecodeError("bad_ts", "'ts' must be epoch seconds between 2000 and 2100")
    lat = _number(obj, "lat", "bad_lat")
    if not -90.0 <= lat <= 90.0:
        raise DecodeError("bad_lat", "'lat' must be within [-90, 90]")
    lon = _number(obj, "lon", "bad_lon")
    if not -180.0 <= lon <= 180.0:
        raise DecodeError("bad_lon", "'lon' must be within [-180, 180]")

    alt = _optional_number(obj, "alt_ft")
    vrate = _optional_number(obj, "vrate_fpm")
    track = _optional_number(obj, "track_deg")
    callsign = obj.get("callsign")
    if callsign is not None:
        if not isinstance(callsign, str):
            raise DecodeError("bad_field", "'callsign' must be a string")
        callsign = callsign.strip() or None
    squawk = obj.get("squawk")
    if squawk is not None and (
        not isinstance(squawk, str) or len(squawk) != 4 or not _SQUAWK.issuperset(squawk)
    ):
        raise DecodeError("bad_field", "'squawk' must be 4 octal digits")
    on_ground = obj.get("on_ground")
    if on_ground is not None and not isinstance(on_ground, bool):
        raise DecodeError("bad_field", "'on_ground' must be true or false")
    source = obj.get("source")
    if source is not None and not isinstance(source, str):
        raise DecodeError("bad_field", "'source' must be a string")
    return PositionReport(
        icao24=icao24,
        ts=ts,
        lat=lat,
        lon=lon,
        alt_ft=None if alt is None else round(alt),
        gs_kt=_optional_number(obj, "gs_kt"),
        track_deg=None if track is None else track % 360.0,
        vrate_fpm=None if vrate is None else round(vrate),
        callsign=callsign,
        squawk=squawk,
        on_ground=on_ground,
        source=source,
    )


def decode_position(data: bytes | str) -> PositionReport:
    """Decode one position message or recording line (recording format v1)."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    return position_from_mapping(obj)


def decode_message(data: bytes | str) -> PositionReport | Watermark:
    """Decode a positions-topic message: a position, or a producer's ``{"watermark": ts}``."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    if isinstance(obj, dict) and "watermark" in obj and "icao24" not in obj:
        ts = obj["watermark"]
        if isinstance(ts, bool) or not isinstance(ts, int | float) or not math.isfinite(ts):
            raise DecodeError("bad_ts", "'watermark' must be epoch seconds")
        return Watermark(float(ts))
    return position_from_mapping(obj)


def encode_watermark(ts: float) -> bytes:
    """Encode a producer watermark message (see :class:`~streams.models.Watermark`)."""
    return orjson.dumps({"watermark": ts})


def encode_position(report: PositionReport) -> bytes:
    """Encode a position as one JSON object (no newline), leaving out absent fields."""
    out: dict[str, Any] = {
        "icao24": report.icao24,
        "ts": report.ts,
        "lat": report.lat,
        "lon": report.lon,
    }
    for key in (
        "alt_ft",
        "gs_kt",
        "track_deg",
        "vrate_fpm",
        "callsign",
        "squawk",
        "on_ground",
        "source",
    ):
        value = getattr(report, key)
        if value is not None:
            out[key] = value
    return orjson.dumps(out)


_EVENT_OPTIONAL = ("zone_name", "alt_ft", "gs_kt", "track_deg", "eta_ts", "last_seen_ts", "verdict")


def encode_event(event: AirspaceEvent) -> bytes:
    """Encode an event as one JSON object (event format v1), leaving out absent optionals."""
    out: dict[str, Any] = {
        "v": EVENT_FORMAT_VERSION,
        "event_id": event.event_id,
        "type": event.type.value,
        "icao24": event.icao24,
        "zone": event.zone,
        "ts": event.ts,
        "lat": event.lat,
        "lon": event.lon,
        "observed_ts": event.observed_ts,
        "callsign": event.callsign,
        "confidence": event.confidence.value,
    }
    for key in _EVENT_OPTIONAL:
        value = getattr(event, key)
        if value is not None:
            out[key] = value
    if event.trail:
        out["trail"] = event.trail
    return orjson.dumps(out)


#: Most trail points accepted in an event (the tracker keeps a dozen).
_TRAIL_MAX = 64


def _trail(value: Any) -> tuple[tuple[float, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _TRAIL_MAX:
        raise TypeError(f"trail must be a list of at most {_TRAIL_MAX} [lat, lon] pairs")
    out = []
    for point in value:
        if not isinstance(point, list) or len(point) != 2:
            raise TypeError("trail points must be [lat, lon] pairs")
        lat, lon = float(point[0]), float(point[1])
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError("trail point out of range")
        out.append((lat, lon))
    return tuple(out)


def decode_event(data: bytes | str) -> AirspaceEvent:
    """Decode an event written by :func:`encode_event`; raises :class:`DecodeError`."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise DecodeError("not_object", "an event must be a JSON object")
    try:
        return AirspaceEvent(
            event_id=str(obj["event_id"]),
            type=EventType(obj["type"]),
            icao24=str(obj["icao24"]),
            zone=str(obj["zone"]),
            ts=float(obj["ts"]),
            lat=float(obj["lat"]),
            lon=float(obj["lon"]),
            observed_ts=float(obj["observed_ts"]),
            callsign=obj.get("callsign"),
            confidence=Confidence(obj["confidence"]),
            **{key: obj.get(key) for key in _EVENT_OPTIONAL},
            trail=_trail(obj.get("trail")),
        )
    except KeyError as exc:
        raise DecodeError("missing_field", f"event field {exc} is required") from None
    except (TypeError, ValueError) as exc:
        raise DecodeError("bad_field", f"bad event field: {exc}") from None
