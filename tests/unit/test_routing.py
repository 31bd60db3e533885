"""Routing decisions (alerts.routing): the shipped example, defaults, matching, mutes, cooldowns.

Validation of the routing file is in test_routing_config.py."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import alerts.errors as errors
import alerts.routing as routing
import alerts.routing_config as routing_config
from alerts.errors import RoutingConfigError
from alerts.icao import Country, country_of
from alerts.routing import Cooldowns, Router, cooldown_key, plan
from alerts.routing_config import ChannelSpec, RoutingConfig
from alerts.watchlist import Aircraft
from streams.models import AirspaceEvent, Confidence, EventType

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "routing.example.toml"

RU = Country("RU", "Russia", "\U0001f1f7\U0001f1fa")
CN = Country("CN", "China", "\U0001f1e8\U0001f1f3")

RA86496 = Aircraft(
    icao24="1551e0",
    registration="RA-86496",
    operator="Russian Air Force",
    type="Ilyushin IL-62M",
    icao_type="IL62",
    category="Other Air Forces",
    tags=("Classic", "Special Flight"),
    cmpg="Mil",
)
AEROFLOT = Aircraft(
    icao24="155555",
    registration="RA-73000",
    operator="Aeroflot",
    type="Airbus A320",
    icao_type="A320",
    category="Airline",
    cmpg="Civ",
)

CHANNELS = """
[channels.a]
kind = "console"
[channels.b]
kind = "console"
[channels.c]
kind = "console"
"""


def event(
    type_: EventType = EventType.ENTERED,
    *,
    icao24: str = "1551e0",
    zone: str = "dprk",
    callsign: str | None = "RSD089",
    observed_ts: float = 1_000.0,
    confidence: Confidence = Confidence.OBSERVED,
) -> AirspaceEvent:
    return AirspaceEvent(
        event_id="e",
        type=type_,
        icao24=icao24,
        zone=zone,
        ts=observed_ts - 5,
        lat=39.0,
        lon=125.7,
        observed_ts=observed_ts,
        callsign=callsign,
        confidence=confidence,
    )


def config(rules: str, extra: str = "") -> RoutingConfig:
    return RoutingConfig.from_toml(CHANNELS + rules + extra)


def error(text: str) -> RoutingConfigError:
    with pytest.raises(RoutingConfigError) as info:
        RoutingConfig.from_toml(text)
    return info.value


# --- the shipped example ----------------------------------------------------------------


def test_example_file_loads_and_routes_as_the_issue_says() -> None:
    cfg = RoutingConfig.load(EXAMPLE)
    cfg.check_zones(["dprk"])
    router = Router(cfg)
    ru = country_of("1551e0")
    assert ru is not None and ru.code == "RU"
    # Russian state aircraft entering the DPRK: #priority and Telegram, and nothing else.
    assert router.route(event(), country=ru, aircraft=RA86496) == ["priority", "tg"]
    assert router.route(event(EventType.FIRST_SEEN_INSIDE), country=ru, aircraft=RA86496) == [
        "priority",
        "tg",
    ]
    # Everything else: #airspace.
    assert router.route(event(EventType.EXITED), country=ru, aircraft=RA86496) == ["airspace"]
    assert router.route(event(), country=ru, aircraft=AEROFLOT) == ["airspace"]
    assert router.route(event(), country=ru, aircraft=None) == ["airspace"]
    assert router.route(event(), country=CN, aircraft=RA86496) == ["airspace"]
    assert router.route(event(zone="other"), country=ru, aircraft=RA86496) == ["airspace"]
    assert cfg.cooldown_s == 600
    assert cfg.channels["tg"] == ChannelSpec(
        "tg", "telegram", token_env="SKYFENCE_TELEGRAM_TOKEN", chat_id="-1001234567890"
    )


def test_example_file_names_its_secrets_by_env_var() -> None:
    cfg = RoutingConfig.load(EXAMPLE)
    assert cfg.missing_env({}) == [
        "SKYFENCE_SLACK_PRIORITY_URL",
        "SKYFENCE_SLACK_URL",
        "SKYFENCE_TELEGRAM_TOKEN",
    ]
    env = {
        "SKYFENCE_SLACK_PRIORITY_URL": "x",
        "SKYFENCE_SLACK_URL": "y",
        "SKYFENCE_TELEGRAM_TOKEN": "",
    }
    assert cfg.missing_env(env) == ["SKYFENCE_TELEGRAM_TOKEN"]
    assert cfg.missing_env({**env, "SKYFENCE_TELEGRAM_TOKEN_FILE": "/run/secrets/tg"}) == []


# --- defaults -----------------------------------------------------------------------------


def test_no_rules_means_every_type_but_approaching_to_every_channel() -> None:
    router = Router(RoutingConfig.from_toml(CHANNELS))
    for type_ in EventType:
        expected = [] if type_ is EventType.APPROACHING else ["a", "b", "c"]
        assert router.route(event(type_), country=None, aircraft=None) == expected


def test_default_config_without_a_file() -> None:
    cfg = RoutingConfig.default([ChannelSpec("console", "console")])
    router = Router(cfg)
    assert router.route(event(EventType.SIGNAL_LOST), country=None, aircraft=None) == ["console"]
    assert router.route(event(EventType.APPROACHING), country=None, aircraft=None) == []


# --- matching -----------------------------------------------------------------------------


def test_channels_are_deduplicated_in_rule_order_and_stop_ends_the_walk() -> None:
    router = Router(
        config(
            '[[rules]]\nname = "1"\nchannels = ["b", "a"]\n'
            '[[rules]]\nname = "2"\nchannels = ["a", "c"]\ntypes = ["entered"]\nstop = true\n'
            '[[rules]]\nname = "3"\nchannels = ["c", "b", "a"]\n'
        )
    )
    assert router.route(event(), country=None, aircraft=None) == ["b", "a", "c"]
    assert router.route(event(EventType.EXITED), country=None, aircraft=None) == ["b", "a", "c"]


def test_callsign_globs_are_case_insensitive_alternatives() -> None:
    router = Router(config('[[rules]]\nname = "r"\nchannels = ["a"]\ncallsign = "RSD*|RFF*"\n'))
    for callsign, expected in [
        ("RSD089", ["a"]),
        ("rff7201 ", ["a"]),
        ("AFL123", []),
        ("XRSD1", []),
        (None, []),
        ("", []),
    ]:
        assert router.route(event(callsign=callsign), country=None, aircraft=None) == expected


def test_watchlist_criteria_need_a_watchlist_entry() -> None:
    router = Router(
        config(
            '[[rules]]\nname = "cat"\nchannels = ["a"]\ncategories = ["other air forces"]\n'
            '[[rules]]\nname = "tag"\nchannels = ["b"]\ntags = ["special flight"]\n'
            '[[rules]]\nname = "cmpg"\nchannels = ["c"]\ncmpg = ["Civ"]\n'
        )
    )
    assert router.route(event(), country=RU, aircraft=RA86496) == ["a", "b"]
    assert router.route(event(), country=RU, aircraft=AEROFLOT) == ["c"]
    assert router.route(event(), country=RU, aircraft=None) == []


def test_all_criteria_must_hold() -> None:
    router = Router(
        config(
            '[[rules]]\nname = "r"\nchannels = ["a"]\nzones = ["dprk"]\ntypes = ["entered"]\n'
            'countries = ["RU"]\nicao24 = ["1551e0"]\nconfidence = ["observed"]\n'
        )
    )
    assert router.route(event(), country=RU, aircraft=None) == ["a"]
    assert router.route(event(), country=None, aircraft=None) == []
    assert router.route(event(icao24="155555"), country=RU, aircraft=None) == []
    assert router.route(event(confidence=Confidence.INFERRED), country=RU, aircraft=None) == []
    assert router.route(event(zone="kr"), country=RU, aircraft=None) == []


def test_mute_drops_before_routing() -> None:
    router = Router(config("", '[mute]\nicao24 = ["ABCDEF"]\ncallsigns = ["TEST*"]\n'))
    assert router.route(event(icao24="abcdef"), country=None, aircraft=None) == []
    assert router.route(event(callsign="test12"), country=None, aircraft=None) == []
    assert router.route(event(), country=None, aircraft=None) == ["a", "b", "c"]
    assert router.muted(event(callsign="TEST"))


# --- cooldowns ----------------------------------------------------------------------------


def test_cooldown_allows_once_per_window_of_event_time() -> None:
    cd = Cooldowns(600)
    key = ("1551e0", "dprk", "entered")
    assert cd.allow(key, 1_000)
    assert not cd.allow(key, 1_599.9)
    assert cd.allow(("1551e0", "dprk", "exited"), 1_100)  # another type: another key
    assert cd.allow(key, 1_600)  # a full window after the last allowed alert
    assert not cd.allow(key, 1_300)  # a late event close to an alert is a repeat too


def test_cooldown_memory_is_bounded_by_the_window() -> None:
    cd = Cooldowns(60)
    for i in range(10_000):
        assert cd.allow(f"k{i}", float(i))
    assert len(cd) <= 61


def test_cooldown_max_keys_backstop_and_zero_window() -> None:
    cd = Cooldowns(1e9, max_keys=3)
    for i in range(10):
        cd.allow(i, 0.0)
    assert len(cd) == 3
    assert cd.allow(0, 0.0)  # evicted by the cap, so allowed again
    off = Cooldowns(0)
    assert off.allow("k", 0.0) and off.allow("k", 0.0) and len(off) == 0
    with pytest.raises(ValueError):
        Cooldowns(-1)


def test_plan_mutes_routes_then_cools_down() -> None:
    router = Router(
        config(
            '[[rules]]\nname = "r"\nchannels = ["a"]\ntypes = ["entered"]\n',
            "[mute]\ncallsigns = ['TEST*']\n",
        )
    )
    cd = Cooldowns(600)
    assert plan(router, cd, event(observed_ts=0), country=None, aircraft=None) == ["a"]
    assert plan(router, cd, event(observed_ts=10), country=None, aircraft=None) == []
    # Unrouted and muted events do not use up a window.
    assert plan(router, cd, event(EventType.EXITED), country=None, aircraft=None) == []
    assert (
        plan(router, cd, event(callsign="TEST1", icao24="aaaaaa"), country=None, aircraft=None)
        == []
    )
    assert len(cd) == 1
    assert cooldown_key(event()) == ("1551e0", "dprk", "entered")


# --- surface and purity -------------------------------------------------------------------


def test_public_surface() -> None:
    # The routing module's old surface, now split: decisions, the file, the error.
    assert set(errors.__all__) >= {"RoutingConfigError"}
    assert set(routing.__all__) & set(routing_config.__all__) == set()
    assert set(routing.__all__) | set(routing_config.__all__) | {"RoutingConfigError"} == {
        "CHANNEL_KINDS",
        "DEFAULT_COOLDOWN_S",
        "DEFAULT_MAX_COOLDOWN_KEYS",
        "ChannelSpec",
        "Cooldowns",
        "MuteSpec",
        "Router",
        "RoutingConfig",
        "RoutingConfigError",
        "Rule",
        "cooldown_key",
        "plan",
    }
    for module in (routing, routing_config):
        for name in module.__all__:
            assert getattr(module, name) is not None


@pytest.mark.parametrize("module", ["alerts.routing", "alerts.routing_config"])
def test_routing_is_pure(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('faust', 'aiokafka', 'aiohttp', 'prometheus_client', 'mode', 'PIL', 'shapely')); "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
