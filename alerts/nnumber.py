"""US civil registration (N-number) from an ICAO 24-bit address, without any database. Pure.

The FAA assigns the US block's addresses to N-numbers by a fixed rule, so the registration
of a US aircraft follows from its address alone: ``a00001`` is ``N1``, ``a835af`` is
``N628TS``, ``adf7c7`` is ``N99999`` (the last one). The rule is the published one (the FAA's
"N-Number to Mode S code" conversion, as implemented by e.g. guillaumemichel/
icao-nnumber_converter): the N-numbers, in the order

    N1, N1A, N1AA, N1AB .. N1AZ, N1B, N1BA .. N1ZZ, N10, N10A .. N10ZZ, N100, .. N1000, ..
    N10000, N10001 .. N10009, N1001, .. N19999, N2, .. N99999

get consecutive addresses from ``0xa00001``. After the leading digit (1-9) come up to four
more digits (0-9); after 1-3 digits a suffix of one or two letters may follow, after four
digits one letter or a fifth digit; letters are A-Z without I and O (24). So each prefix
owns a bucket: itself, then its letter suffixes (``1 + 24 * 25 = 601`` of them counting
the bare prefix), then its ten children's buckets.

Addresses outside ``0xa00001..0xadf7c7`` give ``None``. Out of scope: other States' schemes
(Canada's ``C-`` block and others are partly algorithmic too, but not done here), and whether
the N-number is actually registered today (the FAA's registry says that).
"""

from __future__ import annotations

__all__ = ["FIRST", "LAST", "n_number"]

#: Letters used in N-numbers: A-Z without I and O (they look like 1 and 0).
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_DIGITS = "0123456789"
#: A prefix with 1-3 digits, followed by nothing or by one or two letters.
_SUFFIX_SIZE = 1 + len(_LETTERS) * (1 + len(_LETTERS))  # 601
#: A 4-digit prefix: nothing, one letter, or a fifth digit.
_BUCKET4 = 1 + len(_LETTERS) + len(_DIGITS)  # 35
_BUCKET3 = len(_DIGITS) * _BUCKET4 + _SUFFIX_SIZE  # 951
_BUCKET2 = len(_DIGITS) * _BUCKET3 + _SUFFIX_SIZE  # 10,111
_BUCKET1 = len(_DIGITS) * _BUCKET2 + _SUFFIX_SIZE  # 101,711
#: The first address (``N1``) and the last (``N99999``) of the US civil block's rule.
FIRST = 0xA00001
LAST = FIRST + 9 * _BUCKET1 - 1  # 0xadf7c7


def _suffix(offset: int) -> str:
    """0 -> ``""``, 1 -> ``A``, 2 -> ``AA``, .. 25 -> ``AZ``, 26 -> ``B``, .. 600 -> ``ZZ``."""
    if offset == 0:
        return ""
    first, second = divmod(offset - 1, len(_LETTERS) + 1)
    return _LETTERS[first] + (_LETTERS[second - 1] if second else "")


def n_number(icao24: str | int) -> str | None:
    """The N-number of a US address (``"a835af"`` -> ``"N628TS"``), or ``None`` outside the
    N-number range or for a malformed address."""
    if isinstance(icao24, str):
        try:
            address = int(icao24, 16)
        except ValueError:
            return None
    else:
        address = icao24
    if not FIRST <= address <= LAST:
        return None
    rest = address - FIRST
    digit, rest = divmod(rest, _BUCKET1)
    out = "N" + str(digit + 1)
    for bucket in (_BUCKET2, _BUCKET3):
        if rest < _SUFFIX_SIZE:
            return out + _suffix(rest)
        digit, rest = divmod(rest - _SUFFIX_SIZE, bucket)
        out += _DIGITS[digit]
    if rest < _SUFFIX_SIZE:
        return out + _suffix(rest)
    digit, rest = divmod(rest - _SUFFIX_SIZE, _BUCKET4)
    out += _DIGITS[digit]
    if rest == 0:
        return out
    if rest <= len(_LETTERS):
        return out + _LETTERS[rest - 1]
    return out + _DIGITS[rest - 1 - len(_LETTERS)]
