"""The process's settings: one typed, frozen object built by pydantic-settings.

Every setting has an environment variable (``SKYFENCE_`` + its name in capitals), a unit in
its name where it has one, a default and one line of documentation (its ``description``).
Where a value comes from, highest first:

1. command-line flags (passed as keyword arguments to :meth:`Settings.load`; None = not given);
2. environment variables ``SKYFENCE_*``;
3. for secrets, ``SKYFENCE_<NAME>_FILE``: a file holding the value (Docker and Kubernetes
   secrets), read and stripped;
4. a TOML file (``--config FILE`` or ``SKYFENCE_CONFIG``) whose keys are the settings' names
   in lower case (``broker = "kafka:9092"``, ``zones = ["dprk"]``); an unknown key is an error;
5. the defaults.

Secrets are :class:`pydantic.SecretStr`: their ``repr`` and ``str`` show ``**********`` and
:meth:`Settings.redacted` prints whether each is set, never its value.

This is the one loader: :class:`streams.config.StreamSettings` and
:class:`alerts.config.AlertSettings` are frozen views built from it (the stream side and the
delivery side each take only what they use). It lives in ``streams`` because ``alerts`` may
import ``streams`` and not the reverse; the delivery settings are declared here too, so one
file, one environment and one ``skyfence config check`` cover the whole process.

A bad value raises :class:`SettingError` (a :class:`~streams.errors.ConfigError`) whose
``key`` is the environment variable at fault. Nothing is read at import time.
"""

from __future__ import annotations

import contextvars
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from streams.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "SECRET_FIELDS",
    "SettingError",
    "Settings",
    "read_secret",
    "secret_values",
]

#: Prefix of every environment variable.
ENV_PREFIX = "SKYFENCE_"
#: Environment variable naming the TOML config file.
CONFIG_ENV = "SKYFENCE_CONFIG"
#: Secret settings (also read from ``<NAME>_FILE``).
SECRET_FIELDS = (
    "slack_webhook_url", "telegram_token", "webhook_url", "webhook_secret", "sasl_password",
    "slack_app_token", "slack_signing_secret", "slack_bot_token",
)  # fmt: skip

#: The environment and config file of the load in progress (see :meth:`Settings.load`).
_LOADING: contextvars.ContextVar[tuple[Mapping[str, str], Path | None]] = contextvars.ContextVar(
    "skyfence_settings_loading"
)


class SettingError(ConfigError):
    """A setting is missing or malformed; ``key`` is its environment variable (or file key)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


def read_secret(env: Mapping[str, str], name: str) -> str | None:
    """The process's one reader of a secret: ``env[name]``, else the stripped content of the
    file named by ``env[name + "_FILE"]`` (Docker/Kubernetes secrets mounted as files).

    ``NAME`` wins when both are set; empty values count as unset (``None``). The settings'
    own secrets (:data:`SECRET_FIELDS`), the channels a routing file names
    (``alerts.secrets.secret_from_env``) and OpenSky's credentials all come through here. An
    unreadable file raises :class:`SettingError` naming ``NAME_FILE`` and the path, never
    the content.
    """
    direct = env.get(name)
    if direct:
        return direct
    var = f"{name}_FILE"
    path = env.get(var)
    if not path:
        return None
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingError(var, f"cannot read {path}: {exc.strerror or type(exc).__name__}") from None
    return content or None


def env_name(field: str) -> str:
    """The environment variable of a setting."""
    return ENV_PREFIX + field.upper()


Zones = Annotated[tuple[str, ...], NoDecode]


class Settings(BaseSettings):
    """Everything a skyfence process is configured with (secrets redacted in every repr)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        frozen=True,
        extra="forbid",
        validate_default=True,
        env_ignore_empty=True,  # VAR= (as in env.example) means "the default"
    )

    # -- Kafka and the stream side -----------------------------------------------------------
    broker: str = Field(
        "", description='Kafka bootstrap "host:port[,host:port]"; empty = start embedded Tansu.'
    )
    app_id: str = Field(
        "skyfence", description="Faust application id (consumer group, changelog topic prefix)."
    )
    positions_topic: str = Field(
        "skyfence.positions", description="Positions in recording format v1, keyed by icao24."
    )
    events_topic: str = Field(
        "skyfence.events", description="Airspace events in event format v1, keyed by icao24."
    )
    dead_letter_topic: str = Field(
        "skyfence.positions.dlq",
        description="Positions that could not be decoded, with the reason in headers.",
    )
    partitions: int = Field(
        4, ge=1, description="Partitions of the positions and events topics (and of the table)."
    )
    zones: Zones = Field(
        ("dprk",),
        description="Zone specs: built-in ids or GeoJSON paths (comma-separated in the environment).",
    )
    zone_max_vertices: int = Field(
        200_000, ge=1, description="Most vertices of one zone read from a GeoJSON file."
    )
    zone_file_max_zones: int = Field(
        10_000, ge=1, description="Most zones in one GeoJSON file."
    )
    metrics_port: int = Field(
        0, ge=0, le=65535, description="Port of /metrics, /healthz and /readyz; 0 = off."
    )
    metrics_host: str = Field(
        "127.0.0.1", description="Address those endpoints bind to (0.0.0.0 in a container)."
    )
    stall_after_s: float = Field(
        120.0,
        gt=0,
        description="Liveness fails after this long without progress while lag is not shrinking.",
    )
    session_timeout_s: float = Field(
        10.0,
        gt=0,
        allow_inf_nan=False,
        description="Consumer-group session timeout: a dead worker's partitions move after this.",
    )
    watermark_max_skew_s: float = Field(
        900.0,
        ge=0,
        allow_inf_nan=False,
        description="A producer watermark more than this ahead of its partition's latest "
        "position is dead-lettered (watermark_ahead); 0 = watermarks move nothing past positions.",
    )
    live: bool = Field(
        False,
        description="The positions topic carries live traffic: watermarks are also bounded by "
        "the wall clock.",
    )
    watermark_max_future_s: float = Field(
        60.0,
        ge=0,
        allow_inf_nan=False,
        description="On a live topic, a watermark more than this ahead of the wall clock is "
        "dead-lettered (watermark_future).",
    )
    shutdown_timeout_s: float = Field(
        30.0,
        ge=0,
        allow_inf_nan=False,
        description="Longest a graceful stop (SIGTERM) may take before the worker stops anyway.",
    )
    data_dir: str = Field(
        "/tmp/skyfence-data", description="Faust's data directory (table stores, local state)."
    )
    replication_factor: int = Field(
        1,
        ge=1,
        description="Replication factor of the topics skyfence creates (3 on a production cluster).",
    )
    min_insync_replicas: int = Field(
        0,
        ge=0,
        description="min.insync.replicas of the topics skyfence creates (2 with replication "
        "factor 3); 0 = the broker's default.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How clients talk to Kafka: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
    )
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "PLAIN", description="SASL mechanism for SASL_* protocols."
    )
    sasl_username: str = Field("", description="SASL user name.")
    ssl_cafile: str = Field(
        "",
        description="PEM file of the CA(s) that sign the brokers' certificates; empty = the system's.",
    )
    ssl_certfile: str = Field(
        "", description="PEM client certificate (TLS client authentication); empty = none."
    )
    ssl_keyfile: str = Field(
        "",
        description="PEM private key of the client certificate (if not in the certificate file).",
    )
    ssl_check_hostname: bool = Field(
        True, description="Check that a broker's certificate names the host connected to."
    )
    # -- delivery ---------------------------------------------------------------------------
    routing: str = Field(
        "", description="Routing TOML (channels, rules, mutes, cooldown); empty = quick flags."
    )
    telegram_chat: str = Field(
        "", description='Chat id for the quick Telegram channel ("-100..." for groups).'
    )
    slack_api_url: str = Field(
        "https://slack.com/api", description="Slack Web API root (tests, proxies)."
    )
    telegram_api_url: str = Field(
        "https://api.telegram.org",
        description="Telegram Bot API root (a self-hosted Bot API server, tests).",
    )
    watchlist: str = Field(
        "",
        description="Watchlist CSVs (plane-alert-db or the desk's own), comma-separated, each "
        "PATH or NAME=PATH; re-read when they change.",
    )
    aircraft_db: str = Field(
        "", description="OpenSky aircraft database CSV: registration, type, operator by address."
    )
    enrich_reload_s: float = Field(
        30.0,
        gt=0,
        description="How often watchlists and the aircraft database are checked for changes.",
    )
    alert_max_lag_s: float = Field(
        300.0, gt=0, description="Events older than this (vs wall time) are held, not pushed."
    )
    alert_replay: bool = Field(
        False, description="Push alerts for old events too (replaying a recording on purpose)."
    )
    alert_retry_max_s: float = Field(
        60.0, gt=0, description="Longest wait between two attempts of one alert (backoff cap)."
    )
    alert_give_up_s: float = Field(
        3600.0, gt=0, description="Retry a failing alert this long, then dead-letter it."
    )
    alerts_dead_letter_topic: str = Field(
        "skyfence.alerts.dlq", description="Alerts given up on, with reason and channel headers."
    )
    console: bool = Field(True, description="Print every alert on stdout.")
    maps: bool = Field(
        True, description="Attach a map image where the channel can show one (Slack API, Telegram)."
    )
    http_timeout_s: float = Field(
        10.0, gt=0, description="Per-request timeout towards Slack, Telegram and webhooks."
    )
    # -- chat commands (alerts.commands, alerts.chat; off unless enabled) -------------------
    chat_allowed_chats: str = Field(
        "",
        description="Chats that may command, comma-separated ids, bare or platform:id "
        "(telegram:-100123, slack:C0123); with no chats and no users nobody may.",
    )
    chat_allowed_users: str = Field(
        "", description="Users that may command anywhere the bot is, like chat_allowed_chats."
    )
    chat_telegram: bool = Field(
        False,
        description="Answer Telegram bot commands by getUpdates long polling (uses TELEGRAM_TOKEN).",
    )
    chat_telegram_bot: str = Field(
        "", description="The bot's username, to ignore /command@OtherBot in groups."
    )
    chat_slack_socket: bool = Field(
        False, description="Answer Slack commands over Socket Mode (needs SLACK_APP_TOKEN)."
    )
    chat_slack_http: bool = Field(
        False,
        description="Answer Slack at POST /slack/commands and /slack/interactive on the metrics "
        "port, verified with SLACK_SIGNING_SECRET.",
    )
    chat_state_topic: str = Field(
        "", description="Compacted topic of chat mutes and the desk watchlist; empty = <app_id>.desk."
    )
    chat_audit_topic: str = Field(
        "", description="Topic every chat command is audit-logged to; empty = <app_id>.audit."
    )
    # -- logs -------------------------------------------------------------------------------
    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines as readable text or as JSON objects."
    )
    # -- secrets of the quick channels (a routing file names its own variables) ------------
    slack_webhook_url: SecretStr | None = Field(
        None, description="Slack incoming webhook URL (secret)."
    )
    telegram_token: SecretStr | None = Field(None, description="Telegram bot token (secret).")
    webhook_url: SecretStr | None = Field(None, description="Generic JSON webhook URL (secret).")
    webhook_secret: SecretStr | None = Field(
        None, description="Signing secret of the generic webhook (secret)."
    )
    sasl_password: SecretStr | None = Field(None, description="SASL password (secret).")
    # -- secrets of the chat commands --------------------------------------------------------
    slack_app_token: SecretStr | None = Field(
        None, description="Slack app-level token (xapp-...) for Socket Mode (secret)."
    )
    slack_signing_secret: SecretStr | None = Field(
        None, description="Slack signing secret for the HTTP command endpoint (secret)."
    )
    slack_bot_token: SecretStr | None = Field(
        None, description="Slack bot token (xoxb-...) for chat.postMessage replies (secret)."
    )

    @model_validator(mode="after")
    def _kafka_security_is_complete(self) -> Settings:
        if self.security_protocol.startswith("SASL_"):
            if not self.sasl_username:
                raise ValueError(
                    f"{env_name('sasl_username')} is required with {self.security_protocol}"
                )
            if self.sasl_password is None:
                raise ValueError(
                    f"{env_name('sasl_password')} (or _FILE) is required with {self.security_protocol}"
                )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError(f"{env_name('ssl_keyfile')} needs {env_name('ssl_certfile')}")
        return self

    @field_validator("zones", mode="before")
    @classmethod
    def _split_zones(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [s.strip() for s in value.split(",")]
        if isinstance(value, list | tuple):
            value = tuple(s.strip() if isinstance(s, str) else s for s in value)
            value = tuple(s for s in value if s != "")
            if not value:
                raise ValueError("name at least one zone")
        return value

    @field_validator(*SECRET_FIELDS, mode="before")
    @classmethod
    def _empty_secret_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        env, config_file = _LOADING.get((os.environ, None))
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            _MappingEnvSource(settings_cls, env),
            _SecretFileSource(settings_cls, env),
        ]
        if config_file is not None:
            sources.append(_toml_source(settings_cls, config_file))
        return tuple(sources)

    @classmethod
    def load(
        cls,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
        overrides: Mapping[str, object] | None = None,
    ) -> Settings:
        """Settings from flags (``overrides``, None = not given), ``env`` (default: the
        process environment), ``*_FILE`` secrets, the TOML ``config_file`` (default:
        ``SKYFENCE_CONFIG``) and defaults. Raises :class:`SettingError` naming the key."""
        env = os.environ if env is None else env
        path = config_file or env.get(CONFIG_ENV) or None
        given = {k: v for k, v in (overrides or {}).items() if v is not None}
        token = _LOADING.set((env, Path(path) if path else None))
        try:
            return cls(**given)  # type: ignore[arg-type]  # validated by pydantic
        except ValidationError as exc:
            error = exc.errors()[0]
            loc = ".".join(str(p) for p in error["loc"])
            field = str(error["loc"][0]) if error["loc"] else ""
            key = env_name(field) if field in cls.model_fields else loc
            if not field:  # a rule across settings: its message starts with the key at fault
                key = str(error["msg"]).removeprefix("Value error, ").split(" ", 1)[0]
                raise SettingError(key, str(error["msg"]).removeprefix("Value error, ")) from None
            raise SettingError(
                key, f"{error['msg']} (got {_shown(field, error.get('input'))})"
            ) from None
        finally:
            _LOADING.reset(token)

    def redacted(self) -> dict[str, Any]:
        """Every setting by environment name, secrets shown as ``<set>`` or ``<unset>``."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name in SECRET_FIELDS:
                value = "<set>" if value is not None else "<unset>"
            elif isinstance(value, tuple):
                value = ",".join(value)
            elif isinstance(value, bool):
                value = "true" if value else "false"
            out[env_name(name)] = value
        return out


def _shown(field: str, value: Any) -> str:
    """A rejected value as an error message may show it (never a secret's)."""
    if field in SECRET_FIELDS:
        return "a value, redacted"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _MappingEnvSource(EnvSettingsSource):
    """Environment variables from an explicit mapping (the process environment by default)."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        self._env = env
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        # What the base class does with os.environ: names folded to lower case (settings are
        # not case-sensitive), empty values dropped (env_ignore_empty).
        return {k.lower(): v for k, v in self._env.items() if v != ""}


class _SecretFileSource(PydanticBaseSettingsSource):
    """``SKYFENCE_<NAME>_FILE`` for secret settings: the file's content, stripped."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self._env = env

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every secret at once

    def __call__(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in SECRET_FIELDS:
            var = env_name(name)
            if self._env.get(var):
                continue  # the environment source has it (it wins over the file)
            content = read_secret(self._env, var)
            if content:
                out[name] = content
        return out


def _toml_source(settings_cls: type[BaseSettings], path: Path) -> PydanticBaseSettingsSource:
    """The TOML config file (errors name the file and, for a bad key, the key)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingError(CONFIG_ENV, f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingError(CONFIG_ENV, f"{path} is not valid TOML: {exc}") from None
    unknown = sorted(set(data) - set(settings_cls.model_fields))
    if unknown:
        raise SettingError(
            f"{path}: {unknown[0]}", "not a setting (keys are setting names in lower case)"
        )
    return InitSettingsSource(settings_cls, init_kwargs=data)


#: Suffixes of environment variable names that hold secrets (the quick channels' and those a
#: routing file names, e.g. ``SKYFENCE_SLACK_PRIORITY_URL``).
_SECRET_SUFFIXES = ("_TOKEN", "_SECRET", "_PASSWORD", "_URL", "_KEY")
#: Settings whose names end like a secret's but are not secrets (public API roots).
_NOT_SECRET = {env_name("slack_api_url"), env_name("telegram_api_url")}


def secret_values(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Every secret value the process may hold, for log redaction: the settings' secrets and
    the values of ``SKYFENCE_*`` variables named like secrets."""
    values = [
        secret.get_secret_value()
        for secret in (getattr(settings, name) for name in SECRET_FIELDS)
        if secret is not None
    ]
    values += [
        value
        for name, value in env.items()
        if name.startswith(ENV_PREFIX) and name.endswith(_SECRET_SUFFIXES)
        and name not in _NOT_SECRET and value
    ]  # fmt: skip
    return values
