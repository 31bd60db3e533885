"""Event -> human text. Pure: no I/O, no clock; imports only the standard library and streams.

Numbers and times are worded by :mod:`alerts.units` (the same words as the desk renderers).

The console line is what a watch officer reads at a glance::

    2023-09-26 00:41:07Z  ENTERED            dprk  RSD352 1551e0  40.1369N 124.4079E  FL350  observed
"""

from __future__ import annotations

from alerts.units import format_altitude, format_hms, format_lat_lon, format_utc
from streams.models import AirspaceEvent, EventType
from streams.text import printable

__all__ = ["SQUAWK_MEANINGS", "console_line", "detail"]

_LABELS = {
    EventType.ENTERED: "ENTERED",
    EventType.EXITED: "EXITED",
    EventType.FIRST_SEEN_INSIDE: "FIRST SEEN INSIDE",
    EventType.APPROACHING: "APPROACHING",
    EventType.SIGNAL_LOST: "SIGNAL LOST",
    EventType.SIGNAL_REGAINED: "SIGNAL REGAINED",
    EventType.SQUAWK_EMERGENCY: "SQUAWK EMERGENCY",
}
#: What the emergency squawks mean (ICAO Doc 4444: unlawful interference, radio
#: communication failure, emergency).
SQUAWK_MEANINGS = {"7500": "hijack", "7600": "radio failure", "7700": "emergency"}


def detail(event: AirspaceEvent) -> str:
    """The type-specific part of an alert: ETA, last heard, verdict."""
    if event.type is EventType.APPROACHING and event.eta_ts is not None:
        return f"entry predicted {format_hms(event.eta_ts)}"
    if event.type is EventType.SIGNAL_LOST:
        text = f"last heard {format_hms(event.last_seen_ts or event.observed_ts)}"
        if event.eta_ts is not None:
            text += f", probable entry {format_hms(event.eta_ts)}"
        return text
    if event.type is EventType.SQUAWK_EMERGENCY:
        code = event.squawk or "?"
        return f"squawk {code}: {SQUAWK_MEANINGS.get(code, 'emergency')}"
    if event.type is EventType.SIGNAL_REGAINED:
        silent_since = format_hms(event.last_seen_ts or event.observed_ts)
        return f"{event.verdict or '?'}, silent since {silent_since}"
    return ""


def console_line(event: AirspaceEvent) -> str:
    """One readable line: UTC time, event, zone, callsign, icao24, position, altitude,
    confidence and the type-specific detail."""
    parts = [
        format_utc(event.ts),
        f"{_LABELS.get(event.type, event.type.value.upper()):<17}",
        printable(event.zone),  # free text from a zone file (issue 12)
        f"{(event.callsign or '?'):<8}",
        event.icao24,
        format_lat_lon(event.lat, event.lon),
        format_altitude(event.alt_ft),
        event.confidence.value,
    ]
    extra = detail(event)
    if extra:
        parts.append(extra)
    return "  ".join(parts)
