"""When timers fire: the due queue and the tick loop every shell shares. Pure, time is data.

The tracker's timers (exit confirmation, signal loss) fire against the *watermark*, the
highest position time seen, never against the clock. :class:`DueQueue` remembers which
aircraft may need a tick and when; :func:`fire_due` raises the watermark to a position's time
and ticks every aircraft whose timer is due, *before* that position is stepped, which makes
timers independent of partitioning (see :mod:`streams.tracking`). :func:`tick_due` is its
second half, for callers (the Faust agent's batch loop) that advance the queue themselves.

Used by offline :func:`streams.replay.evaluate` and by the tracker agent (:mod:`streams.app`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterator, Sequence

from streams.tracking import AircraftState, StepResult, Tracker

__all__ = ["DueQueue", "fire_due", "tick_due"]


#: What :meth:`DueQueue.advance` returns when no timer is due (shared, immutable).
_NOTHING_DUE: tuple[str, ...] = ()


class DueQueue:
    """Which aircraft have a timer due (exit confirmation, signal loss), by event time.

    A min-heap of ``(due_ts, icao24)``. Entries are not removed when an aircraft's due time
    changes; :meth:`advance` returns candidates and the caller re-checks
    :meth:`Tracker.due_ts`, so stale entries cost one comparison each. An entry equal to one
    already queued is not queued twice: it would pop in the same :meth:`advance`, next to its
    twin, and add nothing (an aircraft watched near a zone had half its entries so: each
    stale entry that popped queued its unchanged due time again).
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        #: The entries in the heap, to refuse an equal one.
        self._queued: set[tuple[float, str]] = set()
        #: The highest event time seen (the watermark timers are fired against).
        self.watermark = -math.inf

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due_ts: float, icao24: str) -> None:
        """Remember that ``icao24`` may need a tick at ``due_ts``."""
        entry = (due_ts, icao24)
        if entry in self._queued:
            return
        self._queued.add(entry)
        heapq.heappush(self._heap, entry)

    def advance(self, ts: float) -> Sequence[str]:
        """Raise the watermark to ``ts`` and return the aircraft whose timers may be due."""
        if ts > self.watermark:
            self.watermark = ts
        heap = self._heap
        if not heap or heap[0][0] > self.watermark:
            return _NOTHING_DUE  # the usual case: no list built per position
        due: list[str] = []
        queued = self._queued
        while heap and heap[0][0] <= self.watermark:
            entry = heapq.heappop(heap)
            queued.discard(entry)
            icao24 = entry[1]
            if icao24 not in due:
                due.append(icao24)
        return due

    def clear(self) -> None:
        """Forget every timer (e.g. when partitions are revoked)."""
        self._heap.clear()
        self._queued.clear()


def fire_due(
    tracker: Tracker, queue: DueQueue, states: dict[str, AircraftState], ts: float
) -> Iterator[tuple[AircraftState, StepResult]]:
    """Advance ``queue`` to event time ``ts`` and tick every aircraft whose timer is due.

    Shared by :func:`evaluate` and the Faust agent: it must run *before* a report with time
    ``ts`` is stepped, which makes timers independent of partitioning (see tracking).
    """
    return tick_due(tracker, queue, states, queue.advance(ts))


def tick_due(
    tracker: Tracker, queue: DueQueue, states: dict[str, AircraftState], icaos: Sequence[str]
) -> Iterator[tuple[AircraftState, StepResult]]:
    """Tick the aircraft ``queue.advance`` returned (the second half of :func:`fire_due`;
    the agent's batch loop calls ``advance`` itself and comes here only when it returned some)."""
    for icao24 in icaos:
        state = states.get(icao24)
        if state is None:
            continue
        due = tracker.due_ts(state)
        if due is None:
            continue
        if due > queue.watermark:
            queue.push(due, icao24)
            continue
        result = tracker.tick(state, queue.watermark)
        again = tracker.due_ts(state)
        if again is not None:
            queue.push(again, icao24)
        yield state, result
