"""The routing file (alerts.routing_config): validation with errors naming rule and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.errors import RoutingConfigError
from alerts.routing_config import RoutingConfig
from streams.errors import ConfigError
from tests.unit.test_routing import CHANNELS, config, error

# --- validation -------------------------------------------------------------------------


def test_errors_are_config_errors_carrying_where_key_and_reason() -> None:
    err = error(CHANNELS + '[[rules]]\nname = "r1"\nchannels = ["a"]\ntyps = ["entered"]\n')
    assert isinstance(err, ConfigError)
    assert (err.where, err.key, err.reason) == ("rules[0] 'r1'", "typs", "unknown_key")
    assert "did you mean 'types'" in str(err)


@pytest.mark.parametrize(
    ("text", "where", "key", "reason"),
    [
        ("chanels = {}\n", "file", "chanels", "unknown_key"),
        ("[channels.a]\nkind = 'slack_webhook'\n", "channels.a", "url_env", "missing_key"),
        ("[channels.a]\nurl_env = 'X'\n", "channels.a", "kind", "missing_key"),
        ("[channels.a]\nkind = 'slak_webhook'\nurl_env = 'X'\n", "channels.a", "kind", "bad_value"),
        (
            "[channels.a]\nkind = 'slack_webhook'\nurl = 'https://hooks'\n",
            "channels.a",
            "url",
            "bad_value",
        ),
        (
            "[channels.a]\nkind = 'telegram'\ntoken = 't'\nchat_id = 1\n",
            "channels.a",
            "token",
            "bad_value",
        ),
        (
            "[channels.a]\nkind = 'slack_webhook'\nurl_env = 'lower'\n",
            "channels.a",
            "url_env",
            "bad_value",
        ),
        ("[channels.a]\nkind = 'console'\nurl_env = 'X'\n", "channels.a", "url_env", "unknown_key"),
        (
            "[channels.a]\nkind = 'telegram'\ntoken_env = 'T'\n",
            "channels.a",
            "chat_id",
            "missing_key",
        ),
        ("[mute]\nicao = ['abcdef']\n", "mute", "icao", "unknown_key"),
        ("[mute]\nicao24 = ['xyz']\n", "mute", "icao24", "bad_value"),
        ("[cooldown]\nper_aircraft_zone = 600\n", "cooldown", "per_aircraft_zone", "unknown_key"),
        ("[cooldown]\nper_aircraft_zone_s = -1\n", "cooldown", "per_aircraft_zone_s", "bad_value"),
        (
            "[cooldown]\nper_aircraft_zone_s = '600'\n",
            "cooldown",
            "per_aircraft_zone_s",
            "bad_value",
        ),
        ("rules = 3\n", "file", "rules", "bad_type"),
        ("not toml = = 1\n", "file", None, "toml"),
    ],
)
def test_file_level_errors(text: str, where: str, key: str | None, reason: str) -> None:
    err = error(text)
    assert (err.where, err.key, err.reason) == (where, key, reason)


@pytest.mark.parametrize(
    ("rule", "key", "reason"),
    [
        ('channels = ["a"]', "name", "missing_key"),
        ('name = "r"', "channels", "missing_key"),
        ('name = "r"\nchannels = ["z"]', "channels", "unknown_channel"),
        ('name = "r"\nchannels = []', "channels", "bad_type"),
        ('name = "r"\nchannels = "a"', "channels", "bad_type"),
        ('name = "r"\nchannels = ["a"]\ntypes = ["entred"]', "types", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ntypes = []', "types", "bad_type"),
        ('name = "r"\nchannels = ["a"]\nconfidence = ["sure"]', "confidence", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ncountries = ["RUS"]', "countries", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ncountries = ["UK"]', "countries", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ncmpg = ["State"]', "cmpg", "bad_value"),
        ('name = "r"\nchannels = ["a"]\nicao24 = ["1551e"]', "icao24", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ncallsign = "RSD*||RFF*"', "callsign", "bad_value"),
        ('name = "r"\nchannels = ["a"]\ncallsign = ["RSD*"]', "callsign", "bad_type"),
        ('name = "r"\nchannels = ["a"]\nstop = "yes"', "stop", "bad_type"),
    ],
)
def test_rule_errors_name_the_rule_and_key(rule: str, key: str, reason: str) -> None:
    err = error(CHANNELS + '[[rules]]\nname = "ok"\nchannels = ["a"]\n[[rules]]\n' + rule + "\n")
    assert err.where.startswith("rules[1]")
    assert (err.key, err.reason) == (key, reason)
    assert "rules[1]" in str(err) and key in str(err)


def test_duplicate_rule_names_are_refused() -> None:
    err = error(CHANNELS + '[[rules]]\nname = "r"\nchannels = ["a"]\n' * 2)
    assert (err.where, err.key, err.reason) == ("rules[1] 'r'", "name", "duplicate")


def test_unknown_channel_error_lists_the_defined_ones() -> None:
    err = error(CHANNELS + '[[rules]]\nname = "r"\nchannels = ["bb"]\n')
    assert "did you mean 'b'" in str(err) and "defined: a, b, c" in str(err)


def test_unknown_zone_is_caught_against_the_loaded_zones() -> None:
    cfg = config('[[rules]]\nname = "r"\nchannels = ["a"]\nzones = ["dprk", "drpk"]\n')
    cfg.check_zones(["dprk", "drpk"])
    with pytest.raises(RoutingConfigError) as info:
        cfg.check_zones(["dprk"])
    assert (info.value.key, info.value.reason) == ("zones", "unknown_zone")
    assert "'drpk'" in str(info.value)


def test_load_of_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError) as info:
        RoutingConfig.load(tmp_path / "nope.toml")
    assert info.value.reason == "io"


def test_values_are_normalised() -> None:
    cfg = RoutingConfig.from_toml(
        '[channels.t]\nkind = "telegram"\ntoken_env = "T"\nchat_id = -100123\n'
        '[[rules]]\nname = "r"\nchannels = ["t", "t"]\ncountries = ["ru"]\nicao24 = ["1551E0"]\n'
        'callsign = " rsd* | rff* "\ncmpg = ["GOV"]\n'
        '[mute]\ncallsigns = ["test*", "A|B"]\n'
    )
    rule = cfg.rules[0]
    assert cfg.channels["t"].chat_id == "-100123"
    assert rule.channels == ("t",)
    assert rule.countries == {"RU"} and rule.icao24 == {"1551e0"} and rule.cmpg == {"gov"}
    assert rule.callsign == ("RSD*", "RFF*")
    assert cfg.mute.callsigns == ("TEST*", "A", "B")
    assert cfg.cooldown_s == 0.0
