"""Log setup for the ``skyfence`` command: readable text or JSON lines, with secrets masked.

- ``text``: ``2026-12-04 16:26:23,123 WARNING alerts.notifier: alert 3bb5... (1551e0) to
  slack failed (http_503); retrying in 2.0 s``.
- ``json`` (``--log-format json``, ``SKYFENCE_LOG_FORMAT=json``): one object per line with
  ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``msg``, and the structured fields a call
  passed in ``extra`` (:data:`FIELDS`: ``event_id``, ``icao24``, ``zone``, ``type``,
  ``channel``, ``attempt``, ``reason``), so an event can be followed from detection to every
  delivery attempt with one filter (``jq 'select(.event_id == "...")'``).

Secrets are never logged on purpose (they are :class:`~alerts.secrets.Secret` or
:class:`pydantic.SecretStr`, which print as masks). As a second line of defence,
:class:`RedactFilter` replaces any known secret value that still reaches a log record (in its
message, arguments or traceback) with ``***``.

Configured only by the entry point (:func:`setup_logging`); nothing happens at import.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import IO, Any

import orjson

__all__ = ["FIELDS", "JsonFormatter", "RedactFilter", "setup_logging"]

#: Structured fields copied from a record's ``extra`` into JSON lines.
FIELDS = ("event_id", "icao24", "zone", "type", "channel", "attempt", "reason")
#: What a redacted secret becomes.
MASK = "***"
#: Shorter secrets are not masked (masking "1" would garble every line).
_MIN_SECRET_LEN = 6
#: Name of the handler :func:`setup_logging` installs (replaced, not stacked, on a second call).
_HANDLER_NAME = "skyfence"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                data[name] = value
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(data, default=str).decode()


class RedactFilter(logging.Filter):
    """Masks known secret values in a record's message, arguments and traceback."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted(
            {s for s in secrets if len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True
        )

    def _mask(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        masked = self._mask(message)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self._mask(record.exc_text)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def setup_logging(
    *,
    verbose: bool = False,
    log_format: str = "text",
    stream: IO[str] | None = None,
    secrets: Iterable[str] = (),
) -> logging.Handler:
    """Configure the root logger: INFO with ``verbose``, else WARNING; ``text`` or ``json``;
    ``secrets`` masked. Replaces the handler an earlier call installed (others stay); returns
    the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in list(root.handlers):
        if old.get_name() == _HANDLER_NAME:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    return handler
