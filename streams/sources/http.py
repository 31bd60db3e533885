"""Polled live feeds: readsb ``aircraft.json``, ADSBx v2 REST APIs, OpenSky ``/states/all``.

:class:`PollSource` asks a *fetcher* for a document every ``interval_s`` (never sooner:
requests start at least ``interval_s`` apart, whatever happens), parses it with a pure
parser, validates the positions against the clock, passes only positions newer than the
last one per aircraft (:class:`~streams.sources.aircraft_json.SnapshotFilter`: a snapshot
repeats a position until the aircraft sends another) and yields them.

Answers it handles (each counted as a reconnect, then a wait):

- 429: waits the peer's ``Retry-After`` or OpenSky's ``X-Rate-Limit-Retry-After-Seconds``
  (and at least the backoff);
- 5xx, timeouts, refused or reset connections: exponential backoff with jitter;
- 401/403 with OAuth2: the token is dropped and fetched again before the next request;
- other 4xx: backoff up to its maximum (a wrong URL does not hammer the service);
- a 200 whose body is not the expected JSON (an HTML error page, a truncated body):
  one rejection (``json`` or ``bad_document``), and the next poll as usual.

OpenSky's ``X-Rate-Limit-Remaining`` is read on every answer: at 0 the source waits for
``X-Rate-Limit-Retry-After-Seconds`` (or an hour) before asking again.

Fetchers: :class:`HttpFetcher` (aiohttp, injected session, optional bearer tokens from
:class:`OAuthClientCredentials`) and :class:`FileFetcher` (a local ``aircraft.json`` that
readsb rewrites, read when its modification time changes).

OAuth2 client credentials (RFC 6749 section 4.4), as OpenSky requires since March 2026:
``POST token_url`` with ``grant_type=client_credentials``, ``client_id`` and
``client_secret``; the answer's ``access_token`` is used as ``Authorization: Bearer`` until
:data:`TOKEN_REFRESH_MARGIN_S` before ``expires_in`` runs out, then fetched again. The
secret is never logged nor put in an error message.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from streams.errors import SourceError
from streams.models import BadLine, PositionReport
from streams.sources._common import load_json
from streams.sources.aircraft_json import SnapshotFilter
from streams.sources.live import (
    Backoff,
    Clock,
    LiveOptions,
    LiveShell,
    Sleep,
    SourceStats,
    check_items,
    default_sleep,
    wall_clock,
)

__all__ = [
    "TOKEN_REFRESH_MARGIN_S",
    "Fetched",
    "Fetcher",
    "FileFetcher",
    "HttpFetcher",
    "OAuthClientCredentials",
    "PollSource",
]

log = logging.getLogger(__name__)

#: Refresh a token this long before it expires: OpenSky's live 30 minutes; a request in
#: flight when it expires would fail with 401 and cost a round trip.
TOKEN_REFRESH_MARGIN_S = 60.0
#: Wait when OpenSky says no credits remain but not for how long: credits are per day.
NO_CREDITS_WAIT_S = 3600.0
#: Largest document accepted (bytes): a world-wide ADSBx snapshot is ~10 MB.
MAX_BODY_BYTES = 64 * 1024 * 1024

Parser = Callable[[Any, float], Iterable[PositionReport | BadLine]]


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answer: HTTP status (200 for a file read), headers (lower-case names), body.

    ``body=None`` with status 304 means "nothing new" (a file that did not change).
    """

    status: int
    headers: Mapping[str, str]
    body: bytes | None


class Fetcher(Protocol):
    """Gets the current document (raises :class:`SourceError` on transport failures)."""

    async def fetch(self) -> Fetched: ...

    def invalidate_auth(self) -> None:
        """The peer refused the credentials: get new ones before the next request."""


class OAuthClientCredentials:
    """An OAuth2 client-credentials token, fetched and refreshed before it expires."""

    def __init__(
        self,
        session: Any,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Clock = wall_clock,
        timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self.token_url = token_url
        self.client_id = client_id
        self._secret = client_secret
        self._clock = clock
        self._timeout_s = timeout_s
        self._token: str | None = None
        self._expires_at = 0.0
        #: Tokens fetched so far.
        self.fetches = 0

    def __repr__(self) -> str:
        return (
            f"OAuthClientCredentials({self.token_url!r}, client_id={self.client_id!r}, secret=***)"
        )

    def invalidate(self) -> None:
        """Forget the token (the peer refused it)."""
        self._token = None

    async def token(self) -> str:
        """A valid access token; fetches a new one when none is held or it expires within
        :data:`TOKEN_REFRESH_MARGIN_S`. Raises :class:`SourceError` (``auth`` when the
        credentials are refused: not retriable; ``auth_http_5xx``/``auth_connect`` else)."""
        now = self._clock()
        if self._token is not None and now < self._expires_at - TOKEN_REFRESH_MARGIN_S:
            return self._token
        import aiohttp

        form = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self._secret,
        }
        try:
            async with self._session.post(
                self.token_url, data=form, timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            ) as resp:
                status = resp.status
                body = await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SourceError("auth_connect", f"token endpoint: {exc.__class__.__name__}") from None
        if status in (400, 401, 403):
            raise SourceError(
                "auth", f"token endpoint refused the credentials ({status})", retriable=False
            )
        if status != 200:
            raise SourceError(f"auth_http_{status}", "token endpoint failed")
        doc, bad = load_json(body)
        token = doc.get("access_token") if isinstance(doc, dict) and bad is None else None
        if not isinstance(token, str) or not token:
            raise SourceError("auth_bad_answer", "token endpoint answered without access_token")
        expires_in = doc.get("expires_in")
        lifetime = (
            float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 300.0
        )
        self._token = token
        self._expires_at = now + lifetime
        self.fetches += 1
        log.info("oauth2 token fetched for %s, valid %.0f s", self.client_id, lifetime)
        return token


class HttpFetcher:
    """GETs ``url`` with an injected aiohttp session (optionally with a bearer token)."""

    def __init__(
        self,
        session: Any,
        url: str,
        *,
        auth: OAuthClientCredentials | None = None,
        timeout_s: float = 10.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self._session = session
        self.url = url
        self.auth = auth
        self._timeout_s = timeout_s
        self._headers = dict(headers or {})

    def invalidate_auth(self) -> None:
        if self.auth is not None:
            self.auth.invalidate()

    async def fetch(self) -> Fetched:
        import aiohttp

        headers = dict(self._headers)
        if self.auth is not None:
            headers["Authorization"] = f"Bearer {await self.auth.token()}"
        try:
            async with self._session.get(
                self.url, headers=headers, timeout=aiohttp.ClientTimeout(total=self._timeout_s)
            ) as resp:
                hdrs = {k.lower(): v for k, v in resp.headers.items()}
                if resp.status != 200:
                    return Fetched(resp.status, hdrs, None)
                body = await resp.content.read(MAX_BODY_BYTES + 1)
                if len(body) > MAX_BODY_BYTES:
                    raise SourceError("too_large", f"answer over {MAX_BODY_BYTES} bytes")
                return Fetched(200, hdrs, body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The exception text can hold the URL (and a query); the class name is enough.
            raise SourceError("connect", exc.__class__.__name__) from None


class FileFetcher:
    """Reads a local file (readsb's ``--write-json`` directory) when it has changed."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._last: tuple[int, int] | None = None

    def invalidate_auth(self) -> None:
        pass

    async def fetch(self) -> Fetched:
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size)
            if stamp == self._last:
                return Fetched(304, {}, None)
            body = self.path.read_bytes()
        except OSError as exc:
            raise SourceError("file", f"{self.path.name}: {exc.__class__.__name__}") from None
        self._last = stamp
        return Fetched(200, {}, body)


def _seconds(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value)
        except ValueError:
            continue
        if seconds >= 0 and seconds == seconds:
            return min(seconds, 86_400.0)
    return None


class PollSource(LiveShell):
    """A rate-limited poller of one snapshot feed (module docstring). ``name`` is the URL
    without its query or credentials; ``parse(doc, now_s)`` is the pure parser."""

    def __init__(
        self,
        name: str,
        fetcher: Fetcher,
        parse: Parser,
        *,
        interval_s: float,
        options: LiveOptions | None = None,
        stats: SourceStats | None = None,
        clock: Clock = wall_clock,
        sleep: Sleep = default_sleep,
        backoff: Backoff | None = None,
    ) -> None:
        super().__init__(
            name, options=options, stats=stats, clock=clock, sleep=sleep, backoff=backoff
        )
        self.fetcher = fetcher
        self.parse = parse
        self.interval_s = interval_s
        self._filter = SnapshotFilter()
        #: Requests made (and the time of the last, epoch seconds).
        self.requests = 0
        self._last_request = -1e18

    async def __aiter__(self) -> AsyncIterator[PositionReport | BadLine]:
        while not self._closed:
            wait = self._last_request + self.interval_s - self._clock()
            if wait > 0:
                await self._sleep(wait)
                if self._closed:
                    return
            self._last_request = self._clock()
            self.requests += 1
            try:
                answer = await self.fetcher.fetch()
            except SourceError as exc:
                await self._retry(f"{exc.reason}: {exc.detail}", None, fatal=not exc.retriable)
                continue
            extra_wait = self._rate_limit_wait(answer.headers)
            if answer.status == 304:
                self.progressed()  # unchanged is an answer too
                continue
            if answer.status != 200 or answer.body is None:
                if answer.status in (401, 403):
                    self.fetcher.invalidate_auth()
                retry_after = _seconds(
                    answer.headers, "retry-after", "x-rate-limit-retry-after-seconds"
                )
                fatal = 400 <= answer.status < 500 and answer.status not in (401, 403, 408, 429)
                await self._retry(f"HTTP {answer.status}", retry_after, fatal=fatal)
                continue
            self._backoff.reset()
            now = self._clock()
            self.progressed()
            self.stats.received(len(answer.body))
            doc, bad = load_json(answer.body)
            items: list[PositionReport | BadLine]
            if bad is not None:
                items = [bad]
                self.stats.messages(1)
            else:
                items = list(self.parse(doc, now))
                self.stats.messages(len(items))
            for item in check_items(
                items, now, self.stats, max_age_s=self.options.max_age_s, keep=self._filter.is_new
            ):
                yield item
            if self.requests % 100 == 0:
                self._filter.sweep(now)
            if extra_wait:
                log.warning("%s: rate limit reached, waiting %.0f s", self.name, extra_wait)
                await self._sleep(extra_wait)

    def _rate_limit_wait(self, headers: Mapping[str, str]) -> float:
        """OpenSky: no credits left -> how long to wait before the next request."""
        remaining = headers.get("x-rate-limit-remaining")
        if remaining is None:
            return 0.0
        try:
            if int(remaining) > 0:
                return 0.0
        except ValueError:
            return 0.0
        return _seconds(headers, "x-rate-limit-retry-after-seconds") or NO_CREDITS_WAIT_S

    async def _retry(self, why: str, retry_after_s: float | None, *, fatal: bool) -> None:
        self.stats.reconnected()
        if fatal:  # a wrong URL or refused credentials: as slow as the backoff allows
            self._backoff.attempt = max(self._backoff.attempt, 30)
        delay = max(self._backoff.next_delay(), retry_after_s or 0.0)
        log.warning("%s: %s; next request in %.1f s", self.name, why, delay)
        await self._sleep(max(0.0, delay - self.interval_s))

    async def aclose(self) -> None:
        """Stop before the next request."""
        self._closed = True
