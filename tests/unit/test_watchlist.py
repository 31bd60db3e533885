"""plane-alert-db parsing: the real file, and bad rows counted rather than fatal."""

from __future__ import annotations

from pathlib import Path

from alerts.watchlist import Watchlist

HEADER = (
    "$ICAO,$Registration,$Operator,$Type,$ICAO Type,#CMPG,$Tag 1,$#Tag 2,$#Tag 3,Category,$#Link\n"
)


def test_real_csv(shared_data: Path) -> None:
    text = (shared_data / "plane-alert-db.csv").read_text(encoding="utf-8")
    data_rows = len(text.splitlines()) - 1
    wl = Watchlist.from_csv(text)
    assert len(wl) + len(wl.bad_rows) + wl.duplicates == data_rows == 17198
    assert wl.bad_rows == ()
    assert wl.padded == 2  # 10166 and 10177: Egyptian 010166/010177 with the zero lost
    ra = wl.get("1551E0")
    assert ra is not None
    assert (ra.registration, ra.operator, ra.icao_type, ra.cmpg) == (
        "RA-86496",
        "Russian Air Force",
        "IL62",
        "Mil",
    )
    p882 = wl.get("7278a2")
    assert p882 is not None and p882.registration == "P-882"
    assert p882.operator == "Government Of North Korea"
    assert p882.category == "Dictator Alert"
    assert p882.tags == ("Dictator Alert", "Kim Jong-un", "President4Life")
    assert wl.get("010166") is not None and wl.get("010166").operator == "Egyptian Air Force"  # type: ignore[union-attr]


def test_bad_rows_counted_not_fatal() -> None:
    text = (
        HEADER
        + "7278A2,P-882,Air Koryo,Il-62M,IL62,Gov,A,,,Dictator Alert,\n"
        + "XYZ123,BAD,Nobody,?,?,Civ,,,,Other,\n"
        + "123456,too,few\n"
        + "\n"
        + '7278a2,P-882,"Quoted, Operator",Il-62M,IL62,Gov,,,,Dictator Alert,\n'
    )
    wl = Watchlist.from_csv(text)
    assert len(wl) == 1
    assert [r.reason for r in wl.bad_rows] == ["bad_icao", "field_count"]
    assert [r.line for r in wl.bad_rows] == [3, 4]
    assert wl.duplicates == 1
    entry = wl.get("7278A2")
    assert entry is not None and entry.operator == "Quoted, Operator" and entry.tags == ()
    assert entry.link is None
    assert "7278a2" in wl and "000000" not in wl
    assert wl.get("not hex") is None


def test_empty_and_not_a_watchlist() -> None:
    assert len(Watchlist.from_csv("")) == 0
    try:
        Watchlist.from_csv("a,b\n1,2\n")
    except ValueError as exc:
        assert "ICAO" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("expected ValueError")
