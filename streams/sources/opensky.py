"""OpenSky state vectors as a JSON list (the ``traffic`` package's sample collections).

The document is a JSON list (often gzipped, e.g. ``quickstart.json.gz``) of objects::

    {"timestamp": 1633608773000, "icao24": "0101de", "callsign": "MSR799",
     "latitude": 48.48, "longitude": 3.83, "altitude": 13650.0, "groundspeed": 325.0,
     "track": 311.1, "vertical_rate": -896.0, "onground": false, "squawk": "1000"}

``timestamp`` is epoch *milliseconds* (a value above :data:`MS_THRESHOLD` is taken as
milliseconds, anything smaller as seconds, so both exports read right); ``altitude`` is
barometric feet, ``groundspeed`` knots, ``track`` degrees, ``vertical_rate`` ft/min. A row
without latitude or longitude (OpenSky sends state vectors before the first position) is a
``BadLine`` with reason ``no_position``, not a report. File order is kept; ``source="opensky"``.

Out of scope: the OpenSky REST API's array form of state vectors, the Impala history
tables, and sorting (the tracker ignores out-of-order fixes per aircraft).

Pure except :func:`read_opensky_json`, which only reads the file.
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

__all__ = ["MS_THRESHOLD", "parse_opensky_json", "read_opensky_json"]

#: Timestamps above this are milliseconds: 1e11 s would be the year 5138, 1e11 ms is 1973.
MS_THRESHOLD = 1e11


def parse_opensky_json(doc: Any) -> Iterator[PositionReport | BadLine]:
    """Yield a report per state vector (``BadLine.line_no`` = 1-based list index).

    A document that is not a list gives one ``BadLine(0, "bad_document", ...)``.
    """
    if not isinstance(doc, list):
        yield BadLine(0, "bad_document", "expected a JSON list of state vectors", b"")
        return
    for row_no, row in enumerate(doc, start=1):
        if not isinstance(row, dict):
            yield BadLine(row_no, "not_object", "a state vector is an object", b"")
            continue
        ts = row.get("timestamp")
        if isinstance(ts, int | float) and not isinstance(ts, bool) and ts > MS_THRESHOLD:
            # Beyond float range stays an integer, which the codec rejects as bad_ts.
            ts = ts / 1000.0 if ts < 1e300 else ts
        onground = row.get("onground")
        yield report_or_bad(
            {
                "icao24": row.get("icao24"),
                "ts": ts,
                "lat": row.get("latitude"),
                "lon": row.get("longitude"),
                "alt_ft": row.get("altitude"),
                "gs_kt": row.get("groundspeed"),
                "track_deg": row.get("track"),
                "vrate_fpm": row.get("vertical_rate"),
                "callsign": clean_callsign(row.get("callsign")),
                "squawk": clean_squawk(row.get("squawk")),
                "on_ground": onground if isinstance(onground, bool) else None,
                "source": "opensky",
            },
            row_no,
            row,
        )


def read_opensky_json(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read a state-vector list file (plain or gzipped) and parse it."""
    doc, bad = load_json_file(path)
    if bad is not None:
        yield bad
        return
    yield from parse_opensky_json(doc)
