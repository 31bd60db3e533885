"""Free text from files and topics, made safe to print on one line. Pure: standard library only.

Zone ids and names come from zone files (and, on the alert side, from the events topic); a
control character in them can rewrite a terminal line (``\\r``, ANSI escapes), split a log
line or an alert (``\\n``), or reverse what a desk reads (``U+202E``). :func:`printable`
escapes every character Python does not call printable, the way ``repr`` does, so the text
stays on one line and shows what it really holds.
"""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """``text`` with control, format and separator characters escaped (``\\n``, ``\\x1b``,
    ``\\u202e``): one line, shown as it is spelt; printable text is returned unchanged."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
