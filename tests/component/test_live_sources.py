"""Each live source against a local server speaking its real protocol on 127.0.0.1, with
disconnects, refused connections, silence, 429s, 5xx, resets and garbage scripted in."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from streams.models import BadLine, PositionReport
from streams.sources.beast import parse_beast
from streams.sources.http import HttpFetcher, OAuthClientCredentials, PollSource
from streams.sources.live import CountingStats, LiveOptions
from streams.sources.opensky_states import parse_opensky_states
from streams.sources.sbs import format_sbs
from streams.sources.spec import build_source, parse_source_url
from streams.sources.tcp import beast_source, sbs_source
from tests.fakes.feeds import Close, FakeAircraftJson, FakeOpenSky, FakeTcpFeed, Send, Silence
from tests.fakes.peers import Reply

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
FAST = LiveOptions(timeout_s=2.0, idle_timeout_s=0.3, backoff_base_s=0.01, backoff_max_s=0.05)

Item = PositionReport | BadLine


async def collect(
    source: Any, done: Callable[[list[Item]], bool], timeout_s: float = 20.0
) -> list[Item]:
    """Iterate ``source`` until ``done(items)``; then close it."""
    items: list[Item] = []

    async def run() -> None:
        async for item in source:
            items.append(item)
            if done(items):
                return

    try:
        await asyncio.wait_for(run(), timeout_s)
    finally:
        await source.aclose()
    return items


def positions(items: list[Item]) -> list[PositionReport]:
    return [i for i in items if isinstance(i, PositionReport)]


class RecordingSleep:
    """Records every requested wait; sleeps at most ``cap_s`` of it for real."""

    def __init__(self, cap_s: float = 0.1) -> None:
        self.delays: list[float] = []
        self.cap_s = cap_s

    async def __call__(self, delay_s: float) -> None:
        self.delays.append(delay_s)
        await asyncio.sleep(min(delay_s, self.cap_s))


def fresh_reports(n: int, *, base: int = 0x100000) -> list[PositionReport]:
    now = time.time()
    return [
        PositionReport(
            f"{base + i:06x}",
            round(now - 5 + i * 0.001, 3),
            40.0 + i * 0.001,
            124.0 + i * 0.001,
            30000 + i,
            400.0,
            90.0,
            0,
            f"TST{i}",
            None,
            False,
            "sbs",
        )
        for i in range(n)
    ]


# -- SBS over TCP -----------------------------------------------------------------------


async def test_sbs_source_survives_disconnects_garbage_and_silence() -> None:
    reports = fresh_reports(400)
    lines = [ln.encode() for r in reports for ln in format_sbs(r)]
    per = len(lines) // 3
    a, b, c = lines[:per], lines[per : 2 * per], lines[2 * per :]
    scripts = [
        [Close()],  # accepted, then closed at once
        [Send(b"\r\n".join(a) + b"\r\nMSG,3,1,1,ABC", chunk=97), Close()],  # closed mid-line
        [
            Send(b"\x00\xff\xfegarbage\r\n<html>502</html>\n" + b"\n".join(b) + b"\n", chunk=1000),
            Silence(),
        ],
        [Send(b"\n".join(c) + b"\n", chunk=5000), Close()],
    ]
    stats = CountingStats()
    async with FakeTcpFeed(scripts) as feed:
        source = sbs_source(
            f"sbs://127.0.0.1:{feed.port}", "127.0.0.1", feed.port, options=FAST, stats=stats
        )
        items = await collect(source, lambda got: len(positions(got)) >= len(reports))
        sent = feed.sent_bytes
    got = positions(items)
    assert [(r.icao24, r.ts, r.lat, r.lon, r.alt_ft, r.callsign, r.gs_kt) for r in got] == [
        (r.icao24, r.ts, round(r.lat, 5), round(r.lon, 5), r.alt_ft, r.callsign, r.gs_kt)
        for r in reports
    ]
    assert stats.reconnects >= 3  # closed, closed mid-line, silent
    assert stats.rejections["sbs_truncated"] == 1
    assert stats.rejections["sbs_malformed"] == 2
    assert stats.positions == len(reports)
    assert stats.bytes == sent
    assert (
        stats.message_count == len(lines) + 2
    )  # + the two garbage lines (the cut one is no message)
    assert source.connections == 4


async def test_sbs_source_waits_for_a_receiver_that_is_not_up_yet() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    stats = CountingStats()
    source = sbs_source(f"sbs://127.0.0.1:{port}", "127.0.0.1", port, options=FAST, stats=stats)
    reports = fresh_reports(5, base=0x200000)
    data = b"\n".join(ln.encode() for r in reports for ln in format_sbs(r)) + b"\n"

    async def start_later() -> FakeTcpFeed:
        await asyncio.sleep(0.3)
        return await FakeTcpFeed([[Send(data), Silence()]], port=port).__aenter__()

    starter = asyncio.create_task(start_later())
    items = await collect(source, lambda got: len(positions(got)) == 5)
    feed = await starter
    await feed.stop()
    assert len(positions(items)) == 5
    assert stats.reconnects >= 2  # refused while the receiver was down


async def test_sbs_stale_and_future_positions_are_rejected() -> None:
    now = time.time()
    old = PositionReport("300000", now - 3600, 40.0, 124.0, 1000)
    ahead = PositionReport("300001", now + 600, 40.0, 124.0, 1000)
    ok = PositionReport("300002", now - 1, 40.0, 124.0, 1000)
    data = b"\n".join(ln.encode() for r in (old, ahead, ok) for ln in format_sbs(r)) + b"\n"
    stats = CountingStats()
    async with FakeTcpFeed([[Send(data), Silence()]]) as feed:
        source = sbs_source("sbs://t", "127.0.0.1", feed.port, options=FAST, stats=stats)
        items = await collect(source, lambda got: len(got) == 3)
    assert [i.reason if isinstance(i, BadLine) else i.icao24 for i in items] == [
        "stale_ts",
        "future_ts",
        "300002",
    ]
    assert stats.rejections == {"stale_ts": 1, "future_ts": 1}


# -- Beast over TCP ---------------------------------------------------------------------


@pytest.mark.skipif(not (DATA / "sample_dump1090.bin").exists(), reason="../shared/data absent")
async def test_beast_source_streams_the_dump1090_sample_through_disconnects() -> None:
    data = (DATA / "sample_dump1090.bin").read_bytes()
    expected = {
        (r.icao24, round(r.lat, 2), round(r.lon, 2))
        for r in parse_beast(data, start_ts=time.time())
        if isinstance(r, PositionReport)
    }
    assert len(expected) == 3
    scripts = [
        [Send(data[:1137], chunk=50), Close()],  # cut inside a frame
        [Send(b"\x00garbage\x1a\x1a" + data, chunk=64), Close()],
        [Send(data, chunk=1), Silence()],  # byte by byte
    ]
    stats = CountingStats()
    async with FakeTcpFeed(scripts) as feed:
        source = beast_source("beast://t", "127.0.0.1", feed.port, options=FAST, stats=stats)
        items = await collect(source, lambda got: len(positions(got)) >= 6)
    got = positions(items)
    assert {r.icao24 for r in got} == {e[0] for e in expected}
    for r in got:  # near the positions the file parser found for the same aircraft
        near = [e for e in expected if e[0] == r.icao24]
        assert min(abs(r.lat - e[1]) + abs(r.lon - e[2]) for e in near) < 0.2
        assert abs(r.ts - time.time()) < 60
    assert stats.reconnects >= 2
    assert stats.rejections["beast_truncated"] >= 1 and stats.rejections["beast_garbage"] >= 1
    assert stats.message_count >= 239 * 2


# -- aircraft.json (readsb) -------------------------------------------------------------


def ac(hex_: str, lat: float, seen_pos: float, **kw: Any) -> dict[str, Any]:
    return {"hex": hex_, "lat": lat, "lon": 124.5, "alt_baro": 30000, "gs": 420.0, "track": 100.0,
            "flight": "TEST1   ", "seen_pos": seen_pos, "seen": 0.1, **kw}  # fmt: skip


async def test_aircraft_json_poller_backs_off_respects_retry_after_and_skips_repeats(
    caplog: Any,
) -> None:
    script = [
        Reply(429, "slow down", headers={"Retry-After": "2"}),
        Reply(503, "unavailable"),
        Reply(reset=True),
        Reply(200, "<!DOCTYPE html><html><body>502 Bad Gateway</body></html>"),
    ]
    stats = CountingStats()
    sleep = RecordingSleep(cap_s=0.1)
    async with FakeAircraftJson(script) as srv, aiohttp.ClientSession() as session:
        srv.aircraft = [
            ac("1551e0", 40.1, 0.5),
            ac("~abcdef", 40.2, 0.5),
            {"hex": "7278a2", "alt_baro": 1000},
        ]
        spec = parse_source_url(f"{srv.url}/tar1090/data/aircraft.json")
        source = build_source(spec, session=session, options=FAST, stats=stats, sleep=sleep)
        source.interval_s = 0.05
        got: list[Item] = []

        async def run() -> None:
            async for item in source:
                got.append(item)
                if len(positions(got)) == 1 and srv.aircraft[0]["lat"] == 40.1:
                    # the aircraft moves: a new position on a later poll
                    srv.aircraft = [ac("1551e0", 40.3, 0.2), *srv.aircraft[1:]]
                if len(positions(got)) == 2:
                    return

        await asyncio.wait_for(run(), 20)
        await source.aclose()
        times = [r for r in srv.requests]
    assert [(p.icao24, p.lat) for p in positions(got)] == [("1551e0", 40.1), ("1551e0", 40.3)]
    # 429 and 503; aiohttp retries a GET once by itself when a kept-alive connection is
    # reset, so the reset costs a reconnect only when it hits a fresh connection.
    assert stats.reconnects in (2, 3)
    assert [r.status for r in times[:3]] == [429, 503, None]
    assert stats.rejections["json"] == 1
    assert stats.rejections["non_icao"] >= 1 and stats.rejections["no_position"] >= 1
    assert any(d >= 1.9 for d in sleep.delays), sleep.delays  # Retry-After: 2 honoured
    assert len(times) >= 6
    assert positions(got)[0].source == "readsb"


class StampedFeed(FakeAircraftJson):
    """Notes when each request arrived."""

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.stamps: list[float] = []

    async def _record(self, request: Any) -> Any:
        self.stamps.append(time.monotonic())
        return await super()._record(request)


async def test_poll_interval_is_never_shortened() -> None:
    stats = CountingStats()
    async with StampedFeed([Reply(500), Reply(500)]) as srv, aiohttp.ClientSession() as session:
        srv.aircraft = [ac("1551e0", 40.1, 0.5)]
        source = PollSource(
            "t", HttpFetcher(session, f"{srv.url}/data/aircraft.json"),
            lambda doc, now: __import__("streams.sources.aircraft_json", fromlist=["x"]).parse_aircraft_json(doc, now_s=now),
            interval_s=0.2, options=LiveOptions(backoff_base_s=0.0, backoff_max_s=0.0), stats=stats,
        )
        task = asyncio.create_task(collect(source, lambda got: False, timeout_s=30))
        await asyncio.sleep(1.1)
        await source.aclose()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        started = srv.stamps
    gaps = [b - a for a, b in itertools.pairwise(started)]
    assert len(started) >= 4
    assert min(gaps) >= 0.19, gaps  # 5xx with zero backoff still waits the interval


# -- ADSBx v2 ---------------------------------------------------------------------------


async def test_adsbx_point_and_hex_queries() -> None:
    stats = CountingStats()
    sleep = RecordingSleep()
    async with (
        FakeAircraftJson([Reply(502, "bad gateway"), Reply(200, b'{"ac": [')]) as srv,
        aiohttp.ClientSession() as session,
    ):
        srv.aircraft = [ac("1551e0", 40.1, 1.0), ac("7278a2", 39.0, 2.0)]
        spec = parse_source_url(
            f"adsbx+http://127.0.0.1:{srv.port}/v2?lat=40&lon=125&radius_nm=250"
        )
        source = build_source(spec, session=session, options=FAST, stats=stats, sleep=sleep)
        source.interval_s = 0.05
        items = await collect(source, lambda got: len(positions(got)) == 2)
        hexspec = parse_source_url(f"adsbx+http://127.0.0.1:{srv.port}/v2?hex=7278A2")
        hexsource = build_source(hexspec, session=session, options=FAST)
        hexsource.interval_s = 0.05
        hex_items = await collect(hexsource, lambda got: len(positions(got)) == 1)
        paths = [r.path for r in srv.requests]
    got = positions(items)
    assert {p.icao24 for p in got} == {"1551e0", "7278a2"}
    assert all(p.source == "adsbx:127.0.0.1" for p in got)
    assert paths[0] == "/v2/point/40/125/250" and paths[-1] == "/v2/hex/7278a2"
    assert [p.icao24 for p in positions(hex_items)] == ["7278a2"]
    assert stats.reconnects == 1 and stats.rejections["json"] == 1


# -- OpenSky with OAuth2 ----------------------------------------------------------------

STATE = ["1551e0", "RSD352  ", "Russian Federation", 0, 0, 124.4457, 40.1681, 8412.48, False, 212.46, 135.0, -7.62,
         None, 8600.1, "1234", False, 0]  # fmt: skip


async def test_opensky_oauth2_refresh_401_429_and_credits(caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    offset = [0.0]
    sleep = RecordingSleep()
    stats = CountingStats()
    async with FakeOpenSky(token_lifetime_s=120) as srv, aiohttp.ClientSession() as session:
        srv.enqueue(
            Reply(429, {"error": "too many"}, headers={"X-Rate-Limit-Retry-After-Seconds": "3"}),
            route="states",
        )

        def clock() -> float:
            return time.time() + offset[0]

        auth = OAuthClientCredentials(
            session, srv.token_url, srv.client_id, srv.client_secret, clock=clock
        )
        source = PollSource(
            "opensky://t", HttpFetcher(session, f"{srv.url}/api/states/all?lamin=37&lomin=124&lamax=43&lomax=131", auth=auth),
            lambda doc, now: parse_opensky_states(doc), interval_s=0.05, options=FAST, stats=stats, sleep=sleep,
            clock=clock,
        )
        got: list[PositionReport] = []

        async def run() -> None:
            n = 0
            async for item in source:
                if not isinstance(item, PositionReport):
                    continue
                got.append(item)
                n += 1
                if n == 1:  # token 1 is 100 s old: 20 s left, inside the 60 s margin
                    offset[0] += 100.0
                    srv.clock_offset_s += 100.0
                elif n == 2:  # the server forgets tokens (a restart): one 401; then no credits
                    srv.tokens.clear()
                    srv.credits = 1
                elif n == 4:
                    return
                ts = int(clock()) + n
                srv.states = [[*STATE[:3], ts, ts, *STATE[5:]]]

        srv.states = [[*STATE[:3], int(clock()), int(clock()), *STATE[5:]]]
        await asyncio.wait_for(run(), 20)
        await source.aclose()
        tokens = [r.form for r in srv.routed("token")]
        bearers = [r.headers.get("Authorization") for r in srv.routed("states")]
    assert len(got) == 4
    assert got[0].alt_ft == 27600 and got[0].callsign == "RSD352"
    assert len(tokens) == 3  # first, refreshed before expiry, after the 401
    assert all(
        t["grant_type"] == "client_credentials" and t["client_id"] == "desk-client" for t in tokens
    )
    assert "Bearer tok-1" in bearers and "Bearer tok-2" in bearers and "Bearer tok-3" in bearers
    assert any(d >= 2.9 for d in sleep.delays), sleep.delays  # X-Rate-Limit-Retry-After-Seconds
    assert stats.reconnects == 2  # the 429 and the 401
    assert "s3cret-value" not in caplog.text and "s3cret-value" not in repr(auth)
    assert any(d >= 3599 for d in sleep.delays)  # no credits left and no retry hint: wait an hour


async def test_opensky_refused_credentials_slow_the_source_down(caplog: Any) -> None:
    stats = CountingStats()
    sleep = RecordingSleep(cap_s=0.01)
    async with FakeOpenSky() as srv, aiohttp.ClientSession() as session:
        spec = parse_source_url(
            f"opensky+http://127.0.0.1:{srv.port}/api?bbox=37,124,43,131&token_url={srv.token_url}"
        )
        env = {
            "SKYFENCE_OPENSKY_CLIENT_ID": "desk-client",
            "SKYFENCE_OPENSKY_CLIENT_SECRET": "wrong-secret",
        }
        source = build_source(
            spec, session=session, env=env, options=FAST, stats=stats, sleep=sleep
        )
        assert source.interval_s == 30.0
        source.interval_s = 0.01
        task = asyncio.create_task(collect(source, lambda got: False))
        while len(sleep.delays) < 3:
            await asyncio.sleep(0.01)
        await source.aclose()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert stats.reconnects >= 3 and len(srv.routed("states")) == 0
    # At the backoff's ceiling at once (uniform(max/2, max), less the 0.01 s interval).
    assert sum(d >= FAST.backoff_max_s / 2 - 0.011 for d in sleep.delays) >= 3
    assert "wrong-secret" not in caplog.text
