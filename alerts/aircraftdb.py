"""Aircraft database: registration, type, manufacturer and operator by ICAO address.

Reads the OpenSky Network aircraft database CSV as published (``aircraftDatabase.csv``,
``aircraft-database-complete-YYYY-MM.csv``): ~100 MB, ~600,000 rows, one header line, every
field quoted (double quotes in the older files, single quotes in the newer ones; detected
from the header). Columns are found by name, case-insensitively, so both layouts work::

    "icao24","registration","manufacturericao","manufacturername","model","typecode",...,"operator",...
    'icao24','timestamp','acars',...,'manufacturerName','model',...,'operator',...,'registration',...

Only ``icao24`` is required; ``registration``, ``manufacturername``, ``model``, ``typecode``
and ``operator`` are kept when present, the other twenty-odd columns are dropped. Rows with
nothing but an address (a third of OpenSky's) are skipped: they say nothing.

Memory (the whole point of the layout): no Python object per aircraft. The kept fields of
each row are UTF-8 bytes joined by ``\\x1f`` in one ``bytearray``; ``array('I')`` columns hold
each row's address and where it starts; an open-addressing hash table (an ``array('I')`` of
row numbers, at most half full, linear probing, Fibonacci hashing) finds a row by address.
A lookup is O(1): one multiplication, ~1.5 probes on average, a slice and a split, a few
microseconds including building the record, once per event. 600,000 rows take a few tens of
MB (measured in ``make bench``) where a dict of dicts takes several hundred, and the garbage
collector sees a handful of objects instead of millions.

A malformed row (an address that is not 1-6 hex digits, a row shorter than the header needs)
is counted in ``bad_rows`` and skipped, never fatal. A repeated address keeps its last row.

Out of scope: downloading the file (the user supplies it), other layouts (Mictronics'
``aircrafts.json``), and reloading (see :mod:`alerts.reload`).
"""

from __future__ import annotations

import csv
import gzip
import io
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

__all__ = ["AircraftDb", "AircraftRecord", "read_aircraft_db"]

#: Columns kept, in the order their values are stored (names lower-cased, quotes stripped).
_KEPT = ("registration", "typecode", "manufacturername", "model", "operator")
#: Field separator inside a stored row: the ASCII unit separator, which no CSV field holds
#: (a field that does has it replaced by a space).
_SEP = "\x1f"
_SEPS = len(_KEPT) - 1
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
#: Fibonacci hashing's multiplier (2**32 / golden ratio): spreads clustered addresses (a
#: State's block is contiguous) evenly over the table.
_GOLDEN = 2654435769
_ADDRESS_LIMIT = 1 << 24
#: At most this many bad rows are remembered for the log (all are counted).
_BAD_EXAMPLES = 20


@dataclass(frozen=True, slots=True)
class AircraftRecord:
    """What the database knows about one address; empty fields are ``None``."""

    icao24: str
    registration: str | None
    typecode: str | None
    manufacturer: str | None
    model: str | None
    operator: str | None

    @property
    def aircraft_type(self) -> str | None:
        """Manufacturer and model in words (``"Ilyushin Il-62M"``), the model alone when it
        already names the manufacturer, else the ICAO type code."""
        model, maker = self.model, self.manufacturer
        if model and maker and not model.lower().startswith(maker.split()[0].lower()):
            return f"{maker} {model}"
        return model or self.typecode


class AircraftDb:
    """Addresses -> :class:`AircraftRecord` (see the module docstring for the layout)."""

    def __init__(self) -> None:
        #: Row ``i`` is ``_blob[_offsets[i]:_offsets[i + 1]]``, of address ``_keys[i]``.
        self._keys = array("I")
        self._offsets = array("I", [0])
        self._blob = bytearray()
        #: Open addressing (linear probing, load <= 1/2): slot -> row index + 1, 0 empty.
        self._slots = array("I")
        self._shift = 32
        self._count = 0
        #: Rows skipped as malformed, and up to 20 examples as (line, reason).
        self.bad_rows = 0
        self.bad_examples: list[tuple[int, str]] = []
        #: Rows whose address had been seen before (the later row wins).
        self.duplicates = 0
        #: Rows with an address and nothing else, skipped.
        self.empty_rows = 0

    @classmethod
    def parse(cls, lines: Iterable[str]) -> AircraftDb:
        """Build from CSV text lines (the header first). Raises ``ValueError`` when the
        header has no ``icao24`` column (the file is not an aircraft database at all)."""
        db = cls()
        it = iter(lines)
        header_line = next(it, "").removeprefix("\ufeff")
        quote = "'" if header_line.lstrip().startswith("'") else '"'
        header = next(csv.reader([header_line], quotechar=quote), [])
        names = [h.strip().strip("'\"").strip().lower() for h in header]
        if "icao24" not in names:
            raise ValueError(f"not an aircraft database CSV: no icao24 column in {header[:8]!r}")
        icao_i = names.index("icao24")
        # Absent columns read the icao24 column and are blanked below (keeps the getter fast).
        kept = [names.index(k) if k in names else icao_i for k in _KEPT]
        missing = [i for i, k in enumerate(_KEPT) if k not in names]
        pick = itemgetter(*kept)
        need = max([icao_i, *kept]) + 1
        keys, offsets, blob = db._keys, db._offsets, db._blob
        hexdigits = _HEXDIGITS
        sep = _SEP
        line = 1
        for row in csv.reader(it, quotechar=quote):
            line += 1
            if len(row) < need:
                if row and (len(row) > 1 or row[0].strip()):
                    db._bad(line, "field_count")
                continue
            raw = row[icao_i].strip()
            if not 0 < len(raw) <= 6 or not hexdigits.issuperset(raw):
                db._bad(line, "bad_icao")
                continue
            values = pick(row)
            if missing:
                values = tuple("" if i in missing else v for i, v in enumerate(values))
            if not any(values):
                db.empty_rows += 1
                continue
            record = sep.join(values)
            if record.count(sep) != _SEPS:  # a field held the separator
                record = sep.join(v.replace(sep, " ") for v in values)
            keys.append(int(raw, 16))
            blob += record.encode("utf-8", "replace")
            offsets.append(len(blob))
        db._count = len(keys)
        db._index()
        return db

    def _index(self) -> None:
        """Build the hash table over ``_keys``; a repeated address keeps its last row."""
        n = len(self._keys)
        bits = max(4, (2 * n).bit_length())
        size = 1 << bits
        self._shift = 32 - bits
        slots = self._slots = array("I", bytes(4 * size))
        keys = self._keys
        mask = size - 1
        shift = self._shift
        for row in range(n):
            key = keys[row]
            slot = ((key * _GOLDEN) & 0xFFFFFFFF) >> shift
            while True:
                held = slots[slot]
                if not held:
                    slots[slot] = row + 1
                    break
                if keys[held - 1] == key:
                    slots[slot] = row + 1
                    self.duplicates += 1
                    break
                slot = (slot + 1) & mask

    def _bad(self, line: int, reason: str) -> None:
        self.bad_rows += 1
        if len(self.bad_examples) < _BAD_EXAMPLES:
            self.bad_examples.append((line, reason))

    def _row(self, address: int) -> int | None:
        slots = self._slots
        if not slots:
            return None
        mask = len(slots) - 1
        keys = self._keys
        slot = ((address * _GOLDEN) & 0xFFFFFFFF) >> self._shift
        while True:
            held = slots[slot]
            if not held:
                return None
            if keys[held - 1] == address:
                return held - 1
            slot = (slot + 1) & mask

    def get(self, icao24: str) -> AircraftRecord | None:
        """The record of an address in any case (``"A835AF"``), or ``None``."""
        try:
            address = int(icao24, 16)
        except (TypeError, ValueError):
            return None
        if not 0 <= address < _ADDRESS_LIMIT:
            return None
        row = self._row(address)
        if row is None:
            return None
        raw = bytes(self._blob[self._offsets[row] : self._offsets[row + 1]])
        reg, typecode, maker, model, operator = (
            v.strip() for v in raw.decode("utf-8", "replace").split(_SEP)
        )
        return AircraftRecord(
            icao24=f"{address:06x}",
            registration=reg or None,
            typecode=typecode or None,
            manufacturer=maker or None,
            model=model or None,
            operator=operator or None,
        )

    def __contains__(self, icao24: object) -> bool:
        return isinstance(icao24, str) and self.get(icao24) is not None

    def __len__(self) -> int:
        """Distinct addresses held."""
        return self._count - self.duplicates

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays and the row store (Python's few objects not counted)."""
        arrays = (self._keys, self._offsets, self._slots)
        return len(self._blob) + sum(a.buffer_info()[1] * a.itemsize for a in arrays)

    def __repr__(self) -> str:
        return f"AircraftDb({len(self)} aircraft, {self.bad_rows} bad rows)"


def read_aircraft_db(path: str | Path) -> AircraftDb:
    """Read an OpenSky aircraft database CSV from ``path`` (gzip-compressed or not, detected
    from the content). Raises ``OSError`` when unreadable, ``ValueError`` when not a database."""
    with open(path, "rb") as raw:
        magic = raw.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    with opener(path, "rb") as binary:  # type: ignore[operator]
        text = io.TextIOWrapper(binary, encoding="utf-8", errors="replace", newline="")
        return AircraftDb.parse(text)
