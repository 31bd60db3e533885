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

__all__ = ["DueQueue", "fire_due", "schedule", "tick_due"]


#: What :meth:`DueQueue.advance` returns when no timer is due (shared, immutable).
_NOTHING_DUE: tuple[str, ...] = ()


class DueQueue:
    """Which aircraft have a timer due (exit confirmation, signal loss), by event time.

    A min-heap of ``(due_ts, icao24)``. Entries are not removed when an aircraft's due time
    changes; :meth:`advance` returns candidates and the caller re-checks
    :meth:`Tracker.due_ts` (and pushes the aircraft's current due time when it is later), so
    stale entries cost one comparison each.

    An aircraft that already has an entry at or before ``due_ts`` is not queued again: that
    entry pops first, and the caller's re-check then queues the time due by then. So the
    invariant callers rely on holds (every aircraft with a due time ``D`` has an entry at or
    before ``D``), while an aircraft watched near a zone, whose signal-loss timer moves
    later with every fix, takes one heap entry per timer period instead of one per fix.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, str]] = []
        #: Each aircraft's earliest entry in the heap (absent once that entry has popped; a
        #: later entry of the same aircraft may remain, stale, until it pops in turn).
        self._earliest: dict[str, float] = {}
        #: The highest event time seen (the watermark timers are fired against).
        self.watermark = -math.inf

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, due_ts: float, icao24: str) -> None:
        """Remember that ``icao24`` may need a tick at ``due_ts``."""
        earliest = self._earliest.get(icao24)
        if earliest is not None and earliest <= due_ts:
            return  # that entry pops first; the re-check then queues what is due by then
        self._earliest[icao24] = due_ts
        heapq.heappush(self._heap, (due_ts, icao24))

    def queued_by(self, icao24: str, ts: float) -> bool:
        """True when ``icao24`` has an entry at or before ``ts``: a push of any due time from
        ``ts`` on would add nothing (callers skip computing it; see Tracker.min_due_delay_s)."""
        earliest = self._earliest.get(icao24)
        return earliest is not None and earliest <= ts

    def advance(self, ts: float) -> Sequence[str]:
        """Raise the watermark to ``ts`` and return the aircraft whose timers may be due."""
        if ts > self.watermark:
            self.watermark = ts
        heap = self._heap
        if not heap or heap[0][0] > self.watermark:
            return _NOTHING_DUE  # the usual case: no list built per position
        due: list[str] = []
        earliest = self._earliest
        while heap and heap[0][0] <= self.watermark:
            due_ts, icao24 = heapq.heappop(heap)
            if earliest.get(icao24) == due_ts:
                del earliest[icao24]
            if icao24 not in due:
                due.append(icao24)
        return due

    def clear(self) -> None:
        """Forget every timer (e.g. when partitions are revoked)."""
        self._heap.clear()
        self._earliest.clear()


def schedule(tracker: Tracker, queue: DueQueue, icao24: str, state: AircraftState) -> None:
    """Queue ``state``'s next timer after a step, if it has one. When the aircraft already
    has an entry no later than the earliest time :meth:`Tracker.due_ts` could give
    (``state.ts + tracker.min_due_delay_s``), nothing is asked: that entry pops first."""
    if queue.queued_by(icao24, state.ts + tracker.min_due_delay_s):
        return
    due = tracker.due_ts(state)
    if due is not None:
        queue.push(due, icao24)


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
