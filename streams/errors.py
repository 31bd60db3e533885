"""The stream side's one error hierarchy.

::

    SkyfenceError                     root of everything skyfence raises on purpose
    ├── DecodeError                   a message or recording line cannot be decoded (reason, detail)
    ├── ZoneError                     a zone cannot be built or loaded (zone/feature named in message)
    ├── ConfigError                   a setting is missing or malformed
    ├── SourceError                   a live source failed (reason, retriable, retry_after_s)
    └── BrokerError                   a broker cannot be started or stopped (streams.embedded)
        └── BrokerUnavailable         what it needs is missing (``reason`` says what)

Callers branch on the class and on attributes (``reason``), never on message text.
``reason`` values are short, bounded identifiers so they can be used as metric labels.
"""

from __future__ import annotations

__all__ = [
    "BrokerError",
    "BrokerUnavailable",
    "ConfigError",
    "DecodeError",
    "SkyfenceError",
    "SourceError",
    "ZoneError",
]


class SkyfenceError(Exception):
    """Root of the errors skyfence raises on purpose."""


class DecodeError(SkyfenceError):
    """A position (or event) could not be decoded.

    ``reason`` is a bounded identifier usable as a metric label: for positions ``json``,
    ``not_object``, ``missing_field``, ``bad_icao24``, ``bad_ts``, ``bad_lat``, ``bad_lon``,
    ``bad_field``; for source files also ``bad_format`` and the per-format row reasons of
    :mod:`streams.sources` (``bad_crc``, ``bad_hex``, ``no_position``...). ``detail`` is a
    human explanation.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ZoneError(SkyfenceError):
    """A zone could not be built or loaded; the message names the zone or feature."""


class ConfigError(SkyfenceError):
    """A setting is missing or malformed; the message names the setting."""


class SourceError(SkyfenceError):
    """A live source could not read its feed (connection refused, HTTP error, bad token).

    ``reason`` is bounded (``connect``, ``timeout``, ``http_429``, ``http_503``, ``auth``...);
    ``retriable`` says whether trying again later can help; ``retry_after_s`` is the peer's
    requested wait, when it gave one. Sources catch these themselves and reconnect; they
    reach a caller only from one-shot helpers (fetching a token).
    """

    def __init__(
        self,
        reason: str,
        detail: str,
        *,
        retriable: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.retriable = retriable
        self.retry_after_s = retry_after_s


class BrokerError(SkyfenceError):
    """A broker could not be fetched, started or stopped, or was used in the wrong state."""


class BrokerUnavailable(BrokerError):
    """The machine lacks what the broker needs (the demo extra, Java 17+, Maven).

    ``reason`` is one sentence meant for a human: tests turn it into a skip message, the demo
    prints it.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
