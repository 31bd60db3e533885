"""Numbers and times in the words every alert uses: altitude, speed, track, distance, time.

One formatter per quantity, shared by the console line (:mod:`alerts.formatting`) and the desk
renderers (:mod:`alerts.render`), so a number reads the same in every channel. Pure: no I/O, no
clock, no tz database (a local time comes with its UTC offset as data).

- altitude: ``FL350`` from 10,000 ft up, ``9,500 ft`` below, ``alt ?`` when unknown;
- ground speed ``465 kt``; track ``track 166°``;
- distance ``12.3 km (6.6 NM)``;
- time ``2023-09-26 00:41:07Z`` (UTC), ``00:41:07Z`` (UTC, time of day),
  ``2023-09-26 09:41:07 KST (UTC+09:00)`` (local);
- position ``40.1369N 124.4079E`` (4 decimals: about 10 m).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from streams.geo import M_PER_NM

__all__ = [
    "format_altitude",
    "format_distance",
    "format_hms",
    "format_lat_lon",
    "format_local",
    "format_speed",
    "format_track",
    "format_utc",
    "format_utc_offset",
]

#: Altitudes from here up are said as flight levels (hundreds of feet, standard pressure).
_FLIGHT_LEVEL_FROM_FT = 10_000


def format_altitude(alt_ft: int | None) -> str:
    """``FL350`` at or above 10,000 ft, ``9,500 ft`` below, ``alt ?`` when unknown."""
    if alt_ft is None:
        return "alt ?"
    if alt_ft >= _FLIGHT_LEVEL_FROM_FT:
        return f"FL{round(alt_ft / 100):03d}"
    return f"{alt_ft:,} ft"


def format_speed(gs_kt: float) -> str:
    """Ground speed: ``465 kt``."""
    return f"{gs_kt:.0f} kt"


def format_track(track_deg: float) -> str:
    """Track over ground: ``track 166°`` (three digits)."""
    return f"track {track_deg:03.0f}°"


def format_distance(distance_m: float) -> str:
    """``12.3 km (6.6 NM)``."""
    return f"{distance_m / 1000:.1f} km ({distance_m / M_PER_NM:.1f} NM)"


def format_utc(ts: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DD HH:MM:SSZ`` (UTC)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_hms(ts: float) -> str:
    """Epoch seconds -> ``HH:MM:SSZ`` (UTC time of day)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%SZ")


def format_utc_offset(offset_s: int) -> str:
    """``UTC+09:00`` for 32400 s."""
    sign = "+" if offset_s >= 0 else "-"
    hours, rest = divmod(abs(offset_s), 3600)
    return f"UTC{sign}{hours:02d}:{rest // 60:02d}"


def format_local(ts: float, tz_name: str | None, tz_offset_s: int | None) -> str | None:
    """``2023-09-26 09:41:07 KST (UTC+09:00)``, or ``None`` without an offset."""
    if tz_offset_s is None:
        return None
    zone = timezone(timedelta(seconds=tz_offset_s))
    stamp = datetime.fromtimestamp(ts, tz=zone).strftime("%Y-%m-%d %H:%M:%S")
    label = f"{tz_name} " if tz_name else ""
    return f"{stamp} {label}({format_utc_offset(tz_offset_s)})"


def format_lat_lon(lat: float, lon: float) -> str:
    """Degrees -> ``40.1369N 124.4079E`` (4 decimals: about 10 m)."""
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.4f}{ns} {abs(lon):.4f}{ew}"
