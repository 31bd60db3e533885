"""The live page's HTTP shell on a real aiohttp server (127.0.0.1, no broker): SSE within a
second, the token, static files, the filtered history and the offline page."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from alerts.desk_http import COOKIE, CSP, DeskServer, desk_token
from alerts.secrets import Secret
from streams.app import PartitionTracker
from streams.models import AirspaceEvent, Confidence, EventType, WatchlistMatch
from streams.tracking import AircraftState, Visit
from streams.zones import load_zones
from tests.support.brokers import free_port

pytestmark = pytest.mark.timeout(60)


@dataclass
class FakeTracker:
    """What the desk reads of a TrackerApp: partitions of states, and listeners."""

    partitions: dict[int, PartitionTracker] = field(default_factory=dict)
    listeners: list[Any] = field(default_factory=list)


def _event(**over: object) -> AirspaceEvent:
    base: dict[str, object] = {
        "event_id": "e1", "type": EventType.ENTERED, "icao24": "1551e0", "zone": "dprk",
        "ts": 1695690867.0, "lat": 39.5, "lon": 124.3, "observed_ts": 1695690870.0,
        "callsign": "RSD352", "confidence": Confidence.OBSERVED, "zone_name": "DPRK airspace",
        "alt_ft": 35100,
    }  # fmt: skip
    base.update(over)
    return AirspaceEvent(**base)  # type: ignore[arg-type]


async def _serve(desk: DeskServer) -> AsyncIterator[str]:
    app = web.Application()
    desk.install(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
def tracker() -> FakeTracker:
    return FakeTracker()


@pytest.fixture
async def open_desk(tracker: FakeTracker) -> AsyncIterator[tuple[str, DeskServer]]:
    desk = DeskServer(load_zones(["dprk"]), tick_s=0.2)
    desk.attach(tracker)
    async for base in _serve(desk):
        yield base, desk


async def _next_message(resp: aiohttp.ClientResponse, kind: str) -> dict[str, Any] | list[Any]:
    """The data of the next SSE message of ``kind`` (skipping comments and other kinds)."""
    event = None
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event == kind:
            return orjson.loads(line[6:])  # type: ignore[no-any-return]


async def test_an_event_reaches_an_open_page_within_a_second_and_aircraft_follow(
    open_desk: tuple[str, DeskServer], tracker: FakeTracker
) -> None:
    base, _ = open_desk
    async with aiohttp.ClientSession() as session, session.get(f"{base}/desk/api/stream") as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "text/event-stream"
        await resp.content.readline()  # the stream is open
        t0 = time.monotonic()
        for listener in tracker.listeners:  # as TrackerApp._emit calls them
            listener(_event())
        event = await asyncio.wait_for(_next_message(resp, "event"), 1.0)
        assert time.monotonic() - t0 < 1.0
        assert (
            isinstance(event, dict) and event["type"] == "entered" and event["icao24"] == "1551e0"
        )
        assert event["country"]["code"] == "RU"
        part = tracker.partitions.setdefault(3, PartitionTracker())
        part.states["1551e0"] = AircraftState(
            "1551e0", 100.0, 39.5, 124.3, 35000, "RSD352", visits={"dprk": Visit(90.0)}
        )
        for _ in range(10):  # the ticker sends the shown aircraft when they change
            update = await asyncio.wait_for(_next_message(resp, "aircraft"), 2.0)
            assert isinstance(update, dict)
            if update["aircraft"]:
                break
        assert [(a["icao24"], a["status"]) for a in update["aircraft"]] == [("1551e0", "inside")]
        assert update["partitions"] == [3]
        async with session.get(f"{base}/desk/api/aircraft/1551E0") as r:
            one = await r.json()
        assert one["current"]["status"] == "inside" and [e["type"] for e in one["timeline"]] == [
            "entered"
        ]


async def test_history_api_filters(open_desk: tuple[str, DeskServer]) -> None:
    base, desk = open_desk
    desk.on_event(_event(event_id="a"))
    desk.on_event(_event(event_id="b", type=EventType.APPROACHING, ts=1.0))
    desk.on_event(
        _event(event_id="c", icao24="720632", callsign="KOR151", watchlists=(WatchlistMatch("desk"),))
    )
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/desk/api/events", params={"type": "approaching"}) as r:
            assert [e["event_id"] for e in await r.json()] == ["b"]
        async with session.get(f"{base}/desk/api/events", params={"country": "KP"}) as r:
            assert [e["event_id"] for e in await r.json()] == ["c"]
        async with session.get(f"{base}/desk/api/events", params={"watchlist": "desk"}) as r:
            assert [e["event_id"] for e in await r.json()] == ["c"]
        async with session.get(f"{base}/desk/api/events", params={"watchlist": "*"}) as r:
            assert [e["event_id"] for e in await r.json()] == ["c"]
        async with session.get(f"{base}/desk/api/events", params={"limit": "x"}) as r:
            assert r.status == 400
        async with session.get(f"{base}/desk/api/state") as r:
            state = await r.json()
    assert state["zones"]["features"][0]["properties"]["id"] == "dprk"
    assert len(state["events"]) == 3 and state["aircraft"] == [] and state["partitions"] == []


async def test_region_outlines_are_served_once_built(open_desk: tuple[str, DeskServer]) -> None:
    base, _ = open_desk
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/desk/api/outlines") as r:
            assert r.status == 200 and r.content_type == "application/json"
            first = await r.read()
        async with session.get(f"{base}/desk/api/outlines") as r:
            assert await r.read() == first  # built once
    names = {f["properties"]["tz"] for f in orjson.loads(first)["features"]}
    assert {"Asia/Pyongyang", "Asia/Seoul"} <= names


async def test_events_are_enriched_before_the_page_sees_them(tracker: FakeTracker) -> None:
    desk = DeskServer(load_zones(["dprk"]))
    lists = {"720632": (WatchlistMatch("desk", "Watched"),)}
    desk.attach(
        tracker, enrich=lambda e: dataclasses.replace(e, watchlists=lists.get(e.icao24, ()))
    )
    for listener in tracker.listeners:
        listener(_event(event_id="a"))
        listener(_event(event_id="c", icao24="720632"))
    assert [v["event_id"] for v in desk.board.history(watchlist="desk")] == ["c"]
    assert desk.board.history(watchlist="desk")[0]["watchlists"][0]["category"] == "Watched"


async def test_static_files_are_served_with_a_strict_policy_and_no_traversal(
    open_desk: tuple[str, DeskServer],
) -> None:
    base, _ = open_desk
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/") as r:
            assert r.status == 200 and r.content_type == "text/html"
            assert r.headers["Content-Security-Policy"] == CSP
            page = await r.text()
        async with session.get(f"{base}/desk/static/leaflet/leaflet.js") as r:
            assert r.status == 200 and r.content_type == "text/javascript"
        for bad in ("../desk.py", "leaflet/../../desk.py", ".hidden", "nope.js"):
            async with session.get(f"{base}/desk/static/{bad}") as r:
                assert r.status == 404, bad
    assert "<title>skyfence desk</title>" in page


def test_the_page_and_its_assets_name_no_other_host() -> None:
    static = resources.files("alerts").joinpath("desk_static")
    for name in ("index.html", "desk.js", "desk.css"):
        text = static.joinpath(name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), name
    licence = static.joinpath("leaflet", "LICENSE").read_text(encoding="utf-8")
    assert (
        "BSD 2-Clause License" in licence and "Agafonkin" in licence
    )  # Leaflet's BSD-2-Clause licence travels with it


async def test_a_token_guards_every_desk_route(tracker: FakeTracker) -> None:
    desk = DeskServer(load_zones(["dprk"]), token=Secret("s3cret-token"))
    async for base in _serve(desk):
        routes = ["/", "/desk/static/desk.js", "/desk/api/state", "/desk/api/events",
                  "/desk/api/aircraft/1551e0", "/desk/api/stream", "/desk/api/outlines"]  # fmt: skip
        async with aiohttp.ClientSession() as session:
            for route in routes:
                async with session.get(base + route) as r:
                    assert r.status == 401, route
                async with session.get(base + route, headers={"Authorization": "Bearer nope"}) as r:
                    assert r.status == 401, route
            async with session.get(
                f"{base}/desk/api/state", headers={"Authorization": "Bearer s3cret-token"}
            ) as r:
                assert r.status == 200
            async with session.get(f"{base}/?token=wrong", allow_redirects=False) as r:
                assert r.status == 401 and COOKIE not in r.cookies
        jar = aiohttp.CookieJar(unsafe=True)  # a browser keeps cookies for 127.0.0.1 too
        async with aiohttp.ClientSession(cookie_jar=jar) as browser:  # the page's own way in
            async with browser.get(f"{base}/?token=s3cret-token", allow_redirects=False) as r:
                assert r.status == 303 and r.headers["Location"] == "/"
                cookie = r.cookies[COOKIE]
                assert cookie["httponly"] and cookie["samesite"] == "Strict"
            async with browser.get(f"{base}/") as r:
                assert r.status == 200 and "skyfence desk" in await r.text()
            async with browser.get(f"{base}/desk/api/stream") as r:
                assert r.status == 200
                assert (await r.content.readline()).startswith(b"retry:")


def test_the_token_comes_from_the_environment_or_a_file(tmp_path: Any) -> None:
    assert desk_token({}) is None
    assert desk_token({"SKYFENCE_DESK_TOKEN": "abc"}).reveal() == "abc"  # type: ignore[union-attr]
    secret = tmp_path / "token"
    secret.write_text("from-file\n")
    token = desk_token({"SKYFENCE_DESK_TOKEN_FILE": str(secret)})
    assert token is not None and token.reveal() == "from-file" and "from-file" not in repr(token)
