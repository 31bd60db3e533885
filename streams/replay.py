"""Recorded files: reading recording format v1, and offline evaluation without Kafka.

A recording is JSON lines (``.jsonl``), optionally gzip-compressed (``.gz``, detected by its
magic bytes, not its name), one position per line in recording format v1 (see
:mod:`streams.codec`). Blank lines and lines starting with ``#`` are skipped.

:func:`evaluate` runs the very same :class:`~streams.tracking.Tracker` as the Faust agent, over
a recording, in file order, and returns the events: ``skyfence evaluate`` is how testers and
analysts check a recording without a broker.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from streams.codec import decode_position
from streams.errors import DecodeError
from streams.models import AirspaceEvent, BadLine, PositionReport
from streams.scheduler import DueQueue, fire_due
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


def read_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number, raw line) for each non-blank, non-comment line of a recording."""
    with open_recording(path) as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.strip()
            if line and not line.startswith(b"#"):
                yield line_no, line


def read_recording_raw(path: str | Path) -> Iterator[tuple[PositionReport | BadLine, bytes]]:
    """Yield ``(report or BadLine, raw line)`` for each line: replays send the raw bytes."""
    for line_no, line in read_lines(path):
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
            due = tracker.due_ts(step.state)
            if due is not None:
                queue.push(due, item.icao24)
        result.outcomes[step.outcome.value] += 1
        result.events.extend(step.events)
    if final_watermark is not None:
        for _state, ticked in fire_due(tracker, queue, states, final_watermark):
            result.events.extend(ticked.events)
    result.aircraft = len(states)
    return result
