"""SBS-1 / BaseStation text (dump1090/readsb port 30003, SBS logs): a pure streaming decoder.

One message per line, 22 comma-separated fields::

    MSG,3,1,1,4CA2E6,1,2023/09/26,01:14:15.000,2023/09/26,01:14:15.000,,27600,,,40.1681,124.4457,,,0,0,0,0
     1  2 3 4   5    6     7          8           9          10       11  12 13 14  15     16    17..22

(1) ``MSG`` (other kinds, ``SEL``/``ID``/``AIR``/``STA``/``CLK``, carry no position and are
skipped); (2) transmission type 1-8; (5) hex ident, the ICAO address; (7, 8) date and time
the message was generated, (9, 10) logged; (11) callsign; (12) altitude, ft; (13) ground
speed, kt; (14) track, deg; (15, 16) latitude, longitude; (17) vertical rate, ft/min;
(18) squawk; (22) on ground (``-1`` or ``1`` true, ``0`` false).

Each transmission type carries part of an aircraft's state: 1 the callsign, 2 a surface
position, 3 an airborne position, 4 velocity, 5-7 altitude (6 also the squawk), 8 the ground
flag. :class:`SbsDecoder` merges them per aircraft and emits a :class:`PositionReport` for
each position message (types 2 and 3), filled from the latest callsign, squawk and, when no
older than :data:`KINEMATICS_MAX_AGE_S`, altitude and velocity. Other lines update the state
and emit nothing (``None``).

Times are read as UTC (readsb writes UTC; run dump1090 builds that write local time with
``TZ=UTC``); the generated time is used, else the logged time, else the receive time the
caller passes (``recv_ts``: the decoder never reads a clock). Aircraft silent for
:data:`EVICT_AFTER_S` of event time are forgotten lazily; at most :data:`MAX_AIRCRAFT` are
held (the oldest go first), so hostile input cannot grow memory without bound.

Rejections (:class:`BadLine`, ``line_no`` = line number): ``sbs_malformed`` (not 22-ish
comma-separated fields, or not text), ``sbs_bad_type``, ``non_icao`` (a ``~`` address:
TIS-B or anonymous, not an ICAO address), ``bad_icao24``, ``sbs_bad_time``, and the codec's
reasons for the merged position (``bad_lat``, ``bad_lon``...).

Pure: standard library and this package only. :func:`format_sbs` writes SBS lines (tests,
benchmarks and the offline end-to-end test serve recordings through it).
"""

from __future__ import annotations

import calendar
import math
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from streams.models import BadLine, PositionReport
from streams.sources._common import open_text_lines

__all__ = [
    "EVICT_AFTER_S",
    "KINEMATICS_MAX_AGE_S",
    "MAX_AIRCRAFT",
    "SbsDecoder",
    "SbsFramer",
    "format_sbs",
    "parse_sbs",
    "read_sbs",
]

#: Altitude and velocity older than this (event time) are not attached to a position: at
#: 500 kt an aircraft flies 1.4 NM in 10 s; receivers send both several times a second.
KINEMATICS_MAX_AGE_S = 10.0
#: An aircraft silent this long (event time) is forgotten, its callsign and squawk with it.
EVICT_AFTER_S = 300.0
#: Most aircraft held at once: a receiver hears a few hundred; an aggregator's SBS feed of
#: the whole world ~15,000. Beyond this the least recently heard are dropped.
MAX_AIRCRAFT = 50_000
#: Lines between two sweeps for silent aircraft.
_SWEEP_EVERY_LINES = 10_000
_HEX = frozenset("0123456789abcdefABCDEF")
_OCTAL = frozenset("01234567")
#: The codec's time range (2000 to 2100): outside it is a unit error or garbage.
_TS_MIN, _TS_MAX = 946_684_800.0, 4_102_444_800.0
#: Longest line considered (a real one is under 150 bytes): longer is garbage.
_MAX_LINE_BYTES = 512


class _Aircraft:
    """Merged state of one aircraft (mutable, slotted: one per aircraft heard)."""

    __slots__ = ("alt_ft", "alt_ts", "callsign", "gs_kt", "last_ts", "on_ground", "squawk",
                 "track_deg", "vel_ts", "vrate_fpm")  # fmt: skip

    def __init__(self, ts: float) -> None:
        self.callsign: str | None = None
        self.squawk: str | None = None
        self.alt_ft: int | None = None
        self.alt_ts = -math.inf
        self.gs_kt: float | None = None
        self.track_deg: float | None = None
        self.vrate_fpm: int | None = None
        self.vel_ts = -math.inf
        self.on_ground: bool | None = None
        self.last_ts = ts


def _num(text: str) -> float | None:
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _int(text: str) -> int | None:
    value = _num(text)
    return None if value is None or abs(value) > 1e9 else round(value)


def _raw(line: bytes | str) -> bytes:
    return line if isinstance(line, bytes) else line.encode("utf-8", "replace")


class SbsDecoder:
    """Per-aircraft streaming SBS decoder (see the module docstring). ``source`` is written
    into every report's ``source`` field."""

    def __init__(self, *, source: str = "sbs") -> None:
        self.source = source
        self._aircraft: dict[str, _Aircraft] = {}
        self._day_cache: dict[str, float] = {}
        self._last_date = ""
        self._last_minute = ""
        self._last_minute_ts = 0.0
        #: Hex idents seen, mapped to their normalised address (bounded like the aircraft).
        self._hex_seen: dict[str, str] = {}
        self._lines = 0
        self._latest_ts = -math.inf

    @property
    def aircraft(self) -> int:
        """Aircraft currently held."""
        return len(self._aircraft)

    def _time(self, date: str, clock: str) -> float | None:
        # Most lines share the date and the minute with the line before: reuse them.
        if date == self._last_date and clock[:6] == self._last_minute and len(clock) >= 8:
            try:
                seconds = float(clock[6:])
            except ValueError:
                return None
            if 0.0 <= seconds < 61.0:
                return self._last_minute_ts + seconds
            return None
        day = self._day_cache.get(date)
        if day is None:
            try:
                y, mo, d = date.split("/")
                day = float(calendar.timegm((int(y), int(mo), int(d), 0, 0, 0)))
            except (ValueError, OverflowError):
                return None
            if len(self._day_cache) > 64:
                self._day_cache.clear()
            self._day_cache[date] = day
        if len(clock) < 8 or clock[2] != ":" or clock[5] != ":":
            return None
        try:
            hours, minutes, seconds = int(clock[:2]), int(clock[3:5]), float(clock[6:])
        except ValueError:
            return None
        if not (0 <= hours < 24 and 0 <= minutes < 60 and 0.0 <= seconds < 61.0):
            return None
        self._last_date, self._last_minute = date, clock[:6]
        self._last_minute_ts = day + hours * 3600 + minutes * 60
        return self._last_minute_ts + seconds

    def feed(
        self, line: bytes | str, recv_ts: float, line_no: int = 0
    ) -> PositionReport | BadLine | None:
        """Decode one line received at ``recv_ts`` (epoch seconds); ``None`` when the line is
        valid but carries no position (it may have updated the aircraft's state)."""
        if len(line) > _MAX_LINE_BYTES:
            return BadLine(line_no, "sbs_malformed", "line too long", _raw(line)[:200])
        if isinstance(line, bytes):
            try:
                text = line.decode("ascii").strip()
            except UnicodeDecodeError:
                return BadLine(line_no, "sbs_malformed", "not ASCII text", line)
        else:
            text = line.strip()
        if not text:
            return None
        f = text.split(",")
        if f[0] != "MSG":
            if f[0] in ("SEL", "ID", "AIR", "STA", "CLK"):
                return None
            return BadLine(line_no, "sbs_malformed", "not an SBS message", _raw(line))
        if len(f) < 17:
            return BadLine(line_no, "sbs_malformed", f"{len(f)} fields, expected 22", _raw(line))
        if len(f) < 22:
            f.extend([""] * (22 - len(f)))
        kind = f[1]
        if kind not in ("1", "2", "3", "4", "5", "6", "7", "8"):
            return BadLine(line_no, "sbs_bad_type", "transmission type not 1-8", _raw(line))
        hexid = f[4]
        icao24 = self._hex_seen.get(hexid)
        if icao24 is None:
            hexid = hexid.strip()
            if hexid.startswith("~"):
                return BadLine(
                    line_no, "non_icao", "non-ICAO address (TIS-B/anonymous)", _raw(line)
                )
            if len(hexid) != 6 or not _HEX.issuperset(hexid):
                return BadLine(line_no, "bad_icao24", "hex ident is not 6 hex digits", _raw(line))
            icao24 = hexid.lower()
            if len(self._hex_seen) >= MAX_AIRCRAFT:
                self._hex_seen.clear()
            self._hex_seen[f[4]] = icao24
        ts: float | None = recv_ts
        if f[6] and f[7]:
            ts = self._time(f[6], f[7])
        elif f[8] and f[9]:
            ts = self._time(f[8], f[9])
        if ts is None or ts != ts:  # unparseable, or no time at all and no receive time (NaN)
            return BadLine(
                line_no, "sbs_bad_time", "date/time not YYYY/MM/DD,HH:MM:SS.sss", _raw(line)
            )

        self._lines += 1
        if self._lines % _SWEEP_EVERY_LINES == 0:
            self._sweep()
        if ts > self._latest_ts:
            self._latest_ts = ts
        ac = self._aircraft.get(icao24)
        if ac is None:
            if len(self._aircraft) >= MAX_AIRCRAFT:
                self._sweep(force=True)
            ac = self._aircraft[icao24] = _Aircraft(ts)
        elif ac.last_ts <= ts:
            ac.last_ts = ts

        if kind == "1":
            callsign = f[10].strip()
            if callsign:
                ac.callsign = callsign[:8]
            return None
        if kind == "4":
            ac.gs_kt = _num(f[12])
            ac.track_deg = _num(f[13])
            ac.vrate_fpm = _int(f[16])
            ac.vel_ts = ts
            return None
        alt = _int(f[11])
        if alt is not None:
            ac.alt_ft = alt
            ac.alt_ts = ts
        ground = f[21].strip()
        if ground:
            ac.on_ground = ground in ("-1", "1")
        squawk = f[17].strip()
        if squawk and len(squawk) == 4 and _OCTAL.issuperset(squawk):
            ac.squawk = squawk
        if kind not in ("2", "3"):
            return None
        lat, lon = _num(f[14]), _num(f[15])
        gs, track = ac.gs_kt, ac.track_deg
        vrate = ac.vrate_fpm
        if kind == "2":  # a surface position carries its own movement and track
            gs, track = _num(f[12]), _num(f[13])
            ac.on_ground = True
        elif ts - ac.vel_ts > KINEMATICS_MAX_AGE_S:
            gs = track = vrate = None
        # The codec's rules, applied here directly (the hot path of a busy feed).
        if lat is None or lon is None:
            return BadLine(line_no, "no_position", "no latitude/longitude", _raw(line))
        if not -90.0 <= lat <= 90.0:
            return BadLine(line_no, "bad_lat", "'lat' must be within [-90, 90]", _raw(line))
        if not -180.0 <= lon <= 180.0:
            return BadLine(line_no, "bad_lon", "'lon' must be within [-180, 180]", _raw(line))
        if not _TS_MIN <= ts <= _TS_MAX:
            return BadLine(line_no, "bad_ts", "time must be between 2000 and 2100", _raw(line))
        return PositionReport(
            icao24,
            ts,
            lat,
            lon,
            ac.alt_ft if ts - ac.alt_ts <= KINEMATICS_MAX_AGE_S else None,
            gs,
            None if track is None else track % 360.0,
            vrate,
            ac.callsign,
            ac.squawk,
            ac.on_ground,
            self.source,
        )

    def _sweep(self, *, force: bool = False) -> None:
        """Forget aircraft silent for :data:`EVICT_AFTER_S`; when ``force``d and still full,
        the least recently heard half."""
        horizon = self._latest_ts - EVICT_AFTER_S
        for icao24 in [k for k, a in self._aircraft.items() if a.last_ts < horizon]:
            del self._aircraft[icao24]
        if force and len(self._aircraft) >= MAX_AIRCRAFT:
            by_age = sorted(self._aircraft, key=lambda k: self._aircraft[k].last_ts)
            for icao24 in by_age[: len(by_age) // 2]:
                del self._aircraft[icao24]


def parse_sbs(
    lines: Iterable[bytes | str], *, recv_ts: float | None = None, decoder: SbsDecoder | None = None
) -> Iterator[PositionReport | BadLine]:
    """Decode SBS lines in order (an SBS log). Lines without a date and time get ``recv_ts``;
    when it is ``None`` they are rejected as ``sbs_bad_time`` (a log must carry its times)."""
    decoder = decoder if decoder is not None else SbsDecoder()
    for line_no, line in enumerate(lines, start=1):
        item = decoder.feed(line, math.nan if recv_ts is None else recv_ts, line_no)
        if item is not None:
            yield item


def read_sbs(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Read an SBS log file (plain or gzipped), see :func:`parse_sbs`."""
    yield from parse_sbs(open_text_lines(path))


def _fmt_time(ts: float) -> tuple[str, str]:
    whole = math.floor(ts)
    t = time.gmtime(whole)
    ms = min(999, round((ts - whole) * 1000))
    return (
        f"{t.tm_year:04d}/{t.tm_mon:02d}/{t.tm_mday:02d}",
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms:03d}",
    )


def format_sbs(report: PositionReport, *, with_time: bool = True) -> list[str]:
    """SBS lines carrying ``report``: ``MSG,1`` (callsign), ``MSG,4`` (velocity), then the
    position (``MSG,3``, or ``MSG,2`` on the ground), each without a line ending."""
    date, clock = _fmt_time(report.ts) if with_time else ("", "")
    head = f"1,1,{report.icao24.upper()},1,{date},{clock},{date},{clock}"

    def num(v: float | int | None, spec: str = "") -> str:
        return "" if v is None else format(v, spec)

    lines = []
    if report.callsign:
        lines.append(f"MSG,1,{head},{report.callsign},,,,,,,,,,,0")
    if report.gs_kt is not None or report.track_deg is not None or report.vrate_fpm is not None:
        lines.append(
            f"MSG,4,{head},,,{num(report.gs_kt, '.1f')},{num(report.track_deg, '.1f')},,,"
            f"{num(report.vrate_fpm)},,,,,0"
        )
    squawk = report.squawk or ""
    if report.on_ground:  # a surface position carries its own speed and track
        lines.append(
            f"MSG,2,{head},,{num(report.alt_ft)},{num(report.gs_kt, '.1f')},"
            f"{num(report.track_deg, '.1f')},{report.lat:.5f},{report.lon:.5f},,{squawk},0,0,0,-1"
        )
    else:
        lines.append(
            f"MSG,3,{head},,{num(report.alt_ft)},,,{report.lat:.5f},{report.lon:.5f},,"
            f"{squawk},0,0,0,0"
        )
    return lines


class SbsFramer:
    """Splits a TCP byte stream into SBS lines and decodes them (pure; see ``streams.sources.tcp``).

    :meth:`feed` returns the items of every complete line in ``chunk`` and how many lines
    that was; a line cut by a disconnect is dropped by :meth:`reset` as ``sbs_truncated``.
    """

    def __init__(self, *, source: str = "sbs") -> None:
        self.decoder = SbsDecoder(source=source)
        self._buf = b""
        self._line_no = 0

    def feed(self, chunk: bytes, recv_ts: float) -> tuple[list[PositionReport | BadLine], int]:
        """Items decoded from the complete lines now available, and the number of lines."""
        data = self._buf + chunk if self._buf else chunk
        lines = data.split(b"\n")
        partial = lines.pop()
        self._buf = partial
        out: list[PositionReport | BadLine] = []
        feed = self.decoder.feed
        try:  # one decode for the whole chunk (the common case: plain ASCII)
            texts: list[str] | list[bytes] = (
                data[: len(data) - len(partial)].decode("ascii").split("\n")
            )
            texts.pop()
        except UnicodeDecodeError:
            texts = lines
        line_no = self._line_no
        for line in texts:
            line_no += 1
            item = feed(line, recv_ts, line_no)
            if item is not None:
                out.append(item)
        self._line_no = line_no
        if len(self._buf) > _MAX_LINE_BYTES:  # no line ending in sight: garbage
            self._line_no += 1
            out.append(BadLine(self._line_no, "sbs_malformed", "line too long", self._buf[:200]))
            self._buf = b""
        return out, len(lines)

    def reset(self) -> list[PositionReport | BadLine]:
        """The connection ended: a partial line is a rejection (``sbs_truncated``)."""
        rest, self._buf = self._buf, b""
        if rest.strip():
            self._line_no += 1
            return [
                BadLine(self._line_no, "sbs_truncated", "connection closed mid-line", rest[:200])
            ]
        return []
