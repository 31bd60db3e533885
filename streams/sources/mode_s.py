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
  within :data:`PAIR_MAX_GAP_S` (rs1090's batch decode of the pair);
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

from dataclasses import dataclass
from typing import Any

import rs1090

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
    #: Latest even and odd position messages (hex) with their reception times.
    even: tuple[str, float] | None = None
    odd: tuple[str, float] | None = None
    #: Last decoded position (lat, lon, ts): the reference for local decoding.
    ref: tuple[float, float, float] | None = None
    callsign: str | None = None
    gs_kt: float | None = None
    track_deg: float | None = None
    vrate_fpm: int | None = None


def _distance_nm(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return haversine_m(lat1, lon1, lat2, lon2) / _NM_M


def _decode(msg_hex: str, reference: tuple[float, float] | None = None) -> dict[str, Any] | None:
    """rs1090's decode of one message (``None``: refused, e.g. a failed CRC)."""
    result: Any = rs1090.decode(msg_hex, reference=reference)
    return result if isinstance(result, dict) else None


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
        dist = _distance_nm(ref[0], ref[1], lat, lon)
        return dist <= JUMP_SLACK_NM + MAX_SPEED_KT * abs(ts - ref[2]) / 3600.0

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
            ac = self._touch(icao24, ac, ts)
            self.counters["position_frames"] += 1
            self._keep_frame(ac, result, msg_hex, ts)
            lat, lon = result.get("latitude"), result.get("longitude")
            if lat is not None and lon is not None and self._plausible(ref, lat, lon, ts):
                self.counters["local_decodes"] += 1
                return self._report(icao24, ac, result, lat, lon, ts)
            # In doubt: drop the reference and the older frame of the other parity (which
            # may belong to the wrong track), and decode globally from a fresh pair.
            self.counters["cpr_rejected"] += 1
            ac.ref = None
            if result.get("parity") == "odd":
                ac.even = None
            else:
                ac.odd = None
            return None
        result = _decode(msg_hex, self.reference)
        if result is None:
            raise _Reject("bad_crc", True)
        ac = self._touch(icao24, ac, ts)
        self.counters["position_frames"] += 1
        other = ac.even if result.get("parity") == "odd" else ac.odd
        self._keep_frame(ac, result, msg_hex, ts)
        if other is not None and abs(ts - other[1]) <= PAIR_MAX_GAP_S:
            pair: Any = rs1090.decode([other[0], msg_hex], [other[1], ts])
            lat, lon = pair[1].get("latitude"), pair[1].get("longitude")
            if lat is not None and lon is not None:
                self.counters["global_decodes"] += 1
                return self._report(icao24, ac, result, lat, lon, ts)
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
    def _keep_frame(ac: _Aircraft, result: dict[str, Any], msg_hex: str, ts: float) -> None:
        if result.get("parity") == "odd":
            ac.odd = (msg_hex, ts)
        else:
            ac.even = (msg_hex, ts)

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
        lat, lon = round(float(lat), 6), round(float(lon), 6)
        if anchor:
            ac.ref = (lat, lon, ts)
        self.counters["positions"] += 1
        alt = result.get("altitude")
        return PositionReport(
            icao24=icao24,
            ts=float(ts),
            lat=lat,
            lon=lon,
            alt_ft=int(alt) if alt is not None else None,
            gs_kt=ac.gs_kt,
            track_deg=ac.track_deg,
            vrate_fpm=ac.vrate_fpm,
            callsign=ac.callsign,
            on_ground=False,
            source=self.source,
        )
