"""Settings of the stream side: a typed, frozen view of :class:`streams.settings.Settings`.

Every setting has an environment variable, a unit in its name where it has one, a default and
one line of documentation. :meth:`StreamSettings.from_env` loads them through
:class:`~streams.settings.Settings` (pydantic-settings: environment, ``*_FILE`` secrets, a
TOML file, flags), the one loader and converter of the process. Nothing is read at import
time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from pydantic import SecretStr

__all__ = ["StreamSettings"]


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
    #: SKYFENCE_ZONE_MAX_VERTICES: most vertices of one zone read from a GeoJSON file.
    zone_max_vertices: int = 200_000
    #: SKYFENCE_ZONE_FILE_MAX_ZONES: most zones in one GeoJSON file.
    zone_file_max_zones: int = 10_000
    #: SKYFENCE_METRICS_PORT: port of the /metrics, /healthz and /readyz endpoints; 0 = off.
    metrics_port: int = 0
    #: SKYFENCE_METRICS_HOST: address those endpoints bind to (0.0.0.0 in a container).
    metrics_host: str = "127.0.0.1"
    #: SKYFENCE_STALL_AFTER_S: liveness fails after this long without progress while
    #: partitions are assigned and lag is not shrinking (the progress watchdog).
    stall_after_s: float = 120.0
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
    #: SKYFENCE_REPLICATION_FACTOR: replication factor of the topics skyfence creates.
    replication_factor: int = 1
    #: SKYFENCE_MIN_INSYNC_REPLICAS: min.insync.replicas of the topics skyfence creates (2 with
    #: replication factor 3: a write with acks=all survives one broker down); 0 = broker default.
    min_insync_replicas: int = 0
    #: SKYFENCE_SECURITY_PROTOCOL: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
    security_protocol: str = "PLAINTEXT"
    #: SKYFENCE_SASL_MECHANISM: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.
    sasl_mechanism: str = "PLAIN"
    #: SKYFENCE_SASL_USERNAME: SASL user name.
    sasl_username: str = ""
    #: SKYFENCE_SASL_PASSWORD (or _FILE): SASL password; a SecretStr (its repr is masked).
    sasl_password: SecretStr | None = field(default=None, repr=False)
    #: SKYFENCE_SSL_CAFILE: PEM CA file for the brokers' certificates; empty = the system's.
    ssl_cafile: str = ""
    #: SKYFENCE_SSL_CERTFILE: PEM client certificate; empty = none.
    ssl_certfile: str = ""
    #: SKYFENCE_SSL_KEYFILE: PEM key of the client certificate (if not in the certificate file).
    ssl_keyfile: str = ""
    #: SKYFENCE_SSL_CHECK_HOSTNAME: check that a broker's certificate names its host.
    ssl_check_hostname: bool = True

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StreamSettings:
        """Build from :class:`streams.settings.Settings` (flags ``overrides`` (None = not
        given), ``SKYFENCE_*`` variables, the TOML file, defaults): the one loader."""
        from streams.settings import Settings

        settings = Settings.load(env, overrides=overrides)
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def zone_limits(self) -> dict[str, int]:
        """The zone-file limits as keyword arguments of :func:`streams.zones.load_zones`."""
        return {
            "max_vertices": self.zone_max_vertices,
            "max_zones_per_file": self.zone_file_max_zones,
        }
