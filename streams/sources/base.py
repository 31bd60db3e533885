"""The ``Source`` seam: one small protocol every input implements, files and live feeds alike.

A source is an async iterator of :class:`~streams.models.PositionReport` (validated, in
recording format v1's units) and :class:`~streams.models.BadLine` (a rejection with a bounded
``reason``, counted and set aside, never an exception that stops the iteration). Whoever
consumes a source (``replay``, ``ingest``, ``record``, ``evaluate``) treats every kind the
same way: it does not know whether the positions come from a file, a socket or an HTTP API.

A source has a ``name`` (bounded, usable as a metric label: the scheme or format, e.g.
``jsonl``, ``sbs``, ``beast``) and may be closed early with :meth:`Source.aclose`.

:class:`FileSource` adapts the pure file readers of :mod:`streams.sources` to the seam; the
live sources (sockets, HTTP pollers) implement it directly. Tests use :class:`ListSource`,
an in-memory source.

Errors: opening a file that is missing raises ``OSError`` when iteration starts; an unknown
format raises :class:`~streams.errors.DecodeError` (``bad_format``) at construction.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from streams.errors import DecodeError
from streams.models import BadLine, PositionReport

__all__ = ["FileSource", "ListSource", "Source", "SourceItem"]

#: What a source yields.
SourceItem = PositionReport | BadLine

#: Items read from a file between two yields to the event loop: a file reader is synchronous,
#: and a long file must not starve the loop (heartbeats, producers) while it is read.
YIELD_EVERY_ITEMS = 2000


@runtime_checkable
class Source(Protocol):
    """An async iterator of validated positions and rejections (module docstring)."""

    #: Bounded identifier of the kind of source (a metric label).
    name: str

    def __aiter__(self) -> AsyncIterator[SourceItem]:
        """Iterate positions and rejections, in the order the input gave them."""
        ...

    async def aclose(self) -> None:
        """Stop early and release what the source holds (sockets, files)."""
        ...


class FileSource:
    """A recorded file in any format of :data:`streams.sources.FORMATS`, as a :class:`Source`.

    ``fmt=None`` detects the format from the content. ``start_ts`` dates a Beast capture.
    """

    def __init__(self, path: str | Path, fmt: str | None = None, *, start_ts: float = 0.0):
        from streams.sources import FORMATS, detect_format  # the dispatcher imports this module

        self.path = Path(path)
        self.fmt = fmt or detect_format(self.path)
        if self.fmt not in FORMATS:
            known = ", ".join(FORMATS)
            raise DecodeError("bad_format", f"unknown source format {self.fmt!r}; known: {known}")
        self.name = self.fmt
        self.start_ts = start_ts
        self._closed = False

    def items(self) -> Iterator[SourceItem]:
        """The same items, synchronously (offline tools)."""
        from streams.sources import read_source

        return read_source(self.path, self.fmt, start_ts=self.start_ts)

    async def __aiter__(self) -> AsyncIterator[SourceItem]:
        for n, item in enumerate(self.items(), start=1):
            if self._closed:
                return
            yield item
            if n % YIELD_EVERY_ITEMS == 0:
                await asyncio.sleep(0)

    async def aclose(self) -> None:
        """Stop at the next item."""
        self._closed = True


class ListSource:
    """An in-memory :class:`Source` over given items (tests, and glue code)."""

    def __init__(self, items: Iterable[SourceItem], *, name: str = "list") -> None:
        self.name = name
        self._items = list(items)
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[SourceItem]:
        for item in self._items:
            if self._closed:
                return
            yield item

    async def aclose(self) -> None:
        """Stop at the next item."""
        self._closed = True
