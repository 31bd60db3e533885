"""Source URLs: what ``skyfence ingest`` and ``record`` accept, parsed and turned into sources.

=====================================================  ============================================
URL                                                    source
=====================================================  ============================================
``sbs://HOST:PORT``                                    SBS-1/BaseStation text over TCP (30003)
``beast://HOST:PORT``                                  Beast binary over TCP (30005)
``http(s)://HOST/.../aircraft.json``                   readsb/dump1090/tar1090 aircraft.json, polled
``file:///PATH/aircraft.json`` or a path               a local aircraft.json, read when it changes
``adsbx://HOST[/PREFIX]?lat=LAT&lon=LON&radius_nm=R``  ADSBx v2 API: aircraft within R NM (<= 250)
``adsbx://HOST[/PREFIX]?hex=HEX[,HEX...]``             ADSBx v2 API: the listed aircraft
``opensky://[HOST[/PREFIX]]?bbox=S,W,N,E``             OpenSky ``/states/all`` in a bounding box
=====================================================  ============================================

Every URL may add ``interval_s=`` (polled sources: seconds between requests, never below
the service's documented minimum). ``adsbx+http://`` and ``opensky+http://`` use plain HTTP
(a local mirror, tests); the plain schemes use HTTPS. ``opensky://`` may add
``token_url=`` (default: OpenSky's Keycloak realm); its credentials come from
``SKYFENCE_OPENSKY_CLIENT_ID`` and ``SKYFENCE_OPENSKY_CLIENT_SECRET`` (or ``..._FILE``),
never from the URL; without them it polls anonymously (fewer credits, 10 s resolution).

Known ADSBx v2 services and their paths and limits (:data:`ADSBX_SERVICES`): ``opendata.adsb.fi``
(``/api/v2/lat/../lon/../dist/..``, 1 request/s), ``api.adsb.lol`` and
``api.airplanes.live`` (``/v2/point/../../..``, 1 request/s). Another host gets
``PREFIX/point/LAT/LON/R`` and ``PREFIX/hex/...`` (``PREFIX`` default ``/v2``) and a 1 s
minimum interval.

:func:`parse_source_url` is pure and raises :class:`~streams.errors.ConfigError` naming the
problem; :func:`build_source` makes the source (I/O objects are injected).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from streams.errors import ConfigError

__all__ = [
    "ADSBX_SERVICES",
    "OPENSKY_API_ROOT",
    "OPENSKY_TOKEN_URL",
    "SourceSpec",
    "build_source",
    "parse_source_url",
]

#: Host -> (point path template, hex path template, minimum interval s, service name).
#: adsb.fi documents 1 request/s on its open data API; airplanes.live 1 request/s;
#: adsb.lol publishes no fixed figure, so the same courtesy limit applies.
ADSBX_SERVICES: dict[str, tuple[str, str, float]] = {
    "opendata.adsb.fi": ("/api/v2/lat/{lat}/lon/{lon}/dist/{r}", "/api/v2/hex/{hex}", 1.0),
    "api.adsb.lol": ("/v2/point/{lat}/{lon}/{r}", "/v2/hex/{hex}", 1.0),
    "api.airplanes.live": ("/v2/point/{lat}/{lon}/{r}", "/v2/hex/{hex}", 1.0),
}
#: The services cap the radius at 250 NM.
ADSBX_MAX_RADIUS_NM = 250.0
#: Minimum interval for an unknown ADSBx-compatible host.
ADSBX_DEFAULT_MIN_INTERVAL_S = 1.0
#: OpenSky's REST root and OAuth2 token endpoint (client credentials, since March 2026).
OPENSKY_API_ROOT = "https://opensky-network.org/api"
OPENSKY_TOKEN_URL = (
    "https://auth.opensky-network.org/auth/realms/opensky-network/protocol/openid-connect/token"
)
#: OpenSky's state vectors have 5 s resolution for authenticated users (10 s anonymous),
#: and every /states/all call costs credits (4,000 a day authenticated: a small box polled
#: every 30 s spends ~2,900): poll no faster than this by default, never under 5 s.
OPENSKY_DEFAULT_INTERVAL_S = 30.0
OPENSKY_MIN_INTERVAL_S = 5.0
#: readsb rewrites aircraft.json once a second.
AIRCRAFT_JSON_INTERVAL_S = 1.0

OPENSKY_CLIENT_ID_ENV = "SKYFENCE_OPENSKY_CLIENT_ID"
OPENSKY_CLIENT_SECRET_ENV = "SKYFENCE_OPENSKY_CLIENT_SECRET"


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source URL: ``kind`` (``sbs``, ``beast``, ``aircraft_json``, ``adsbx``,
    ``opensky``), where to connect, and the request URL of polled kinds."""

    kind: str
    #: The URL without query or credentials: the source's name (a metric label).
    name: str
    host: str = ""
    port: int = 0
    #: Polled kinds: the full request URL (or file path for a watched aircraft.json).
    url: str = ""
    path: str = ""
    interval_s: float = 0.0
    token_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)


def _float(q: Mapping[str, list[str]], key: str, url: str) -> float | None:
    if key not in q:
        return None
    try:
        value = float(q[key][-1])
    except ValueError:
        raise ConfigError(f"{url}: {key} must be a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{url}: {key} must be finite")
    return value


def _interval(q: Mapping[str, list[str]], url: str, default: float, minimum: float) -> float:
    value = _float(q, "interval_s", url)
    if value is None:
        return default
    if value < minimum:
        raise ConfigError(f"{url}: interval_s must be at least {minimum:g} (the service's limit)")
    return value


def parse_source_url(url: str) -> SourceSpec:
    """Parse one source URL (see the module docstring)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    q = parse_qs(parts.query)
    if scheme in ("sbs", "beast"):
        if not parts.hostname or parts.port is None:
            raise ConfigError(f"{url}: {scheme}:// needs HOST:PORT (e.g. {scheme}://127.0.0.1:"
                              f"{30003 if scheme == 'sbs' else 30005})")  # fmt: skip
        return SourceSpec(
            scheme, f"{scheme}://{parts.hostname}:{parts.port}", parts.hostname, parts.port
        )
    if scheme in ("http", "https"):
        if not parts.hostname:
            raise ConfigError(f"{url}: no host")
        name = f"{scheme}://{parts.netloc.rsplit('@', 1)[-1]}{parts.path}"
        return SourceSpec("aircraft_json", name, url=url, interval_s=AIRCRAFT_JSON_INTERVAL_S)
    if scheme == "file" or (scheme == "" and url.endswith(".json")):
        path = parts.path if scheme == "file" else url
        return SourceSpec("aircraft_json", f"file://{Path(path).name}", path=path,
                          interval_s=AIRCRAFT_JSON_INTERVAL_S)  # fmt: skip
    if scheme in ("adsbx", "adsbx+http"):
        return _adsbx(url, parts, q, "http" if scheme.endswith("+http") else "https")
    if scheme in ("opensky", "opensky+http"):
        return _opensky(url, parts, q, "http" if scheme.endswith("+http") else "https")
    raise ConfigError(
        f"{url}: unknown source; use sbs://, beast://, http(s)://.../aircraft.json, "
        "file:///.../aircraft.json, adsbx://, opensky://"
    )


def _adsbx(url: str, parts: Any, q: Mapping[str, list[str]], http: str) -> SourceSpec:
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError(f"{url}: adsbx:// needs a host, e.g. adsbx://api.adsb.lol")
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    prefix = parts.path.rstrip("/") or "/v2"
    point_t, hex_t, minimum = ADSBX_SERVICES.get(
        host,
        (prefix + "/point/{lat}/{lon}/{r}", prefix + "/hex/{hex}", ADSBX_DEFAULT_MIN_INTERVAL_S),
    )
    interval = _interval(q, url, minimum, minimum)
    if "hex" in q:
        hexes = [h.strip().lower() for h in ",".join(q["hex"]).split(",") if h.strip()]
        bad = [h for h in hexes if len(h) != 6 or any(c not in "0123456789abcdef" for c in h)]
        if not hexes or bad:
            raise ConfigError(f"{url}: hex must list 6-hex-digit ICAO addresses")
        path = hex_t.format(hex=",".join(hexes))
    else:
        lat, lon = _float(q, "lat", url), _float(q, "lon", url)
        radius = _float(q, "radius_nm", url)
        if lat is None or lon is None or radius is None:
            raise ConfigError(f"{url}: adsbx:// needs lat=, lon= and radius_nm= (or hex=)")
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise ConfigError(f"{url}: lat/lon out of range")
        if not 0 < radius <= ADSBX_MAX_RADIUS_NM:
            raise ConfigError(f"{url}: radius_nm must be in (0, {ADSBX_MAX_RADIUS_NM:g}]")
        path = point_t.format(lat=f"{lat:g}", lon=f"{lon:g}", r=f"{radius:g}")
    return SourceSpec("adsbx", f"adsbx://{netloc}", host=host, port=parts.port or 0,
                      url=f"{http}://{netloc}{path}", interval_s=interval)  # fmt: skip


def _opensky(url: str, parts: Any, q: Mapping[str, list[str]], http: str) -> SourceSpec:
    host = (parts.hostname or "").lower()
    if host:
        netloc = host if parts.port is None else f"{host}:{parts.port}"
        root = f"{http}://{netloc}{parts.path.rstrip('/') or '/api'}"
    else:
        netloc, root = "opensky-network.org", OPENSKY_API_ROOT
    bbox = q.get("bbox")
    if not bbox:
        raise ConfigError(f"{url}: opensky:// needs bbox=SOUTH,WEST,NORTH,EAST (degrees)")
    try:
        south, west, north, east = (float(v) for v in bbox[-1].split(","))
    except ValueError:
        raise ConfigError(f"{url}: bbox must be four numbers SOUTH,WEST,NORTH,EAST") from None
    if not (-90 <= south < north <= 90 and -180 <= west < east <= 180):
        raise ConfigError(f"{url}: bbox must have SOUTH < NORTH and WEST < EAST, in range")
    interval = _interval(q, url, OPENSKY_DEFAULT_INTERVAL_S, OPENSKY_MIN_INTERVAL_S)
    token_url = q.get("token_url", [OPENSKY_TOKEN_URL])[-1]
    request = f"{root}/states/all?lamin={south:g}&lomin={west:g}&lamax={north:g}&lomax={east:g}"
    return SourceSpec("opensky", f"opensky://{netloc}", host=host, url=request,
                      interval_s=interval, token_url=token_url)  # fmt: skip


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """``env[name]``, or the content of the file named by ``env[name + '_FILE']``: through
    :func:`streams.settings.read_secret`, the process's one reader of secrets (its
    :class:`~streams.settings.SettingError` is a :class:`ConfigError`)."""
    from streams.settings import read_secret

    return read_secret(env, name)


def build_source(
    spec: SourceSpec,
    *,
    session: Any = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Any:
    """The live source for ``spec``. ``session`` (an aiohttp ``ClientSession``) is required
    by HTTP kinds; ``env`` holds OpenSky's credentials; ``kwargs`` (``options``, ``stats``,
    ``clock``, ``sleep``, ``backoff``) go to the source."""
    from streams.sources.aircraft_json import parse_aircraft_json
    from streams.sources.http import FileFetcher, HttpFetcher, OAuthClientCredentials, PollSource
    from streams.sources.opensky_states import parse_opensky_states
    from streams.sources.tcp import beast_source, sbs_source

    if spec.kind == "sbs":
        return sbs_source(spec.name, spec.host, spec.port, **kwargs)
    if spec.kind == "beast":
        return beast_source(spec.name, spec.host, spec.port, **kwargs)
    options = kwargs.get("options")
    timeout_s = options.timeout_s if options is not None else 10.0
    if spec.kind == "aircraft_json" and spec.path:
        fetcher: Any = FileFetcher(spec.path)
    elif spec.kind == "opensky":
        if session is None:
            raise ConfigError("an HTTP session is required")
        env = env if env is not None else {}
        client_id = _secret(env, OPENSKY_CLIENT_ID_ENV)
        client_secret = _secret(env, OPENSKY_CLIENT_SECRET_ENV)
        auth = None
        if client_id and client_secret:
            auth = OAuthClientCredentials(session, spec.token_url, client_id, client_secret,
                                          clock=kwargs.get("clock") or _wall, timeout_s=timeout_s)  # fmt: skip
        fetcher = HttpFetcher(session, spec.url, auth=auth, timeout_s=timeout_s)
    else:
        if session is None:
            raise ConfigError("an HTTP session is required")
        fetcher = HttpFetcher(session, spec.url, timeout_s=timeout_s,
                              headers={"Accept-Encoding": "gzip"})  # fmt: skip
    if spec.kind == "opensky":
        return PollSource(spec.name, fetcher, lambda doc, now: parse_opensky_states(doc),
                          interval_s=spec.interval_s, **kwargs)  # fmt: skip
    source = "readsb" if spec.kind == "aircraft_json" else "adsbx:" + spec.host
    return PollSource(
        spec.name,
        fetcher,
        lambda doc, now: parse_aircraft_json(doc, source=source, now_s=now),
        interval_s=spec.interval_s,
        **kwargs,
    )


def _wall() -> float:
    import time

    return time.time()
