"""The wire contract: recording format v1 (positions) and event format v1, as JSON via orjson.

Positions (one JSON object per line in recordings, one per Kafka message value)::

    {"icao24": "1551e0", "ts": 1695690000.5, "lat": 40.1, "lon": 124.3,
     "alt_ft": 35000, "gs_kt": 455.0, "track_deg": 120.0, "vrate_fpm": 0,
     "callsign": "RSD352", "squawk": "1000", "on_ground": false, "source": "adsb"}

A producer may also send ``{"watermark": ts}`` to every partition: "every position up to
``ts`` has been sent" (see :class:`~streams.models.Watermark`).

Batch form (what ``skyfence replay`` sends; one position per message stays valid from any
producer): a JSON array of recording-format-v1 objects, ``[{...},{...}]``, sent without a key
to an explicit partition. Every position in it must belong to that partition under Kafka's
default partitioner (:func:`partition_of`: murmur2 of the icao24 bytes); the worker
re-publishes any that does not under its own key. :func:`encode_batch` joins raw v1 lines
without re-encoding them; :func:`decode_positions` decodes either form.

``icao24``, ``ts``, ``lat`` and ``lon`` are required; the rest are optional and may be absent
or null. Unknown keys are ignored (forward compatible). Anything else is a
:class:`~streams.errors.DecodeError` with a bounded ``reason``.

Limits (input is untrusted: a producer, a feed or a file may send anything). Every number must
lie in its documented range (:data:`FIELD_RANGES`) and every string within its length
(:data:`CALLSIGN_MAX_CHARS`, :data:`SOURCE_MAX_CHARS`; ``squawk`` is 4 octal digits), else
``bad_field`` (``bad_ts``/``bad_lat``/``bad_lon`` for those three); a message or line longer
than :data:`MESSAGE_MAX_BYTES` is ``too_large`` before it is parsed. So an accepted position
is small (its state, events and dead letters stay far below Kafka's 1 MB message limit) and
every number in it is one the tracker's arithmetic handles.

Events carry ``"v": 1`` and the fields of :class:`~streams.models.AirspaceEvent`; optional
fields that are ``None`` (or empty: ``trail``, ``watchlists``) are left out, and an absent
field reads back as ``None``/empty, so events written before a field existed still decode.

Pure: imports only the standard library, orjson and this package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from streams.errors import DecodeError
from streams.models import (
    AirspaceEvent,
    Confidence,
    EventType,
    PositionReport,
    WatchlistMatch,
    Watermark,
)

__all__ = [
    "BATCH_MAX_BYTES",
    "BATCH_MAX_POSITIONS",
    "CALLSIGN_MAX_CHARS",
    "EVENT_FORMAT_VERSION",
    "FIELD_RANGES",
    "MESSAGE_MAX_BYTES",
    "SOURCE_MAX_CHARS",
    "TS_MAX",
    "TS_MIN",
    "BadItem",
    "PositionBatch",
    "PositionFields",
    "RawBatch",
    "check_size",
    "decode_event",
    "decode_message",
    "decode_position",
    "decode_positions",
    "encode_batch",
    "encode_event",
    "encode_position",
    "encode_watermark",
    "partition_of",
    "position_fields",
    "position_from_mapping",
]

#: Version of the event format written in every event as ``"v"``.
EVENT_FORMAT_VERSION = 1

_HEX = frozenset("0123456789abcdef")
_SQUAWK = frozenset("01234567")

#: Most bytes of one positions-topic message or recording line (a batch included). Twice the
#: largest batch ``skyfence replay`` sends (:data:`BATCH_MAX_BYTES`), half of Kafka's default
#: 1 MB message limit: whatever is accepted can be dead-lettered unchanged. Longer input is
#: ``too_large`` and is not parsed at all (bounded work and memory per message).
MESSAGE_MAX_BYTES = 512 * 1024
#: Longest callsign after trimming: ADS-B carries 8 characters; ICAO flight ids are at most 7,
#: feeds that add a suffix stay well within 16.
CALLSIGN_MAX_CHARS = 16
#: Longest ``source`` label (``adsb``, ``mlat``, ``adsb_icao_nt``, ``mode_s``...).
SOURCE_MAX_CHARS = 32
#: Accepted ``ts`` range: 2000-01-01 to 2100-01-01 UTC. Earlier or later is a unit error
#: (milliseconds) or garbage, not a position.
TS_MIN = 946_684_800.0
TS_MAX = 4_102_444_800.0
#: Accepted range of each optional numeric field, inclusive (units in the names). Wider than
#: anything real, narrow enough that the tracker's arithmetic (dead reckoning, JSON integers)
#: cannot overflow: Mode S altitudes run -1,000 to 126,700 ft, ADS-B speeds to 4,092 kt
#: per axis (supersonic subtype, 5,787 kt combined), vertical rates to +-32,640 ft/min.
FIELD_RANGES: dict[str, tuple[float, float]] = {
    "alt_ft": (-5_000.0, 200_000.0),
    "gs_kt": (0.0, 6_000.0),
    "track_deg": (-720.0, 720.0),  # normalised to [0, 360)
    "vrate_fpm": (-100_000.0, 100_000.0),
}
_ALT_MIN, _ALT_MAX = FIELD_RANGES["alt_ft"]
_GS_MIN, _GS_MAX = FIELD_RANGES["gs_kt"]
_TRACK_MIN, _TRACK_MAX = FIELD_RANGES["track_deg"]
_VRATE_MIN, _VRATE_MAX = FIELD_RANGES["vrate_fpm"]


def _degrees(angle: float) -> float:
    """``angle`` in [0, 360): ``-1e-112 % 360.0`` is 360.0 in floating point."""
    angle %= 360.0
    return 0.0 if angle == 360.0 else angle


def check_size(data: bytes | str) -> None:
    """Raise ``DecodeError("too_large")`` when ``data`` is longer than :data:`MESSAGE_MAX_BYTES`
    (a ``str`` is measured in characters, each at least one byte)."""
    if len(data) > MESSAGE_MAX_BYTES:
        raise DecodeError(
            "too_large", f"{len(data)} bytes, more than the limit of {MESSAGE_MAX_BYTES}"
        )


def _number(obj: dict[str, Any], key: str, reason: str) -> float:
    value = obj.get(key)
    if value is None:
        raise DecodeError("missing_field", f"{key!r} is required")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError(reason, f"{key!r} must be a number, got {type(value).__name__}")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond float range
        raise DecodeError(reason, f"{key!r} is out of range") from None
    if not math.isfinite(value):
        raise DecodeError(reason, f"{key!r} must be finite")
    return value


def _optional_number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("bad_field", f"{key!r} must be a number")
    low, high = FIELD_RANGES[key]
    # A comparison, not float(): an integer beyond float range compares fine; NaN fails it.
    if not low <= value <= high:
        raise DecodeError("bad_field", f"{key!r} must be within [{low:g}, {high:g}]")
    return float(value)


def _optional_string(
    obj: dict[str, Any], key: str, max_chars: int, *, strip: bool = True
) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise DecodeError("bad_field", f"{key!r} must be a string")
    if len(value) > max_chars and (not strip or len(value.strip()) > max_chars):
        raise DecodeError("bad_field", f"{key!r} is longer than {max_chars} characters")
    return (value.strip() or None) if strip else value


#: Valid icao24 spellings seen, mapped to their normalised form (bounded, see below).
_ICAO_SEEN: dict[str, str] = {}
_ICAO_SEEN_MAX = 200_000
_MAX_EXACT_INT = 2**53


#: The fields of a :class:`PositionReport`, in its constructor's order.
PositionFields = tuple[
    str, float, float, float, int | None, float | None, float | None, int | None,
    str | None, str | None, bool | None, str | None,
]  # fmt: skip


def _fast_position(obj: dict[str, Any]) -> PositionReport | None:
    """The common case of :func:`position_from_mapping` in fewer operations, or ``None``
    when anything is unusual (the full validation then decides, and names the problem).

    Same result as the full path for every input it accepts: a test compares the two.
    """
    fields = position_fields(obj)
    return None if fields is None else PositionReport(*fields)


def position_fields(obj: dict[str, Any]) -> PositionFields | None:
    """The validated, normalised fields of a v1 position (``PositionReport(*fields)`` is what
    :func:`position_from_mapping` returns), or ``None`` when anything is unusual: then
    :func:`position_from_mapping` decides and names the problem. For the worker's hot path,
    which often needs no report object at all."""
    get = obj.get
    icao24 = get("icao24")
    if type(icao24) is not str:
        return None
    norm = _ICAO_SEEN.get(icao24)
    if norm is None:
        norm = icao24.lower()
        if len(icao24) != 6 or not _HEX.issuperset(norm):
            return None
        if len(_ICAO_SEEN) >= _ICAO_SEEN_MAX:
            _ICAO_SEEN.clear()
        _ICAO_SEEN[icao24] = norm
    ts = get("ts")
    lat = get("lat")
    lon = get("lon")
    # type() is not isinstance(): bool (a subclass of int) is rejected, as the full path does.
    if type(ts) is not float:
        if type(ts) is not int or not -_MAX_EXACT_INT < ts < _MAX_EXACT_INT:
            return None
        ts = float(ts)
    if type(lat) is not float:
        if type(lat) is not int or not -_MAX_EXACT_INT < lat < _MAX_EXACT_INT:
            return None
        lat = float(lat)
    if type(lon) is not float:
        if type(lon) is not int or not -_MAX_EXACT_INT < lon < _MAX_EXACT_INT:
            return None
        lon = float(lon)
    # Range checks also reject NaN (every comparison with NaN is false) and infinities.
    if not (TS_MIN <= ts <= TS_MAX and -90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        return None
    # Each optional number: the right type and within FIELD_RANGES (which also rejects NaN
    # and infinities), else the full path decides.
    alt = get("alt_ft")
    if alt is not None:
        if type(alt) is int and _ALT_MIN <= alt <= _ALT_MAX:
            pass
        elif type(alt) is float and _ALT_MIN <= alt <= _ALT_MAX:
            alt = round(alt)
        else:
            return None
    gs = get("gs_kt")
    if gs is not None:
        if type(gs) is float and _GS_MIN <= gs <= _GS_MAX:
            pass
        elif type(gs) is int and _GS_MIN <= gs <= _GS_MAX:
            gs = float(gs)
        else:
            return None
    track = get("track_deg")
    if track is not None:
        if type(track) is float and _TRACK_MIN <= track <= _TRACK_MAX:
            track = track % 360.0
        elif type(track) is int and _TRACK_MIN <= track <= _TRACK_MAX:
            track = float(track) % 360.0
        else:
            return None
        if track == 360.0:  # a tiny negative angle rounds up (found by the fuzz tests)
            track = 0.0
    vrate = get("vrate_fpm")
    if vrate is not None:
        if type(vrate) is int and _VRATE_MIN <= vrate <= _VRATE_MAX:
            pass
        elif type(vrate) is float and _VRATE_MIN <= vrate <= _VRATE_MAX:
            vrate = round(vrate)
        else:
            return None
    callsign = get("callsign")
    if callsign is not None:
        if type(callsign) is not str or len(callsign) > CALLSIGN_MAX_CHARS:
            return None
        callsign = callsign.strip() or None
    squawk = get("squawk")
    if squawk is not None and (
        type(squawk) is not str or len(squawk) != 4 or not _SQUAWK.issuperset(squawk)
    ):
        return None
    on_ground = get("on_ground")
    if on_ground is not None and type(on_ground) is not bool:
        return None
    source = get("source")
    if source is not None and (type(source) is not str or len(source) > SOURCE_MAX_CHARS):
        return None
    return (norm, ts, lat, lon, alt, gs, track, vrate, callsign, squawk, on_ground, source)


def position_from_mapping(obj: Any) -> PositionReport:
    """Validate a decoded JSON object and build a :class:`PositionReport`.

    Raises :class:`DecodeError` naming the first problem found.
    """
    if type(obj) is dict:
        fast = _fast_position(obj)
        if fast is not None:
            return fast
    return _position_from_mapping_full(obj)


def _position_from_mapping_full(obj: Any) -> PositionReport:
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
    if not TS_MIN <= ts <= TS_MAX:
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
    callsign = _optional_string(obj, "callsign", CALLSIGN_MAX_CHARS)
    squawk = obj.get("squawk")
    if squawk is not None and (
        not isinstance(squawk, str) or len(squawk) != 4 or not _SQUAWK.issuperset(squawk)
    ):
        raise DecodeError("bad_field", "'squawk' must be 4 octal digits")
    on_ground = obj.get("on_ground")
    if on_ground is not None and not isinstance(on_ground, bool):
        raise DecodeError("bad_field", "'on_ground' must be true or false")
    source = _optional_string(obj, "source", SOURCE_MAX_CHARS, strip=False)
    return PositionReport(
        icao24=icao24,
        ts=ts,
        lat=lat,
        lon=lon,
        alt_ft=None if alt is None else round(alt),
        gs_kt=_optional_number(obj, "gs_kt"),
        track_deg=None if track is None else _degrees(track),
        vrate_fpm=None if vrate is None else round(vrate),
        callsign=callsign,
        squawk=squawk,
        on_ground=on_ground,
        source=source,
    )


def _watermark(obj: dict[str, Any]) -> Watermark:
    ts = obj["watermark"]
    if isinstance(ts, bool) or not isinstance(ts, int | float) or not TS_MIN <= ts <= TS_MAX:
        raise DecodeError("bad_ts", "'watermark' must be epoch seconds between 2000 and 2100")
    return Watermark(float(ts))


def decode_position(data: bytes | str) -> PositionReport:
    """Decode one position message or recording line (recording format v1)."""
    check_size(data)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    return position_from_mapping(obj)


def decode_message(data: bytes | str) -> PositionReport | Watermark:
    """Decode a positions-topic message: a position, or a producer's ``{"watermark": ts}``."""
    check_size(data)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    if isinstance(obj, dict) and "watermark" in obj and "icao24" not in obj:
        return _watermark(obj)
    return position_from_mapping(obj)


#: Most positions the producer puts in one batch message (~200 KB of typical positions,
#: below Kafka's 1 MB default message limit). Faust costs the same per message whatever it
#: carries: 2,000 rather than 500 gave the worker ~10% more positions/s in `make bench`.
BATCH_MAX_POSITIONS = 2000
#: Most bytes of raw positions in one batch message.
BATCH_MAX_BYTES = 256 * 1024


@dataclass(frozen=True, slots=True)
class BadItem:
    """An element of a batch that is not a valid position: dead-lettered on its own."""

    index: int
    reason: str
    detail: str
    raw: bytes


@dataclass(frozen=True, slots=True)
class PositionBatch:
    """A decoded batch message: positions (in order) and the bad elements, if any."""

    reports: list[PositionReport]
    bad: list[BadItem]


def encode_batch(raws: Sequence[bytes]) -> bytes:
    """A batch message from raw recording-format-v1 objects (each one JSON object, no newline)."""
    return b"[" + b",".join(raws) + b"]"


@dataclass(frozen=True, slots=True)
class RawBatch:
    """A batch message decoded as JSON but not yet validated (see :func:`decode_positions`):
    its elements, in order, for :func:`position_fields` / :func:`position_from_mapping`."""

    items: list[Any]


def decode_positions(
    data: bytes | str, *, validate_batch: bool = True
) -> PositionReport | Watermark | PositionBatch | RawBatch:
    """Decode a positions-topic message in any accepted form: one position (v1), a producer
    watermark, or a batch (a JSON array of v1 positions).

    A message that is not JSON raises :class:`DecodeError`; a batch's bad elements are
    returned in :attr:`PositionBatch.bad`, so one bad element never costs the others. With
    ``validate_batch=False`` a batch comes back as a :class:`RawBatch`, for a caller that
    validates each element itself (the worker, which then builds no report for most).
    A message longer than :data:`MESSAGE_MAX_BYTES` raises ``DecodeError("too_large")``.
    """
    check_size(data)
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("json", f"not valid JSON: {exc}") from None
    if type(obj) is list:
        if not validate_batch:
            return RawBatch(obj)
        reports: list[PositionReport] = []
        bad: list[BadItem] = []
        append = reports.append
        for index, item in enumerate(obj):
            try:
                append(position_from_mapping(item))
            except DecodeError as exc:
                bad.append(BadItem(index, exc.reason, exc.detail, orjson.dumps(item)))
        return PositionBatch(reports, bad)
    if isinstance(obj, dict) and "watermark" in obj and "icao24" not in obj:
        return _watermark(obj)
    return position_from_mapping(obj)


def _murmur2(data: bytes) -> int:
    """Kafka's murmur2 (``org.apache.kafka.common.utils.Utils.murmur2``), as a signed int."""
    length = len(data)
    m = 0x5BD1E995
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    length4 = length // 4
    for i in range(length4):
        i4 = i * 4
        k = data[i4] | (data[i4 + 1] << 8) | (data[i4 + 2] << 16) | (data[i4 + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> 24
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    extra = length % 4
    tail = length4 * 4
    if extra >= 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_of(icao24: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (Java client, aiokafka, librdkafka's
    ``murmur2_random``) gives the key ``icao24``: ``(murmur2(key) & 0x7fffffff) % partitions``."""
    return (_murmur2(icao24.encode()) & 0x7FFFFFFF) % partitions


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
#: Optional text fields of the aircraft's identity and squawk (enrichment, the revealing fix).
_EVENT_TEXT = ("squawk", "registration", "aircraft_type", "operator", "country")
#: Longest text accepted in one of those fields, and most watchlist matches and tags.
_TEXT_MAX = 200
_WATCHLISTS_MAX = 32
_TAGS_MAX = 16


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
    for key in _EVENT_TEXT:
        value = getattr(event, key)
        if value is not None:
            out[key] = value
    if event.watchlists:
        out["watchlists"] = [
            {"list": m.list, "category": m.category, "tags": list(m.tags)}
            for m in event.watchlists
        ]
    return orjson.dumps(out)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > _TEXT_MAX:
        raise TypeError(f"{key} must be a string of at most {_TEXT_MAX} characters")
    return value


def _watchlists(value: Any) -> tuple[WatchlistMatch, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > _WATCHLISTS_MAX:
        raise TypeError(f"watchlists must be a list of at most {_WATCHLISTS_MAX} objects")
    out = []
    for item in value:
        if not isinstance(item, dict):
            raise TypeError("a watchlists item must be an object")
        name, category = _text(item, "list"), _text(item, "category")
        if name is None:
            raise TypeError("a watchlists item needs its list name")
        tags = item.get("tags") or []
        if (
            not isinstance(tags, list)
            or len(tags) > _TAGS_MAX
            or not all(isinstance(t, str) and len(t) <= _TEXT_MAX for t in tags)
        ):
            raise TypeError(f"watchlist tags must be at most {_TAGS_MAX} strings")
        out.append(WatchlistMatch(name, category, tuple(tags)))
    return tuple(out)


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
        lat, lon = _event_float(point[0], "trail"), _event_float(point[1], "trail")
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
        lat, lon = _event_float(obj["lat"], "lat"), _event_float(obj["lon"], "lon")
        if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
            raise ValueError("event position out of range")
        alt = obj.get("alt_ft")
        return AirspaceEvent(
            event_id=_event_str(obj["event_id"], "event_id"),
            type=EventType(obj["type"]),
            icao24=_event_str(obj["icao24"], "icao24"),
            zone=_event_str(obj["zone"], "zone"),
            ts=_event_float(obj["ts"], "ts"),
            lat=lat,
            lon=lon,
            observed_ts=_event_float(obj["observed_ts"], "observed_ts"),
            callsign=_event_str(obj.get("callsign"), "callsign", optional=True),
            confidence=Confidence(obj["confidence"]),
            zone_name=_event_str(obj.get("zone_name"), "zone_name", optional=True),
            alt_ft=None if alt is None else round(_event_float(alt, "alt_ft")),
            **{
                key: _event_float(obj.get(key), key, optional=True)
                for key in ("gs_kt", "track_deg", "eta_ts", "last_seen_ts")
            },
            verdict=_event_str(obj.get("verdict"), "verdict", optional=True),
            trail=_trail(obj.get("trail")),
            squawk=_text(obj, "squawk"),
            registration=_text(obj, "registration"),
            aircraft_type=_text(obj, "aircraft_type"),
            operator=_text(obj, "operator"),
            country=_text(obj, "country"),
            watchlists=_watchlists(obj.get("watchlists")),
        )
    except KeyError as exc:
        raise DecodeError("missing_field", f"event field {exc} is required") from None
    except (TypeError, ValueError, OverflowError) as exc:
        raise DecodeError("bad_field", f"bad event field: {exc}") from None


def _event_str(value: Any, key: str, *, optional: bool = False) -> Any:
    """A string field of an event (``None`` allowed when optional); raises TypeError."""
    if isinstance(value, str) or (optional and value is None):
        return value
    raise TypeError(f"{key!r} must be a string")


def _event_float(value: Any, key: str, *, optional: bool = False) -> Any:
    """A finite number field of an event, as a float (``None`` allowed when optional);
    raises TypeError or ValueError (found by the fuzz tests: ``false`` was read as 0.0)."""
    if optional and value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{key!r} must be a number")
    out = float(value)  # OverflowError for an integer beyond float range
    if not math.isfinite(out):
        raise ValueError(f"{key!r} must be finite")
    return out
