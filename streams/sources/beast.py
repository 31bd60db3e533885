"""The Beast binary format (dump1090/readsb ``--net-bo-port``, Mode-S Beast receivers).

A stream of frames, each::

    0x1a  type  timestamp(6)  signal(1)  message(2 | 7 | 14)

``type`` is ``'1'`` (Mode A/C, 2 bytes), ``'2'`` (Mode S short, 7 bytes) or ``'3'`` (Mode S
long, 14 bytes); the timestamp is a 48-bit big-endian count of a 12 MHz clock (the MLAT
counter, whose origin is arbitrary: usually the receiver's power-on); the signal byte is the
RSSI. Any 0x1a inside timestamp, signal or message is sent doubled (0x1a 0x1a).

The counter carries no wall-clock time, so :func:`parse_beast` takes ``start_ts`` (epoch
seconds, default 0.0) as the time of the *first* frame and dates the others by the counter's
progress from it (modulo 2^48, surviving one wrap). With the default 0.0 the reports' ``ts``
are seconds since the first frame, not epoch times: fine for geometry and decoding tests,
not for a recording (the codec refuses times before 2000). Pass the capture start time.

Out of scope: the Radarcape/GPS timestamp variant (seconds-of-day + nanoseconds), status
frames (type ``'4'``, skipped like any unknown type), and the socket itself
(:class:`BeastFramer` is the pure half of the live source in ``streams.sources.tcp``).

Pure except :func:`read_beast`, which only reads the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from streams.models import BadLine, PositionReport
from streams.sources.mode_s import ModeSDecoder

__all__ = [
    "BEAST_TICKS_PER_S",
    "BeastError",
    "BeastFramer",
    "iter_beast_frames",
    "parse_beast",
    "read_beast",
    "scan_beast",
]

#: The Beast MLAT timestamp counts a 12 MHz clock.
BEAST_TICKS_PER_S = 12_000_000
#: The frame marker; doubled inside a frame to stand for itself.
ESCAPE = 0x1A
MARKER = b"\x1a"
#: Message length (bytes) by frame type: Mode A/C, Mode S short, Mode S long.
_MSG_LEN = {0x31: 2, 0x32: 7, 0x33: 14}
#: Timestamp (6) + signal (1) bytes before the message.
_HEADER_LEN = 7
#: The timestamp counter is 48 bits wide.
_TICKS_MOD = 1 << 48


@dataclass(frozen=True, slots=True)
class BeastError:
    """Where and why the scanner had to drop bytes (``reason``: bounded identifier).

    ``offset`` is the byte offset of the frame marker (or of the stray bytes) in the input.
    Reasons: ``beast_unknown_type``, ``beast_truncated`` (a new marker or the end of data
    inside a frame), ``beast_garbage`` (bytes outside any frame).
    """

    offset: int
    reason: str


def scan_beast(data: bytes) -> Iterator[tuple[int, int, int, bytes] | BeastError]:
    """Yield ``(offset, mlat_ticks, signal, msg)`` per frame, or a :class:`BeastError`.

    Resynchronises on the next lone 0x1a after any damage, as receivers' clients do.
    """
    n = len(data)
    i = 0
    while i < n:
        if data[i] != ESCAPE:
            start = i
            i = data.find(MARKER, i)
            if i < 0:
                i = n
            yield BeastError(start, "beast_garbage")
            continue
        start = i
        if i + 1 >= n:
            yield BeastError(start, "beast_truncated")
            return
        ftype = data[i + 1]
        if ftype == ESCAPE:
            # An escaped 0x1a outside a frame: stray data.
            i += 2
            yield BeastError(start, "beast_garbage")
            continue
        want = _MSG_LEN.get(ftype)
        if want is None:
            i += 2
            while i < n and not (data[i] == ESCAPE and (i + 1 >= n or data[i + 1] != ESCAPE)):
                i += 2 if data[i] == ESCAPE else 1
            yield BeastError(start, "beast_unknown_type")
            continue
        total = _HEADER_LEN + want
        # Most frames hold no 0x1a at all: one slice, no byte-by-byte unescaping.
        body_end = i + 2 + total
        if body_end <= n and data.find(MARKER, i + 2, body_end) < 0:
            i = body_end
            yield start, int.from_bytes(data[start + 2 : start + 8], "big"), data[start + 8], (
                data[start + 2 + _HEADER_LEN : body_end]
            )
            continue
        body = bytearray()
        i += 2
        while len(body) < total and i < n:
            b = data[i]
            if b == ESCAPE:
                if i + 1 < n and data[i + 1] == ESCAPE:
                    body.append(ESCAPE)
                    i += 2
                    continue
                break  # a lone marker: the next frame starts, this one is short
            body.append(b)
            i += 1
        if len(body) < total:
            yield BeastError(start, "beast_truncated")
            continue
        ticks = int.from_bytes(body[:6], "big")
        yield start, ticks, body[6], bytes(body[_HEADER_LEN:])


def iter_beast_frames(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Yield ``(mlat_ticks, signal, msg_bytes)`` for every well-formed frame, unescaped."""
    for item in scan_beast(data):
        if not isinstance(item, BeastError):
            yield item[1], item[2], item[3]


def parse_beast(
    data: bytes, *, start_ts: float = 0.0, decoder: ModeSDecoder | None = None
) -> Iterator[PositionReport | BadLine]:
    """Decode Beast bytes into position reports (Mode S frames through :class:`ModeSDecoder`).

    ``ts`` of a frame is ``start_ts`` plus the 12 MHz counter's progress since the first
    frame. Damaged framing and corrupt messages (bad CRC, undefined DF) become
    :class:`BadLine` with ``line_no`` = the frame's byte offset. Mode A/C frames are skipped.
    """
    decoder = decoder if decoder is not None else ModeSDecoder()
    first_ticks: int | None = None
    for item in scan_beast(data):
        if isinstance(item, BeastError):
            raw = data[item.offset : item.offset + 23]
            yield BadLine(item.offset, item.reason, "damaged Beast framing", raw)
            continue
        offset, ticks, _signal, msg = item
        if len(msg) == 2:
            continue  # Mode A/C: no address, no position
        if first_ticks is None:
            first_ticks = ticks
        ts = start_ts + ((ticks - first_ticks) % _TICKS_MOD) / BEAST_TICKS_PER_S
        report = decoder.feed_bytes(msg, ts)
        if report is not None:
            yield report
        elif decoder.last_reject is not None:
            yield BadLine(offset, decoder.last_reject, f"Mode S message {msg.hex()}", msg)


def read_beast(
    path: str | Path, *, start_ts: float = 0.0, reference: tuple[float, float] | None = None
) -> Iterator[PositionReport | BadLine]:
    """Read a Beast capture file (plain or gzipped) and decode it (see :func:`parse_beast`;
    ``reference``: the receiver's lat, lon); a damaged gzip tail ends it with one bad line."""
    from streams.sources._common import read_bytes_partial

    data, damage = read_bytes_partial(path)
    yield from parse_beast(data, start_ts=start_ts, decoder=ModeSDecoder(reference=reference))
    if damage is not None:
        yield BadLine(len(data), damage.reason, damage.detail, b"")


#: A live stream is dated by the 12 MHz counter from its first frame; when that date strays
#: further than this from the receive time (a receiver restart resets the counter; a
#: crystal drifts ~50 ppm, 0.2 s an hour) the counter is re-anchored to the receive time.
MAX_DRIFT_S = 30.0
#: Bytes of an unfinished frame kept between two chunks; a frame is at most 46 bytes
#: escaped, so more than this is garbage and dropped.
_MAX_PENDING_BYTES = 4096


class BeastFramer:
    """Decodes a live Beast byte stream chunk by chunk (pure; see ``streams.sources.tcp``).

    Frames are dated by the MLAT counter anchored at the receive time (epoch seconds, passed
    in) of the connection's first frame, re-anchored when it drifts :data:`MAX_DRIFT_S`. A
    frame cut by a chunk boundary waits for the next chunk; one cut by a disconnect is a
    ``beast_truncated`` rejection from :meth:`reset`. ``line_no`` of a rejection is the
    byte offset in the connection's stream.
    """

    def __init__(self, *, decoder: ModeSDecoder | None = None) -> None:
        self.decoder = decoder if decoder is not None else ModeSDecoder()
        self._buf = b""
        self._offset = 0
        self._anchor: tuple[int, float] | None = None

    def feed(self, chunk: bytes, recv_ts: float) -> tuple[list[PositionReport | BadLine], int]:
        """Items from the complete frames now available, and the number of frames."""
        data = self._buf + chunk if self._buf else chunk
        scanned = list(scan_beast(data))
        keep_from = len(data)
        # Trailing truncations wait for more data: a frame whose last byte is a 0x1a is cut
        # (it may be half of an escaped pair), then that 0x1a alone is cut again.
        while scanned:
            last = scanned[-1]
            if not (isinstance(last, BeastError) and last.reason == "beast_truncated"):
                break
            keep_from = last.offset
            scanned.pop()
        out: list[PositionReport | BadLine] = []
        if len(data) - keep_from > _MAX_PENDING_BYTES:
            out.append(BadLine(self._offset + keep_from, "beast_truncated", "frame too long", b""))
            keep_from = len(data)
        self._buf = data[keep_from:]
        frames = 0
        for item in scanned:
            if isinstance(item, BeastError):
                raw = data[item.offset : item.offset + 23]
                out.append(
                    BadLine(self._offset + item.offset, item.reason, "damaged Beast framing", raw)
                )
                continue
            frames += 1
            offset, ticks, _signal, msg = item
            if len(msg) == 2:
                continue  # Mode A/C: no address, no position
            if self._anchor is None:
                self._anchor = (ticks, recv_ts)
            ts = self._anchor[1] + ((ticks - self._anchor[0]) % _TICKS_MOD) / BEAST_TICKS_PER_S
            if abs(ts - recv_ts) > MAX_DRIFT_S:
                self._anchor = (ticks, recv_ts)
                ts = recv_ts
            report = self.decoder.feed_bytes(msg, ts)
            if report is not None:
                out.append(report)
            elif self.decoder.last_reject is not None:
                out.append(
                    BadLine(
                        self._offset + offset,
                        self.decoder.last_reject,
                        f"Mode S message {msg.hex()}",
                        msg,
                    )
                )
        self._offset += keep_from
        return out, frames

    def reset(self) -> list[PositionReport | BadLine]:
        """The connection ended: drop a partial frame (a rejection) and the counter anchor."""
        rest, self._buf = self._buf, b""
        self._anchor = None
        offset = self._offset
        self._offset = 0
        if rest:
            return [BadLine(offset, "beast_truncated", "connection closed mid-frame", rest[:23])]
        return []
