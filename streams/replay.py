"""Recorded files: reading recording format v1, and offline evaluation without Kafka.

A recording is JSON lines (``.jsonl``), optionally gzip-compressed (``.gz``, detected by its
magic bytes, not its name), one position per line in recording format v1 (see
:mod:`streams.codec`). Blank lines and lines starting with ``#`` are skipped.

Hostile files: a line longer than :data:`~streams.codec.MESSAGE_MAX_BYTES` is a ``too_large``
bad line, skipped without being held in memory (a gzip bomb with no newline costs at most
that much); a gzip stream that is cut short or corrupt ends the file with one ``truncated``
or ``corrupt`` bad line saying how much was read, and every position before it is kept.

:func:`evaluate` runs the very same :class:`~streams.tracking.Tracker` as the Faust agent, over
a recording, in file order, and returns the events: ``skyfence evaluate`` is how testers and
analysts check a recording without a broker.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streams.codec import MESSAGE_MAX_BYTES, decode_position
from streams.errors import DecodeError
from streams.models import AirspaceEvent, BadLine, PositionReport
from streams.scheduler import DueQueue, fire_due, schedule
from streams.tracking import AircraftState, Outcome, Tracker

__all__ = [
    "EvaluationResult",
    "evaluate",
    "open_recording",
    "read_lines",
    "read_recording",
]

_GZIP_MAGIC = b"\x1f\x8b"


def open_recording(path: str | Path) -> IO[bytes]:
    """Open a recording for binary reading, transparently un-gzipping it."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    magic = raw.peek(2)[:2] if isinstance(raw, io.BufferedReader) else b""
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    return raw


#: Bytes read at a time while skipping the rest of an over-long line.
_SKIP_CHUNK_BYTES = 64 * 1024


def _scan_lines(path: str | Path) -> Iterator[tuple[int, bytes] | BadLine]:
    """Each non-blank, non-comment line with its number, or a :class:`BadLine` for a line
    over the size limit (skipped in bounded memory) and for a truncated or corrupt gzip
    stream (which ends the scan)."""
    line_no = 0
    read_bytes = 0
    with open_recording(path) as fh:
        try:
            while True:
                line = fh.readline(MESSAGE_MAX_BYTES + 1)
                if not line:
                    return
                line_no += 1
                read_bytes += len(line)
                if len(line) > MESSAGE_MAX_BYTES and not line.endswith(b"\n"):
                    size = len(line)
                    while True:  # the rest of the line, read and dropped
                        chunk = fh.readline(_SKIP_CHUNK_BYTES)
                        size += len(chunk)
                        if not chunk or chunk.endswith(b"\n"):
                            break
                    read_bytes += size - len(line)
                    yield BadLine(
                        line_no,
                        "too_large",
                        f"line of {size} bytes, more than the limit of {MESSAGE_MAX_BYTES}",
                        line[:200],
                    )
                    continue
                line = line.strip()
                if line and not line.startswith(b"#"):
                    yield line_no, line
        except EOFError as exc:
            yield _cut_short("truncated", exc, line_no, read_bytes)
        except (gzip.BadGzipFile, zlib.error) as exc:
            yield _cut_short("corrupt", exc, line_no, read_bytes)


def _cut_short(reason: str, exc: Exception, line_no: int, read_bytes: int) -> BadLine:
    return BadLine(
        line_no + 1,
        reason,
        f"compressed data {reason} after line {line_no} ({read_bytes} bytes read): {exc}",
        b"",
    )


def read_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) for each non-blank, non-comment line of a recording
    (over-long lines and a damaged gzip tail are left out: see :func:`read_recording_raw`)."""
    for item in _scan_lines(path):
        if not isinstance(item, BadLine):
            yield item


def read_recording_raw(path: str | Path) -> Iterator[tuple[PositionReport | BadLine, bytes]]:
    """Yield ``(report or BadLine, raw line)`` for each line: replays send the raw bytes."""
    for item in _scan_lines(path):
        if isinstance(item, BadLine):
            yield item, item.raw
            continue
        line_no, line = item
        try:
            yield decode_position(line), line
        except DecodeError as exc:
            yield BadLine(line_no, exc.reason, exc.detail, line), line


def read_recording(path: str | Path) -> Iterator[PositionReport | BadLine]:
    """Yield a :class:`PositionReport` per good line and a :class:`BadLine` per bad one."""
    for item, _raw in read_recording_raw(path):
        yield item


@dataclass(slots=True)
class EvaluationResult:
    """Events and counters of one offline evaluation."""

    events: list[AirspaceEvent] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)
    bad_lines: list[BadLine] = field(default_factory=list)
    aircraft: int = 0


def evaluate(
    items: Iterable[PositionReport | BadLine],
    tracker: Tracker,
    *,
    final_watermark: float | None = None,
) -> EvaluationResult:
    """Run the tracker over reports in order; bad lines are collected, not fatal.

    The watermark is the highest position time seen so far; timers (exit confirmation,
    signal loss) fire against it. At the end, timers fire against ``final_watermark`` (as the
    Kafka path does on the replay's closing watermark message), by default the last time seen.
    """
    result = EvaluationResult(outcomes={o.value: 0 for o in Outcome})
    states: dict[str, AircraftState] = {}
    queue = DueQueue()
    for item in items:
        if isinstance(item, BadLine):
            result.bad_lines.append(item)
            continue
        for _state, ticked in fire_due(tracker, queue, states, item.ts):
            result.events.extend(ticked.events)
        step = tracker.step(states.get(item.icao24), item)
        if step.state is None:
            states.pop(item.icao24, None)
        else:
            states[item.icao24] = step.state
            schedule(tracker, queue, item.icao24, step.state)
        result.outcomes[step.outcome.value] += 1
        result.events.extend(step.events)
    if final_watermark is not None:
        for _state, ticked in fire_due(tracker, queue, states, final_watermark):
            result.events.extend(ticked.events)
    result.aircraft = len(states)
    return result
