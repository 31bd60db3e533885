"""Fake live feeds on 127.0.0.1, speaking the real protocols, for the live-source tests.

- :class:`FakeTcpFeed`: a TCP server (SBS on 30003 or Beast on 30005 in real life) whose
  connections each play a *script* of steps: send bytes, pause, close (mid-line or not),
  or stay silent. Connections beyond the script are refused-by-close.
- :class:`FakeAircraftJson`: readsb's ``/data/aircraft.json`` and ADSBx v2 ``/v2/point/...``
  and ``/v2/hex/...`` (the snapshot of :attr:`aircraft`, ``now`` in seconds for readsb and
  milliseconds for ADSBx), scripted replies first (429, 5xx, HTML...).
- :class:`FakeOpenSky`: ``/api/states/all`` behind OAuth2 client credentials (``/token``):
  a request without a valid, unexpired bearer token gets 401; answers carry
  ``X-Rate-Limit-Remaining``.

All stop on exit and by themselves after ``lifetime_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes.peers import FakePeer, Recorded, Reply

__all__ = ["Close", "FakeAircraftJson", "FakeOpenSky", "FakeTcpFeed", "Pause", "Send", "Silence"]


@dataclass(frozen=True)
class Send:
    """Send these bytes (in chunks of ``chunk`` bytes, ``gap_s`` apart)."""

    data: bytes
    chunk: int = 4096
    gap_s: float = 0.0


@dataclass(frozen=True)
class Pause:
    seconds: float


@dataclass(frozen=True)
class Silence:
    """Keep the connection open, sending nothing, until the client gives up."""


@dataclass(frozen=True)
class Close:
    """Close the connection (the default at the end of a script)."""


Step = Send | Pause | Silence | Close


@dataclass
class FakeTcpFeed:
    """A TCP feed whose n-th connection plays ``scripts[n]`` (module docstring).

    ``scripts`` may also be a callable returning the script of connection n (or None to
    close at once).
    """

    scripts: Sequence[Sequence[Step]] | Callable[[int], Sequence[Step] | None]
    lifetime_s: float = 120.0
    port: int = 0
    connections: int = 0
    sent_bytes: int = 0
    _server: asyncio.Server | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        asyncio.get_running_loop().call_later(self.lifetime_s, self._server.close)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for t in list(self._tasks):
                t.cancel()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
            self._server = None

    def _script(self, n: int) -> Sequence[Step] | None:
        if callable(self.scripts):
            return self.scripts(n)
        return self.scripts[n] if n < len(self.scripts) else None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        n = self.connections
        self.connections += 1
        try:
            for step in self._script(n) or ():
                if isinstance(step, Send):
                    for i in range(0, len(step.data), step.chunk):
                        writer.write(step.data[i : i + step.chunk])
                        self.sent_bytes += len(step.data[i : i + step.chunk])
                        await writer.drain()
                        if step.gap_s:
                            await asyncio.sleep(step.gap_s)
                elif isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                elif isinstance(step, Silence):
                    await reader.read()  # until the client closes
                else:
                    break
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()
            self._tasks.discard(task)


class FakeAircraftJson(FakePeer):
    """readsb aircraft.json and ADSBx v2 point/hex endpoints over :attr:`aircraft`."""

    def __init__(self, script: Sequence[Reply] = (), *, lifetime_s: float = 120.0) -> None:
        super().__init__(script, lifetime_s=lifetime_s)
        #: Current aircraft entries (readsb field names); tests change them between polls.
        self.aircraft: list[dict[str, Any]] = []
        #: Snapshot time (epoch s); None = the wall clock.
        self.now: float | None = None

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        now = self.now if self.now is not None else time.time()
        if request.path.endswith("aircraft.json"):
            return Reply(200, {"now": now, "messages": 1, "aircraft": self.aircraft})
        if "/hex/" in request.path:
            wanted = set(request.path.rsplit("/", 1)[1].split(","))
            ac = [a for a in self.aircraft if a.get("hex") in wanted]
            return Reply(
                200, {"ac": ac, "now": int(now * 1000), "msg": "No error", "total": len(ac)}
            )
        if "/point/" in request.path or "/lat/" in request.path:
            return Reply(
                200,
                {
                    "ac": self.aircraft,
                    "now": int(now * 1000),
                    "msg": "No error",
                    "total": len(self.aircraft),
                },
            )
        return Reply(404, "not found")


class FakeOpenSky(FakePeer):
    """OpenSky REST with its OAuth2 token endpoint (module docstring)."""

    def __init__(
        self,
        script: Sequence[Reply] = (),
        *,
        client_id: str = "desk-client",
        client_secret: str = "s3cret-value",
        token_lifetime_s: float = 1800.0,
        lifetime_s: float = 120.0,
    ) -> None:
        super().__init__(script, lifetime_s=lifetime_s)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime_s = token_lifetime_s
        #: token -> expiry (server wall clock, plus :attr:`clock_offset_s`).
        self.tokens: dict[str, float] = {}
        self._serial = itertools.count(1)
        self.clock_offset_s = 0.0
        #: Current state vectors; tests change them between polls.
        self.states: list[list[Any]] = []
        self.credits = 1000

    @property
    def token_url(self) -> str:
        return f"{self.url}/token"

    def route_of(self, request: web.Request) -> str:
        return (
            "token"
            if request.path == "/token"
            else "states"
            if request.path.endswith("/states/all")
            else request.path
        )

    async def default(self, request: web.Request, rec: Recorded) -> Reply:
        now = time.time() + self.clock_offset_s
        if rec.route == "token":
            form = rec.form
            if form.get("grant_type") != "client_credentials":
                return Reply(400, {"error": "unsupported_grant_type"})
            if (form.get("client_id"), form.get("client_secret")) != (
                self.client_id,
                self.client_secret,
            ):
                return Reply(401, {"error": "invalid_client"})
            token = f"tok-{next(self._serial)}"
            self.tokens[token] = now + self.token_lifetime_s
            return Reply(
                200,
                {
                    "access_token": token,
                    "expires_in": self.token_lifetime_s,
                    "token_type": "Bearer",
                },
            )
        if rec.route == "states":
            auth = rec.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            if token not in self.tokens or self.tokens[token] <= now:
                return Reply(401, {"error": "invalid token"})
            self.credits -= 1
            return Reply(
                200,
                {"time": int(now), "states": self.states or None},
                headers={"X-Rate-Limit-Remaining": str(max(self.credits, 0))},
            )
        return Reply(404, "not found")
