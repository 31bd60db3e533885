"""Watchlists: which aircraft a desk cares about, from plane-alert-db CSV or the desk's own.

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

Spreadsheet damage is repaired where it can be undone and counted in ``repaired``: an address
exported as a number (``10166.0``), or one Excel read as scientific notation (``4E123`` shown
as ``4.00E+123``: rebuilt as ``4E123`` when that is six hex digits or fewer); a field's
surrounding spaces; lower-case hex. Extra columns (newer plane-alert-db versions add image
links) are ignored, and so are empty cells past the header's last column (a spreadsheet's
trailing commas); a row with fewer cells than the header is still a bad row.

**The desk's own list** is a simple CSV with a header naming ``icao24`` and/or
``registration`` (one of them per row is enough), and optionally ``category``, ``tags``
(separated by ``;`` or ``|``) and ``note``; names are case-insensitive, other columns are
ignored::

    icao24,registration,category,tags,note
    7278a2,,Dictator Alert,DPRK;VIP,Kim's Il-62M
    ,RA-86496,Priority,Russia,seed story aircraft

A row keyed by registration matches an aircraft whose registration is known from another
source (the aircraft database, another list, or the US N-number rule); registrations are
compared without case, spaces and dashes (``RA86496`` is ``RA-86496``).

Every list has a ``name`` (the file's stem unless given: ``desk=lists/desk.csv``); a match
carries it, with its category and tags, into the event.

Reading the file is the caller's job (:func:`read_watchlist` does it for a path); the
parsers take the text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "Aircraft",
    "BadRow",
    "Watchlist",
    "normalise_icao24",
    "normalise_registration",
    "parse_watchlist_spec",
    "read_watchlist",
]

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
    #: The list it came from (the watchlist's ``name``).
    list_name: str | None = None
    #: The desk's note (desk lists only).
    note: str | None = None


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


#: What a spreadsheet makes of a hex address: ``10166.0`` (a number), ``4.00E+123``
#: (scientific notation: the address was ``4E123``).
_EXCEL_NUMBER = re.compile(r"^(\d+)\.0+$")
_EXCEL_SCIENTIFIC = re.compile(r"^(\d)(?:\.(\d*?))?0*E\+?(\d+)$", re.IGNORECASE)


def _repair_icao24(value: str) -> str | None:
    """An address a spreadsheet turned into a number, restored when unambiguous."""
    text = value.strip()
    number = _EXCEL_NUMBER.match(text)
    if number:
        return normalise_icao24(number.group(1))
    sci = _EXCEL_SCIENTIFIC.match(text)
    if sci:
        lead, frac, exponent = sci.group(1), sci.group(2) or "", int(sci.group(3))
        mantissa = lead + frac
        # 4.3E+124 was "43E123": the exponent shifts by the digits after the point.
        original = f"{mantissa}E{exponent - len(frac)}"
        if exponent - len(frac) >= 0:
            return normalise_icao24(original)
    return None


def normalise_registration(value: str | None) -> str | None:
    """``"ra-86496 "`` -> ``"RA86496"``: the form registrations are compared in."""
    if not value:
        return None
    text = "".join(c for c in value.upper() if c.isalnum())
    return text or None


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
        *,
        name: str = "watchlist",
        by_registration: dict[str, Aircraft] | None = None,
        repaired: int = 0,
    ) -> None:
        self._aircraft = aircraft
        self._by_registration = by_registration or {}
        self.bad_rows = bad_rows
        self.padded = padded
        self.duplicates = duplicates
        self.repaired = repaired
        self.name = name

    @classmethod
    def parse(cls, text: str, name: str = "watchlist") -> Watchlist:
        """Parse either format, told apart by the header: plane-alert-db (an ``ICAO``
        column, with or without its ``$``/``#`` markers) or the desk's own (``icao24`` or
        ``registration``). Raises ``ValueError`` when the header is neither."""
        text = text.removeprefix("\ufeff")
        first = next(csv.reader(io.StringIO(text.partition("\n")[0])), [])
        names = {_strip_markers(h).lower() for h in first}
        if "icao" in names:
            return cls.from_csv(text, name=name)
        if names & {"icao24", "registration"}:
            return cls.from_desk_csv(text, name=name)
        raise ValueError(
            f"not a watchlist: the header {first[:6]!r} has neither plane-alert-db's ICAO "
            "column nor icao24/registration"
        )

    @classmethod
    def from_desk_csv(cls, text: str, name: str = "desk") -> Watchlist:
        """Parse the desk's own CSV (see the module docstring)."""
        reader = csv.reader(io.StringIO(text.removeprefix("\ufeff")))
        header = next(reader, None) or []
        index = {h.strip().lower(): i for i, h in enumerate(header)}
        if "icao24" not in index and "registration" not in index:
            raise ValueError(f"not a desk watchlist: no icao24 or registration in {header!r}")
        aircraft: dict[str, Aircraft] = {}
        by_reg: dict[str, Aircraft] = {}
        bad: list[BadRow] = []
        duplicates = repaired = 0

        def cell(row: list[str], column: str) -> str:
            i = index.get(column)
            return row[i].strip() if i is not None and i < len(row) else ""

        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            raw_icao, registration = cell(row, "icao24"), cell(row, "registration")
            icao = None
            if raw_icao:
                icao = normalise_icao24(raw_icao)
                if icao is None:
                    icao = _repair_icao24(raw_icao)
                    repaired += icao is not None
                if icao is None:
                    bad.append(BadRow(line, "bad_icao", ",".join(row)[:200]))
                    continue
            reg_key = normalise_registration(registration)
            if icao is None and reg_key is None:
                bad.append(BadRow(line, "no_key", ",".join(row)[:200]))
                continue
            tags = tuple(t.strip() for t in re.split(r"[;|]", cell(row, "tags")) if t.strip())
            entry = Aircraft(
                icao24=icao or "",
                registration=registration or None,
                operator=None,
                type=None,
                icao_type=None,
                category=cell(row, "category") or None,
                tags=tags,
                list_name=name,
                note=cell(row, "note") or None,
            )
            if icao is not None:
                duplicates += icao in aircraft
                aircraft[icao] = entry
            else:
                assert reg_key is not None
                duplicates += reg_key in by_reg
                by_reg[reg_key] = entry
        return cls(
            aircraft, tuple(bad), 0, duplicates,
            name=name, by_registration=by_reg, repaired=repaired,
        )  # fmt: skip

    @classmethod
    def from_csv(cls, text: str, name: str = "plane-alert-db") -> Watchlist:
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
        padded = duplicates = repaired = 0
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) > len(names) and not any(c.strip() for c in row[len(names) :]):
                row = row[: len(names)]  # trailing empty cells (a spreadsheet's extra commas)
            if len(row) != len(names):
                bad.append(BadRow(line, "field_count", ",".join(row)[:200]))
                continue
            raw_icao = row[index["ICAO"]].strip()
            icao = normalise_icao24(raw_icao)
            if icao is None:
                icao = _repair_icao24(raw_icao)
                if icao is None:
                    bad.append(BadRow(line, "bad_icao", ",".join(row)[:200]))
                    continue
                repaired += 1
            else:
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
            aircraft[icao] = Aircraft(icao24=icao, tags=tags, list_name=name, **fields)
        by_reg: dict[str, Aircraft] = {}
        for entry in aircraft.values():
            reg_key = normalise_registration(entry.registration)
            if reg_key is not None:
                by_reg.setdefault(reg_key, entry)
        return cls(
            aircraft, tuple(bad), padded, duplicates,
            name=name, by_registration=by_reg, repaired=repaired,
        )  # fmt: skip

    def get(self, icao24: str) -> Aircraft | None:
        """The entry for an address in any case (``"7278A2"`` or ``"7278a2"``), or ``None``."""
        key = normalise_icao24(icao24)
        return None if key is None else self._aircraft.get(key)

    def by_registration(self, registration: str | None) -> Aircraft | None:
        """The entry listed under this registration (any case, dashes, spaces), or ``None``."""
        key = normalise_registration(registration)
        return None if key is None else self._by_registration.get(key)

    def match(self, icao24: str, registration: str | None = None) -> Aircraft | None:
        """The entry for the address, else for the registration; an entry found by
        registration gets the address filled in."""
        entry = self.get(icao24)
        if entry is not None:
            return entry
        entry = self.by_registration(registration)
        if entry is not None and not entry.icao24:
            return replace(entry, icao24=icao24.lower())
        return entry

    def __contains__(self, icao24: object) -> bool:
        return isinstance(icao24, str) and self.get(icao24) is not None

    def __len__(self) -> int:
        return len(self._aircraft) + sum(1 for e in self._by_registration.values() if not e.icao24)

    def __iter__(self) -> Iterator[Aircraft]:
        yield from self._aircraft.values()
        yield from (e for e in self._by_registration.values() if not e.icao24)

    def __repr__(self) -> str:
        return f"Watchlist({self.name!r}: {len(self)} aircraft, {len(self.bad_rows)} bad rows)"


#: A list name given with its path (``desk=lists/desk.csv``).
_NAMED = re.compile(r"^([A-Za-z0-9_.-]+)=(.+)$")


def parse_watchlist_spec(spec: str) -> tuple[str, Path]:
    """``"desk=lists/x.csv"`` -> ``("desk", Path("lists/x.csv"))``; a bare path is named by
    its stem (``plane-alert-db.csv`` -> ``plane-alert-db``)."""
    named = _NAMED.match(spec.strip())
    if named and not Path(spec).exists():
        return named.group(1), Path(named.group(2))
    path = Path(spec.strip())
    return path.stem, path


def read_watchlist(spec: str | Path) -> Watchlist:
    """Read and parse a watchlist file (either format). Raises ``OSError`` when unreadable,
    ``ValueError`` when it is not a watchlist."""
    name, path = parse_watchlist_spec(str(spec))
    return Watchlist.parse(path.read_text(encoding="utf-8-sig"), name=name)
