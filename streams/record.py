"""``skyfence record``: capture live sources to a recording (format v1), for replay later.

The same sources and parsing as ``ingest`` (:func:`streams.ingest.open_sources`), the same
cross-source dedup; positions are written one JSON line each, in arrival order, to
``OUT.jsonl`` or, when the name ends in ``.gz``, gzip-compressed. Rejections are counted by
reason and summarised, not written. The run ends after ``duration_s`` (if given) or on
SIGINT/SIGTERM; either way the file is flushed and closed (a complete gzip member), so a
stopped recording is a valid one.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from streams.codec import encode_position
from streams.models import BadLine
from streams.sources.dedup import Deduplicator

__all__ = ["RecordStats", "record_sources", "run_record"]

log = logging.getLogger(__name__)


@dataclass
class RecordStats:
    """What a recording captured."""

    positions: int = 0
    duplicates: int = 0
    rejections: Counter[str] = field(default_factory=Counter)


def _open_out(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "wb", compresslevel=6)  # type: ignore[return-value]
    return open(path, "wb")


async def record_sources(
    sources: Sequence[Any],
    out: IO[bytes],
    *,
    stop: asyncio.Event,
    duration_s: float | None = None,
) -> RecordStats:
    """Write the sources' positions to ``out`` until ``stop`` is set, ``duration_s`` passes
    or every source ends."""
    stats = RecordStats()
    dedup = Deduplicator()

    async def pump(source: Any) -> None:
        async for item in source:
            if isinstance(item, BadLine):
                stats.rejections[item.reason] += 1
            elif dedup.is_duplicate(item, source.name):
                stats.duplicates += 1
            else:
                out.write(encode_position(item) + b"\n")
                stats.positions += 1

    tasks = [asyncio.create_task(pump(s)) for s in sources]
    waiter = asyncio.create_task(stop.wait())
    everything: asyncio.Future[Any] = asyncio.gather(*tasks)
    try:
        await asyncio.wait(
            {everything, waiter},
            timeout=duration_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        waiter.cancel()
        for s in sources:
            await s.aclose()
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
    return stats


async def run_record(urls: Sequence[str], out_path: Path, *, duration_s: float | None,
                     max_age_s: float = 600.0) -> int:  # fmt: skip
    """``skyfence record``: exit code 0, with a summary on stderr."""
    import aiohttp

    from streams.ingest import open_sources
    from streams.sources.spec import parse_source_url

    for url in urls:
        parse_source_url(url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = time.monotonic()
    try:
        async with aiohttp.ClientSession() as session:
            sources = await open_sources(urls, session=session, max_age_s=max_age_s)
            print(f"skyfence record: {', '.join(s.name for s in sources)} -> {out_path}",
                  file=sys.stderr, flush=True)  # fmt: skip
            with _open_out(out_path) as out:
                stats = await record_sources(sources, out, stop=stop, duration_s=duration_s)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    rejected = ", ".join(f"{k} {v}" for k, v in stats.rejections.most_common()) or "none"
    print(
        f"skyfence record: {stats.positions} positions in {time.monotonic() - started:.1f} s "
        f"to {out_path} ({stats.duplicates} duplicates dropped; rejected: {rejected})",
        file=sys.stderr,
        flush=True,
    )
    return 0
