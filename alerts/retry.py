"""Retry delays: exponential backoff with jitter, a peer's ``Retry-After`` as a floor. Pure.

:class:`Backoff` answers one question: after failed attempt number ``attempt`` (1 for the
first failure), how long to wait before the next try? The ceiling grows as
``base_s * multiplier ** (attempt - 1)``, capped at ``max_s``; the jitter mode then picks the
delay below it:

- ``"full"``  (default): uniform in ``[0, ceiling)`` (AWS Architecture Blog, "Exponential
  Backoff And Jitter": fewest total calls when many clients retry at once);
- ``"equal"``: uniform in ``[ceiling / 2, ceiling)``;
- ``"none"``: exactly the ceiling.

When the peer said how long to wait (``DeliveryError.retry_after_s``: Slack's ``Retry-After``,
Telegram's ``parameters.retry_after``) that value is a floor: the delay is at least
``retry_after_s`` plus a small jitter (up to ``retry_after_jitter_s``), so clients told to come
back at the same instant do not all arrive together. A peer's value is not capped by
``max_s`` (sending earlier than asked only earns another 429); :mod:`alerts.responses`
already clamps it to an hour.

:meth:`Backoff.allows` applies the ``give_up_after_s`` budget and ``max_attempts``. Nothing
here sleeps or reads the clock: elapsed time is passed in, and randomness comes from an
injectable ``rand`` (``random.random`` by default), so tests are deterministic.

Out of scope: which errors to retry (read ``DeliveryError.retriable``), sleeping, dead letters.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = ["Backoff", "Jitter"]

Jitter = Literal["full", "equal", "none"]

#: Default extra wait on top of a peer's Retry-After: enough to spread a herd of clients over
#: a second, small next to any real rate-limit window.
RETRY_AFTER_JITTER_S = 1.0


@dataclass(frozen=True, slots=True)
class Backoff:
    """Backoff policy. Units: seconds. See the module docstring for the formula.

    ``give_up_after_s`` is the total time budget from the first attempt (``None``: no
    budget); ``max_attempts`` the most attempts in all, the first included (``None``: no limit).
    """

    base_s: float = 1.0
    max_s: float = 300.0
    multiplier: float = 2.0
    jitter: Jitter = "full"
    retry_after_jitter_s: float = RETRY_AFTER_JITTER_S
    give_up_after_s: float | None = 3600.0
    max_attempts: int | None = None

    def __post_init__(self) -> None:
        if self.base_s < 0 or self.max_s < 0 or self.retry_after_jitter_s < 0:
            raise ValueError("base_s, max_s and retry_after_jitter_s must be >= 0")
        if self.multiplier < 1:
            raise ValueError("multiplier must be >= 1")
        if self.jitter not in ("full", "equal", "none"):
            raise ValueError(f"unknown jitter mode {self.jitter!r}")
        if self.max_attempts is not None and self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")

    def ceiling_s(self, attempt: int) -> float:
        """The un-jittered delay after failed attempt ``attempt`` (1-based), capped at ``max_s``."""
        if attempt < 1:
            raise ValueError("attempt is 1-based")
        # Compare exponents rather than computing a huge power (attempt 2000 must not overflow).
        exponent = attempt - 1
        try:
            raw = self.base_s * self.multiplier**exponent
        except OverflowError:
            return self.max_s
        return min(raw, self.max_s)

    def delay_s(
        self,
        attempt: int,
        retry_after_s: float | None = None,
        rand: Callable[[], float] = random.random,
    ) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based).

        ``retry_after_s`` is the peer's requested wait, used as a floor (plus up to
        ``retry_after_jitter_s``); ``rand`` returns a float in ``[0, 1)``.
        """
        ceiling = self.ceiling_s(attempt)
        r = min(max(rand(), 0.0), 1.0)
        if self.jitter == "full":
            delay = ceiling * r
        elif self.jitter == "equal":
            delay = ceiling / 2 + ceiling / 2 * r
        else:
            delay = ceiling
        if retry_after_s is not None and retry_after_s >= 0:
            delay = max(delay, retry_after_s + self.retry_after_jitter_s * r)
        return delay

    def allows(self, attempts_made: int, elapsed_s: float, next_delay_s: float) -> bool:
        """Whether another attempt is worth making: ``attempts_made`` so far (>= 1), seconds
        since the first started, and the delay before the next one. False once the next try
        would start past ``give_up_after_s`` or exceed ``max_attempts``."""
        if self.max_attempts is not None and attempts_made >= self.max_attempts:
            return False
        return self.give_up_after_s is None or elapsed_s + next_delay_s <= self.give_up_after_s
