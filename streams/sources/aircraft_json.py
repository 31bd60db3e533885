"""readsb/dump1090/tar1090 ``aircraft.json`` and ADSBx v2 API responses: pure parsers.

Both are snapshots of every aircraft a receiver (or an aggregator) currently knows::

    readsb  {"now": 1695690860.1, "messages": 1234,
             "aircraft": [{"hex": "1551e0", "flight": "RSD352  ", "alt_baro": 27600,
                           "gs": 413.0, "track": 135.0, "baro_rate": -1500, "squawk": "1234",
                           "lat": 40.1681, "lon": 124.4457, "seen_pos": 0.4, "seen": 0.1}]}
    ADSBx v2 {"ac": [{...the same fields...}], "now": 1695690860100, "msg": "No error",
              "total": 1, "ctime": ..., "ptime": ...}          (adsb.fi, adsb.lol, airplanes.live)

(ADSBx v2 answers a query for a single hex with the aircraft object itself, its ``now`` in
milliseconds; that form is read too.)

``now`` is epoch seconds in readsb's file and epoch *milliseconds* in ADSBx v2 responses
(told apart by size, :data:`~streams.sources.opensky.MS_THRESHOLD`); a position's time is
``now - seen_pos``. ``alt_baro`` is feet or the string ``"ground"`` (``on_ground=True``,
``alt_ft=0``); ``gs`` knots; ``track`` degrees (``true_heading`` when there is no track);
``baro_rate`` ft/min (``geom_rate`` as fallback); ``flight`` the space-padded callsign.

Rejections (``line_no`` = 1-based index in the list): ``bad_document`` (not a snapshot: an
HTML error page is ``json`` from :func:`~streams.sources._common.load_json`), ``not_object``,
``non_icao`` (a ``~`` address: TIS-B, ADS-R or anonymous, which is not an ICAO address; the
tracker keys aircraft by ICAO address, so these are counted and set aside, never a crash),
``no_position`` (an aircraft heard without a position: Mode S only), and the codec's reasons.

A poller sees the same position again until the aircraft sends a new one, so
:class:`SnapshotFilter` passes only positions newer than the last one emitted per aircraft.

Pure: standard library and this package only.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import orjson

from streams.models import BadLine, PositionReport
from streams.sources._common import clean_callsign, clean_squawk, report_or_bad
from streams.sources.normalize import finite_or_none

__all__ = ["SnapshotFilter", "parse_aircraft_json", "snapshot_time"]

#: ``now`` values above this are milliseconds (1e11 s is the year 5138, 1e11 ms is 1973).
MS_THRESHOLD = 1e11
#: A snapshot filter forgets an aircraft after this long without a new position (its
#: ``seen_pos`` would have aged out of the feed long before).
FILTER_FORGET_S = 600.0


def snapshot_time(doc: Any) -> float | None:
    """The snapshot's ``now`` in epoch seconds, or ``None`` when absent or not a number."""
    if not isinstance(doc, dict):
        return None
    now = finite_or_none(doc.get("now"))
    if now is None:
        return None
    return now / 1000.0 if now > MS_THRESHOLD else now


def parse_aircraft_json(
    doc: Any, *, source: str = "readsb", now_s: float | None = None
) -> Iterator[PositionReport | BadLine]:
    """Yield a report per aircraft with a position in a readsb or ADSBx v2 snapshot.

    ``now_s`` (epoch seconds) stands in for a missing ``now``, e.g. the receive time.
    """
    if not isinstance(doc, dict):
        yield BadLine(0, "bad_document", "expected a JSON object with 'aircraft' or 'ac'", b"")
        return
    rows = doc.get("aircraft")
    if rows is None:
        rows = doc.get("ac")
    if rows is None and "ac" in doc:
        rows = []  # ADSBx v2 sends "ac": null when nothing is in range
    if rows is None and "hex" in doc:
        rows = [doc]  # ADSBx v2 answers a single-hex query with the aircraft itself
    if not isinstance(rows, list):
        yield BadLine(0, "bad_document", "no 'aircraft' or 'ac' list", b"")
        return
    now = snapshot_time(doc)
    if now is None:
        now = now_s
    if now is None:
        yield BadLine(0, "bad_document", "no usable 'now'", b"")
        return
    for row_no, row in enumerate(rows, start=1):
        yield _row(row, row_no, now, source)


def _row(row: Any, row_no: int, now: float, source: str) -> PositionReport | BadLine:
    if not isinstance(row, dict):
        return BadLine(row_no, "not_object", "an aircraft is an object", b"")
    hexid = row.get("hex")
    if isinstance(hexid, str) and hexid.startswith("~"):
        return BadLine(row_no, "non_icao", "non-ICAO address (TIS-B/ADS-R/anonymous)", _short(row))
    lat, lon = row.get("lat"), row.get("lon")
    if lat is None or lon is None:
        icao24 = hexid.lower()[:6] if isinstance(hexid, str) else None
        return BadLine(
            row_no, "no_position", "aircraft without a position", _short(row), icao24=icao24
        )
    seen = finite_or_none(row.get("seen_pos"))
    if seen is None:
        seen = finite_or_none(row.get("seen"))
    ts = now - (seen if seen is not None and seen >= 0 else 0.0)
    alt: Any = row.get("alt_baro")
    on_ground = None
    if alt == "ground":
        alt, on_ground = 0, True
    elif isinstance(alt, str):
        alt = None
    track = row.get("track")
    if track is None:
        track = row.get("true_heading")
    vrate = row.get("baro_rate")
    if vrate is None:
        vrate = row.get("geom_rate")
    return report_or_bad(
        {
            "icao24": hexid,
            "ts": ts,
            "lat": lat,
            "lon": lon,
            "alt_ft": alt,
            "gs_kt": row.get("gs"),
            "track_deg": track,
            "vrate_fpm": vrate,
            "callsign": clean_callsign(row.get("flight")),
            "squawk": clean_squawk(row.get("squawk")),
            "on_ground": on_ground,
            "source": source,
        },
        row_no,
        _short(row),
    )


def _short(row: dict[str, Any]) -> bytes:
    """The fields worth keeping in a rejection (a full aircraft entry has ~50), as JSON."""
    keep = ("hex", "flight", "lat", "lon", "alt_baro", "gs", "track", "seen_pos", "seen")
    short = {k: row[k] for k in keep if k in row}
    try:
        return orjson.dumps(short)
    except TypeError:  # orjson.JSONEncodeError: e.g. an integer beyond 64 bits
        return repr(short).encode()


class SnapshotFilter:
    """Passes a position only when it is newer than the last one passed for its aircraft.

    Polled snapshots repeat a position until the aircraft sends a new one. State is bounded:
    aircraft without a new position for :data:`FILTER_FORGET_S` (of position time) are
    forgotten at the next :meth:`sweep`.
    """

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._last)

    def is_new(self, report: PositionReport) -> bool:
        """Whether ``report`` is newer than its aircraft's last one (and remember it)."""
        last = self._last.get(report.icao24, -math.inf)
        if report.ts <= last:
            return False
        self._last[report.icao24] = report.ts
        return True

    def sweep(self, now_s: float) -> None:
        """Forget aircraft whose last position is older than :data:`FILTER_FORGET_S`."""
        horizon = now_s - FILTER_FORGET_S
        for icao24 in [k for k, ts in self._last.items() if ts < horizon]:
            del self._last[icao24]
