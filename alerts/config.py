"""Settings of the delivery side, and building channels, routing and rate limits from them.

Like :class:`streams.config.StreamSettings`: a typed, frozen view of
:class:`streams.settings.Settings` (the one loader), read only at the entry point
(:meth:`AlertSettings.from_env`). Secrets are never
settings: they are read by :func:`alerts.secrets.secret_from_env` (``NAME`` or ``NAME_FILE``)
when a channel is built, and held as :class:`~alerts.secrets.Secret`.

Channels come from one of two places:

- a **routing file** (``SKYFENCE_ROUTING``, ``--routing``): its ``[channels.*]`` name the
  environment variables holding each URL or token (see :mod:`alerts.routing`);
- **quick flags**, without a routing file: ``--slack-webhook`` (``SKYFENCE_SLACK_WEBHOOK_URL``),
  ``--telegram-token``/``--telegram-chat`` (``SKYFENCE_TELEGRAM_TOKEN``,
  ``SKYFENCE_TELEGRAM_CHAT``), ``--webhook-url`` (``SKYFENCE_WEBHOOK_URL``, signed with
  ``SKYFENCE_WEBHOOK_SECRET``). They get the default routing: every event type but
  ``approaching`` (a forecast desks opt in to).

The console channel (``console``) is always there unless turned off, and shows every event.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import aiohttp

from alerts.channels.base import Channel
from alerts.channels.console import ConsoleChannel
from alerts.channels.slack import SLACK_API_URL, SlackApiChannel, SlackWebhookChannel
from alerts.channels.telegram import TELEGRAM_API_URL, TelegramChannel
from alerts.channels.webhook import WebhookChannel
from alerts.enrich import Enricher
from alerts.ratelimit import (
    MultiLimit,
    TokenBucket,
    slack_webhook_limit,
    telegram_bot_bucket,
    telegram_chat_limit,
)
from alerts.routing import Router
from alerts.routing_config import ChannelSpec, RoutingConfig
from alerts.secrets import Secret, secret_from_env
from streams.errors import ConfigError
from streams.models import EventType
from streams.settings import Settings

__all__ = ["ALERTS_DEAD_LETTER_TOPIC", "AlertSettings", "Channels", "build_channels"]

log = logging.getLogger(__name__)

#: Default alerts dead-letter topic.
ALERTS_DEAD_LETTER_TOPIC = "skyfence.alerts.dlq"


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Where alerts go and how they are delivered (no secrets here)."""

    #: SKYFENCE_ROUTING: routing TOML (channels, rules, mutes, cooldown); empty = quick flags.
    routing: str = ""
    #: SKYFENCE_TELEGRAM_CHAT: chat id for the quick Telegram channel ("-100..." for groups).
    telegram_chat: str = ""
    #: SKYFENCE_SLACK_API_URL: Slack Web API root (tests, proxies).
    slack_api_url: str = SLACK_API_URL
    #: SKYFENCE_TELEGRAM_API_URL: Telegram Bot API root (a self-hosted Bot API server, tests).
    telegram_api_url: str = TELEGRAM_API_URL
    #: SKYFENCE_WATCHLIST: watchlist CSVs (plane-alert-db or the desk's own), comma-separated,
    #: each ``PATH`` or ``NAME=PATH``; re-read when they change.
    watchlist: str = ""
    #: SKYFENCE_AIRCRAFT_DB: OpenSky aircraft database CSV: registration, type, operator.
    aircraft_db: str = ""
    #: SKYFENCE_ENRICH_RELOAD_S: how often watchlists and the aircraft database are checked
    #: for changes on disk (a change is live within twice this).
    enrich_reload_s: float = 30.0
    #: SKYFENCE_ALERT_MAX_LAG_S: events older than this (vs wall time) are held, not pushed.
    alert_max_lag_s: float = 300.0
    #: SKYFENCE_ALERT_REPLAY: push alerts for old events too (replaying a recording on purpose).
    alert_replay: bool = False
    #: SKYFENCE_ALERT_RETRY_MAX_S: longest wait between two attempts of one alert (backoff cap).
    alert_retry_max_s: float = 60.0
    #: SKYFENCE_ALERT_GIVE_UP_S: retry a failing alert this long, then dead-letter it.
    alert_give_up_s: float = 3600.0
    #: SKYFENCE_ALERTS_DEAD_LETTER_TOPIC: alerts given up on, with reason and channel headers.
    alerts_dead_letter_topic: str = "skyfence.alerts.dlq"  # = ALERTS_DEAD_LETTER_TOPIC
    #: SKYFENCE_CONSOLE: print every alert on stdout.
    console: bool = True
    #: SKYFENCE_MAPS: attach a map image where the channel can show one (Slack API, Telegram).
    maps: bool = True
    #: SKYFENCE_HTTP_TIMEOUT_S: per-request timeout towards Slack, Telegram and webhooks.
    http_timeout_s: float = 10.0
    #: SKYFENCE_CHAT_ALLOWED_CHATS / _USERS: who may use chat commands (alerts.commands.Access).
    chat_allowed_chats: str = ""
    chat_allowed_users: str = ""
    #: SKYFENCE_CHAT_TELEGRAM: Telegram commands by getUpdates (SKYFENCE_TELEGRAM_TOKEN).
    chat_telegram: bool = False
    #: SKYFENCE_CHAT_TELEGRAM_BOT: the bot's username (``/cmd@ThisBot``).
    chat_telegram_bot: str = ""
    #: SKYFENCE_CHAT_SLACK_SOCKET: Slack commands over Socket Mode (SKYFENCE_SLACK_APP_TOKEN).
    chat_slack_socket: bool = False
    #: SKYFENCE_CHAT_SLACK_HTTP: Slack's signed HTTP endpoint (SKYFENCE_SLACK_SIGNING_SECRET).
    chat_slack_http: bool = False
    #: SKYFENCE_CHAT_STATE_TOPIC / _AUDIT_TOPIC: empty = ``<app_id>.desk`` / ``<app_id>.audit``.
    chat_state_topic: str = ""
    chat_audit_topic: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> AlertSettings:
        """Build from :class:`streams.settings.Settings` (flags ``overrides`` (None = not
        given), ``SKYFENCE_*`` variables, the TOML file, defaults): the one loader."""
        settings = Settings.load(env, overrides=overrides)
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})


def watchlist_specs(settings: AlertSettings) -> list[str]:
    """The watchlists named by ``settings.watchlist`` (comma-separated), in order."""
    return [spec.strip() for spec in settings.watchlist.split(",") if spec.strip()]


@dataclass
class Channels:
    """What :func:`build_channels` made: channels, their router and rate limits."""

    channels: list[Channel]
    #: None: every channel gets every event (tests).
    router: Router | None
    limits: dict[str, MultiLimit]


#: Environment variable names of the quick channels' secrets.
SLACK_WEBHOOK_ENV = "SKYFENCE_SLACK_WEBHOOK_URL"
TELEGRAM_TOKEN_ENV = "SKYFENCE_TELEGRAM_TOKEN"
WEBHOOK_URL_ENV = "SKYFENCE_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "SKYFENCE_WEBHOOK_SECRET"


def build_channels(
    settings: AlertSettings,
    session: aiohttp.ClientSession,
    enricher: Enricher,
    *,
    zone_ids: list[str],
    env: Mapping[str, str] | None = None,
    console_stream: Any = None,
    secrets: Mapping[str, Secret] | None = None,
) -> Channels:
    """Channels, routing and limits from a routing file or the quick settings.

    ``secrets`` are values given on the command line (``--slack-webhook``), by env var name;
    they win over the environment. A missing secret, an unknown zone in a rule or a broken
    routing file raises :class:`~streams.errors.ConfigError` before anything starts.
    """
    env = dict(os.environ if env is None else env)
    given = dict(secrets or {})

    def secret(name: str) -> Secret | None:
        try:
            return given.get(name) or secret_from_env(name, env)
        except OSError as exc:  # an unreadable NAME_FILE: the message names it, not the secret
            raise ConfigError(str(exc)) from None

    if settings.routing:
        config = RoutingConfig.load(settings.routing)
        missing = [n for n in config.missing_env(env) if n not in given]
        if missing:
            raise ConfigError(
                f"routing {settings.routing}: environment variables not set: {', '.join(missing)}"
                " (set NAME or NAME_FILE)"
            )
        specs = list(config.channels.values())
    else:
        specs = []
        if secret(SLACK_WEBHOOK_ENV):
            specs.append(ChannelSpec("slack", "slack_webhook", url_env=SLACK_WEBHOOK_ENV))
        if secret(TELEGRAM_TOKEN_ENV) or settings.telegram_chat:
            if not (secret(TELEGRAM_TOKEN_ENV) and settings.telegram_chat):
                raise ConfigError(
                    "Telegram needs both a token (--telegram-token or SKYFENCE_TELEGRAM_TOKEN) "
                    "and a chat (--telegram-chat or SKYFENCE_TELEGRAM_CHAT)"
                )
            specs.append(
                ChannelSpec(
                    "telegram", "telegram", token_env=TELEGRAM_TOKEN_ENV,
                    chat_id=settings.telegram_chat, api_url=settings.telegram_api_url,
                )
            )  # fmt: skip
        if secret(WEBHOOK_URL_ENV):
            specs.append(
                ChannelSpec(
                    "webhook", "webhook", url_env=WEBHOOK_URL_ENV, secret_env=WEBHOOK_SECRET_ENV
                )
            )
        config = RoutingConfig.default(specs)
    config.check_zones(zone_ids)

    channels: list[Channel] = []
    limits: dict[str, MultiLimit] = {}
    bots: dict[str, TokenBucket] = {}
    timeout_s = settings.http_timeout_s
    for spec in specs:
        common: dict[str, Any] = {
            "name": spec.name,
            "timeout_s": timeout_s,
            "context_factory": enricher.context,
        }
        if spec.kind == "slack_webhook":
            channels.append(SlackWebhookChannel(_need(secret, spec.url_env), session, **common))
            limits[spec.name] = slack_webhook_limit()
        elif spec.kind == "slack_api":
            channels.append(
                SlackApiChannel(
                    _need(secret, spec.token_env), spec.channel_id or "", session,
                    spec.api_url or settings.slack_api_url, **common,
                )
            )  # fmt: skip
            limits[spec.name] = slack_webhook_limit()
        elif spec.kind == "telegram":
            token_env = spec.token_env or TELEGRAM_TOKEN_ENV
            token = _need(secret, token_env)
            bot = bots.setdefault(token_env, telegram_bot_bucket())
            chat = spec.chat_id or ""
            channels.append(
                TelegramChannel(
                    token, chat, session, spec.api_url or settings.telegram_api_url, **common
                )
            )
            limits[spec.name] = telegram_chat_limit(bot, group=chat.startswith("-"))
        elif spec.kind == "webhook":
            signing = secret(spec.secret_env) if spec.secret_env else None
            channels.append(WebhookChannel(_need(secret, spec.url_env), signing, session, **common))
        elif spec.kind == "console":
            channels.append(_NamedConsole(spec.name, console_stream))
    if settings.console and not any(c.name == "console" for c in channels):
        channels.append(ConsoleChannel(console_stream))
        # The console shows every event, forecasts included: it is the operator's log.
        config = _with_console_rule(config)
    return Channels(channels=channels, router=Router(config), limits=limits)


def _need(secret: Any, name: str | None) -> Secret:
    value = secret(name) if name else None
    if value is None:
        raise ConfigError(f"{name} is not set (set {name} or {name}_FILE)")
    assert isinstance(value, Secret)
    return value


class _NamedConsole(ConsoleChannel):
    def __init__(self, name: str, stream: Any) -> None:
        super().__init__(stream)
        self.name = name


def _with_console_rule(config: RoutingConfig) -> RoutingConfig:
    from dataclasses import replace

    from alerts.routing_config import Rule

    console = ChannelSpec("console", "console")
    rule = Rule(name="console: every event", channels=("console",), types=frozenset(EventType))
    return replace(
        config,
        channels={**config.channels, "console": console},
        rules=(rule, *config.rules),
    )
