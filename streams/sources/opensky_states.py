"""OpenSky Network REST ``/states/all`` responses and historical state-vector CSV: pure parsers.

The REST response (https://openskynetwork.github.io/opensky-api/rest.html)::

    {"time": 1695690860, "states": [
        ["1551e0", "RSD352  ", "Russian Federation", 1695690858, 1695690859,
         124.4457, 40.1681, 8412.5, false, 212.4, 135.0, -7.6, null, 8600.1, "1234",
         false, 0, 0], ...]}

Indices: 0 icao24, 1 callsign, 2 origin country, 3 ``time_position`` (epoch s of the last
position; the report's ``ts``), 4 ``last_contact``, 5 longitude, 6 latitude, 7 barometric
altitude (**metres**), 8 on ground, 9 velocity (**m/s** over ground), 10 true track (deg),
11 vertical rate (**m/s**), 12 sensors, 13 geometric altitude (m), 14 squawk, 15 spi,
16 position source (0 ADS-B, 1 ASTERIX, 2 MLAT, 3 FLARM), 17 category (extended only).
``states`` is ``null`` when the box is empty.

The historical CSV (OpenSky's public ``states_YYYY-MM-DD-HH.csv`` datasets, the Impala
``state_vectors_data4`` export)::

    time,icao24,lat,lon,velocity,heading,vertrate,callsign,onground,alert,spi,squawk,
    baroaltitude,geoaltitude,lastposupdate,lastcontact

has the same units (m, m/s); ``ts`` is ``lastposupdate`` when present, else ``time``; rows
whose position did not change since the previous row of the same aircraft (same
``lastposupdate``) are repeats the dataset writes every 10 s, kept (the tracker drops them
as duplicates).

Everything is converted to recording format v1's units (feet, knots, ft/min). Rejections:
``bad_document``, ``not_array`` (a state vector that is not a list), ``no_position``,
``bad_row`` (CSV), and the codec's reasons. ``source`` is ``opensky`` (or ``opensky:mlat``
etc. by position source).

Pure except :func:`read_opensky_csv`, which only reads the file.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from streams.models import BadLine, PositionReport
from streams.sources._common import clean_callsign, clean_squawk, open_text_lines, report_or_bad
from streams.sources.normalize import FPM_PER_MPS, FT_PER_M, KT_PER_MPS, finite_or_none

__all__ = ["CSV_COLUMNS", "parse_opensky_csv", "parse_opensky_states", "read_opensky_csv"]

#: Position sources by code (index 16); ADS-B is the common case and keeps plain "opensky".
_POSITION_SOURCE = {0: "opensky", 1: "opensky:asterix", 2: "opensky:mlat", 3: "opensky:flarm"}
#: Columns of the historical CSV (its header line).
CSV_COLUMNS = (
    "time", "icao24", "lat", "lon", "velocity", "heading", "vertrate", "callsign",
    "onground", "alert", "spi", "squawk", "baroaltitude", "geoaltitude", "lastposupdate",
    "lastcontact",
)  # fmt: skip


def _scaled(value: Any, factor: float) -> Any:
    """A number times ``factor``; anything else unchanged (the codec then names it)."""
    f = finite_or_none(value)
    return value if f is None else f * factor


def parse_opensky_states(doc: Any) -> Iterator[PositionReport | BadLine]:
    """Yield a report per state vector of a ``/states/all`` response (``line_no`` = 1-based
    index in ``states``)."""
    if not isinstance(doc, dict) or "states" not in doc:
        yield BadLine(0, "bad_document", "expected an object with 'time' and 'states'", b"")
        return
    states = doc["states"]
    if states is None:
        return
    if not isinstance(states, list):
        yield BadLine(0, "bad_document", "'states' is not a list", b"")
        return
    for row_no, sv in enumerate(states, start=1):
        if not isinstance(sv, list) or len(sv) < 17:
            yield BadLine(row_no, "not_array", "a state vector is a list of 17+ values", b"")
            continue
        if sv[3] is None or sv[5] is None or sv[6] is None:
            icao24 = sv[0].lower()[:6] if isinstance(sv[0], str) else None
            yield BadLine(
                row_no, "no_position", "state vector without a position", _raw(sv), icao24
            )
            continue
        on_ground = sv[8] if isinstance(sv[8], bool) else None
        src = sv[16]
        yield report_or_bad(
            {
                "icao24": sv[0],
                "ts": sv[3],
                "lat": sv[6],
                "lon": sv[5],
                "alt_ft": _scaled(sv[7], FT_PER_M),
                "gs_kt": _scaled(sv[9], KT_PER_MPS),
                "track_deg": sv[10],
                "vrate_fpm": _scaled(sv[11], FPM_PER_MPS),
                "callsign": clean_callsign(sv[1]),
                "squawk": clean_squawk(sv[14]),
                "on_ground": on_ground,
                "source": _POSITION_SOURCE.get(src, "opensky") if type(src) is int else "opensky",
            },
            row_no,
            sv,
        )


def _raw(sv: list[Any]) -> bytes:
    return repr(sv[:8]).encode()


def _csv_num(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return finite_or_none(float(text))
    except ValueError:
        return None


def parse_opensky_csv(lines: Iterable[str]) -> Iterator[PositionReport | BadLine]:
    """Parse the historical CSV's lines (header first; ``line_no`` = line number)."""
    header: list[str] | None = None
    for line_no, line in enumerate(lines, start=1):
        try:
            row = next(csv.reader([line]), [])
        except csv.Error as exc:
            yield BadLine(
                line_no, "bad_row", f"not CSV: {exc}", line.encode("utf-8", "replace")[:300]
            )
            continue
        if header is None:
            header = [h.strip() for h in row]
            if "icao24" not in header or "lat" not in header or "time" not in header:
                yield BadLine(
                    line_no, "bad_document", "no OpenSky CSV header", ",".join(row).encode()
                )
                return
            continue
        if not row or row == [""]:
            continue
        if len(row) != len(header):
            yield BadLine(line_no, "bad_row", f"{len(row)} columns, header has {len(header)}",
                          ",".join(row).encode()[:300])  # fmt: skip
            continue
        r = dict(zip(header, row, strict=True))
        lat, lon = _csv_num(r.get("lat")), _csv_num(r.get("lon"))
        if lat is None or lon is None:
            yield BadLine(line_no, "no_position", "row without a position", ",".join(row).encode())
            continue
        ts = _csv_num(r.get("lastposupdate")) or _csv_num(r.get("time"))
        alt, gs, vr = (_csv_num(r.get(k)) for k in ("baroaltitude", "velocity", "vertrate"))
        ground = (r.get("onground") or "").strip().lower()
        yield report_or_bad(
            {
                "icao24": (r.get("icao24") or "").strip(),
                "ts": ts,
                "lat": lat,
                "lon": lon,
                "alt_ft": None if alt is None else alt * FT_PER_M,
                "gs_kt": None if gs is None else gs * KT_PER_MPS,
                "track_deg": _csv_num(r.get("heading")),
                "vrate_fpm": None if vr is None else vr * FPM_PER_MPS,
                "callsign": clean_callsign(r.get("callsign")),
                "squawk": clean_squawk((r.get("squawk") or "").strip() or None),
                "on_ground": True
                if ground in ("true", "1")
                else False
                if ground in ("false", "0")
                else None,
                "source": "opensky",
            },
            line_no,
            ",".join(row),
        )


def read_opensky_csv(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read an OpenSky historical CSV (plain or gzipped)."""
    yield from parse_opensky_csv(line.decode("utf-8", "replace") for line in open_text_lines(path))
