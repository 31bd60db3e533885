"""ICAO address blocks: the edges that matter for a DPRK desk, carve-outs, unknowns."""

from __future__ import annotations

import pytest

from alerts.icao import ALLOCATIONS, country_of, flag_emoji, parse_icao24


@pytest.mark.parametrize(
    ("icao24", "code"),
    [
        ("1551e0", "RU"),  # RA-86496, Russian Air Force Il-62M
        ("100000", "RU"),
        ("1fffff", "RU"),
        ("7278a2", "KP"),  # P-882, DPRK Il-62M
        ("720000", "KP"),
        ("727fff", "KP"),
        ("718000", "KR"),  # some receivers' flag tables call this block North Korea: wrong
        ("71ffff", "KR"),
        ("728000", "IQ"),
        ("717fff", "SA"),
        ("780000", "CN"),
        ("7bffff", "CN"),
        ("789000", "HK"),
        ("789fff", "HK"),
        ("78a000", "CN"),
        ("780200", "HK"),
        ("780338", "MO"),
        ("780347", "MO"),
        ("780348", "CN"),
        ("840000", "JP"),
        ("87ffff", "JP"),
        ("a00000", "US"),
        ("afffff", "US"),
        ("400000", "BM"),  # UK Overseas Territory carved out of the UK block
        ("406000", "GB"),
        ("4d2fff", "MT"),
        ("899000", "TW"),
        ("030000", "BW"),
        ("0303ff", "BW"),
    ],
)
def test_block_edges(icao24: str, code: str) -> None:
    country = country_of(icao24)
    assert country is not None and country.code == code, (icao24, country)


@pytest.mark.parametrize(
    "icao24",
    [
        "000000",
        "003fff",
        "030400",
        "7c0000x",
        "b00000",
        "f00000",
        "f09000",
        "ffffff",
        "",
        "zz",
        "~123",
    ],
)
def test_unallocated_or_malformed_is_none(icao24: str) -> None:
    assert country_of(icao24) is None


def test_dprk_country_and_flag() -> None:
    dprk = country_of("7278A2")
    assert dprk is not None
    assert (dprk.code, dprk.name, dprk.flag) == ("KP", "North Korea", "🇰🇵")
    assert country_of(0x7278A2) == dprk
    assert country_of("0x7278a2") == dprk


def test_blocks_nest_or_are_disjoint() -> None:
    """Every pair of blocks is either disjoint or one lies inside the other, so 'smallest
    block wins' is well defined."""
    blocks = sorted(ALLOCATIONS, key=lambda a: (a.start, -a.end))
    for i, a in enumerate(blocks):
        assert 0 <= a.start <= a.end <= 0xFFFFFF
        for b in blocks[i + 1 :]:
            if b.start > a.end:
                break
            assert b.end <= a.end, f"{a} and {b} overlap without nesting"


def test_helpers() -> None:
    assert flag_emoji("jp") == "🇯🇵"
    assert parse_icao24("ABCDEF") == 0xABCDEF
    assert parse_icao24("1234567") is None
    assert parse_icao24(-1) is None
    with pytest.raises(ValueError):
        flag_emoji("JPN")
