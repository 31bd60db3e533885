"""The tracker's per-aircraft state on disk: a compact, versioned JSON array. Pure.

The value format of the tracker's ``aircraft`` table (:mod:`streams.app`), beside the wire
codecs of :mod:`streams.codec`. :func:`decode_state` raises ``ValueError`` for a version it
does not know, which the agent counts and treats as no state.
"""

from __future__ import annotations

import orjson

from streams.tracking import AircraftState, Visit

__all__ = ["decode_state", "encode_state"]

#: Version tag of the serialized state; bump when the layout changes.
_STATE_VERSION = 2


def encode_state(state: AircraftState) -> bytes:
    """Serialize a state compactly (a JSON array; ~100-250 bytes for a typical aircraft)."""
    visits = [
        # A visit with no fix inside carries a sixth element, False (older states lack it).
        [zid, v.entered_ts, v.exit_ts, v.exit_lat, v.exit_lon, False]
        if not v.seen_inside
        else [zid, v.entered_ts, v.exit_ts, v.exit_lat, v.exit_lon]
        if v.exit_ts is not None
        else [zid, v.entered_ts]
        for zid, v in state.visits.items()
    ]
    return orjson.dumps(
        [
            _STATE_VERSION,
            state.icao24,
            state.ts,
            state.lat,
            state.lon,
            state.alt_ft,
            state.callsign,
            state.written_ts,
            visits,
            list(state.candidate) if state.candidate else None,
            [[zid, *pred] for zid, pred in state.approach.items()],
            [[zid, ts] for zid, ts in state.approach_raised.items()],
            state.lost,
            state.heading_known,
            [list(p) for p in state.trail],
            # Only while an emergency code is heard (most states never carry it).
            *([list(state.squawk_watch)] if state.squawk_watch is not None else []),
        ]
    )


def decode_state(data: bytes) -> AircraftState:
    """Inverse of :func:`encode_state`."""
    fields = orjson.loads(data)
    if fields[0] != _STATE_VERSION:
        raise ValueError(f"unknown aircraft state version {fields[0]}")
    (
        _v,
        icao24,
        ts,
        lat,
        lon,
        alt_ft,
        callsign,
        written_ts,
        visits,
        cand,
        approach,
        raised,
        lost,
        heading,
        *rest,
    ) = fields
    state = AircraftState(
        icao24=icao24,
        ts=ts,
        lat=lat,
        lon=lon,
        alt_ft=alt_ft,
        callsign=callsign,
        written_ts=written_ts,
        lost=list(lost),
        heading_known=heading,
    )
    for item in visits:
        visit = Visit(entered_ts=item[1])
        if len(item) > 2 and item[2] is not None:
            visit.exit_ts, visit.exit_lat, visit.exit_lon = item[2], item[3], item[4]
        if len(item) > 5:
            visit.seen_inside = bool(item[5])
        state.visits[item[0]] = visit
    for zid, eta, plat, plon in approach:
        state.approach[zid] = (eta, plat, plon)
    for zid, raised_ts in raised:
        state.approach_raised[zid] = raised_ts
    if cand:
        state.candidate = (cand[0], cand[1], cand[2], cand[3])
    if rest and rest[0]:  # the trail (absent in states written before it existed)
        state.trail = tuple((p[0], p[1], p[2]) for p in rest[0])
    if len(rest) > 1 and rest[1]:  # an emergency code being heard
        code, since_ts, fixes, raised = rest[1]
        state.squawk_watch = (str(code), float(since_ts), int(fixes), bool(raised))
    return state
