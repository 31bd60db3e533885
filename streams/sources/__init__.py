"""Sources: third-party feeds and recordings turned into :class:`PositionReport` streams.

Each format has a pure ``parse_*`` function over bytes or an already-parsed JSON document,
yielding :class:`~streams.models.PositionReport` or :class:`~streams.models.BadLine` (a
malformed row, with a bounded ``reason``; never an exception that stops the iteration), and
a thin ``read_*`` function that reads the file. This package dispatches by format name:

==============  ==========================================================================
format          module
==============  ==========================================================================
jsonl           recording format v1 (:func:`streams.replay.read_recording`)
modes-csv       :mod:`streams.sources.modes_csv` (raw Mode S hex, decoded by
                :class:`~streams.sources.mode_s.ModeSDecoder`, rs1090)
beast           :mod:`streams.sources.beast` (Beast binary, same decoder)
readsb-trace    :mod:`streams.sources.readsb`
fr24            :mod:`streams.sources.fr24`
opensky-json    :mod:`streams.sources.opensky`
opensky-csv     :mod:`streams.sources.opensky_states` (historical state-vector CSV)
sbs             :mod:`streams.sources.sbs` (SBS-1/BaseStation text log)
rs1090          :mod:`streams.sources.rs1090` (rs1090/jet1090 decoded JSON lines)
==============  ==========================================================================

The live sources (``skyfence ingest``/``record``) live in :mod:`streams.sources.tcp`,
:mod:`streams.sources.http` and :mod:`streams.sources.spec`, over the same pure parsers.

Times are epoch seconds (UTC) throughout, except Beast captures, which carry only a 12 MHz
counter: their times start at ``start_ts`` (default 0.0; see :mod:`streams.sources.beast`).

Errors: an unknown format name, or a file :func:`detect_format` cannot recognise, raises
:class:`~streams.errors.DecodeError` with reason ``bad_format``; a missing file raises
``OSError`` as usual (when the iterator is first advanced).

Out of scope here: writing any of these formats (``format_sbs`` aside, for tests).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from streams.codec import encode_position
from streams.errors import DecodeError
from streams.models import BadLine, PositionReport
from streams.replay import read_recording, read_recording_raw
from streams.sources._common import read_head
from streams.sources.beast import read_beast
from streams.sources.fr24 import read_fr24
from streams.sources.mode_s import ModeSDecoder
from streams.sources.modes_csv import read_modes_csv
from streams.sources.opensky import read_opensky_json
from streams.sources.opensky_states import read_opensky_csv
from streams.sources.readsb import read_readsb_trace
from streams.sources.rs1090 import read_rs1090
from streams.sources.sbs import read_sbs

__all__ = [
    "FORMATS",
    "ModeSDecoder",
    "detect_format",
    "read_source",
    "read_source_raw",
    "sniff_format",
]

#: Format names and what they are.
FORMATS: dict[str, str] = {
    "jsonl": "skyfence recording format v1: JSON lines, optionally gzipped",
    "modes-csv": 'raw Mode S CSV: timestamp,"hex message"[,...] per line (pyModeS test data)',
    "beast": "Beast binary frames (dump1090/readsb), 12 MHz MLAT counter, no wall-clock time",
    "readsb-trace": "readsb/tar1090 trace_full JSON of one aircraft",
    "fr24": "Flightradar24 flight-playback JSON of one flight",
    "opensky-json": "JSON list of OpenSky state vectors (traffic samples), times in ms",
    "opensky-csv": "OpenSky historical state-vector CSV (time,icao24,lat,lon,velocity,...)",
    "sbs": "SBS-1/BaseStation text log (MSG,1..8 lines, dump1090/readsb port 30003)",
    "rs1090": "rs1090/jet1090 JSON lines of decoded Mode S messages",
}

#: Fallback by file name when the content says nothing.
_BY_SUFFIX = {
    ".jsonl": "jsonl",
    ".csv": "modes-csv",
    ".bin": "beast",
    ".beast": "beast",
}
#: A Mode S CSV line: a number, then a (quoted) 14- or 28-digit hex message.
_CSV_LINE = re.compile(rb'^\s*\d+(\.\d*)?\s*,\s*"?[0-9A-Fa-f]{14}([0-9A-Fa-f]{14})?"?\s*(,|$)')


def _unknown(fmt: str) -> DecodeError:
    known = ", ".join(FORMATS)
    return DecodeError("bad_format", f"unknown source format {fmt!r}; known formats: {known}")


def read_source(
    path: str | Path,
    fmt: str,
    *,
    start_ts: float = 0.0,
    reference: tuple[float, float] | None = None,
) -> Iterator[PositionReport | BadLine]:
    """Read ``path`` as format ``fmt`` (a key of :data:`FORMATS`), in file order.

    ``start_ts`` (epoch seconds) dates the first frame of a ``beast`` capture; other formats
    carry their own times and ignore it. ``reference`` (lat, lon: the receiver's position)
    lets ``beast`` and ``modes-csv`` place an aircraft's first messages before an even/odd
    pair arrives (:class:`~streams.sources.mode_s.ModeSDecoder`). Raises ``DecodeError("bad_format")`` at once for an
    unknown format.
    """
    if fmt == "jsonl":
        return read_recording(path)
    if fmt == "modes-csv":
        return read_modes_csv(path, reference=reference)
    if fmt == "beast":
        return read_beast(path, start_ts=start_ts, reference=reference)
    if fmt == "readsb-trace":
        return read_readsb_trace(path)
    if fmt == "fr24":
        return read_fr24(path)
    if fmt == "opensky-json":
        return read_opensky_json(path)
    if fmt == "opensky-csv":
        return read_opensky_csv(path)
    if fmt == "sbs":
        return read_sbs(path)
    if fmt == "rs1090":
        return read_rs1090(path)
    raise _unknown(fmt)


def read_source_raw(
    path: str | Path,
    fmt: str | None = None,
    *,
    start_ts: float = 0.0,
    reference: tuple[float, float] | None = None,
) -> Iterator[tuple[PositionReport | BadLine, bytes]]:
    """``(report or BadLine, message bytes)`` for a replay: recording lines are sent as they
    are; other formats are converted to recording format v1. ``fmt=None`` detects it."""
    fmt = fmt or detect_format(path)
    if fmt == "jsonl":
        yield from read_recording_raw(path)
        return
    for item in read_source(path, fmt, start_ts=start_ts, reference=reference):
        yield item, (item.raw if isinstance(item, BadLine) else encode_position(item))


#: Well-formed Beast frames the start of a file must hold (all of it, if shorter) to be taken
#: as Beast: one 0x1a followed by '1'-'3' happens in 1 of ~20,000 random files; three frames
#: in a row, with valid escaping, do not.
_BEAST_SNIFF_FRAMES = 3


def _looks_like_beast(head: bytes) -> bool:
    """True when ``head`` starts with well-formed Beast frames (:data:`_BEAST_SNIFF_FRAMES`
    of them, or as many as ``head`` holds) and no damaged framing before them."""
    from streams.sources.beast import BeastError, scan_beast

    frames = 0
    for item in scan_beast(head[:4096]):
        if isinstance(item, BeastError):
            # Only a frame cut by the end of the sample is allowed.
            return item.reason == "beast_truncated" and item.offset > 4000 and frames > 0
        frames += 1
        if frames >= _BEAST_SNIFF_FRAMES:
            return True
    return frames > 0


def sniff_format(head: bytes) -> str | None:
    """The format the leading bytes (un-gzipped) of a file look like, or ``None``."""
    if len(head) >= 2 and head[0] == 0x1A and head[1] in b"123":
        return "beast" if _looks_like_beast(head) else None
    text = head.lstrip()
    if text.startswith(b"["):
        return "opensky-json" if b'"icao24"' in text and b'"timestamp"' in text else None
    if text.startswith(b"{"):
        if b'"trace"' in text and b'"icao"' in text:
            return "readsb-trace"
        if b'"result"' in text and b'"flight"' in text:
            return "fr24"
        first = text.split(b"\n", 1)[0]
        if b'"icao24"' in first and b'"ts"' in first:
            return "jsonl"
        if b'"timestamp"' in first and b'"icao24"' in first and b'"df"' in first:
            return "rs1090"
        return None
    if text.startswith(b"time,icao24,"):
        return "opensky-csv"
    if text[:4] in (b"MSG,", b"SEL,", b"AIR,", b"STA,", b"CLK,") or text.startswith(b"ID,"):
        return "sbs"
    for line in text.splitlines():
        if line.strip() and not line.startswith(b"#"):
            return "modes-csv" if _CSV_LINE.match(line) else None
    return None


def detect_format(path: str | Path) -> str:
    """Guess a file's format from its content (gzip is looked through), else its name.

    Raises ``DecodeError("bad_format")`` when neither tells.
    """
    fmt = sniff_format(read_head(path))
    if fmt is not None:
        return fmt
    suffixes = [s.lower() for s in Path(path).suffixes if s.lower() != ".gz"]
    if suffixes and suffixes[-1] in _BY_SUFFIX:
        by_name = _BY_SUFFIX[suffixes[-1]]
        # A name says little about bytes: a binary file is Beast only if it looks like it.
        if by_name != "beast" or _looks_like_beast(read_head(path)):
            return by_name
    raise DecodeError(
        "bad_format",
        f"cannot tell the format of {Path(path).name}; name one of: {', '.join(FORMATS)}",
    )
