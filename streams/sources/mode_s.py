"""Mode S / ADS-B decoding through rs1090: raw 1090 MHz messages in, position reports out.

The bits are decoded by **rs1090** (Rust, by the authors of pyModeS; PyPI ``rs1090``): CRC,
identification, altitude, velocity and CPR, both global (an even/odd pair) and local (one
message against a reference position). This module holds only what rs1090's single-message
calls cannot: the per-aircraft state of a *stream*, which is what ``beast://`` and
``modes-csv`` need.

Why rs1090 and not pyModeS (issue 11 asked for pyModeS 3.x unless it cannot meet the
50,000 positions/s ingest target): on the Beast frames of the bench fleet, same process,
same frames, pyModeS 3.6.1's ``PipeDecoder`` decoded 30,700 positions/s and rs1090 0.7.0
70,300/s (its batch call) on a quiet moment; under load (~6 on 2 cores) pyModeS 13,200/s,
rs1090's batch call 23,100/s, this streaming adapter 17,600/s (one rs1090 call per message:
about 10 us of Rust and unpickling each). pyModeS alone is far under the target; rs1090 is
the faster library. skyfence's former hand-written decoder did 26,400/s in that loaded run
(end to end, ``ingest beast://`` still spent less CPU per position than before, with the
other ingest changes: README, Performance).

Per aircraft (keyed by ICAO address), by *event* time (``ts`` is an argument; no clock):

- a position message (type codes 9-18, barometric altitude) is decoded *locally* against
  the aircraft's last position when that is at most :data:`LOCAL_REF_MAX_AGE_S` old, and
  kept only if the jump from it is plausible (:data:`MAX_SPEED_KT` plus
  :data:`JUMP_SLACK_NM`); an implausible one drops the reference;
- otherwise *globally*, from this message and the latest one of the other parity received
  within :data:`PAIR_MAX_GAP_S` (:func:`cpr_global_airborne`, DO-260B arithmetic on the
  encoded latitude and longitude rs1090 returns: rs1090's own pair call costs ~90 us, a
  stream pays it once per aircraft it hears anew; the tests compare the two);
- or, until an aircraft has a pair, locally against the receiver's position (``reference``,
  ``--ref-lat/--ref-lon``) when it is given, kept only within :data:`RECEIVER_MAX_RANGE_NM`
  of it. Local CPR is unambiguous only when the aircraft *is* within half a zone (180 NM)
  of the reference: one farther away is placed a zone off, which no single message can
  tell. So such a position is emitted but never becomes the aircraft's reference: its
  track is anchored by the first even/odd pair, as without a receiver position;
- identification (TC 1-4) and velocity (TC 19) update the callsign, ground speed, track and
  vertical rate that the aircraft's next positions carry;
- aircraft silent for :data:`EVICT_AFTER_S` are forgotten (lazily, while feeding).

Corrupt input is counted (:data:`COUNTERS`) and named in :attr:`ModeSDecoder.last_reject`,
never raised: not hex, a wrong length, an undefined downlink format (checked here before
rs1090 sees the bytes: its Rust code panics on bad hex) or a failed CRC (rs1090's answer).

Out of scope: surface positions (TC 5-8), GNSS-altitude positions (TC 20-22), Comm-B
registers, TIS-B/ADS-R (DF18 with CF != 0), Mode A/C.

Pure: rs1090 (a pure decoding library), the standard library and this package; no I/O.
"""

from __future__ import annotations

import math
import pickle
from bisect import bisect_left
from dataclasses import dataclass
from typing import Any

from rs1090._rust import decode_1090, decode_1090_with_reference

from streams.geo import haversine_m
from streams.models import PositionReport

__all__ = [
    "COUNTERS",
    "EVICT_AFTER_S",
    "JUMP_SLACK_NM",
    "LOCAL_REF_MAX_AGE_S",
    "MAX_SPEED_KT",
    "PAIR_MAX_GAP_S",
    "RECEIVER_MAX_RANGE_NM",
    "ModeSDecoder",
    "cpr_global_airborne",
]

#: An even/odd pair is globally decodable only if received this close in time: at 600 kt an
#: aircraft flies 1.7 NM in 10 s, well inside the 5.1 NM a CPR latitude zone allows.
PAIR_MAX_GAP_S = 10.0
#: Aircraft state is forgotten after this much silence (event time): an aircraft heard again
#: later starts afresh with a global decode, as DO-260B receivers do.
EVICT_AFTER_S = 60.0
#: The reference position for local decoding must be this recent: at 1,200 kt an aircraft
#: covers 100 NM in 300 s, safely under the 180 NM within which local CPR is unambiguous.
LOCAL_REF_MAX_AGE_S = 300.0
#: Fastest credible ground speed between two fixes of one aircraft (the tracker's
#: ``Policy.max_speed_kt``): room for military traffic and jet-stream tailwinds.
MAX_SPEED_KT = 1200.0
#: Allowance added to the speed check, for receiver time stamps with 1 s resolution and CPR
#: quantisation (5 m): 2 NM is 12 s at 600 kt.
JUMP_SLACK_NM = 2.0
#: A position decoded against the receiver's position is kept only this close to it: half
#: a CPR latitude zone (3 deg, 180 NM), beyond which local decoding may land a zone off.
RECEIVER_MAX_RANGE_NM = 180.0

_NM_M = 1852.0
#: Downlink formats Annex 10 defines, by message length (DF24 stands for 24-31, Comm-D).
_SHORT_DFS = frozenset({0, 4, 5, 11})
_LONG_DFS = frozenset({16, 17, 18, 19, 20, 21, 22, 24})

#: Counter names of :attr:`ModeSDecoder.counters` (a bounded set, usable as metric labels).
COUNTERS = (
    "messages",  # every message fed
    "bad_hex",  # corrupt: not hex
    "bad_length",  # corrupt: neither 56 nor 112 bits, or the wrong length for its DF
    "unknown_df",  # corrupt: a downlink format Annex 10 does not define
    "bad_crc",  # corrupt: DF17/18 whose parity does not check (rs1090 refuses it)
    "not_decoded",  # valid but out of scope (surveillance replies, Comm-B, TIS-B...)
    "identification",  # TC 1-4 decoded
    "velocity",  # TC 19 decoded
    "position_frames",  # TC 9-18 received
    "global_decodes",  # positions from an even/odd pair
    "local_decodes",  # positions relative to the aircraft's last one
    "receiver_decodes",  # first positions relative to the receiver's position
    "cpr_rejected",  # a decode failed the plausibility check; state reset to global
    "positions",  # position reports emitted
    "evicted",  # aircraft forgotten after EVICT_AFTER_S of silence
)


class _Reject(Exception):
    """Internal: a message that is corrupt (``reason``) or valid but not decoded here."""

    def __init__(self, reason: str, corrupt: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.corrupt = corrupt


@dataclass(slots=True)
class _Aircraft:
    """What the decoder remembers of one aircraft between messages."""

    last_seen_ts: float
    #: Latest even and odd position messages: encoded (lat_cpr, lon_cpr), reception time.
    even: tuple[int, int, float] | None = None
    odd: tuple[int, int, float] | None = None
    #: Last decoded position (lat, lon, ts): the reference for local decoding.
    ref: tuple[float, float, float] | None = None
    callsign: str | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    vrate_fpm: int | None = None


def _distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return haversine_m(lat1, lon1, lat2, lon2) / _NM_M


def _decode(msg_hex: str, reference: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """rs1090's decode of one message (``None``: refused, e.g. a failed CRC).

    The same as ``rs1090.decode(msg_hex, reference=reference)``, calling its Rust half
    directly: the wrapper's type checks cost a tenth of a live Beast feed's decode time.
    """
    if reference is None:
        payload = decode_1090(msg_hex)
    else:
        payload = decode_1090_with_reference(msg_hex, reference)
    result: Any = pickle.loads(bytes(payload))
    return result if isinstance(result, dict) else None


#: CPR: 2^17, the scale of the 17-bit encoded latitude and longitude.
_CPR_SCALE = 131072.0
#: CPR latitude zone sizes (degrees) of even and odd airborne messages (NZ = 15).
_DLAT_EVEN = 360.0 / 60
_DLAT_ODD = 360.0 / 59
#: Latitudes (degrees) up to which NL(lat) is at least n, for n = 59 down to 2, ascending
#: (DO-260B A.1.7.2; NL(87) = 2 exactly, NL above 87 is 1).
_NL_BOUNDS = (
    *(
        math.degrees(
            math.acos(math.sqrt((1 - math.cos(math.pi / 30)) / (1 - math.cos(2 * math.pi / n))))
        )
        for n in range(59, 2, -1)
    ),
    87.0,
)


def _nl(lat: float) -> int:
    """Number of longitude zones at ``lat`` (DO-260B's NL function, from its boundaries)."""
    return 1 + len(_NL_BOUNDS) - bisect_left(_NL_BOUNDS, abs(lat))


def cpr_global_airborne(
    even: tuple[int, int], odd: tuple[int, int], latest_odd: bool
) -> tuple[float, float] | None:
    """Globally unambiguous position from an even and an odd airborne CPR message.

    ``even`` and ``odd`` are the messages' encoded (lat_cpr, lon_cpr), as rs1090 gives them;
    ``latest_odd`` says which one was received last (its position is returned). ``None``
    when the two straddle a longitude-zone boundary (NL differs), as the standard demands.
    The arithmetic of DO-260B A.1.7.7 (and of pyModeS and rs1090, whose pair decode the
    tests compare this with), done here because rs1090's pair call costs ~90 us.
    """
    lat_e, lon_e = even[0] / _CPR_SCALE, even[1] / _CPR_SCALE
    lat_o, lon_o = odd[0] / _CPR_SCALE, odd[1] / _CPR_SCALE
    j = math.floor(59 * lat_e - 60 * lat_o + 0.5)
    lat_even = _DLAT_EVEN * (j % 60 + lat_e)
    lat_odd = _DLAT_ODD * (j % 59 + lat_o)
    if lat_even >= 270.0:
        lat_even -= 360.0
    if lat_odd >= 270.0:
        lat_odd -= 360.0
    if not (-90.0 <= lat_even <= 90.0 and -90.0 <= lat_odd <= 90.0):
        return None
    nl = _nl(lat_even)
    if nl != _nl(lat_odd):
        return None
    m = math.floor(lon_e * (nl - 1) - lon_o * nl + 0.5)
    if latest_odd:
        lat, ni, lon_cpr = lat_odd, max(nl - 1, 1), lon_o
    else:
        lat, ni, lon_cpr = lat_even, max(nl, 1), lon_e
    lon = (360.0 / ni) * (m % ni + lon_cpr)
    if lon >= 180.0:
        lon -= 360.0
    return lat, lon


class ModeSDecoder:
    """Per-aircraft streaming decoder: ``feed(msg_hex, ts)`` -> a new position or ``None``.

    The report carries the latest callsign, ground speed, track and vertical rate heard from
    the aircraft and the altitude of the position message itself; ``source="adsb"``.
    ``reference`` is the receiver's (lat, lon), for first positions without a pair.
    ``counters`` counts every message by outcome (see :data:`COUNTERS`); ``last_reject``
    names why the last fed message was corrupt (``None`` when it was not).
    """

    def __init__(
        self, *, source: str = "adsb", reference: tuple[float, float] | None = None
    ) -> None:
        self.source = source
        self.reference = reference
        self.counters: dict[str, int] = dict.fromkeys(COUNTERS, 0)
        self.last_reject: str | None = None
        self._aircraft: dict[str, _Aircraft] = {}
        self._next_sweep_ts: float | None = None

    def __len__(self) -> int:
        """Number of aircraft currently remembered."""
        return len(self._aircraft)

    def feed(self, msg_hex: str, ts: float) -> PositionReport | None:
        """Decode one message given as hex, received at ``ts`` (epoch seconds)."""
        text = msg_hex.strip().strip("*;")
        try:
            msg = bytes.fromhex(text)
        except ValueError:
            self.counters["messages"] += 1
            self.counters["bad_hex"] += 1
            self.last_reject = "bad_hex"
            return None
        return self.feed_bytes(msg, ts)

    def feed_bytes(self, msg: bytes, ts: float) -> PositionReport | None:
        """Decode one message given as bytes (7 or 14), received at ``ts``; never raises."""
        self.counters["messages"] += 1
        self.last_reject = None
        if self._next_sweep_ts is None or ts >= self._next_sweep_ts:
            self._sweep(ts)
        try:
            return self._feed(msg, ts)
        except _Reject as rej:
            self.counters[rej.reason] += 1
            if rej.corrupt:
                self.last_reject = rej.reason
            return None

    def _feed(self, msg: bytes, ts: float) -> PositionReport | None:
        n = len(msg)
        if n == 14 and msg[0] >> 3 == 17 and 9 <= msg[4] >> 3 <= 18:
            # The hot path: a DF17 airborne position (most of what a Beast feed carries).
            msg_hex = msg.hex()
            icao24 = msg_hex[2:8]
            return self._position(icao24, self._aircraft.get(icao24), msg_hex, ts)
        if n not in (7, 14):
            raise _Reject("bad_length", True)
        df = msg[0] >> 3
        df = 24 if df >= 24 else df
        if df in _SHORT_DFS:
            if n != 7:
                raise _Reject("bad_length", True)
        elif df in _LONG_DFS:
            if n != 14:
                raise _Reject("bad_length", True)
        else:
            raise _Reject("unknown_df", True)
        if df not in (17, 18) or (df == 18 and msg[0] & 0x07 != 0):
            raise _Reject("not_decoded", False)  # not ADS-B, or TIS-B/ADS-R
        msg_hex = msg.hex()
        tc = msg[4] >> 3
        icao24 = msg_hex[2:8]
        ac = self._aircraft.get(icao24)
        if 9 <= tc <= 18:
            return self._position(icao24, ac, msg_hex, ts)
        result = _decode(msg_hex)
        if result is None:
            raise _Reject("bad_crc", True)
        ac = self._touch(icao24, ac, ts)
        if 1 <= tc <= 4:
            self.counters["identification"] += 1
            callsign = (result.get("callsign") or "").replace("#", "").strip()
            ac.callsign = callsign or ac.callsign
        elif tc == 19:
            self.counters["velocity"] += 1
            gs, track = result.get("groundspeed"), result.get("track")
            if gs is not None and track is not None:
                ac.gs_kt, ac.track_deg = round(float(gs), 1), round(float(track) % 360.0, 2)
            vrate = result.get("vertical_rate")
            if vrate is not None:
                ac.vrate_fpm = int(vrate)
        else:
            self.counters["not_decoded"] += 1
        return None

    def _touch(self, icao24: str, ac: _Aircraft | None, ts: float) -> _Aircraft:
        """The aircraft's state, fresh if unknown or silent too long; marks it heard at ts."""
        if ac is None or ts - ac.last_seen_ts > EVICT_AFTER_S:
            ac = self._aircraft[icao24] = _Aircraft(last_seen_ts=ts)
        elif ts > ac.last_seen_ts:
            ac.last_seen_ts = ts
        return ac

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
        limit_nm = JUMP_SLACK_NM + MAX_SPEED_KT * abs(ts - ref[2]) / 3600.0
        # A degree of latitude is 60 NM, and a degree of longitude no more: both within half
        # the limit puts the great-circle distance within 0.71 of it (no trigonometry).
        if abs(lat - ref[0]) * 120.0 <= limit_nm and abs(lon - ref[1]) * 120.0 <= limit_nm:
            return True
        return _distance_nm(ref[0], ref[1], lat, lon) <= limit_nm

    def _position(
        self, icao24: str, ac: _Aircraft | None, msg_hex: str, ts: float
    ) -> PositionReport | None:
        ref = None
        if ac is not None and ts - ac.last_seen_ts <= EVICT_AFTER_S:
            ref = ac.ref
        if ref is not None and abs(ts - ref[2]) <= LOCAL_REF_MAX_AGE_S:
            result = _decode(msg_hex, (ref[0], ref[1]))
            if result is None:
                raise _Reject("bad_crc", True)
            if "lat_cpr" not in result:  # no CPR fields: nothing to place it with
                raise _Reject("not_decoded", False)
            assert ac is not None  # it has a reference
            if ts > ac.last_seen_ts:
                ac.last_seen_ts = ts
            counters = self.counters
            counters["position_frames"] += 1
            frame = (result["lat_cpr"], result["lon_cpr"], ts)
            odd = result.get("parity") == "odd"
            if odd:
                ac.odd = frame
            else:
                ac.even = frame
            lat, lon = result.get("latitude"), result.get("longitude")
            if lat is not None and lon is not None and self._plausible(ref, lat, lon, ts):
                counters["local_decodes"] += 1
                return self._report(icao24, ac, result, lat, lon, ts)
            # In doubt: drop the reference and the older frame of the other parity (which
            # may belong to the wrong track), and decode globally from a fresh pair.
            counters["cpr_rejected"] += 1
            ac.ref = None
            if odd:
                ac.even = None
            else:
                ac.odd = None
            return None
        result = _decode(msg_hex, self.reference)
        if result is None:
            raise _Reject("bad_crc", True)
        if "lat_cpr" not in result:
            raise _Reject("not_decoded", False)
        ac = self._touch(icao24, ac, ts)
        self.counters["position_frames"] += 1
        other = ac.even if result.get("parity") == "odd" else ac.odd
        self._keep_frame(ac, result, ts)
        if other is not None and abs(ts - other[2]) <= PAIR_MAX_GAP_S:
            this = (result["lat_cpr"], result["lon_cpr"])
            odd = result.get("parity") == "odd"
            found = cpr_global_airborne(
                (other[0], other[1]) if odd else this, this if odd else (other[0], other[1]), odd
            )
            if found is not None:
                self.counters["global_decodes"] += 1
                return self._report(icao24, ac, result, found[0], found[1], ts)
        if self.reference is not None:
            lat, lon = result.get("latitude"), result.get("longitude")
            if (
                lat is not None
                and lon is not None
                and _distance_nm(*self.reference, lat, lon) <= RECEIVER_MAX_RANGE_NM
            ):
                self.counters["receiver_decodes"] += 1
                return self._report(icao24, ac, result, lat, lon, ts, anchor=False)
        return None

    @staticmethod
    def _keep_frame(ac: _Aircraft, result: dict[str, Any], ts: float) -> None:
        frame = (result["lat_cpr"], result["lon_cpr"], ts)
        if result.get("parity") == "odd":
            ac.odd = frame
        else:
            ac.even = frame

    def _report(
        self,
        icao24: str,
        ac: _Aircraft,
        result: dict[str, Any],
        lat: float,
        lon: float,
        ts: float,
        *,
        anchor: bool = True,
    ) -> PositionReport:
        lat, lon = round(lat, 6), round(lon, 6)
        if anchor:
            ac.ref = (lat, lon, ts)
        self.counters["positions"] += 1
        alt = result.get("altitude")
        # Positional, in PositionReport's field order (icao24, ts, lat, lon, alt_ft, gs_kt,
        # track_deg, vrate_fpm, callsign, squawk, on_ground, source): the hot path.
        return PositionReport(
            icao24,
            float(ts),
            lat,
            lon,
            int(alt) if alt is not None else None,
            ac.gs_kt,
            ac.track_deg,
            ac.vrate_fpm,
            ac.callsign,
            None,
            False,
            self.source,
        )
