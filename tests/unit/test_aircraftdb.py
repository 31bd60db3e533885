"""The aircraft database: OpenSky's CSV layouts as published, bad rows counted, O(1) lookup."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from alerts.aircraftdb import AircraftDb, read_aircraft_db
from tests.bench.enrichment import OPENSKY_COLUMNS, write_aircraft_db

HEADER = ",".join(f'"{c}"' for c in OPENSKY_COLUMNS)


def _row(**values: str) -> str:
    return ",".join(f'"{values.get(c, "")}"' for c in OPENSKY_COLUMNS)


def test_classic_layout_double_quoted() -> None:
    lines = [
        HEADER,
        _row(icao24="1551e0", registration="RA-86496", manufacturername="Ilyushin",
             model="Il-62M", typecode="IL62", operator="Russian Air Force"),
        _row(icao24="A835AF", registration="N628TS", manufacturername="Gulfstream Aerospace",
             model="G650ER", typecode="GLF6", operator='Falcon "Landing", LLC'.replace('"', '""')),
        _row(icao24="7278a2"),  # an address and nothing else: skipped
        _row(icao24="xyz123", registration="BAD"),
        '"123456","too","few"',
        "",
    ]  # fmt: skip
    db = AircraftDb.parse(line + "\n" for line in lines)
    il62 = db.get("1551E0")
    assert il62 is not None
    assert (il62.icao24, il62.registration, il62.typecode, il62.operator) == (
        "1551e0", "RA-86496", "IL62", "Russian Air Force",
    )  # fmt: skip
    assert il62.aircraft_type == "Ilyushin Il-62M"
    g650 = db.get("a835af")
    assert g650 is not None and g650.operator == 'Falcon "Landing", LLC'
    assert g650.aircraft_type == "Gulfstream Aerospace G650ER"
    assert db.get("7278a2") is None and "7278a2" not in db and "1551e0" in db
    assert db.get("not hex") is None and db.get("1000000") is None
    assert len(db) == 2
    assert (db.empty_rows, db.bad_rows) == (1, 2)
    assert [reason for _, reason in db.bad_examples] == ["bad_icao", "field_count"]
    assert [line for line, _ in db.bad_examples] == [5, 6]


def test_newer_layout_single_quoted_and_reordered() -> None:
    header = "'icao24','timestamp','manufacturerName','model','operator','registration','typecode'"
    lines = [
        header,
        "'4d2023','2024-01-01','Boeing','737-8AS','Ryanair','9H-QBA','B738'",
        "'00b1fa','','','','','ZS-ABC',''",
        "'4d2023','2025-01-01','Boeing','737-8AS','Malta Air','9H-QBA','B738'",  # later wins
    ]
    db = AircraftDb.parse(lines)
    ryr = db.get("4d2023")
    assert ryr is not None and ryr.operator == "Malta Air" and ryr.aircraft_type == "Boeing 737-8AS"
    assert db.duplicates == 1 and len(db) == 2
    zs = db.get("00b1fa")
    assert zs is not None and zs.registration == "ZS-ABC" and zs.aircraft_type is None


def test_missing_columns_and_not_a_database() -> None:
    db = AircraftDb.parse(['"icao24","registration"', '"3c6444","D-AIBD"'])
    rec = db.get("3c6444")
    assert rec is not None and rec.registration == "D-AIBD"
    assert (rec.typecode, rec.operator, rec.model) == (None, None, None)
    with pytest.raises(ValueError, match="no icao24 column"):
        AircraftDb.parse(["$ICAO,$Registration", "1551E0,RA-86496"])
    with pytest.raises(ValueError):
        AircraftDb.parse([])


def test_separator_inside_a_field_is_neutralised() -> None:
    db = AircraftDb.parse([HEADER, _row(icao24="abcdef", registration="N1", operator="A\x1fB")])
    rec = db.get("abcdef")
    assert rec is not None and rec.operator == "A B" and rec.registration == "N1"


def test_every_generated_row_is_found(tmp_path: Path) -> None:
    """A generated file in OpenSky's layout (the bench's generator, smaller): every row with
    data is found under its address, plain and gzip-compressed."""
    path = tmp_path / "db.csv"
    write_aircraft_db(path, rows=5000, seed=3)
    text = path.read_text().splitlines()[1:]
    db = read_aircraft_db(path)
    with_data = [line for line in text if line.count('""') < len(OPENSKY_COLUMNS) - 1]
    assert len(db) == len(with_data) and db.bad_rows == 0
    for line in with_data:
        fields = line.strip('"').split('","')
        rec = db.get(fields[0])
        assert rec is not None and rec.registration == (fields[1] or None)
        assert rec.typecode == (fields[5] or None) and rec.operator == (fields[9] or None)
    gz = tmp_path / "db.csv.gz"
    gz.write_bytes(gzip.compress(path.read_bytes()))
    assert len(read_aircraft_db(gz)) == len(db)
