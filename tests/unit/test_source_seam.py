"""The Source seam: file readers and in-memory sources behave as one protocol."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import DecodeError
from streams.models import BadLine, PositionReport
from streams.sources.base import FileSource, ListSource, Source

SEED = Path(__file__).resolve().parents[2] / "seeds" / "dprk-2023-09.jsonl.gz"


async def _collect(source: Source) -> list[PositionReport | BadLine]:
    return [item async for item in source]


async def test_file_source_yields_what_the_sync_reader_does() -> None:
    source = FileSource(SEED)
    assert isinstance(source, Source)
    assert source.name == "jsonl"
    items = await _collect(source)
    assert items == list(source.items())
    assert len(items) > 30_000
    assert all(isinstance(i, PositionReport) for i in items)


async def test_file_source_keeps_bad_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"icao24":"1551e0","ts":1695690000,"lat":40,"lon":120}\n{"icao24":"zz"}\n')
    items = await _collect(FileSource(path))
    assert isinstance(items[0], PositionReport)
    assert isinstance(items[1], BadLine) and items[1].line_no == 2


def test_file_source_rejects_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DecodeError) as err:
        FileSource(tmp_path / "x", fmt="nope")
    assert err.value.reason == "bad_format"


async def test_closed_source_stops() -> None:
    report = PositionReport("1551e0", 1.0, 40.0, 120.0)
    source = ListSource([report, report, report])
    seen = []
    async for item in source:
        seen.append(item)
        await source.aclose()
    assert seen == [report]
