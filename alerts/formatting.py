"""Event -> human text. Pure: no I/O, no clock; imports only the standard library and streams.

The console line is what a watch officer reads at a glance::

    2023-09-26 00:41:07Z  ENTERED            dprk  RSD352 1551e0  40.1369N 124.4079E  FL350  observed
"""

from __future__ import annotations

from datetime import UTC, datetime

from streams.models import AirspaceEvent, EventType

__all__ = ["console_line", "detail", "format_lat_lon", "format_utc"]

_LABELS = {
    EventType.ENTERED: "ENTERED",
    EventType.EXITED: "EXITED",
    EventType.FIRST_SEEN_INSIDE: "FIRST SEEN INSIDE",
    EventType.APPROACHING: "APPROACHING",
    EventType.SIGNAL_LOST: "SIGNAL LOST",
    EventType.SIGNAL_REGAINED: "SIGNAL REGAINED",
}


def format_utc(ts: float) -> str:
    """Epoch seconds -> ``YYYY-MM-DD HH:MM:SSZ`` (UTC)."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def format_lat_lon(lat: float, lon: float) -> str:
    """Degrees -> ``40.1369N 124.4079E`` (4 decimals: about 10 m)."""
    ns = "N" if lat >= 0 else "S"
    ew = "E" if lon >= 0 else "W"
    return f"{abs(lat):.4f}{ns} {abs(lon):.4f}{ew}"


def _altitude(alt_ft: int | None) -> str:
    if alt_ft is None:
        return "alt ?"
    if alt_ft >= 10000:
        return f"FL{round(alt_ft / 100):03d}"
    return f"{alt_ft} ft"


def _hms(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%SZ")


def detail(event: AirspaceEvent) -> str:
    """The type-specific part of an alert: ETA, last heard, verdict."""
    if event.type is EventType.APPROACHING and event.eta_ts is not None:
        return f"entry predicted {_hms(event.eta_ts)}"
    if event.type is EventType.SIGNAL_LOST:
        text = f"last heard {_hms(event.last_seen_ts or event.observed_ts)}"
        if event.eta_ts is not None:
            text += f", probable entry {_hms(event.eta_ts)}"
        return text
    if event.type is EventType.SIGNAL_REGAINED:
        return (
            f"{event.verdict or '?'}, silent since {_hms(event.last_seen_ts or event.observed_ts)}"
        )
    return ""


def console_line(event: AirspaceEvent) -> str:
    """One readable line: UTC time, event, zone, callsign, icao24, position, altitude,
    confidence and the type-specific detail."""
    parts = [
        format_utc(event.ts),
        f"{_LABELS.get(event.type, event.type.value.upper()):<17}",
        event.zone,
        f"{(event.callsign or '?'):<8}",
        event.icao24,
        format_lat_lon(event.lat, event.lon),
        _altitude(event.alt_ft),
        event.confidence.value,
    ]
    extra = detail(event)
    if extra:
        parts.append(extra)
    return "  ".join(parts)
