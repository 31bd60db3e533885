"""Raw Mode S messages in CSV: ``timestamp, "hex message"[, ...]`` per line, no header.

The layout of pyModeS's test data (``tests/data/sample_data_adsb.csv``)::

    1457996400,"8D406B909945DE10000405999BE4","406B90",19

Only the first two columns are read: the reception time (epoch seconds, fractions allowed)
and the message in hex; the others (address, type code) are derived from the message
anyway. Messages go through :class:`~streams.sources.mode_s.ModeSDecoder` (rs1090) in file
order; ``reference`` is the receiver's position (``--ref-lat/--ref-lon``).
Blank lines and lines starting with ``#`` are skipped. A row without a numeric time or a
message is a ``BadLine`` (``bad_row``, ``bad_ts``); a corrupt message one with the
decoder's reason (``bad_crc``, ``unknown_df``, ``bad_hex``, ``bad_length``).

Out of scope: headers, other column orders, dump1090's AVR text format (``*8D...;``).

Pure except :func:`read_modes_csv`, which only reads the file.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from pathlib import Path

from streams.models import BadLine, PositionReport
from streams.sources._common import read_bytes_partial
from streams.sources.mode_s import ModeSDecoder

__all__ = ["LINE_MAX_CHARS", "parse_modes_csv", "read_modes_csv"]

#: Longest line read: a valid one (time, 28 hex digits, a few short columns) is under 100
#: characters. Longer is ``too_large`` and never reaches the CSV parser (whose own field
#: limit, 128 KB, raised an exception).
LINE_MAX_CHARS = 4096


def parse_modes_csv(
    data: bytes, *, decoder: ModeSDecoder | None = None
) -> Iterator[PositionReport | BadLine]:
    """Decode the CSV ``data``; ``BadLine.line_no`` is the 1-based line number."""
    decoder = decoder if decoder is not None else ModeSDecoder()
    lines = data.decode("utf-8", errors="replace").splitlines()
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        raw = text.encode()
        if len(text) > LINE_MAX_CHARS:
            detail = f"line of {len(text)} characters, more than {LINE_MAX_CHARS}"
            yield BadLine(line_no, "too_large", detail, raw[:200])
            continue
        try:
            row = next(csv.reader([text]), [])
        except csv.Error as exc:
            yield BadLine(line_no, "bad_row", f"not CSV: {exc}", raw[:200])
            continue
        if len(row) < 2:
            yield BadLine(line_no, "bad_row", "expected at least: timestamp, message", raw)
            continue
        try:
            ts = float(row[0])
        except ValueError:
            yield BadLine(line_no, "bad_ts", "timestamp is not a number", raw)
            continue
        if not math.isfinite(ts):
            yield BadLine(line_no, "bad_ts", "timestamp is not finite", raw)
            continue
        report = decoder.feed(row[1], ts)
        if report is not None:
            yield report
        elif decoder.last_reject is not None:
            yield BadLine(line_no, decoder.last_reject, "corrupt Mode S message", raw)


def read_modes_csv(
    path: str | Path, *, reference: tuple[float, float] | None = None
) -> Iterator[PositionReport | BadLine]:
    """Read a Mode S CSV file (plain or gzipped) and decode it; a damaged gzip tail ends
    it with one bad line after the rows read before it."""
    data, damage = read_bytes_partial(path)
    yield from parse_modes_csv(data, decoder=ModeSDecoder(reference=reference))
    if damage is not None:
        yield BadLine(data.count(b"\n") + 1, damage.reason, damage.detail, b"")
