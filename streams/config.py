"""Settings of the stream side, declared once, typed and frozen, read at the entry point.

Every setting has an environment variable, a unit in its name where it has one, a default and
one line of documentation. Nothing is read at import time: call :meth:`StreamSettings.from_env`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from streams.errors import ConfigError

__all__ = ["StreamSettings"]

_FLOAT_FIELDS = frozenset(
    {"session_timeout_s", "watermark_max_skew_s", "watermark_max_future_s", "shutdown_timeout_s"}
)
_BOOLEANS = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False, "": False}


@dataclass(frozen=True, slots=True)
class StreamSettings:
    """Kafka topics, partitions, zones and ports of the stream side."""

    #: SKYFENCE_BROKER: Kafka bootstrap "host:port[,host:port]"; empty = start embedded Tansu.
    broker: str = ""
    #: SKYFENCE_APP_ID: Faust application id (consumer group, changelog topic prefix).
    app_id: str = "skyfence"
    #: SKYFENCE_POSITIONS_TOPIC: positions in recording format v1, keyed by icao24.
    positions_topic: str = "skyfence.positions"
    #: SKYFENCE_EVENTS_TOPIC: airspace events in event format v1, keyed by icao24.
    events_topic: str = "skyfence.events"
    #: SKYFENCE_DEAD_LETTER_TOPIC: positions that could not be decoded, with the reason in headers.
    dead_letter_topic: str = "skyfence.positions.dlq"
    #: SKYFENCE_PARTITIONS: partitions of the positions and events topics (and of the table).
    partitions: int = 4
    #: SKYFENCE_ZONES: comma-separated zone specs: built-in ids or GeoJSON paths.
    zones: tuple[str, ...] = ("dprk",)
    #: SKYFENCE_METRICS_PORT: port of the Prometheus /metrics endpoint; 0 = off.
    metrics_port: int = 0
    #: SKYFENCE_METRICS_HOST: address the /metrics endpoint binds to.
    metrics_host: str = "127.0.0.1"
    #: SKYFENCE_SESSION_TIMEOUT_S: consumer-group session timeout: a dead worker's partitions
    #: move after this. Apache Kafka refuses < 6 s by default; the embedded Tansu uses 2 s.
    session_timeout_s: float = 10.0
    #: SKYFENCE_WATERMARK_MAX_SKEW_S: a producer watermark more than this ahead of its
    #: partition's latest position is dead-lettered (``watermark_ahead``). Keep it above the
    #: tracker's longest timer (signal loss, 300 s) plus a state checkpoint (30 s near a
    #: zone, what a restarted worker knows), so idle partitions still fire theirs; 0 lets
    #: watermarks move nothing past the positions.
    watermark_max_skew_s: float = 900.0
    #: SKYFENCE_LIVE: the positions topic carries live traffic (1/true): watermarks are also
    #: bounded by the wall clock (``watermark_max_future_s``).
    live: bool = False
    #: SKYFENCE_WATERMARK_MAX_FUTURE_S: on a live topic, a watermark more than this ahead of
    #: the wall clock is dead-lettered (``watermark_future``).
    watermark_max_future_s: float = 60.0
    #: SKYFENCE_SHUTDOWN_TIMEOUT_S: longest a graceful stop (SIGTERM) may take before the
    #: worker stops anyway.
    shutdown_timeout_s: float = 30.0
    #: SKYFENCE_DATA_DIR: Faust's data directory (table stores, local state).
    data_dir: str = field(default="/tmp/skyfence-data")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StreamSettings:
        """Build settings from ``SKYFENCE_*`` variables, then apply non-None ``overrides``."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"SKYFENCE_{f.name.upper()}")
            if raw is None:
                continue
            if f.name in _FLOAT_FIELDS:
                try:
                    values[f.name] = float(raw)
                except ValueError:
                    raise ConfigError(f"SKYFENCE_{f.name.upper()} must be a number") from None
                if not 0.0 <= values[f.name] < float("inf"):  # type: ignore[operator]
                    raise ConfigError(f"SKYFENCE_{f.name.upper()} must be a finite number >= 0")
            elif f.name == "live":
                if raw.strip().lower() not in _BOOLEANS:
                    raise ConfigError("SKYFENCE_LIVE must be 1/true/yes or 0/false/no")
                values[f.name] = _BOOLEANS[raw.strip().lower()]
            elif f.name in ("partitions", "metrics_port"):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(f"SKYFENCE_{f.name.upper()} must be an integer") from None
            elif f.name == "zones":
                values[f.name] = tuple(s.strip() for s in raw.split(",") if s.strip())
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.partitions < 1:
            raise ConfigError("SKYFENCE_PARTITIONS must be at least 1")
        if not settings.zones:
            raise ConfigError("SKYFENCE_ZONES must name at least one zone")
        return settings
