"""A pure Mode S / ADS-B decoder: raw 1090 MHz messages (hex) in, position reports out.

Written from the public specification (ICAO Annex 10 Vol IV, RTCA DO-260B) as explained in
"The 1090 Megahertz Riddle" (Junzi Sun, mode-s.org); it shares no code with pyModeS.

What is decoded, from DF17 (ADS-B) and DF18 with CF=0 (ADS-B from non-transponder devices,
ICAO address) extended squitters whose CRC-24 parity checks:

- type codes 1-4: aircraft identification (the callsign, 6-bit character set);
- type codes 9-18: airborne position with barometric altitude (25 ft increments, Q bit set;
  Gillham-coded 100 ft altitudes give ``alt_ft=None``). The latitude/longitude are in CPR
  form: the first fix comes from *global* decoding of an even/odd pair received within
  :data:`PAIR_MAX_GAP_S`, later fixes from *local* decoding relative to the last known
  position, each checked against the previous fix (:data:`MAX_SPEED_KT`,
  :data:`LOCAL_MAX_DISTANCE_NM`) and against a global decode whenever a fresh pair allows;
- type code 19, subtypes 1/2: ground speed (kt), track (deg), vertical rate (ft/min); the
  vertical rate is also taken from subtypes 3/4 (airspeed, whose heading is not a track).

:class:`ModeSDecoder` is the per-aircraft streaming decoder. ``feed(msg_hex, ts)`` takes the
reception time as an argument (epoch seconds; it never reads a clock), keeps per-aircraft
state, forgets aircraft silent for more than :data:`EVICT_AFTER_S` of *event* time (lazily,
while feeding), and counts corrupt messages (bad hex or length, failed CRC, undefined
downlink format) in :attr:`ModeSDecoder.counters` instead of raising.

Out of scope: surface positions (TC 5-8) and GNSS-altitude positions (TC 20-22), error
correction of single-bit errors, Mode A/C and surveillance replies (DF0/4/5/11/16/20/21,
whose parity is overlaid with the address), Comm-B (BDS) registers, TIS-B/ADS-R, squawk.

Pure: standard library and this package only; no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from streams.models import PositionReport

__all__ = [
    "COUNTERS",
    "CRC24_GENERATOR",
    "EVICT_AFTER_S",
    "LOCAL_MAX_DISTANCE_NM",
    "LOCAL_REF_MAX_AGE_S",
    "MAX_SPEED_KT",
    "PAIR_MAX_GAP_S",
    "CprFrame",
    "ExtendedSquitter",
    "ModeSDecoder",
    "Velocity",
    "cpr_global",
    "cpr_local",
    "cpr_nl",
    "crc24",
    "decode_altitude_ft",
    "decode_callsign",
    "decode_extended_squitter",
    "decode_velocity",
    "downlink_format",
    "parity_syndrome",
]

#: CRC-24 generator polynomial of Mode S without its x^24 term (Annex 10 Vol IV 3.1.2.3.3.1.2).
CRC24_GENERATOR = 0xFFF409
#: An even/odd pair is globally decodable only if received this close in time: at 600 kt an
#: aircraft flies 1.7 NM in 10 s, well inside the 5.1 NM a CPR latitude zone allows.
PAIR_MAX_GAP_S = 10.0
#: Aircraft state is forgotten after this much silence (event time): an aircraft heard again
#: later starts afresh with a global decode, as DO-260B receivers do.
EVICT_AFTER_S = 60.0
#: Local decoding is unambiguous only within half a latitude zone (3 deg = 180 NM) of the
#: reference; anything farther is rejected outright.
LOCAL_MAX_DISTANCE_NM = 180.0
#: The reference position for local decoding must be this recent: at 1,200 kt an aircraft
#: covers 100 NM in 300 s, safely under :data:`LOCAL_MAX_DISTANCE_NM`.
LOCAL_REF_MAX_AGE_S = 300.0
#: Fastest credible ground speed between two fixes of one aircraft (the tracker's
#: ``Policy.max_speed_kt``): room for military traffic and jet-stream tailwinds.
MAX_SPEED_KT = 1200.0
#: Allowance added to the speed check, for receiver time stamps with 1 s resolution and CPR
#: quantisation (5 m): 2 NM is 12 s at 600 kt.
JUMP_SLACK_NM = 2.0
#: A local and a global decode of the same message must agree this closely (they normally
#: agree to the metre; disagreeing at all means one of them is a whole zone off).
CROSS_CHECK_NM = 1.0
#: Number of latitude zones between the equator and a pole (CPR, NZ).
CPR_NZ = 15
#: CPR coordinates are 17-bit fractions of a zone.
CPR_SCALE = float(1 << 17)

_NM_M = 1852.0
_EARTH_RADIUS_M = 6_371_008.8
#: Downlink formats defined by Annex 10 (DF24 covers 24-31: Comm-D, first two bits 11).
_SHORT_DFS = frozenset({0, 4, 5, 11})
_LONG_DFS = frozenset({16, 17, 18, 19, 20, 21, 22, 24})
#: The identification character set: '#' marks codes with no character, '_' is the space.
_CHARSET = "#ABCDEFGHIJKLMNOPQRSTUVWXYZ#####_###############0123456789######"


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc = ((crc << 1) ^ CRC24_GENERATOR) if crc & 0x800000 else crc << 1
        table.append(crc & 0xFFFFFF)
    return tuple(table)


#: Byte-wise CRC table (256 entries, computed once on first use of the module: pure arithmetic).
_CRC_TABLE = _crc_table()


def crc24(data: bytes) -> int:
    """The Mode S CRC-24 remainder of ``data`` (polynomial :data:`CRC24_GENERATOR`).

    Over a whole DF17/18 message (data plus its 24 parity bits) it is 0 when the parity checks.
    """
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ _CRC_TABLE[((crc >> 16) ^ byte) & 0xFF]
    return crc


def parity_syndrome(msg: bytes) -> int:
    """CRC of the data bits XOR the transmitted parity (last 3 bytes).

    0 for a good extended squitter; for replies with address/parity overlay (DF0/4/5/20/21)
    it is the transponder's address.
    """
    return crc24(msg[:-3]) ^ int.from_bytes(msg[-3:], "big")


def downlink_format(first_byte: int) -> int:
    """The downlink format of a message from its first byte (24 for every 11xxx Comm-D)."""
    df = first_byte >> 3
    return 24 if df >= 24 else df


def _bits(me: int, start: int, end: int) -> int:
    """ME-field bits ``start``..``end`` (1-based, inclusive, MSB first) of the 56-bit ME."""
    return (me >> (56 - end)) & ((1 << (end - start + 1)) - 1)


def decode_callsign(me: int) -> str:
    """Callsign from the ME field of an identification message (TC 1-4), spaces stripped.

    Codes with no character ('#') are dropped; an all-blank callsign gives ``""``.
    """
    chars = [_CHARSET[_bits(me, 9 + 6 * i, 14 + 6 * i)] for i in range(8)]
    return "".join(chars).replace("#", "").replace("_", " ").strip()


def decode_altitude_ft(ac12: int) -> int | None:
    """Barometric altitude (ft) from the 12-bit altitude field of an airborne position.

    With the Q bit (0x010) set the other 11 bits count 25 ft from -1,000 ft. All zeros means
    no altitude; Gillham (Q bit clear, 100 ft steps) is not decoded: ``None``.
    """
    if ac12 == 0 or not ac12 & 0x010:
        return None
    n = ((ac12 & 0xFE0) >> 1) | (ac12 & 0x00F)
    return n * 25 - 1000


@dataclass(frozen=True, slots=True)
class Velocity:
    """An airborne velocity (TC 19): ``gs_kt``/``track_deg`` only for subtypes 1 and 2."""

    subtype: int
    gs_kt: float | None
    track_deg: float | None
    vrate_fpm: int | None


def decode_velocity(me: int) -> Velocity | None:
    """Decode an airborne velocity ME field (TC 19); ``None`` for a reserved subtype.

    Subtypes 1/2 give the ground speed from its east-west and north-south components (2: x4
    for supersonic), the track clockwise from true north. The vertical rate is 64 ft/min per
    step, negative when descending, ``None`` when not available.
    """
    subtype = _bits(me, 6, 8)
    if subtype not in (1, 2, 3, 4):
        return None
    vr_raw = _bits(me, 38, 46)
    vrate = None if vr_raw == 0 else (-1 if _bits(me, 37, 37) else 1) * 64 * (vr_raw - 1)
    gs_kt = track_deg = None
    if subtype in (1, 2):
        v_ew_raw = _bits(me, 15, 24)
        v_ns_raw = _bits(me, 26, 35)
        if v_ew_raw and v_ns_raw:
            scale = 4 if subtype == 2 else 1
            v_ew = (v_ew_raw - 1) * scale * (-1 if _bits(me, 14, 14) else 1)  # + east
            v_ns = (v_ns_raw - 1) * scale * (-1 if _bits(me, 25, 25) else 1)  # + north
            gs_kt = math.hypot(v_ew, v_ns)
            track_deg = math.degrees(math.atan2(v_ew, v_ns)) % 360.0
    return Velocity(subtype, gs_kt, track_deg, vrate)


# -- CPR (Compact Position Reporting), airborne format --------------------------------------


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


def _wrap_lon(lon: float) -> float:
    return (lon + 180.0) % 360.0 - 180.0


def cpr_global(
    even: tuple[int, int], odd: tuple[int, int], newest_is_odd: bool
) -> tuple[float, float] | None:
    """Globally unambiguous position from an even and an odd airborne CPR pair.

    ``even``/``odd`` are the raw 17-bit (lat_cpr, lon_cpr) of each; the position returned is
    that of the newest message. ``None`` when the two straddle a longitude-zone boundary (their
    NL differs) or the result is not a latitude: wait for the next pair.
    """
    lat_e, lon_e = even[0] / CPR_SCALE, even[1] / CPR_SCALE
    lat_o, lon_o = odd[0] / CPR_SCALE, odd[1] / CPR_SCALE
    j = math.floor(59.0 * lat_e - 60.0 * lat_o + 0.5)
    rlat_e = 360.0 / 60.0 * (j % 60 + lat_e)
    rlat_o = 360.0 / 59.0 * (j % 59 + lat_o)
    if rlat_e >= 270.0:
        rlat_e -= 360.0
    if rlat_o >= 270.0:
        rlat_o -= 360.0
    if not (-90.0 <= rlat_e <= 90.0 and -90.0 <= rlat_o <= 90.0):
        return None
    nl = cpr_nl(rlat_e)
    if nl != cpr_nl(rlat_o):
        return None
    m = math.floor(lon_e * (nl - 1) - lon_o * nl + 0.5)
    if newest_is_odd:
        ni = max(nl - 1, 1)
        lat, lon = rlat_o, 360.0 / ni * (m % ni + lon_o)
    else:
        ni = max(nl, 1)
        lat, lon = rlat_e, 360.0 / ni * (m % ni + lon_e)
    return lat, _wrap_lon(lon)


def cpr_local(
    lat_cpr: int, lon_cpr: int, odd: bool, ref_lat: float, ref_lon: float
) -> tuple[float, float]:
    """Position of one airborne CPR message relative to a reference position.

    Unambiguous only when the true position is within half a zone (about 180 NM) of the
    reference; the caller checks that the answer is plausible.
    """
    i = 1 if odd else 0
    y, x = lat_cpr / CPR_SCALE, lon_cpr / CPR_SCALE
    dlat = 360.0 / (4 * CPR_NZ - i)
    # divmod keeps the zone index and the offset in it consistent when the reference lies on
    # a zone boundary (floor(a / b) and a % b may round differently there).
    zone, rest = divmod(ref_lat, dlat)
    lat = dlat * (zone + math.floor(rest / dlat - y + 0.5) + y)
    dlon = 360.0 / max(cpr_nl(lat) - i, 1)
    zone, rest = divmod(ref_lon, dlon)
    return lat, _wrap_lon(dlon * (zone + math.floor(rest / dlon - x + 0.5) + x))


# -- one message ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CprFrame:
    """The position part of one airborne position message: raw CPR and altitude."""

    odd: bool
    lat_cpr: int
    lon_cpr: int
    alt_ft: int | None


@dataclass(frozen=True, slots=True)
class ExtendedSquitter:
    """One decoded DF17/18 message: the address, type code and whatever it carried."""

    icao24: str
    df: int
    type_code: int
    callsign: str | None = None
    position: CprFrame | None = None
    velocity: Velocity | None = None


class _Reject(Exception):
    """Internal: a message that is corrupt (``reason``) or valid but not decoded here."""

    def __init__(self, reason: str, corrupt: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt


def _parse_hex(msg_hex: str) -> bytes:
    text = msg_hex.strip().strip("*;")
    try:
        msg = bytes.fromhex(text)
    except ValueError:
        raise _Reject("bad_hex", True) from None
    if len(msg) not in (7, 14):
        raise _Reject("bad_length", True)
    return msg


def _decode_bytes(msg: bytes) -> ExtendedSquitter:
    df = downlink_format(msg[0])
    if df in _SHORT_DFS or df in _LONG_DFS:
        if (len(msg) == 7) != (df in _SHORT_DFS):
            raise _Reject("bad_length", True)
    else:
        raise _Reject("unknown_df", True)
    if df not in (17, 18):
        raise _Reject("not_decoded", False)
    if parity_syndrome(msg) != 0:
        raise _Reject("bad_crc", True)
    if df == 18 and msg[0] & 0x07 != 0:
        raise _Reject("not_decoded", False)  # TIS-B, ADS-R or a non-ICAO address
    icao24 = msg[1:4].hex()
    me = int.from_bytes(msg[4:11], "big")
    tc = me >> 51
    if 1 <= tc <= 4:
        return ExtendedSquitter(icao24, df, tc, callsign=decode_callsign(me) or None)
    if 9 <= tc <= 18:
        frame = CprFrame(
            odd=bool(_bits(me, 22, 22)),
            lat_cpr=_bits(me, 23, 39),
            lon_cpr=_bits(me, 40, 56),
            alt_ft=decode_altitude_ft(_bits(me, 9, 20)),
        )
        return ExtendedSquitter(icao24, df, tc, position=frame)
    if tc == 19:
        return ExtendedSquitter(icao24, df, tc, velocity=decode_velocity(me))
    return ExtendedSquitter(icao24, df, tc)


def decode_extended_squitter(msg_hex: str) -> ExtendedSquitter | None:
    """Decode one message given as hex (28 digits for DF17/18).

    Returns ``None`` for anything that is not a CRC-valid DF17 / DF18-CF0 message, whether
    corrupt or merely not ADS-B; :class:`ModeSDecoder` tells the two apart in its counters.
    """
    try:
        return _decode_bytes(_parse_hex(msg_hex))
    except _Reject:
        return None


# -- the streaming decoder ------------------------------------------------------------------


def _distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a))) / _NM_M


@dataclass(slots=True)
class _Aircraft:
    """What the decoder remembers of one aircraft between messages."""

    last_seen_ts: float
    #: Latest even and odd CPR frames with their reception times.
    even: tuple[CprFrame, float] | None = None
    odd: tuple[CprFrame, float] | None = None
    #: Last decoded position (lat, lon, ts): the reference for local decoding.
    ref: tuple[float, float, float] | None = None
    callsign: str | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    vrate_fpm: int | None = None


#: Counter names of :attr:`ModeSDecoder.counters` (a bounded set, usable as metric labels).
COUNTERS = (
    "messages",  # every message fed
    "bad_hex",  # corrupt: not hex
    "bad_length",  # corrupt: neither 56 nor 112 bits, or the wrong length for its DF
    "unknown_df",  # corrupt: a downlink format Annex 10 does not define
    "bad_crc",  # corrupt: DF17/18 whose parity does not check
    "not_decoded",  # valid but out of scope (surveillance replies, Comm-B, TIS-B...)
    "identification",  # TC 1-4 decoded
    "velocity",  # TC 19 decoded
    "position_frames",  # TC 9-18 received
    "global_decodes",  # positions from an even/odd pair
    "local_decodes",  # positions relative to the last one
    "cpr_zone_mismatch",  # pair straddling a longitude-zone boundary: no global decode
    "cpr_rejected",  # a decode failed the plausibility check; state reset to global
    "cpr_disagree",  # local and global decodes of one message disagreed; global kept
    "positions",  # position reports emitted
    "evicted",  # aircraft forgotten after EVICT_AFTER_S of silence
)


class ModeSDecoder:
    """Per-aircraft streaming decoder: ``feed(msg_hex, ts)`` -> a new position or ``None``.

    The report carries the latest callsign, ground speed, track and vertical rate heard from
    the aircraft and the altitude of the position message itself; ``source="adsb"``.
    ``counters`` counts every message by outcome (see :data:`COUNTERS`); ``last_reject``
    names why the last fed message was corrupt (``None`` when it was not).
    """

    def __init__(self, *, source: str = "adsb") -> None:
        self.source = source
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.last_reject: str | None = None
        self._aircraft: dict[str, _Aircraft] = {}
        self._next_sweep_ts: float | None = None

    def __len__(self) -> int:
        """Number of aircraft currently remembered."""
        return len(self._aircraft)

    def feed(self, msg_hex: str, ts: float) -> PositionReport | None:
        """Decode one message received at ``ts`` (epoch seconds); never raises on bad input."""
        self.counters["messages"] += 1
        self.last_reject = None
        self._sweep(ts)
        try:
            sq = _decode_bytes(_parse_hex(msg_hex))
        except _Reject as rej:
            self.counters[rej.reason] += 1
            if rej.corrupt:
                self.last_reject = rej.reason
            return None
        ac = self._aircraft.get(sq.icao24)
        if ac is None or ts - ac.last_seen_ts > EVICT_AFTER_S:
            ac = self._aircraft[sq.icao24] = _Aircraft(last_seen_ts=ts)
        ac.last_seen_ts = max(ac.last_seen_ts, ts)
        if sq.callsign is not None:
            self.counters["identification"] += 1
            ac.callsign = sq.callsign
        elif sq.velocity is not None:
            self.counters["velocity"] += 1
            v = sq.velocity
            if v.gs_kt is not None and v.track_deg is not None:
                ac.gs_kt, ac.track_deg = round(v.gs_kt, 1), round(v.track_deg, 2)
            if v.vrate_fpm is not None:
                ac.vrate_fpm = v.vrate_fpm
        elif sq.position is not None:
            self.counters["position_frames"] += 1
            return self._position(sq.icao24, ac, sq.position, ts)
        else:
            self.counters["not_decoded"] += 1
        return None

    def _sweep(self, ts: float) -> None:
        """Forget aircraft silent for over EVICT_AFTER_S, at most once per EVICT_AFTER_S."""
        if self._next_sweep_ts is None:
            self._next_sweep_ts = ts + EVICT_AFTER_S
            return
        if ts < self._next_sweep_ts:
            return
        stale = [k for k, ac in self._aircraft.items() if ts - ac.last_seen_ts > EVICT_AFTER_S]
        for key in stale:
            del self._aircraft[key]
        self.counters["evicted"] += len(stale)
        self._next_sweep_ts = ts + EVICT_AFTER_S

    def _plausible(
        self, ref: tuple[float, float, float], lat: float, lon: float, ts: float
    ) -> bool:
        dist = _distance_nm(ref[0], ref[1], lat, lon)
        allowed = JUMP_SLACK_NM + MAX_SPEED_KT * abs(ts - ref[2]) / 3600.0
        return dist <= min(LOCAL_MAX_DISTANCE_NM, allowed)

    def _global(self, ac: _Aircraft, frame: CprFrame, ts: float) -> tuple[float, float] | None:
        other = ac.even if frame.odd else ac.odd
        if other is None or abs(ts - other[1]) > PAIR_MAX_GAP_S:
            return None
        even, odd = (other[0], frame) if frame.odd else (frame, other[0])
        pos = cpr_global((even.lat_cpr, even.lon_cpr), (odd.lat_cpr, odd.lon_cpr), frame.odd)
        if pos is None:
            self.counters["cpr_zone_mismatch"] += 1
        return pos

    def _position(
        self, icao24: str, ac: _Aircraft, frame: CprFrame, ts: float
    ) -> PositionReport | None:
        if frame.odd:
            ac.odd = (frame, ts)
        else:
            ac.even = (frame, ts)
        pos: tuple[float, float] | None = None
        ref = ac.ref
        if ref is not None and abs(ts - ref[2]) <= LOCAL_REF_MAX_AGE_S:
            local = cpr_local(frame.lat_cpr, frame.lon_cpr, frame.odd, ref[0], ref[1])
            if self._plausible(ref, local[0], local[1], ts):
                pos = local
                glob = self._global(ac, frame, ts)
                if glob is not None and _distance_nm(*glob, *local) > CROSS_CHECK_NM:
                    # One of them is a whole zone off; a fresh pair is the stronger evidence.
                    self.counters["cpr_disagree"] += 1
                    pos = glob
                else:
                    self.counters["local_decodes"] += 1
            else:
                # In doubt: drop the reference and the older frame of the other parity (which
                # may belong to the wrong track), and decode globally from a fresh pair.
                self.counters["cpr_rejected"] += 1
                ac.ref = None
                if frame.odd:
                    ac.even = None
                else:
                    ac.odd = None
        if pos is None:
            pos = self._global(ac, frame, ts)
            if pos is None:
                return None
            self.counters["global_decodes"] += 1
        lat, lon = round(pos[0], 6), round(pos[1], 6)
        ac.ref = (lat, lon, ts)
        self.counters["positions"] += 1
        return PositionReport(
            icao24=icao24,
            ts=float(ts),
            lat=lat,
            lon=lon,
            alt_ft=frame.alt_ft,
            gs_kt=ac.gs_kt,
            track_deg=ac.track_deg,
            vrate_fpm=ac.vrate_fpm,
            callsign=ac.callsign,
            on_ground=False,
            source=self.source,
        )
