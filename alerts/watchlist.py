"""The watchlist: which aircraft a desk cares about, parsed from plane-alert-db CSV. Pure.

plane-alert-db (github.com/sdr-enthusiasts/plane-alert-db) is a community list of interesting
aircraft. Its CSV has one header line whose names carry markers for the plane-alert tool
(``$`` shown, ``#`` hidden)::

    $ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link
    1551E0,RA-86496,Russian Air Force,Ilyushin IL-62M,IL62,Mil,...,Other Air Forces,https://...
    7278A2,P-882,Government Of North Korea,Ilyushin IL-62M,IL62,Gov,...,Dictator Alert,https://...

Columns are found by name with the markers stripped, so a reordered file still parses.
``CMPG`` is the civil/military/government/police class (``Civ``, ``Mil``, ``Gov``, ``Pol``).

A malformed row (wrong number of fields, an address that is not hex) is recorded as a
:class:`BadRow` and skipped, never fatal: one bad line must not cost the desk the other
17,000. Addresses shorter than six digits are left-padded with zeros (a spreadsheet's
handiwork: ``10166`` is Egyptian ``010166``) and counted in ``padded``. A repeated address
keeps its last row and is counted in ``duplicates``.

Reading the file is the caller's job; this module takes the text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["Aircraft", "BadRow", "Watchlist", "normalise_icao24"]

#: Header names (markers stripped) -> Aircraft fields. ``ICAO`` is required.
_COLUMNS = {
    "ICAO": "icao24",
    "Registration": "registration",
    "Operator": "operator",
    "Type": "type",
    "ICAO Type": "icao_type",
    "CMPG": "cmpg",
    "Category": "category",
    "Link": "link",
}
_TAG_COLUMNS = ("Tag 1", "Tag 2", "Tag 3")
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class Aircraft:
    """One watchlist entry. Empty fields are ``None``; ``tags`` keeps the non-empty tags in
    order; ``icao24`` is six lowercase hex digits like :class:`streams.models.PositionReport`."""

    icao24: str
    registration: str | None
    operator: str | None
    type: str | None
    icao_type: str | None
    category: str | None
    tags: tuple[str, ...] = ()
    cmpg: str | None = None
    link: str | None = None


@dataclass(frozen=True, slots=True)
class BadRow:
    """A skipped row: its 1-based ``line`` number in the file and a bounded ``reason``
    (``field_count``, ``bad_icao``)."""

    line: int
    reason: str
    text: str


def normalise_icao24(value: str) -> str | None:
    """``" 1551E0"`` -> ``"1551e0"``; ``"10166"`` -> ``"010166"``; not hex -> ``None``."""
    text = value.strip().lower()
    if not 1 <= len(text) <= 6 or not set(text) <= _HEX:
        return None
    return text.zfill(6)


def _strip_markers(name: str) -> str:
    return name.strip().lstrip("$#").strip()


class Watchlist:
    """Aircraft by ICAO address, with the parse's bookkeeping (``bad_rows``, ``padded``,
    ``duplicates``)."""

    def __init__(
        self,
        aircraft: dict[str, Aircraft],
        bad_rows: tuple[BadRow, ...] = (),
        padded: int = 0,
        duplicates: int = 0,
    ) -> None:
        self._aircraft = aircraft
        self.bad_rows = bad_rows
        self.padded = padded
        self.duplicates = duplicates

    @classmethod
    def from_csv(cls, text: str) -> Watchlist:
        """Parse plane-alert-db CSV text. A missing ``ICAO`` column raises ``ValueError``
        (the file is not a watchlist at all); bad rows are counted, not raised."""
        reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
        header = next(reader, None)
        if header is None:
            return cls({})
        names = [_strip_markers(h) for h in header]
        if "ICAO" not in names:
            raise ValueError(f"not a plane-alert-db CSV: no ICAO column in {header!r}")
        index = {name: i for i, name in enumerate(names)}
        aircraft: dict[str, Aircraft] = {}
        bad: list[BadRow] = []
        padded = duplicates = 0
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                bad.append(BadRow(line, "field_count", ",".join(row)[:200]))
                continue
            raw_icao = row[index["ICAO"]].strip()
            icao = normalise_icao24(raw_icao)
            if icao is None:
                bad.append(BadRow(line, "bad_icao", ",".join(row)[:200]))
                continue
            padded += len(raw_icao) < 6
            fields = {
                attr: (row[index[col]].strip() or None) if col in index else None
                for col, attr in _COLUMNS.items()
                if attr != "icao24"
            }
            tags = tuple(
                row[index[col]].strip()
                for col in _TAG_COLUMNS
                if col in index and row[index[col]].strip()
            )
            if icao in aircraft:
                duplicates += 1
            aircraft[icao] = Aircraft(icao24=icao, tags=tags, **fields)
        return cls(aircraft, tuple(bad), padded, duplicates)

    def get(self, icao24: str) -> Aircraft | None:
        """The entry for an address in any case (``"7278A2"`` or ``"7278a2"``), or ``None``."""
        key = normalise_icao24(icao24)
        return None if key is None else self._aircraft.get(key)

    def __contains__(self, icao24: object) -> bool:
        return isinstance(icao24, str) and self.get(icao24) is not None

    def __len__(self) -> int:
        return len(self._aircraft)

    def __iter__(self) -> Iterator[Aircraft]:
        return iter(self._aircraft.values())

    def __repr__(self) -> str:
        return f"Watchlist({len(self)} aircraft, {len(self.bad_rows)} bad rows)"
