"""Replay controls: a time window, re-stamping to now, looping, and progress reporting.

``skyfence replay FILE`` reads ``(report or BadLine, raw)`` pairs (see
:func:`streams.sources.read_source_raw`) and :func:`controlled` reshapes them before the
producer paces them (``--speed``):

- ``--from``/``--to``: only positions whose time is in ``[from_ts, to_ts]``;
- ``--shift-to-now``: every time moved by the same offset, so the first position is *now*
  (``now_s``, given: this module reads no clock): a live demo from an old recording;
- ``--loop``: the file again and again, each pass shifted by the recording's span plus
  :data:`LOOP_GAP_S`, so time keeps moving forward and the tracker never sees a pass's
  positions as late copies of the previous pass's.

Shifted positions are re-encoded (recording format v1; unknown keys of a jsonl line are
dropped); unshifted ones keep their raw bytes. Bad lines pass through, for the producer to
count and report.

:func:`make_progress` reports progress: a rich progress bar (rate, ETA) on a terminal, a
plain line every :data:`PLAIN_EVERY_S` seconds otherwise (logs, CI).

Pure except :func:`make_progress`'s reporters, which write to the stream they are given.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, Protocol

from streams.codec import encode_position
from streams.errors import ConfigError
from streams.models import BadLine, PositionReport

__all__ = [
    "LOOP_GAP_S",
    "PLAIN_EVERY_S",
    "Progress",
    "ReplayControls",
    "controlled",
    "make_progress",
    "parse_time",
    "scan",
]

#: Time between the last position of one pass and the first of the next (``--loop``):
#: more than the tracker's whole-second duplicate rule, less than any timer.
LOOP_GAP_S = 1.0
#: Seconds between two plain progress lines.
PLAIN_EVERY_S = 5.0

Pair = tuple[PositionReport | BadLine, bytes]


@dataclass(frozen=True, slots=True)
class ReplayControls:
    """What ``replay`` was asked to do besides pacing."""

    from_ts: float | None = None
    to_ts: float | None = None
    shift_to_now: bool = False
    loop: bool = False

    @property
    def active(self) -> bool:
        """Whether anything but a plain pass over the file is asked for."""
        return self.from_ts is not None or self.to_ts is not None or self.shift_to_now or self.loop


def parse_time(text: str) -> float:
    """Epoch seconds from ``1695690855``, ``2023-09-26T01:14:15Z`` or ``2023-09-26 01:14``
    (ISO 8601; no zone means UTC). Raises :class:`ConfigError`."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"{text!r}: expected epoch seconds or an ISO 8601 time") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass(frozen=True, slots=True)
class Scan:
    """Positions in the window and their first and last times (None when empty)."""

    positions: int
    first_ts: float | None
    last_ts: float | None


def _in_window(ts: float, c: ReplayControls) -> bool:
    return (c.from_ts is None or ts >= c.from_ts) and (c.to_ts is None or ts <= c.to_ts)


def scan(pairs: Iterable[Pair], controls: ReplayControls) -> Scan:
    """Count the positions in the window and find their time span (one pass)."""
    n = 0
    first = last = None
    for item, _raw in pairs:
        if isinstance(item, BadLine) or not _in_window(item.ts, controls):
            continue
        n += 1
        first = item.ts if first is None else min(first, item.ts)
        last = item.ts if last is None else max(last, item.ts)
    return Scan(n, first, last)


def controlled(
    read: Callable[[], Iterable[Pair]],
    controls: ReplayControls,
    *,
    now_s: float,
    span: Scan | None = None,
) -> Iterator[Pair]:
    """The pairs of ``read()`` (called once per pass) windowed, shifted and looped.

    ``span`` (from :func:`scan`) is computed here when not given and needed.
    """
    needs_span = controls.shift_to_now or controls.loop
    if span is None and needs_span:
        span = scan(read(), controls)
    offset = 0.0
    if controls.shift_to_now and span is not None and span.first_ts is not None:
        offset = now_s - span.first_ts
    step = 0.0
    if (
        controls.loop
        and span is not None
        and span.first_ts is not None
        and span.last_ts is not None
    ):
        step = span.last_ts - span.first_ts + LOOP_GAP_S
    while True:
        sent = 0
        for item, raw in read():
            if isinstance(item, BadLine):
                yield item, raw
                continue
            if not _in_window(item.ts, controls):
                continue
            sent += 1
            if offset:
                item.ts += offset
                yield item, encode_position(item)
            else:
                yield item, raw
        if not controls.loop or sent == 0:
            return
        offset += step


class Progress(Protocol):
    """Where ``replay`` reports how far it got."""

    def update(self, sent: int, last_ts: float | None) -> None: ...

    def close(self) -> None: ...


def _utc(ts: float | None) -> str:
    if ts is None or not math.isfinite(ts):
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class PlainProgress:
    """A line every :data:`PLAIN_EVERY_S` seconds: count, percent, rate, event time, ETA."""

    def __init__(
        self, total: int | None, stream: IO[str], *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.total = total
        self.stream = stream
        self._clock = clock
        self._start = clock()
        self._last = self._start

    def _line(self, sent: int, last_ts: float | None) -> str:
        took = max(self._clock() - self._start, 1e-9)
        rate = sent / took
        text = f"replay: {sent:,}"
        if self.total:
            eta = (self.total - sent) / rate if rate > 0 else math.inf
            text += f"/{self.total:,} positions ({100 * sent / self.total:.0f}%), ETA {eta:,.0f} s"
        else:
            text += " positions"
        return f"{text}, {rate:,.0f}/s, event time {_utc(last_ts)}"

    def update(self, sent: int, last_ts: float | None) -> None:
        now = self._clock()
        if now - self._last >= PLAIN_EVERY_S:
            self._last = now
            print(self._line(sent, last_ts), file=self.stream, flush=True)

    def close(self) -> None:
        pass


class RichProgress:
    """A rich progress bar (rate, ETA; no total when looping)."""

    def __init__(self, total: int | None, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}/s"),
            TextColumn("{task.fields[event_time]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._start = time.monotonic()
        self._task = self._progress.add_task("replay", total=total, rate="0", event_time="")
        self._progress.start()

    def update(self, sent: int, last_ts: float | None) -> None:
        rate = sent / max(time.monotonic() - self._start, 1e-9)
        self._progress.update(
            self._task, completed=sent, rate=f"{rate:,.0f}", event_time=_utc(last_ts)
        )

    def close(self) -> None:
        self._progress.stop()


def make_progress(total: int | None, stream: IO[str], *, rich: bool | None = None) -> Any:
    """A :class:`RichProgress` on a terminal (``rich=None`` asks the stream), else a
    :class:`PlainProgress`."""
    use_rich = stream.isatty() if rich is None else rich
    if use_rich:
        try:
            return RichProgress(total, stream)
        except ImportError:  # pragma: no cover - rich is a dependency
            pass
    return PlainProgress(total, stream)
