"""A virtual clock: time that moves only when code under test sleeps on it."""

from __future__ import annotations

import asyncio


class VirtualClock:
    """Wall and monotonic time in one counter; :meth:`sleep` advances it and yields once.

    Several tasks sleeping on it advance it in turn (time moves by the sum of their sleeps,
    not the maximum), so it suits tests of ordering and counting, not of concurrency timing.
    """

    def __init__(self, start_s: float = 1_700_000_000.0) -> None:
        self.now_s = start_s
        self.slept_s: list[float] = []

    def time(self) -> float:
        """Current time, seconds."""
        return self.now_s

    monotonic = time

    async def sleep(self, delay_s: float) -> None:
        """Advance by ``delay_s`` and let other tasks run."""
        self.slept_s.append(delay_s)
        self.now_s += max(0.0, delay_s)
        await asyncio.sleep(0)
