"""readsb / tar1090 ``trace_full`` JSON: one aircraft's positions over a day.

The document (served by tar1090 as ``traces/XX/trace_full_<hex>.json``, often gzipped)::

    {"icao": "ac671b", "r": "N899DN", "t": "B739", "timestamp": 1738703622.619,
     "trace": [[dt, lat, lon, alt, gs, track, flags, vrate, detail, source,
                geom_alt, geom_rate, ias, roll], ...]}

``dt`` is seconds after ``timestamp`` (epoch seconds); ``alt`` is barometric feet, the string
``"ground"`` (-> ``on_ground=True``, ``alt_ft=0``) or null; ``gs`` knots; ``track`` degrees;
``vrate`` ft/min; ``flags`` a bit field (1: stale, 2: start of a new leg, 4: vertical rate is
geometric, 8: altitude is geometric); ``detail`` null or an object with, among others,
``flight`` (callsign, space padded) and ``squawk``; ``source`` the kind of position
(``adsb_icao``, ``mlat``, ``adsc``...), kept as ``source="readsb:<kind>"``.

``detail`` is attached only now and then, so the latest callsign and squawk are carried
forward to later rows, and forgotten at the start of a new leg (flag 2), where the aircraft
may fly under another callsign.

Out of scope: the ``trace_recent`` variant's merging, the other aircraft-level fields
(registration, type), ``geom_alt`` when ``alt`` is missing.

Pure except :func:`read_readsb_trace`, which only reads the file.
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

__all__ = ["FLAG_NEW_LEG", "parse_readsb_trace", "read_readsb_trace"]

#: ``flags`` bit marking the first point of a new leg (readsb ``trace.c``).
FLAG_NEW_LEG = 2
#: A row needs at least [dt, lat, lon, alt, gs, track, flags, vrate].
_MIN_ROW_LEN = 8


def parse_readsb_trace(doc: Any) -> Iterator[PositionReport | BadLine]:
    """Yield a report per trace row (``BadLine.line_no`` = 1-based row index).

    A document that is not a trace gives one ``BadLine(0, "bad_document", ...)``.
    """
    if (
        not isinstance(doc, dict)
        or not isinstance(doc.get("trace"), list)
        or isinstance(doc.get("timestamp"), bool)
        or not isinstance(doc.get("timestamp"), int | float)
    ):
        yield BadLine(0, "bad_document", "expected a trace object with timestamp and trace", b"")
        return
    try:
        base_ts = float(doc["timestamp"])
    except OverflowError:  # an integer beyond float range (found by the fuzz tests)
        yield BadLine(0, "bad_document", "timestamp is out of range", b"")
        return
    icao24 = doc.get("icao")
    callsign: str | None = None
    squawk: str | None = None
    for row_no, row in enumerate(doc["trace"], start=1):
        if not isinstance(row, list) or len(row) < _MIN_ROW_LEN:
            yield BadLine(row_no, "bad_row", "a trace row is a list of at least 8 items", b"")
            continue
        dt, lat, lon, alt, gs, track, flags, vrate = row[:_MIN_ROW_LEN]
        if isinstance(dt, bool) or not isinstance(dt, int | float) or not -1e9 < dt < 1e9:
            yield BadLine(row_no, "bad_ts", "row offset is not a number of seconds", b"")
            continue
        if isinstance(flags, int) and flags & FLAG_NEW_LEG:
            callsign = squawk = None
        detail = row[8] if len(row) > 8 else None
        if isinstance(detail, dict):
            callsign = clean_callsign(detail.get("flight")) or callsign
            squawk = clean_squawk(detail.get("squawk")) or squawk
        kind = row[9] if len(row) > 9 and isinstance(row[9], str) else None
        on_ground: bool | None
        if alt == "ground":
            alt, on_ground = 0, True
        else:
            on_ground = None if alt is None else False
        yield report_or_bad(
            {
                "icao24": icao24,
                "ts": base_ts + dt,
                "lat": lat,
                "lon": lon,
                "alt_ft": alt,
                "gs_kt": gs,
                "track_deg": track,
                "vrate_fpm": vrate,
                "callsign": callsign,
                "squawk": squawk,
                "on_ground": on_ground,
                "source": f"readsb:{kind}" if kind else "readsb",
            },
            row_no,
            row,
        )


def read_readsb_trace(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read a ``trace_full`` file (plain or gzipped) and parse it."""
    doc, bad = load_json_file(path)
    if bad is not None:
        yield bad
        return
    yield from parse_readsb_trace(doc)
