"""Console channel: one readable line per alert on a text stream (stdout by default)."""

from __future__ import annotations

import sys
from typing import TextIO

from alerts.formatting import console_line
from streams.models import AirspaceEvent

__all__ = ["ConsoleChannel"]


class ConsoleChannel:
    """Prints each alert as a line (see :func:`alerts.formatting.console_line`)."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "ALERT  ") -> None:
        self.name = "console"
        self.kind = "console"
        #: A local log, not a push to the desk: flood control does not hold it back.
        self.local = True
        self._stream = stream
        self._prefix = prefix

    async def send(self, event: AirspaceEvent) -> None:
        """Write the alert line and flush, so it shows at once."""
        stream = self._stream or sys.stdout
        stream.write(f"{self._prefix}{console_line(event)}\n")
        stream.flush()

    async def post_note(
        self, text: str, *, reply_to: str | None = None, ack_event_id: str | None = None
    ) -> str:
        """Write a follow-up line (escalation, acknowledgement)."""
        stream = self._stream or sys.stdout
        suffix = f" [ack: {ack_event_id}]" if ack_event_id else ""
        stream.write(f"NOTE   {text}{suffix}\n")
        stream.flush()
        return ""

    async def close(self) -> None:
        """Flush the stream (it is not ours to close)."""
        (self._stream or sys.stdout).flush()
