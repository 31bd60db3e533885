"""Helpers shared by the source parsers: reading (maybe gzipped) files, building reports.

Every JSON source maps its row onto recording format v1 and validates it with
:func:`streams.codec.position_from_mapping`, so a parsed third-party row obeys exactly the
contract a recording line does (and fails with the same bounded ``reason`` values).

Pure except :func:`read_bytes` and :func:`read_head`, which only read the named file.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from streams.codec import position_from_mapping
from streams.errors import DecodeError
from streams.models import BadLine, PositionReport

__all__ = [
    "DOCUMENT_MAX_BYTES",
    "GZIP_MAGIC",
    "clean_callsign",
    "clean_squawk",
    "load_json",
    "load_json_file",
    "open_text_lines",
    "read_bytes",
    "read_bytes_partial",
    "read_head",
    "report_or_bad",
]

GZIP_MAGIC = b"\x1f\x8b"
_OCTAL = frozenset("01234567")


#: Most bytes of a whole-document input (JSON documents, CSV, Beast captures) after
#: decompression: bounds the memory a small gzip bomb can take. Real inputs of one flight or
#: one capture are a few MB.
DOCUMENT_MAX_BYTES = 256 * 1024 * 1024


def read_bytes_partial(path: str | Path) -> tuple[bytes, BadLine | None]:
    """The whole file (un-gzipped when it starts with the gzip magic), at most
    :data:`DOCUMENT_MAX_BYTES`; plus a :class:`BadLine` when the data stops early: a gzip
    stream cut short (``truncated``) or damaged (``corrupt``), or a file over the limit
    (``too_large``). The bytes before the problem are returned either way."""
    with open(path, "rb") as fh:
        data = fh.read(DOCUMENT_MAX_BYTES + 1)
    if data[:2] != GZIP_MAGIC:
        if len(data) > DOCUMENT_MAX_BYTES:
            return data[:DOCUMENT_MAX_BYTES], _too_large()
        return data, None
    out = bytearray()
    decomp = zlib.decompressobj(wbits=31)  # gzip framing
    rest = data
    try:
        while rest:
            out += decomp.decompress(rest, DOCUMENT_MAX_BYTES + 1 - len(out))
            if len(out) > DOCUMENT_MAX_BYTES:
                return bytes(out[:DOCUMENT_MAX_BYTES]), _too_large()
            if decomp.eof:  # a concatenated gzip member may follow
                rest = decomp.unused_data
                if rest[:2] != GZIP_MAGIC:
                    break
                decomp = zlib.decompressobj(wbits=31)
            else:
                rest = decomp.unconsumed_tail
    except zlib.error as exc:
        detail = f"compressed data corrupt after {len(out)} bytes: {exc}"
        return bytes(out), BadLine(0, "corrupt", detail, b"")
    if not decomp.eof:
        detail = f"compressed data truncated after {len(out)} bytes"
        return bytes(out), BadLine(0, "truncated", detail, b"")
    return bytes(out), None


def _too_large() -> BadLine:
    detail = f"more than {DOCUMENT_MAX_BYTES} bytes; the rest is not read"
    return BadLine(0, "too_large", detail, b"")


def read_bytes(path: str | Path) -> bytes:
    """The whole file, un-gzipped when it starts with the gzip magic bytes (see
    :func:`read_bytes_partial`; a damaged or over-long tail is left out)."""
    return read_bytes_partial(path)[0]


def read_head(path: str | Path, size: int = 65_536) -> bytes:
    """Up to ``size`` leading bytes of the file, un-gzipped when it is gzipped."""
    with open(path, "rb") as fh:
        head = fh.read(size)
    if head[:2] != GZIP_MAGIC:
        return head
    with gzip.open(path, "rb") as gz:
        try:
            return gz.read(size)
        except (OSError, EOFError):
            return b""


def open_text_lines(path: str | Path) -> Iterator[bytes]:
    """The lines of a (maybe gzipped) text file as bytes, line endings kept, read lazily."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic == GZIP_MAGIC:
            with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                yield from gz
        else:
            yield from raw


def load_json(data: bytes) -> tuple[Any, BadLine | None]:
    """Parse a whole JSON document; a broken one gives ``(None, BadLine(0, "json", ...))``."""
    try:
        return orjson.loads(data), None
    except orjson.JSONDecodeError as exc:
        return None, BadLine(0, "json", f"not valid JSON: {exc}", data[:200])


def load_json_file(path: str | Path) -> tuple[Any, BadLine | None]:
    """:func:`load_json` of a whole file (plain or gzipped, see :func:`read_bytes_partial`);
    a damaged or over-long file gives the :class:`BadLine` that says so, not a JSON error."""
    data, damage = read_bytes_partial(path)
    if damage is not None:
        return None, damage
    return load_json(data)


def clean_callsign(value: Any) -> str | None:
    """A callsign stripped of padding; ``None`` when absent, blank or not a string."""
    if not isinstance(value, str):
        return None
    return value.strip() or None


def clean_squawk(value: Any) -> str | None:
    """A Mode A code as 4 octal digits; ``None`` when absent or not one (FR24 writes "0")."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:04d}"
    if not isinstance(value, str) or len(value) != 4 or not _OCTAL.issuperset(value):
        return None
    return value


def report_or_bad(fields: dict[str, Any], row_no: int, row: Any) -> PositionReport | BadLine:
    """Validate recording-format-v1 ``fields`` into a report, or explain why not.

    A row without a usable latitude/longitude is ``no_position``; any other problem has the
    codec's reason (``bad_icao24``, ``bad_ts``, ``bad_lat``, ``bad_field``...).
    """
    if fields.get("lat") is None or fields.get("lon") is None:
        return BadLine(row_no, "no_position", "no latitude/longitude", _raw(row))
    try:
        return position_from_mapping(fields)
    except DecodeError as exc:
        return BadLine(row_no, exc.reason, exc.detail, _raw(row))


def _raw(row: Any) -> bytes:
    try:
        return orjson.dumps(row)
    except TypeError:
        return repr(row).encode()
