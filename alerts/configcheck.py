"""``skyfence config check``: validate everything a worker would read, print the effective
configuration with secrets redacted, and name the key at fault.

Checked, in the order a worker reads them: the settings (:class:`streams.settings.Settings`:
environment, ``*_FILE`` secrets, the TOML file, flags), the zones, the routing file (syntax,
zones its rules name, the environment variables its channels need and their ``_FILE``
files), the quick channels (a Telegram token needs a chat), the watchlists and the aircraft
database (each read and parsed). Nothing is sent and no broker is contacted.

Exit codes: 0 valid (the effective configuration on stdout), 2 invalid (``skyfence config
check: KEY: message`` on stderr; KEY is the environment variable or file key at fault).
Secret values never appear in either: a secret is shown as ``<set>`` or ``<unset>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO

from alerts.routing_config import RoutingConfig
from alerts.secrets import secret_from_env
from streams.errors import ConfigError, SkyfenceError
from streams.settings import SettingError, Settings, env_name

__all__ = ["check_config", "effective_config"]


def effective_config(settings: Settings) -> list[str]:
    """``NAME=value`` lines, one per setting, secrets as ``<set>``/``<unset>``."""
    return [f"{name}={value}" for name, value in settings.redacted().items()]


def _check(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """Everything beyond the settings' own types; returns extra lines to print."""
    from alerts.enrich import open_enrichment
    from streams.zones import load_zones

    extra: list[str] = []
    try:
        zones = load_zones(settings.zones)
    except (SkyfenceError, OSError, ValueError) as exc:
        raise SettingError(env_name("zones"), str(exc)) from None
    extra.append(f"# zones: {', '.join(z.id for z in zones)}")
    if settings.routing:
        try:
            routing = RoutingConfig.load(settings.routing)
            routing.check_zones([z.id for z in zones])
        except ConfigError as exc:
            raise SettingError(env_name("routing"), str(exc)) from None
        missing = routing.missing_env(env)
        if missing:
            raise SettingError(
                missing[0], "not set (set it or its _FILE), needed by " + settings.routing
            )
        names = sorted({n for c in routing.channels.values() for n in c.env_names()})
        for name in names:
            try:
                secret_from_env(name, env)
            except OSError as exc:
                raise SettingError(f"{name}_FILE", str(exc).split(": ", 1)[-1]) from None
        extra.append(
            f"# routing: {len(routing.channels)} channel(s) ({', '.join(routing.channels)}), "
            f"{len(routing.rules)} rule(s); secrets {', '.join(f'{n}=<set>' for n in names)}"
        )
    elif settings.telegram_token is not None and not settings.telegram_chat:
        raise SettingError(env_name("telegram_chat"), "a Telegram token needs a chat id")
    elif settings.telegram_chat and settings.telegram_token is None:
        raise SettingError(env_name("telegram_token"), "a Telegram chat needs a bot token")
    specs = [spec.strip() for spec in settings.watchlist.split(",") if spec.strip()]
    for spec in specs:
        try:
            open_enrichment([spec])
        except ConfigError as exc:
            raise SettingError(env_name("watchlist"), str(exc)) from None
    if settings.aircraft_db:
        try:
            open_enrichment([], settings.aircraft_db)
        except ConfigError as exc:
            raise SettingError(env_name("aircraft_db"), str(exc)) from None
    for flag, secret in (  # chat command transports and the secret each needs
        ("chat_telegram", "telegram_token"),
        ("chat_slack_socket", "slack_app_token"),
        ("chat_slack_http", "slack_signing_secret"),
    ):
        if getattr(settings, flag) and getattr(settings, secret) is None:
            raise SettingError(
                env_name(secret), f"{env_name(flag)} needs it (or {env_name(secret)}_FILE)"
            )
    return extra


def check_config(
    env: Mapping[str, str],
    *,
    config_file: str | None = None,
    overrides: Mapping[str, object] | None = None,
    out: IO[str],
    err: IO[str],
) -> int:
    """Run the check; 0 when valid, 2 with the key at fault."""
    try:
        settings = Settings.load(env, config_file=config_file, overrides=overrides)
        extra = _check(settings, env)
    except ConfigError as exc:
        err.write(f"skyfence config check: {exc}\n")
        return 2
    out.write("\n".join([*effective_config(settings), *extra]) + "\n")
    out.write("# configuration is valid\n")
    return 0
