"""N-numbers from US addresses: known pairs, every suffix boundary, and the whole block
cross-checked against an independent implementation (enumerating N-numbers in FAA order)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache

import pytest

from alerts.nnumber import FIRST, LAST, n_number

LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no I, no O


def _in_order(prefix: str = "") -> Iterator[str]:
    """Every N-number in address order, by the registry's own rules, written independently
    of the bucket arithmetic: a prefix, then its letter suffixes, then its digit children."""
    if not prefix:
        for first in "123456789":
            yield from _in_order("N" + first)
        return
    digits = len(prefix) - 1
    yield prefix
    if digits == 5:
        return
    if digits == 4:
        yield from (prefix + a for a in LETTERS)
        yield from (prefix + d for d in "0123456789")
        return
    for a in LETTERS:
        yield prefix + a
        yield from (prefix + a + b for b in LETTERS)
    for d in "0123456789":
        yield from _in_order(prefix + d)


#: Pairs anyone can check: N1 opens the block, N99999 closes it, N628TS is a well-known
#: business jet's (a835af), the rest are the first suffixes and the first two-digit number.
KNOWN = [
    ("a00001", "N1"),
    ("a00002", "N1A"),
    ("a00003", "N1AA"),
    ("a0001a", "N1AZ"),
    ("a0001b", "N1B"),
    ("a0025a", "N10"),
    ("a0025b", "N10A"),
    ("a835af", "N628TS"),
    ("adf7c6", "N99998"),
    ("adf7c7", "N99999"),
]


@pytest.mark.parametrize(("icao24", "expected"), KNOWN)
def test_known_pairs(icao24: str, expected: str) -> None:
    assert n_number(icao24) == expected
    assert n_number(icao24.upper()) == expected
    assert n_number(int(icao24, 16)) == expected


def test_outside_the_block() -> None:
    assert n_number("a00000") is None  # one before N1
    assert n_number("adf7c8") is None  # one after N99999 (US military and others follow)
    assert n_number("1551e0") is None
    assert n_number("zzzzzz") is None
    assert (hex(FIRST), hex(LAST)) == ("0xa00001", "0xadf7c7")


@cache
def _order() -> tuple[str, ...]:
    return tuple(_in_order())


@cache
def _order_index() -> dict[str, int]:
    return {n: i for i, n in enumerate(_order())}


def test_every_address_matches_the_independent_enumeration() -> None:
    order = _order()
    assert len(order) == LAST - FIRST + 1 == 915_399
    assert len(set(order)) == len(order)
    mismatches = [
        (hex(FIRST + i), want, got)
        for i, want in enumerate(order)
        if (got := n_number(FIRST + i)) != want
    ]
    assert mismatches[:5] == []


def _address_of(n: str) -> int:
    return FIRST + _order_index()[n]


@pytest.mark.parametrize("prefix", ["N1", "N62", "N628", "N9999"])
def test_both_boundaries_of_each_letter_suffix(prefix: str) -> None:
    """For each letter: the first address of the suffix (``N1A``) and the last one
    (``N1AZ``, or the letter itself after four digits), and their neighbours across the
    boundary belong to the previous letter / the next one."""
    two_letters = len(prefix) < 5
    for i, letter in enumerate(LETTERS):
        first = prefix + letter
        last = first + "Z" if two_letters else first
        a_first, a_last = _address_of(first), _address_of(last)
        assert n_number(a_first) == first
        assert n_number(a_last) == last
        before = n_number(a_first - 1)
        after = n_number(a_last + 1)
        if i == 0:
            assert before == prefix
        else:
            assert before == prefix + LETTERS[i - 1] + ("Z" if two_letters else "")
        if i + 1 < len(LETTERS):
            assert after == prefix + LETTERS[i + 1]
        else:
            assert after == prefix + "0"  # the first digit child follows the suffixes
