"""The delivery side's one error hierarchy.

::

    AlertsError                       root of everything alerts raises on purpose
    └── DeliveryError                 a channel could not deliver an alert
                                      (channel, reason, retriable, retry_after_s)

Retry code reads ``retriable`` and ``retry_after_s``; it never compares message text.
"""

from __future__ import annotations

__all__ = ["AlertsError", "DeliveryError"]


class AlertsError(Exception):
    """Root of the errors the alerts package raises on purpose."""


class DeliveryError(AlertsError):
    """A channel failed to deliver an alert.

    ``reason`` is a bounded identifier (usable as a metric label); ``retriable`` says whether
    trying again may succeed; ``retry_after_s`` is the peer's requested delay, if it gave one.
    """

    def __init__(
        self, channel: str, reason: str, *, retriable: bool, retry_after_s: float | None = None
    ) -> None:
        super().__init__(f"{channel}: {reason}")
        self.channel = channel
        self.reason = reason
        self.retriable = retriable
        self.retry_after_s = retry_after_s
