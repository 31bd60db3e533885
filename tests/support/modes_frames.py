"""A test-only Mode S *encoder*: CRC-24 and airborne CPR, to build frames for tests and bench.

skyfence decodes with rs1090 (``streams.sources.mode_s``); tests still need to *make*
CRC-valid DF17 messages for positions of their choosing (the bench fleet, hypothesis
inputs, round trips). This is the inverse direction, from the specification (ICAO Annex 10
Vol IV 3.1.2.3.3; DO-260B A.1.7), and nothing in ``streams`` imports it.
"""

from __future__ import annotations

import math

__all__ = ["CPR_NZ", "CRC24_GENERATOR", "cpr_encode", "cpr_nl", "crc24", "position_msg"]

#: CRC-24 generator polynomial of Mode S without its x^24 term.
CRC24_GENERATOR = 0xFFF409
#: Number of latitude zones between the equator and a pole (CPR, NZ).
CPR_NZ = 15


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ CRC24_GENERATOR) if crc & 0x800000 else crc << 1
        table.append(crc & 0xFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc24(data: bytes) -> int:
    """The Mode S CRC-24 remainder of ``data``: 0 over a whole valid DF17/18 message."""
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC_TABLE[((crc >> 16) ^ byte) & 0xFF]
    return crc


def cpr_nl(lat: float) -> int:
    """Number of longitude zones at latitude ``lat`` (the NL function, 1..59)."""
    a = abs(lat)
    if a == 0.0:
        return 59
    if a == 87.0:
        return 2
    if a > 87.0:
        return 1
    x = 1.0 - (1.0 - math.cos(math.pi / (2 * CPR_NZ))) / math.cos(math.radians(a)) ** 2
    return math.floor(2.0 * math.pi / math.acos(x))


def cpr_encode(lat: float, lon: float, odd: bool) -> tuple[int, int]:
    """Airborne CPR encoding of a position: the raw 17-bit (lat_cpr, lon_cpr)."""
    i = 1 if odd else 0
    dlat = 360.0 / (4 * CPR_NZ - i)
    yz = math.floor(131072 * (lat % dlat) / dlat + 0.5)
    rlat = dlat * (yz / 131072 + math.floor(lat / dlat))
    dlon = 360.0 / max(cpr_nl(rlat) - i, 1)
    xz = math.floor(131072 * (lon % dlon) / dlon + 0.5)
    return yz % 131072, xz % 131072


def position_msg(icao24: str, lat: float, lon: float, alt_ft: int, odd: bool) -> bytes:
    """A CRC-valid DF17 airborne position message (TC 11, 25 ft altitude steps)."""
    n = max(0, min(2047, round((alt_ft + 1000) / 25)))
    ac12 = ((n >> 4) << 5) | 0x10 | (n & 0x0F)
    lat_cpr, lon_cpr = cpr_encode(lat, lon, odd)
    me = (11 << 51) | (ac12 << 36) | (int(odd) << 34) | (lat_cpr << 17) | lon_cpr
    data = bytes([0x8D]) + bytes.fromhex(icao24) + me.to_bytes(7, "big")
    return data + crc24(data).to_bytes(3, "big")
