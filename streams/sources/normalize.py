"""Normalisation and validation shared by every live source: units, ranges, freshness.

Every parser maps its record onto recording format v1's fields (knots, feet, degrees, ft/min,
epoch seconds) and validates it with :func:`streams.sources._common.report_or_bad`, which
applies the codec's contract (icao24 of 6 hex digits, finite numbers, lat/lon in range, a time
between 2000 and 2100; reasons ``bad_icao24``, ``bad_ts``, ``bad_lat``, ``bad_lon``,
``bad_field``, ``no_position``). Live input gets two more checks here, which need "now" and so
take it as an argument (this module never reads a clock):

- :func:`check_fresh`: a position more than :data:`MAX_FUTURE_S` ahead of now is
  ``future_ts``; one older than the configured window (``max_age_s``) is ``stale_ts``;
- :func:`check_plausible`: an optional field outside what an aircraft can do (altitude, speed,
  vertical rate) is ``bad_field``: such a value is corruption, and a huge integer would not
  even survive JSON encoding.

Unit conversions live here too, so each parser states its input units once.

Pure: standard library and this package only.
"""

from __future__ import annotations

import math

from streams.codec import encode_position
from streams.models import BadLine, PositionReport

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "FPM_PER_MPS",
    "FT_PER_M",
    "KT_PER_MPS",
    "MAX_FUTURE_S",
    "check_fresh",
    "check_plausible",
    "finite_or_none",
    "validate_live",
]

#: Feet per metre (exact by definition of the international foot).
FT_PER_M = 1 / 0.3048
#: Knots per metre/second (1 kt = 1852 m / 3600 s).
KT_PER_MPS = 3600 / 1852
#: Feet per minute per metre/second.
FPM_PER_MPS = FT_PER_M * 60

#: A position this far ahead of the receiver's clock is a clock or unit error (the issue's
#: rule); receivers' clocks agree with each other within a second or two when NTP runs.
MAX_FUTURE_S = 60.0
#: Default freshness window of live input: aircraft.json's ``seen_pos`` reaches 60 s before
#: readsb drops the position, OpenSky's ``time_position`` lags up to ~15 s; ten minutes
#: leaves room for a reconnecting feed's backlog while still refusing yesterday's data.
DEFAULT_MAX_AGE_S = 600.0

#: Plausible ranges of the optional fields (inclusive). Wider than any aircraft flies, narrow
#: enough to catch corruption: Concorde cruised at 60,000 ft and 1,170 kt; balloons and
#: rockets reporting ADS-B stay under these too. -1,500 ft covers the Dead Sea's airfields
#: and pressure altitude below sea level.
ALT_FT_RANGE = (-1_500, 150_000)
GS_KT_RANGE = (0.0, 4_000.0)
VRATE_FPM_RANGE = (-60_000, 60_000)


def finite_or_none(value: object) -> float | None:
    """``value`` as a finite float, or ``None`` (absent, not a number, NaN, infinite, bool)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    f = float(value)
    return f if math.isfinite(f) else None


def check_plausible(report: PositionReport) -> str | None:
    """The name of the first implausible optional field, or ``None`` when all are plausible."""
    if report.alt_ft is not None and not ALT_FT_RANGE[0] <= report.alt_ft <= ALT_FT_RANGE[1]:
        return "alt_ft"
    if report.gs_kt is not None and not GS_KT_RANGE[0] <= report.gs_kt <= GS_KT_RANGE[1]:
        return "gs_kt"
    if report.vrate_fpm is not None and not (
        VRATE_FPM_RANGE[0] <= report.vrate_fpm <= VRATE_FPM_RANGE[1]
    ):
        return "vrate_fpm"
    return None


def check_fresh(
    ts: float, now_s: float, *, max_age_s: float | None, max_future_s: float = MAX_FUTURE_S
) -> str | None:
    """``future_ts``, ``stale_ts`` or ``None`` for a position time against ``now_s``.

    ``max_age_s=None`` (or 0) turns the age check off (recorded files).
    """
    if ts > now_s + max_future_s:
        return "future_ts"
    if max_age_s and ts < now_s - max_age_s:
        return "stale_ts"
    return None


def validate_live(
    item: PositionReport | BadLine,
    now_s: float,
    *,
    max_age_s: float | None = DEFAULT_MAX_AGE_S,
    max_future_s: float = MAX_FUTURE_S,
) -> PositionReport | BadLine:
    """Apply the live checks to a parsed item; a rejection keeps its record number and the
    position as raw bytes. A :class:`BadLine` passes through unchanged."""
    if isinstance(item, BadLine):
        return item
    field = check_plausible(item)
    if field is not None:
        return BadLine(0, "bad_field", f"implausible {field}", _raw(item))
    reason = check_fresh(item.ts, now_s, max_age_s=max_age_s, max_future_s=max_future_s)
    if reason is not None:
        age = now_s - item.ts
        detail = f"position time {age:+.0f} s from now" if math.isfinite(age) else "bad time"
        return BadLine(0, reason, detail, _raw(item))
    return item


def _raw(report: PositionReport) -> bytes:
    """The report as JSON for the dead-letter topic (``repr`` when JSON cannot hold it, e.g.
    an integer beyond 64 bits)."""
    try:
        return encode_position(report)
    except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
        return repr(report).encode()
