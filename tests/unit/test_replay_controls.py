"""Replay controls: time window, shift to now, loop, time parsing and plain progress lines."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import orjson
import pytest

from streams.codec import decode_position, encode_position
from streams.errors import ConfigError
from streams.models import BadLine, PositionReport
from streams.replay_controls import (
    LOOP_GAP_S,
    PlainProgress,
    ReplayControls,
    controlled,
    make_progress,
    parse_time,
    scan,
)
from streams.sources import read_source_raw

SEED = Path(__file__).resolve().parents[2] / "seeds" / "dprk-2023-09.jsonl.gz"
T0 = 1695690855.0


def pairs() -> list[tuple[PositionReport | BadLine, bytes]]:
    out: list[tuple[PositionReport | BadLine, bytes]] = []
    for i in range(10):
        r = PositionReport("1551e0", T0 + 10 * i, 40.0 + i * 0.01, 124.0, 30000, source="x")
        out.append((r, encode_position(r)))
    out.insert(3, (BadLine(4, "json", "broken", b"{"), b"{"))
    return out


def read() -> list[tuple[PositionReport | BadLine, bytes]]:
    return pairs()  # fresh objects each pass, as re-reading a file gives


def times(items: object) -> list[float]:
    return [i.ts for i, _ in items if isinstance(i, PositionReport)]  # type: ignore[attr-defined]


def test_window_keeps_bad_lines_and_raw_bytes() -> None:
    c = ReplayControls(from_ts=T0 + 20, to_ts=T0 + 50)
    out = list(controlled(read, c, now_s=0))
    assert times(out) == [T0 + 20, T0 + 30, T0 + 40, T0 + 50]
    assert [i.reason for i, _ in out if isinstance(i, BadLine)] == ["json"]
    assert all(raw == encode_position(i) for i, raw in out if isinstance(i, PositionReport))
    assert scan(read(), c).positions == 4


def test_shift_to_now_restamps_and_reencodes() -> None:
    now = 1_800_000_000.0
    out = list(controlled(read, ReplayControls(from_ts=T0 + 30, shift_to_now=True), now_s=now))
    assert times(out) == [now + 10 * k for k in range(7)]
    for item, raw in out:
        if isinstance(item, PositionReport):
            assert decode_position(raw).ts == item.ts


def test_loop_moves_time_forward_each_pass() -> None:
    out = list(itertools.islice(controlled(read, ReplayControls(loop=True), now_s=0), 33))
    ts = times(out)
    assert ts[:10] == [T0 + 10 * i for i in range(10)]
    assert ts[10] == T0 + 90 + LOOP_GAP_S and ts[20] == T0 + 2 * (90 + LOOP_GAP_S)
    assert ts == sorted(ts) and len(set(ts)) == len(ts)
    # An empty window ends the loop instead of spinning.
    assert list(controlled(read, ReplayControls(loop=True, from_ts=T0 + 1000), now_s=0)) == [
        p for p in pairs() if isinstance(p[0], BadLine)
    ]


def test_seed_window_shifted() -> None:
    c = ReplayControls(
        from_ts=parse_time("2023-09-26T01:00:00Z"),
        to_ts=parse_time("2023-09-26 01:20"),
        shift_to_now=True,
    )
    out = [
        i
        for i, _ in controlled(lambda: read_source_raw(SEED), c, now_s=2e9)
        if isinstance(i, PositionReport)
    ]
    assert out and min(i.ts for i in out) == 2e9
    assert max(i.ts for i in out) <= 2e9 + 20 * 60
    assert any(i.icao24 == "1551e0" for i in out)


def test_parse_time() -> None:
    assert parse_time("1695690855") == 1695690855.0
    assert parse_time("2023-09-26T01:14:15Z") == 1695690855.0
    assert parse_time("2023-09-26T10:14:15+09:00") == 1695690855.0
    assert parse_time("2023-09-26 01:14:15") == 1695690855.0
    with pytest.raises(ConfigError):
        parse_time("yesterday")


def test_plain_progress_lines() -> None:
    now = [0.0]
    out = io.StringIO()
    p = PlainProgress(1000, out, clock=lambda: now[0])
    for t, sent, ts in ((1.0, 100, T0), (6.0, 600, T0), (7.0, 700, T0), (12.0, 900, T0 + 60)):
        now[0] = t
        p.update(sent, ts)  # a line at 6 s and 12 s only
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert (
        lines[0].startswith("replay: 600/1,000 positions (60%)")
        and "2023-09-26 01:14:15Z" in lines[0]
    )
    assert "ETA" in lines[1] and "/s" in lines[1]
    assert isinstance(make_progress(None, io.StringIO()), PlainProgress)  # not a terminal
    rich = make_progress(10, io.StringIO(), rich=True)
    rich.update(5, T0)
    rich.close()
    assert orjson.dumps(lines)
