"""The delivery side's one error hierarchy.

::

    AlertsError                       root of everything alerts raises on purpose
    ├── AlertsConfigError             a setting or config file is wrong (also a
    │   │                             streams.errors.ConfigError, so one ``except`` catches
    │   │                             both sides' configuration errors)
    │   └── RoutingConfigError        a routing file is malformed (where, key, reason, detail)
    └── DeliveryError                 a channel could not deliver an alert
                                      (channel, reason, retriable, retry_after_s)

Retry code reads ``retriable`` and ``retry_after_s``; it never compares message text.
``reason`` values are short, bounded identifiers (usable as metric labels). Invalid arguments
to pure helpers (a negative window, a zero rate) stay ``ValueError``: programming errors, not
user errors.
"""

from __future__ import annotations

from streams.errors import ConfigError

__all__ = ["AlertsConfigError", "AlertsError", "DeliveryError", "RoutingConfigError"]


class AlertsError(Exception):
    """Root of the errors the alerts package raises on purpose."""


class AlertsConfigError(AlertsError, ConfigError):
    """A delivery setting or config file is missing or malformed; the message names it."""


class RoutingConfigError(AlertsConfigError):
    """A routing file is malformed. ``where`` names the table or rule, ``key`` the setting,
    ``reason`` is a bounded identifier (see :mod:`alerts.routing_config`)."""

    def __init__(self, where: str, key: str | None, reason: str, detail: str) -> None:
        at = f"{where}.{key}" if key else where
        super().__init__(f"routing config: {at}: {detail}")
        self.where = where
        self.key = key
        self.reason = reason
        self.detail = detail


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
