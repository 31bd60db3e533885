"""The desk's live page, I/O shell: routes on the worker's aiohttp app beside ``/metrics``.

Routes (all read-only, GET):

- ``/`` the page; ``/desk/static/...`` its script, style and the vendored Leaflet (offline:
  the page fetches nothing from any other host, and draws no map tiles);
- ``/desk/api/state``: zones (GeoJSON), the aircraft shown, the alert history, and which
  partitions this worker holds;
- ``/desk/api/events?zone=&type=&country=&watchlist=&limit=``: the filtered history
  (``watchlist``: a list's name, or ``*`` for any list);
- ``/desk/api/aircraft/{icao24}``: one aircraft's visit timeline and current view;
- ``/desk/api/outlines``: country/region outlines around the zones (GeoJSON: the packaged
  time-zone outlines, :func:`alerts.desk.region_outlines`), built once on first request;
- ``/desk/api/stream``: Server-Sent Events. ``event`` messages are written as the tracker
  emits each event (well within a second); ``aircraft`` messages carry the shown aircraft
  when they changed, checked every ``tick_s`` (1 s) while anyone is listening.

Several workers: each process serves the aircraft of the positions partitions *it* holds
(its tracker's memory) and the events *it* emitted; the page says which partitions. A desk
with several workers opens each worker's page (or puts them behind a proxy per worker).
Merging in one page would need every worker to read every partition's state, which is
exactly what partitioning avoids.

Access: bound where ``/metrics`` is (127.0.0.1 unless configured). With a token
(``SKYFENCE_DESK_TOKEN`` or ``SKYFENCE_DESK_TOKEN_FILE``) every desk route needs
``Authorization: Bearer <token>`` or the ``skyfence_desk`` cookie, which ``/?token=<token>``
sets (HttpOnly, SameSite=Strict) so the browser's EventSource, which cannot send headers,
carries it. The token is compared in constant time and never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from importlib import resources
from typing import Any

import orjson
from aiohttp import web

from alerts.desk import DeskBoard, aircraft_views, region_outlines, zones_geojson
from alerts.secrets import Secret, secret_from_env
from streams.models import AirspaceEvent
from streams.tracking import AircraftState
from streams.zones import Zone

__all__ = ["COOKIE", "DeskServer", "desk_token"]

log = logging.getLogger(__name__)

#: Cookie that carries the desk token after ``/?token=...``.
COOKIE = "skyfence_desk"
#: Events a slow page may fall behind by before it is disconnected (it reconnects and
#: reloads the state).
SUBSCRIBER_QUEUE = 1000
#: Open event streams at most (each holds a queue); more are refused with 503.
MAX_SUBSCRIBERS = 64
#: Seconds between keep-alive comments on an idle event stream.
KEEPALIVE_S = 15.0
_STATIC = "desk_static"
_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".txt": "text/plain",
    "": "text/plain",
}
#: The page's content security policy: nothing from any other origin.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


def desk_token(environ: Mapping[str, str] | None = None) -> Secret | None:
    """The desk's bearer token from ``SKYFENCE_DESK_TOKEN`` or ``..._FILE``, or None."""
    return secret_from_env("SKYFENCE_DESK_TOKEN", os.environ if environ is None else environ)


def _assigned(bundle: Any) -> list[int]:
    """The positions partitions a tracker holds: its consumer's assignment, or (before the
    consumer runs, or in tests without Faust) the partitions it has tracked."""
    try:
        topic = bundle.settings.positions_topic
        return sorted(tp.partition for tp in bundle.app.consumer.assignment() if tp.topic == topic)
    except Exception:
        return sorted(bundle.partitions)


class DeskServer:
    """The live page's routes, its event fan-out and its aircraft ticker.

    ``attach`` a tracker (:class:`streams.app.TrackerApp`) once it runs; until then (and in a
    notifier-only process) the page shows zones and no aircraft.
    """

    def __init__(
        self,
        zones: Sequence[Zone],
        *,
        token: Secret | None = None,
        board: DeskBoard | None = None,
        tick_s: float = 1.0,
    ) -> None:
        self.board = board or DeskBoard()
        self._zone_list = list(zones)
        self._zones = zones_geojson(zones)
        self._outlines: asyncio.Task[bytes] | None = None
        self._token = token
        self.tick_s = tick_s
        self._states: Callable[[], Iterable[AircraftState]] = lambda: ()
        self._partitions: Callable[[], list[int]] = lambda: []
        self._subscribers: set[asyncio.Queue[bytes | None]] = set()
        self._ticker: asyncio.Task[None] | None = None
        self._last_aircraft: bytes = b""
        self._enrich: Callable[[AirspaceEvent], AirspaceEvent] | None = None

    # -- wiring -------------------------------------------------------------------------

    def attach(
        self, bundle: Any, enrich: Callable[[AirspaceEvent], AirspaceEvent] | None = None
    ) -> None:
        """Show ``bundle``'s (a TrackerApp's) aircraft and listen to its events; ``enrich``
        (the notifier's :meth:`alerts.enrich.Enricher.enrich`) fills in who each aircraft is
        (country, watchlists) before an event is recorded, as the alerts see it."""
        self._enrich = enrich
        self._states = lambda: [
            s for p in list(bundle.partitions.values()) for s in p.states.values()
        ]
        self._partitions = lambda: _assigned(bundle)
        bundle.listeners.append(self.on_event)

    def install(self, app: web.Application) -> None:
        """Add the desk's routes to ``app`` (the operations app serving ``/metrics``)."""
        app.router.add_get("/", self._page)
        app.router.add_get("/desk/static/{path:.+}", self._static)
        app.router.add_get("/desk/api/state", self._state)
        app.router.add_get("/desk/api/events", self._events)
        app.router.add_get("/desk/api/aircraft/{icao24}", self._aircraft)
        app.router.add_get("/desk/api/outlines", self._outlines_route)
        app.router.add_get("/desk/api/stream", self._stream)
        app.on_shutdown.append(self._shutdown)

    # -- events in ----------------------------------------------------------------------

    def on_event(self, event: AirspaceEvent) -> None:
        """Tracker listener: record the event and push it to every open page at once."""
        try:
            if self._enrich is not None:
                event = self._enrich(event)
            view = self.board.record(event)
            if view is not None:
                self._publish(b"event", orjson.dumps(view))
        except Exception:  # the page must never take the tracker down
            log.exception("desk: could not record event %s", event.event_id)

    def _publish(self, kind: bytes, data: bytes) -> None:
        message = b"event: " + kind + b"\ndata: " + data + b"\n\n"
        for queue in list(self._subscribers):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:  # too slow: drop it; its EventSource reconnects
                self._subscribers.discard(queue)
                with contextlib.suppress(asyncio.QueueFull):
                    queue.get_nowait()
                    queue.put_nowait(None)

    def aircraft(self) -> list[dict[str, Any]]:
        """The aircraft the page shows now (this worker's partitions)."""
        return aircraft_views(self._states())

    async def _tick(self) -> None:
        while self._subscribers:
            try:
                body = orjson.dumps({"aircraft": self.aircraft(), "partitions": self._partitions()})
                if body != self._last_aircraft:
                    self._last_aircraft = body
                    self._publish(b"aircraft", body)
            except Exception:
                log.exception("desk: aircraft update failed")
            await asyncio.sleep(self.tick_s)
        self._ticker = None

    # -- access -------------------------------------------------------------------------

    def _allowed(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        expected = self._token.reveal().encode()
        header = request.headers.get("Authorization", "")
        offered = header[7:] if header.startswith("Bearer ") else request.cookies.get(COOKIE, "")
        return hmac.compare_digest(offered.encode(), expected)

    @staticmethod
    def _refuse() -> web.Response:
        return web.Response(
            status=401,
            text="skyfence desk: a token is required (open /?token=... once, or send "
            "Authorization: Bearer ...)\n",
            headers={"WWW-Authenticate": 'Bearer realm="skyfence desk"'},
        )

    # -- handlers -----------------------------------------------------------------------

    async def _page(self, request: web.Request) -> web.StreamResponse:
        offered = request.query.get("token")
        if self._token is not None and offered is not None:
            if not hmac.compare_digest(offered.encode(), self._token.reveal().encode()):
                return self._refuse()
            # Set the cookie and drop the token from the address bar (and the history).
            response = web.HTTPSeeOther("/")
            response.set_cookie(COOKIE, offered, httponly=True, samesite="Strict", path="/")
            return response
        if not self._allowed(request):
            return self._refuse()
        return self._file("index.html")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return self._refuse()
        return self._file(request.match_info["path"])

    def _file(self, path: str) -> web.Response:
        parts = path.split("/")
        if any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise web.HTTPNotFound()
        node = resources.files("alerts").joinpath(_STATIC, *parts)
        if not node.is_file():
            raise web.HTTPNotFound()
        suffix = "." + parts[-1].rsplit(".", 1)[-1] if "." in parts[-1] else ""
        return web.Response(
            body=node.read_bytes(),
            content_type=_TYPES.get(suffix, "application/octet-stream"),
            headers={
                "Content-Security-Policy": CSP,
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "Cache-Control": "no-cache",
            },
        )

    @staticmethod
    def _json(body: Any) -> web.Response:
        return web.Response(
            body=orjson.dumps(body),
            content_type="application/json",
            headers={"Cache-Control": "no-store"},
        )

    async def _state(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        return self._json(
            {
                "zones": self._zones,
                "aircraft": self.aircraft(),
                "events": self.board.history(limit=500),
                "partitions": self._partitions(),
            }
        )

    async def _events(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        q = request.query
        try:
            limit = int(q.get("limit", "500"))
        except ValueError:
            raise web.HTTPBadRequest(text="limit must be an integer\n") from None
        return self._json(
            self.board.history(
                zone=q.get("zone") or None,
                type=q.get("type") or None,
                country=q.get("country") or None,
                watchlist=q.get("watchlist") or None,
                limit=max(1, min(limit, 5000)),
            )
        )

    async def _outlines_route(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        if self._outlines is None:  # once, off the event loop (~1 s of geometry)
            zones = self._zone_list
            self._outlines = asyncio.ensure_future(
                asyncio.to_thread(lambda: orjson.dumps(region_outlines(zones)))
            )
        try:
            body = await asyncio.shield(self._outlines)
        except Exception:
            self._outlines = None  # try again on the next request
            log.exception("desk: region outlines failed")
            raise web.HTTPInternalServerError(text="outlines unavailable\n") from None
        return web.Response(
            body=body,
            content_type="application/json",
            headers={"Cache-Control": "max-age=86400"},
        )

    async def _aircraft(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return self._refuse()
        icao24 = request.match_info["icao24"].lower()
        current = next((a for a in self.aircraft() if a["icao24"] == icao24), None)
        return self._json(
            {"icao24": icao24, "current": current, "timeline": self.board.timeline(icao24)}
        )

    async def _stream(self, request: web.Request) -> web.StreamResponse:
        if not self._allowed(request):
            return self._refuse()
        if len(self._subscribers) >= MAX_SUBSCRIBERS:
            return web.Response(status=503, text="too many open desk pages\n")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/event-stream",
                "Cache-Control": "no-store",
                "X-Accel-Buffering": "no",  # a proxy must not buffer it
            }
        )
        await response.prepare(request)
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(SUBSCRIBER_QUEUE)
        self._subscribers.add(queue)
        self._last_aircraft = b""  # the new page gets the aircraft at the next tick
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick(), name="skyfence-desk-ticker")
        try:
            await response.write(b"retry: 2000\n: connected\n\n")
            while True:
                try:
                    message = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    message = b": keep-alive\n\n"
                if message is None:
                    break
                await response.write(message)
        except ConnectionResetError:  # the page went away
            pass
        finally:
            self._subscribers.discard(queue)
        return response

    async def _shutdown(self, _: web.Application) -> None:
        for queue in list(self._subscribers):
            with contextlib.suppress(asyncio.QueueFull):
                queue.put_nowait(None)
        self._subscribers.clear()
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
