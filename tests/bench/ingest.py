"""Ingest throughput: SBS and Beast from a local TCP server into Kafka, and raw decode rates.

Traffic is the calibrated world fleet of :mod:`tests.bench.traffic` (15,000 aircraft, one
position a second each), written as a receiver would send it:

- **SBS**: one ``MSG,3`` line per position, a ``MSG,4`` (velocity) every second position
  and a ``MSG,1`` (callsign) every tenth, as dump1090/readsb's port 30003 interleaves them;
- **Beast**: one DF17 airborne-position frame (type code 11, barometric altitude, CPR even
  and odd alternately per aircraft) per position, with the 12 MHz counter, escaped; encoded
  by the test encoder (``tests.support.modes_frames``) and decoded through rs1090 like any
  receiver's frames.

Figures: ``ingest_<kind>_decode_positions_per_s`` (the pure framer alone, bytes in chunks of
64 KB, no I/O) and ``ingest_<kind>_positions_per_s`` (``skyfence ingest <kind>://...`` as
its own process, the bench process serving the bytes over TCP as fast as the socket takes
them: positions acknowledged by the broker per second, from the first record in the topic
to the last). Target: 50,000 positions/s, twice the world's peak ADS-B traffic.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from streams.codec import decode_position
from streams.models import PositionReport
from streams.sources.beast import BeastFramer
from streams.sources.sbs import SbsFramer, format_sbs
from tests.support.modes_frames import position_msg

__all__ = ["beast_bytes", "decode_rate", "fleet_reports", "ingest_rate", "run", "sbs_bytes"]

#: The target of issue 11: each live source sustains this into Kafka.
TARGET_POSITIONS_PER_S = 50_000.0
#: A fixed epoch for the traffic (2023-09-26 00:00Z): ingest runs with the age check off.
T0 = 1695686400.0
_CHUNK = 65_536


def fleet_reports(
    n_aircraft: int = 15_000, seconds: int = 20, *, seed: int = 11
) -> list[PositionReport]:
    """``seconds`` of the world fleet's positions, in time order."""
    from tests.bench.traffic import make_fleet

    fleet = make_fleet(n_aircraft, seed=seed)
    return [decode_position(line) for second in fleet.seconds(T0, seconds) for line in second]


def sbs_bytes(reports: list[PositionReport]) -> bytes:
    """SBS lines as a receiver interleaves them (module docstring)."""
    out: list[str] = []
    for n, r in enumerate(reports):
        lines = format_sbs(r)  # [MSG,1?] [MSG,4?] MSG,3
        position = lines[-1]
        if n % 10 == 0 and r.callsign:
            out.append(lines[0])
        if n % 2 == 0 and len(lines) >= 2:
            out.append(lines[-2])
        out.append(position)
    return ("\r\n".join(out) + "\r\n").encode()


def beast_bytes(reports: list[PositionReport]) -> bytes:
    """Beast frames of DF17 airborne positions (module docstring)."""
    odd: dict[str, bool] = {}
    out = bytearray()
    for r in reports:
        is_odd = odd.get(r.icao24, False)
        odd[r.icao24] = not is_odd
        msg = position_msg(r.icao24, r.lat, r.lon, r.alt_ft or 30000, is_odd)
        ticks = round((r.ts - T0) * 12_000_000) % (1 << 48)
        body = ticks.to_bytes(6, "big") + b"\x80" + msg
        out += b"\x1a3" + body.replace(b"\x1a", b"\x1a\x1a")
    return bytes(out)


def decode_rate(kind: str, data: bytes) -> tuple[float, int]:
    """Positions/s of the pure framer over ``data`` (and how many positions it gave)."""
    framer: Any = SbsFramer() if kind == "sbs" else BeastFramer()
    positions = 0
    start = time.perf_counter()
    for i in range(0, len(data), _CHUNK):
        items, _ = framer.feed(data[i : i + _CHUNK], T0)
        positions += sum(1 for item in items if type(item) is PositionReport)
    return positions / (time.perf_counter() - start), positions


async def _acked_positions(session: Any, url: str) -> int:
    """``skyfence_ingest_produced_total{kind="position"}`` from the ingest's /metrics."""
    try:
        async with session.get(url) as resp:
            text = await resp.text()
    except Exception:  # not serving yet
        return 0
    for line in text.splitlines():
        if line.startswith('skyfence_ingest_produced_total{kind="position"}'):
            return int(float(line.rsplit(" ", 1)[1]))
    return 0


async def ingest_rate(
    bootstrap: str, kind: str, data: bytes, expected: int, *, timeout_s: float = 300.0
) -> dict[str, float]:
    """``skyfence ingest kind://...`` from a local TCP server into ``bootstrap``: positions
    acknowledged by the broker per second (the ingest's own counter, read from its
    /metrics), from the first acknowledged to the last."""
    import aiohttp

    from tests.fakes.feeds import FakeTcpFeed, Send, Silence
    from tests.support.brokers import free_port

    prefix = f"bench-ingest-{kind}-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "SKYFENCE_POSITIONS_TOPIC": f"{prefix}.positions",
           "SKYFENCE_EVENTS_TOPIC": f"{prefix}.events", "SKYFENCE_DEAD_LETTER_TOPIC": f"{prefix}.dlq",
           "SKYFENCE_PARTITIONS": "4"}  # fmt: skip
    port = free_port()
    skyfence = str(Path(sys.executable).with_name("skyfence"))
    async with FakeTcpFeed(
        [[Send(data, chunk=_CHUNK), Silence()]], lifetime_s=timeout_s + 60
    ) as feed:
        proc = await asyncio.create_subprocess_exec(
            skyfence, "ingest", f"{kind}://127.0.0.1:{feed.port}", "--broker", bootstrap,
            "--max-age-s", "0", "--metrics-port", str(port),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        first_t = None
        count = 0
        async with aiohttp.ClientSession() as session:
            try:
                deadline = time.monotonic() + timeout_s
                while time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                    count = await _acked_positions(session, f"http://127.0.0.1:{port}/metrics")
                    if count and first_t is None:
                        first_t = time.monotonic()
                    if count >= expected:
                        break
                end_t = time.monotonic()
            finally:
                proc.send_signal(signal.SIGTERM)
                _, err = await asyncio.wait_for(proc.communicate(), 120)
    if first_t is None or count < expected:
        raise RuntimeError(
            f"ingest {kind}: {count} of {expected} positions; {err.decode()[-2000:]}"
        )
    took = max(end_t - first_t, 1e-9)
    return {"positions": float(count), "seconds": took, "positions_per_s": count / took}


async def run(bootstrap: str, *, seconds: int = 20) -> dict[str, Any]:
    """All ingest figures (module docstring)."""
    reports = fleet_reports(seconds=seconds)
    out: dict[str, Any] = {}
    for kind, data in (("sbs", sbs_bytes(reports)), ("beast", beast_bytes(reports))):
        rate, positions = decode_rate(kind, data)
        out[f"ingest_{kind}_decode_positions_per_s"] = rate
        print(f"-- ingest {kind}: decode {rate:,.0f} positions/s ({positions:,} of {len(reports):,}, "
              f"{len(data) / 1e6:.1f} MB)", file=sys.stderr, flush=True)  # fmt: skip
        figures = await ingest_rate(bootstrap, kind, data, positions)
        out[f"ingest_{kind}_positions_per_s"] = figures["positions_per_s"]
        print(
            f"-- ingest {kind}: {figures['positions_per_s']:,.0f} positions/s into Kafka",
            file=sys.stderr,
            flush=True,
        )
    return out


if __name__ == "__main__":  # python -m tests.bench.ingest HOST:PORT
    print(asyncio.run(run(sys.argv[1], seconds=int(sys.argv[2]) if len(sys.argv) > 2 else 20)))
