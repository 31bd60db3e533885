"""Channels, routing and limits from settings, routing files and secrets; CLI flags."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp
import pytest

from alerts.cli import _alert_settings, build_parser
from alerts.config import AlertSettings, build_channels
from alerts.enrich import Enricher
from alerts.errors import RoutingConfigError
from alerts.secrets import Secret
from streams.errors import ConfigError
from streams.models import EventType

HOOK = "https://hooks.slack.com/services/T0/B0/abcdefSECRET"
TOKEN = "123456:SECRET-token"


async def _build(settings: AlertSettings, env: dict[str, str], **kw: object):  # type: ignore[no-untyped-def]
    async with aiohttp.ClientSession() as session:
        return build_channels(settings, session, Enricher(), zone_ids=["dprk"], env=env, **kw)  # type: ignore[arg-type]


async def test_quick_channels_from_the_environment() -> None:
    built = await _build(
        AlertSettings(telegram_chat="-1001", telegram_api_url="http://127.0.0.1:1"),
        {"SKYFENCE_SLACK_WEBHOOK_URL": HOOK, "SKYFENCE_TELEGRAM_TOKEN": TOKEN},
    )
    assert [c.name for c in built.channels] == ["slack", "telegram", "console"]
    assert set(built.limits) == {"slack", "telegram"}
    assert built.router is not None
    # Desk channels: no forecasts by default; the console shows everything.
    from tests.component.test_notifier import _event

    approaching = _event(type_=EventType.APPROACHING)
    entered = _event()
    assert built.router.route(approaching, country=None, aircraft=None) == ["console"]
    assert built.router.route(entered, country=None, aircraft=None) == ["console", "slack", "telegram"]
    assert "SECRET" not in repr(built.channels)


async def test_secret_files_and_command_line_values(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    built = await _build(
        AlertSettings(telegram_chat="42", console=False),
        {"SKYFENCE_TELEGRAM_TOKEN_FILE": str(token_file)},
        secrets={"SKYFENCE_SLACK_WEBHOOK_URL": Secret(HOOK)},
    )
    assert [c.name for c in built.channels] == ["slack", "telegram"]


async def test_unreadable_secret_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SKYFENCE_TELEGRAM_TOKEN_FILE: cannot read"):
        await _build(AlertSettings(telegram_chat="1"), {"SKYFENCE_TELEGRAM_TOKEN_FILE": str(tmp_path / "nope")})


async def test_telegram_needs_token_and_chat() -> None:
    with pytest.raises(ConfigError, match="both a token"):
        await _build(AlertSettings(telegram_chat="42"), {})


async def test_routing_file_channels_and_missing_env(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "routing.example.toml"
    settings = AlertSettings(routing=str(example))
    with pytest.raises(ConfigError, match="SKYFENCE_SLACK_PRIORITY_URL"):
        await _build(settings, {})
    env = {
        "SKYFENCE_SLACK_PRIORITY_URL": HOOK,
        "SKYFENCE_SLACK_URL": HOOK + "2",
        "SKYFENCE_TELEGRAM_TOKEN": TOKEN,
    }
    built = await _build(settings, env)
    assert sorted(c.name for c in built.channels) == ["airspace", "console", "priority", "tg"]
    assert set(built.limits) == {"airspace", "priority", "tg"}


async def test_routing_file_errors_are_clear(tmp_path: Path) -> None:
    bad = tmp_path / "r.toml"
    bad.write_text('[channels.a]\nkind = "console"\n[[rules]]\nname = "x"\nzones = ["dprkk"]\nchannels = ["a"]\n')
    with pytest.raises(RoutingConfigError, match="zone 'dprkk' is not loaded"):
        await _build(AlertSettings(routing=str(bad)), {})
    bad.write_text('[channels.t]\nkind = "telegram"\ntoken_env = "T"\nchat_id = 1\napi_url = "ftp://x"\n')
    with pytest.raises(RoutingConfigError, match="http"):
        await _build(AlertSettings(routing=str(bad)), {"T": TOKEN})


def test_settings_from_env_validate() -> None:
    s = AlertSettings.from_env({"SKYFENCE_ALERT_MAX_LAG_S": "60", "SKYFENCE_ALERT_REPLAY": "yes"})
    assert s.alert_max_lag_s == 60.0 and s.alert_replay is True
    with pytest.raises(ConfigError, match="SKYFENCE_ALERT_REPLAY"):
        AlertSettings.from_env({"SKYFENCE_ALERT_REPLAY": "maybe"})
    with pytest.raises(ConfigError, match="number"):
        AlertSettings.from_env({"SKYFENCE_ALERT_MAX_LAG_S": "soon"})


def test_cli_flags_become_settings_and_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    args = build_parser().parse_args(
        ["worker", "--slack-webhook", HOOK, "--telegram-token", TOKEN, "--telegram-chat", "-100",
         "--telegram-api-url", "http://127.0.0.1:8081", "--max-lag-s", "120", "--replay-alerts", "--no-maps"]
    )  # fmt: skip
    settings, secrets = _alert_settings(args)
    assert settings.telegram_chat == "-100" and settings.telegram_api_url == "http://127.0.0.1:8081"
    assert settings.alert_max_lag_s == 120.0 and settings.alert_replay and not settings.maps
    assert secrets["SKYFENCE_SLACK_WEBHOOK_URL"].reveal() == HOOK
    assert "SECRET" not in repr(secrets) and "SECRET" not in repr(settings)
    assert "SECRET" not in caplog.text


async def test_test_alert_reports_each_channel() -> None:
    import io

    from alerts.runner import test_alert
    from streams.config import StreamSettings
    from tests.fakes import FakeSlackWebhook, FakeTelegram

    async with FakeSlackWebhook() as slack, FakeTelegram(chat_id="42") as telegram:
        out = io.StringIO()
        settings = AlertSettings(telegram_chat="43", telegram_api_url=telegram.url)  # wrong chat
        secrets = {
            "SKYFENCE_SLACK_WEBHOOK_URL": Secret(slack.webhook_url),
            "SKYFENCE_TELEGRAM_TOKEN": Secret(telegram.token),
        }
        code = await test_alert(StreamSettings(), settings, secrets=secrets, out=out)
    text = out.getvalue()
    assert code == 1
    assert "-- slack: delivered" in text
    assert "-- telegram: FAILED (bad_request, not retriable)" in text
    assert "-- console: delivered" in text and "TEST" in text
    assert slack.requests[0].json["blocks"][0]["text"]["text"].startswith("🚨 TEST entered")
