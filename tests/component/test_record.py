"""``skyfence record``: live sources to a complete recording, by duration or by signal."""

from __future__ import annotations

import asyncio
import gzip
import signal
import sys
import time
from pathlib import Path

from streams.models import PositionReport
from streams.replay import read_recording
from streams.sources.sbs import format_sbs
from tests.fakes.feeds import FakeTcpFeed, Send, Silence

REPO = Path(__file__).resolve().parents[2]


def feed_bytes(n: int) -> tuple[list[PositionReport], bytes]:
    now = time.time()
    reports = [PositionReport(f"{0x400000 + i:06x}", round(now - 2 + i * 0.001, 3), 40.0, 124.0 + i * 0.001, 20000,
                              callsign=f"REC{i}", source="sbs") for i in range(n)]  # fmt: skip
    # Garbage and a second source's copy of the same fixes (dropped by dedup).
    data = b"junk\n" + b"".join(ln.encode() + b"\n" for r in reports for ln in format_sbs(r))
    return reports, data


async def run_record(args: list[str], *, stop_after_s: float | None = None) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "alerts.cli", "record", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    head = b""
    if stop_after_s is not None:
        assert proc.stderr is not None
        # Signal only once it runs (its start line), not while Python is still importing.
        head = await asyncio.wait_for(proc.stderr.readline(), 60)
        assert head.startswith(b"skyfence record:"), head
        await asyncio.sleep(stop_after_s)
        proc.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    err = head + err
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_record_two_sources_for_a_duration_to_gzip(tmp_path: Path) -> None:
    reports, data = feed_bytes(300)
    out = tmp_path / "capture.jsonl.gz"
    async with (
        FakeTcpFeed([[Send(data), Silence()]]) as a,
        FakeTcpFeed([[Send(data), Silence()]]) as b,
    ):
        rc, err = await run_record(
            [
                f"sbs://127.0.0.1:{a.port}",
                f"sbs://127.0.0.1:{b.port}",
                str(out),
                "--duration",
                "2.5",
            ]
        )
    assert rc == 0, err
    gzip.decompress(out.read_bytes())  # a complete gzip stream
    got = [r for r in read_recording(out) if isinstance(r, PositionReport)]
    assert sorted((r.icao24, r.ts, r.callsign) for r in got) == sorted(
        (r.icao24, r.ts, r.callsign) for r in reports
    )
    assert "300 positions" in err and "300 duplicates dropped" in err and "sbs_malformed 2" in err


async def test_record_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    _, data = feed_bytes(50)
    out = tmp_path / "capture.jsonl"
    async with FakeTcpFeed([[Send(data), Silence()]]) as a:
        rc, err = await run_record([f"sbs://127.0.0.1:{a.port}", str(out)], stop_after_s=2.0)
    assert rc == 0, err
    lines = out.read_bytes().splitlines()
    assert len(lines) == 50 and all(line.startswith(b'{"icao24"') for line in lines)


async def test_record_usage_errors(tmp_path: Path) -> None:
    rc, err = await run_record([str(tmp_path / "only-out.jsonl")])
    assert rc == 2
    rc, err = await run_record(["tcp://x:1", str(tmp_path / "o.jsonl")])
    assert rc == 2 and "unknown source" in err
