"""The one settings loader (pydantic-settings): sources and their order, types, ``*_FILE``
secrets, the TOML file, errors naming the key, and redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import AlertSettings
from streams.config import StreamSettings
from streams.settings import SECRET_FIELDS, SettingError, Settings, env_name, secret_values

TOKEN = "987654:FAKE-token-never-shown"


def test_defaults_match_the_views() -> None:
    settings = Settings.load({})
    assert StreamSettings.from_env({}) == StreamSettings()
    assert AlertSettings.from_env({}) == AlertSettings()
    assert settings.partitions == 4 and settings.zones == ("dprk",) and settings.console is True


def test_env_types_and_flags_win(tmp_path: Path) -> None:
    env = {
        "SKYFENCE_PARTITIONS": "12", "SKYFENCE_ZONES": "dprk, baltic.geojson,",
        "SKYFENCE_SESSION_TIMEOUT_S": "7.5", "SKYFENCE_ALERT_REPLAY": "yes",
        "SKYFENCE_CONSOLE": "off", "SKYFENCE_BROKER": "env:9092", "SKYFENCE_METRICS_PORT": "",
    }  # fmt: skip
    stream = StreamSettings.from_env(env, broker="flag:9092", zones=None)
    assert stream.partitions == 12 and stream.session_timeout_s == 7.5
    assert stream.zones == ("dprk", "baltic.geojson")
    assert stream.broker == "flag:9092"  # a flag beats the environment; None = not given
    assert stream.metrics_port == 0  # VAR= means the default
    alerts = AlertSettings.from_env(env)
    assert alerts.alert_replay is True and alerts.console is False


def test_toml_file_below_env_and_unknown_keys_refused(tmp_path: Path) -> None:
    path = tmp_path / "skyfence.toml"
    path.write_text('broker = "file:9092"\npartitions = 6\nzones = ["dprk"]\nalert_give_up_s = 60\n')
    env = {"SKYFENCE_CONFIG": str(path), "SKYFENCE_PARTITIONS": "8"}
    settings = Settings.load(env)
    assert settings.broker == "file:9092" and settings.partitions == 8
    assert settings.alert_give_up_s == 60.0
    path.write_text('brokr = "typo:9092"\n')
    with pytest.raises(SettingError) as info:
        Settings.load(env)
    assert info.value.key.endswith("brokr") and "not a setting" in str(info.value)
    path.write_text("broker = \n")
    with pytest.raises(SettingError, match="not valid TOML") as info:
        Settings.load(env)
    assert info.value.key == "SKYFENCE_CONFIG"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"SKYFENCE_PARTITIONS": "0"}, "SKYFENCE_PARTITIONS"),
        ({"SKYFENCE_PARTITIONS": "four"}, "SKYFENCE_PARTITIONS"),
        ({"SKYFENCE_ZONES": " , "}, "SKYFENCE_ZONES"),
        ({"SKYFENCE_ALERT_MAX_LAG_S": "-1"}, "SKYFENCE_ALERT_MAX_LAG_S"),
        ({"SKYFENCE_METRICS_PORT": "70000"}, "SKYFENCE_METRICS_PORT"),
        ({"SKYFENCE_LOG_FORMAT": "xml"}, "SKYFENCE_LOG_FORMAT"),
        ({"SKYFENCE_MAPS": "perhaps"}, "SKYFENCE_MAPS"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingError) as info:
        Settings.load(env)
    assert info.value.key == key and str(info.value).startswith(key + ": ")


def test_secret_files_and_redaction(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    env = {"SKYFENCE_TELEGRAM_TOKEN_FILE": str(secret), "SKYFENCE_TELEGRAM_CHAT": "-1"}
    settings = Settings.load(env)
    assert settings.telegram_token is not None
    assert settings.telegram_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)
    shown = settings.redacted()
    assert shown["SKYFENCE_TELEGRAM_TOKEN"] == "<set>" and shown["SKYFENCE_WEBHOOK_URL"] == "<unset>"
    assert TOKEN not in str(shown)
    # The variable itself wins over its file.
    assert Settings.load({**env, "SKYFENCE_TELEGRAM_TOKEN": "direct-value"}).telegram_token.get_secret_value() == "direct-value"  # type: ignore[union-attr]
    with pytest.raises(SettingError) as info:
        Settings.load({"SKYFENCE_TELEGRAM_TOKEN_FILE": str(tmp_path / "missing")})
    assert info.value.key == "SKYFENCE_TELEGRAM_TOKEN_FILE" and "cannot read" in str(info.value)


def test_a_rejected_secret_value_is_not_echoed() -> None:
    # A TOML table where a string is expected: the error shows no value.
    with pytest.raises(SettingError) as info:
        Settings.load({}, overrides={"webhook_secret": 12345678})
    assert "12345678" not in str(info.value) and info.value.key == "SKYFENCE_WEBHOOK_SECRET"


def test_secret_values_cover_settings_and_routing_variables() -> None:
    env = {
        "SKYFENCE_TELEGRAM_TOKEN": TOKEN,
        "SKYFENCE_SLACK_PRIORITY_URL": "https://hooks.example/services/SECRETPATH",
        "SKYFENCE_SLACK_API_URL": "https://slack.example/api",  # a public API root
        "OTHER_TOKEN": "not-ours-value",
    }
    values = secret_values(Settings.load(env), env)
    assert TOKEN in values and "https://hooks.example/services/SECRETPATH" in values
    assert "https://slack.example/api" not in values and "not-ours-value" not in values


def test_every_setting_is_documented_with_an_env_name() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name
        assert env_name(name) == "SKYFENCE_" + name.upper()
    assert set(SECRET_FIELDS) <= set(Settings.model_fields)


def test_min_insync_replicas_reaches_the_topic_configs() -> None:
    """SKYFENCE_MIN_INSYNC_REPLICAS becomes the ``min.insync.replicas`` of every topic skyfence
    creates (chaos scenario 8 checks it on a three-node cluster); 0 leaves the broker's."""
    from streams.topics import _topic_configs

    cluster = StreamSettings.from_env(
        {"SKYFENCE_REPLICATION_FACTOR": "3", "SKYFENCE_MIN_INSYNC_REPLICAS": "2"}
    )
    assert cluster.replication_factor == 3 and cluster.min_insync_replicas == 2
    assert _topic_configs(cluster) == {"min.insync.replicas": "2"}
    assert _topic_configs(StreamSettings.from_env({})) == {}
    with pytest.raises(SettingError, match="MIN_INSYNC_REPLICAS"):
        Settings.load({"SKYFENCE_MIN_INSYNC_REPLICAS": "-1"})
