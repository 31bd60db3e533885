"""rs1090 / jet1090 JSON lines: decoded Mode S messages, merged into positions per aircraft.

One message per line, already decoded by rs1090 (the Rust decoder of pyModeS's authors)::

    {"timestamp": 1720249161.85, "frame": "8d39...", "df": "17", "icao24": "393322",
     "bds": "05", "altitude": 700, "latitude": 48.9963, "longitude": 2.5655, ...}

``timestamp`` is epoch seconds. A line with ``latitude`` and ``longitude`` (BDS 0,5
airborne and 0,6 surface positions) gives a report; the others update the aircraft's state:
``callsign`` (BDS 0,8), ``groundspeed``/``track``/``vertical_rate`` (BDS 0,9; also carried
by surface positions), ``altitude`` (feet: positions, DF4/20), ``squawk`` (DF5/21).
Altitude and velocity older than :data:`~streams.sources.sbs.KINEMATICS_MAX_AGE_S` are not
attached. ``source="rs1090"``.

Rejections: ``json``, ``not_object``, ``bad_ts``, ``bad_icao24`` and the codec's reasons.

Pure except :func:`read_rs1090`, which only reads the file.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from streams.models import BadLine, PositionReport
from streams.sources._common import clean_callsign, clean_squawk, open_text_lines, report_or_bad
from streams.sources.normalize import finite_or_none
from streams.sources.sbs import KINEMATICS_MAX_AGE_S

__all__ = ["parse_rs1090", "read_rs1090"]

#: Aircraft held at most (state per aircraft: a few floats).
_MAX_AIRCRAFT = 50_000


def parse_rs1090(lines: Iterable[bytes]) -> Iterator[PositionReport | BadLine]:
    """Decode rs1090 JSON lines in order (``line_no`` = line number); blank lines skipped."""
    state: dict[str, dict[str, Any]] = {}
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            msg = orjson.loads(line)
        except orjson.JSONDecodeError:
            yield BadLine(line_no, "json", "not a JSON line", line[:300])
            continue
        if not isinstance(msg, dict):
            yield BadLine(line_no, "not_object", "a message is a JSON object", line[:300])
            continue
        ts = finite_or_none(msg.get("timestamp"))
        if ts is None:
            yield BadLine(line_no, "bad_ts", "no numeric timestamp", line[:300])
            continue
        icao24 = msg.get("icao24")
        if not isinstance(icao24, str) or len(icao24) != 6:
            yield BadLine(line_no, "bad_icao24", "icao24 is not 6 hex digits", line[:300])
            continue
        ac = state.get(icao24)
        if ac is None:
            if len(state) >= _MAX_AIRCRAFT:
                state.clear()
            ac = state[icao24] = {"alt_ts": -math.inf, "vel_ts": -math.inf}
        if (callsign := clean_callsign(msg.get("callsign"))) is not None:
            ac["callsign"] = callsign
        if (squawk := clean_squawk(msg.get("squawk"))) is not None:
            ac["squawk"] = squawk
        if (alt := finite_or_none(msg.get("altitude"))) is not None:
            ac["alt_ft"], ac["alt_ts"] = alt, ts
        if msg.get("groundspeed") is not None or msg.get("vertical_rate") is not None:
            ac["gs_kt"] = finite_or_none(msg.get("groundspeed"))
            ac["track_deg"] = finite_or_none(msg.get("track"))
            ac["vrate_fpm"] = finite_or_none(msg.get("vertical_rate"))
            ac["vel_ts"] = ts
        lat, lon = msg.get("latitude"), msg.get("longitude")
        if lat is None or lon is None:
            continue
        surface = msg.get("bds") == "06"
        fresh_vel = ts - ac["vel_ts"] <= KINEMATICS_MAX_AGE_S
        yield report_or_bad(
            {
                "icao24": icao24,
                "ts": ts,
                "lat": lat,
                "lon": lon,
                "alt_ft": ac.get("alt_ft") if ts - ac["alt_ts"] <= KINEMATICS_MAX_AGE_S else None,
                "gs_kt": ac.get("gs_kt") if fresh_vel else None,
                "track_deg": ac.get("track_deg") if fresh_vel else None,
                "vrate_fpm": ac.get("vrate_fpm") if fresh_vel and not surface else None,
                "callsign": ac.get("callsign"),
                "squawk": ac.get("squawk"),
                "on_ground": True if surface else None,
                "source": "rs1090",
            },
            line_no,
            line[:300],
        )


def read_rs1090(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read an rs1090/jet1090 JSON-lines file (plain or gzipped)."""
    yield from parse_rs1090(open_text_lines(path))
