"""The routing file: channels, rules, mutes and cooldown from TOML, parsed and validated. Pure.

A routing file names the channels, then lists rules in order; each rule says which events it
takes and where they go. Everything is validated when the file is loaded, at start-up, so a
typo fails loudly instead of silently disabling an alert::

    [channels.priority]                    # a named channel: kind + settings
    kind = "slack_webhook"
    url_env = "SKYFENCE_SLACK_PRIORITY_URL"  # secrets only by env var NAME, never inline

    [[rules]]
    name = "russian state aircraft into dprk"
    zones = ["dprk"]
    types = ["entered", "first_seen_inside"]
    countries = ["RU"]
    cmpg = ["Gov", "Mil"]
    channels = ["priority"]
    stop = true

    [mute]
    icao24 = ["abcdef"]
    callsigns = ["TEST*"]

    [cooldown]
    per_aircraft_zone_s = 600

Channels (``[channels.NAME]``), by ``kind``:

- ``slack_webhook``: ``url_env`` (required);
- ``slack_api``: ``token_env`` (required, a bot token), ``channel_id`` (required), ``api_url``
  (optional, default ``https://slack.com/api``);
- ``telegram``: ``token_env`` (required), ``chat_id`` (required, string or integer),
  ``api_url`` (optional: a self-hosted Bot API server; default ``https://api.telegram.org``);
- ``webhook``: ``url_env`` (required), ``secret_env`` (optional, the signing secret);
- ``console``: no settings.

``*_env`` values are environment variable names (``[A-Z_][A-Z0-9_]*``). Inline secrets
(``url``, ``token``, ``secret``) are refused: a routing file is meant to be committed.
:meth:`RoutingConfig.missing_env` lists the names a given environment lacks (the environment
is passed in as data; nothing here reads ``os.environ``).

Rule keys: ``name`` (required, unique) and ``channels`` (required, non-empty, each a defined
channel); ``stop`` (default ``false``: when ``true`` and the rule matches, later rules are not
consulted: first match wins). Criteria, all optional; a missing criterion matches anything,
a list matches when any of its values does, and a rule matches when all its criteria do:

- ``zones``: zone ids (``event.zone``); checked against the loaded zones with
  :meth:`RoutingConfig.check_zones`;
- ``types``: :class:`~streams.models.EventType` values;
- ``confidence``: ``observed`` / ``inferred``;
- ``countries``: ISO 3166-1 alpha-2 codes of the State of registry
  (:func:`alerts.icao.country_of`); a code the ICAO allocation table does not know is an
  error (``UK`` is not a code: ``GB`` is);
- ``icao24``: addresses, six hex digits;
- ``categories``: plane-alert-db ``Category`` values (``"Dictator Alert"``), case-insensitive;
- ``cmpg``: plane-alert-db ``CMPG`` class: ``Civ``, ``Mil``, ``Gov``, ``Pol``, case-insensitive;
- ``tags``: plane-alert-db tags; matches when the aircraft carries any of them;
- ``callsign``: a **glob** (``fnmatch``: ``*``, ``?``, ``[...]``), several joined by ``|``:
  ``"RSD*|RFF*"``. Globs, not regular expressions: they cover prefix lists, which is what
  callsign rules are, and cannot be written to backtrack catastrophically. Case-insensitive;
  an event without a callsign never matches a rule that has one.

Acknowledge and escalate (:mod:`alerts.escalation`), optional rule keys:

- ``priority``: ``true`` puts an Acknowledge button on the rule's alerts (Slack, Telegram);
- ``escalate_after``: a duration (``"10m"``, ``"90s"``, ``"1h"``, or seconds) after which an
  alert nobody acknowledged escalates, once; needs ``priority = true`` and ``escalate_to``;
- ``escalate_to``: channels (defined ones) the escalation goes to.

Criteria on the watchlist (``categories``, ``cmpg``, ``tags``) never match an aircraft that is
on no watchlist; with several lists, a criterion holds when any list's entry satisfies it
(a desk list's ``category`` routes like plane-alert-db's); ``countries`` never matches an address outside every State block.

Default routing: a file with no ``[[rules]]`` (and :meth:`RoutingConfig.default` when there
is no file at all) sends every event type except ``approaching`` to every configured channel:
an approach is a forecast, and desks opt in to forecasts explicitly.

Errors: every problem raises :class:`~alerts.errors.RoutingConfigError` (an
:class:`~alerts.errors.AlertsConfigError`, hence also a :class:`streams.errors.ConfigError`)
carrying ``where`` (``"rules[0] 'name'"``, ``"mute"``...), ``key`` and a bounded ``reason`` (``toml``, ``unknown_key``, ``missing_key``, ``bad_type``,
``bad_value``, ``unknown_channel``, ``duplicate``, ``unknown_zone``, ``io``).

What a rule or a mute *does* to an event is decided in :mod:`alerts.routing`.

Out of scope: building channel objects (the runner does that from :class:`ChannelSpec`),
hot reload, per-channel rate limits.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alerts.errors import RoutingConfigError
from alerts.icao import ALLOCATIONS
from streams.models import Confidence, EventType

__all__ = [
    "CHANNEL_KINDS",
    "DEFAULT_COOLDOWN_S",
    "ChannelSpec",
    "MuteSpec",
    "RoutingConfig",
    "Rule",
]

#: Channel kinds and their settings: (required keys, optional keys). ``kind`` is implied.
CHANNEL_KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "slack_webhook": (("url_env",), ()),
    "slack_api": (("token_env", "channel_id"), ("api_url",)),
    "telegram": (("token_env", "chat_id"), ("api_url",)),
    "webhook": (("url_env",), ("secret_env",)),
    "console": ((), ()),
}

#: Keys that would put a secret in the file; refused with a pointer to the ``_env`` form.
_INLINE_SECRETS = {"url": "url_env", "token": "token_env", "secret": "secret_env"}

_TOP_KEYS = ("channels", "rules", "mute", "cooldown")
_RULE_KEYS = (
    "name",
    "channels",
    "stop",
    "zones",
    "types",
    "confidence",
    "countries",
    "icao24",
    "categories",
    "cmpg",
    "tags",
    "callsign",
    "priority",
    "escalate_after",
    "escalate_to",
)
_MUTE_KEYS = ("icao24", "callsigns")
_COOLDOWN_KEYS = ("per_aircraft_zone_s",)

#: plane-alert-db's civil / military / government / police classes.
_CMPG = ("civ", "mil", "gov", "pol")
_ENV_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_ICAO24 = re.compile(r"[0-9a-f]{6}")
#: States the ICAO allocation table knows: a rule naming any other code could never match.
_KNOWN_COUNTRIES = frozenset(a.country.code for a in ALLOCATIONS)
#: Default routing leaves out forecasts (see the module docstring).
_DEFAULT_TYPES = tuple(t for t in EventType if t is not EventType.APPROACHING)
#: Cooldown used when a file has no ``[cooldown]`` table: no suppression, the explicit choice.
DEFAULT_COOLDOWN_S = 0.0


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A named channel as declared in the file. Secrets appear only as env var names."""

    name: str
    kind: str
    url_env: str | None = None
    token_env: str | None = None
    secret_env: str | None = None
    chat_id: str | None = None
    channel_id: str | None = None
    #: API root override (a self-hosted Telegram Bot API server, a proxy, a test fake).
    api_url: str | None = None

    def env_names(self) -> tuple[str, ...]:
        """The environment variables this channel reads (required ones first)."""
        names = (self.url_env, self.token_env, self.secret_env)
        return tuple(n for n in names if n is not None)


@dataclass(frozen=True, slots=True)
class Rule:
    """One routing rule; empty criteria match anything. Values are normalised: zones and
    types as given, countries upper case, icao24 lower case, the text criteria casefolded,
    ``callsign`` split into upper-case globs."""

    name: str
    channels: tuple[str, ...]
    stop: bool = False
    zones: frozenset[str] = frozenset()
    types: frozenset[EventType] = frozenset()
    confidence: frozenset[Confidence] = frozenset()
    countries: frozenset[str] = frozenset()
    icao24: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    cmpg: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    callsign: tuple[str, ...] = ()
    #: Alerts of this rule carry an Acknowledge button (:mod:`alerts.escalation`).
    priority: bool = False
    #: An unacknowledged priority alert escalates after this long (None: never).
    escalate_after_s: float | None = None
    #: ... to these channels.
    escalate_to: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MuteSpec:
    """Events dropped before routing: by address or by callsign glob (upper case)."""

    icao24: frozenset[str] = frozenset()
    callsigns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoutingConfig:
    """A validated routing file: channels by name, rules in order, mutes, cooldown window."""

    channels: Mapping[str, ChannelSpec]
    rules: tuple[Rule, ...]
    mute: MuteSpec = field(default_factory=MuteSpec)
    cooldown_s: float = DEFAULT_COOLDOWN_S

    @classmethod
    def from_toml(cls, text: str) -> RoutingConfig:
        """Parse and validate routing TOML; raises :class:`RoutingConfigError`."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RoutingConfigError("file", None, "toml", f"not valid TOML: {exc}") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | Path) -> RoutingConfig:
        """Read and validate a routing file; an unreadable file is a :class:`RoutingConfigError`."""
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise RoutingConfigError(str(path), None, "io", f"cannot read: {exc}") from None
        return cls.from_toml(text)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RoutingConfig:
        """Validate an already-parsed document (the shape ``tomllib`` returns)."""
        _check_keys(data, _TOP_KEYS, "file")
        channels = _parse_channels(_table(data, "channels", "file"))
        if "rules" in data:
            raw_rules = data["rules"]
            if not isinstance(raw_rules, list):
                raise RoutingConfigError("file", "rules", "bad_type", "must be [[rules]] tables")
            rules = _parse_rules(raw_rules, channels)
        else:
            rules = (_default_rule(channels),)
        mute = _parse_mute(_table(data, "mute", "file"))
        cooldown = _parse_cooldown(_table(data, "cooldown", "file"))
        return cls(channels=channels, rules=rules, mute=mute, cooldown_s=cooldown)

    @classmethod
    def default(cls, channels: Iterable[ChannelSpec]) -> RoutingConfig:
        """The routing used when no file is given: every event type except ``approaching`` to
        every channel, no mutes, no cooldown."""
        by_name = {c.name: c for c in channels}
        return cls(channels=by_name, rules=(_default_rule(by_name),))

    def check_zones(self, known: Iterable[str]) -> None:
        """Raise :class:`RoutingConfigError` if a rule names a zone not in ``known``."""
        known_set = set(known)
        for i, rule in enumerate(self.rules):
            for zone in sorted(rule.zones - known_set):
                raise RoutingConfigError(
                    _rule_where(i, rule.name),
                    "zones",
                    "unknown_zone",
                    f"zone {zone!r} is not loaded{_suggest(zone, known_set)}; "
                    f"loaded: {', '.join(sorted(known_set)) or '(none)'}",
                )

    def missing_env(self, environ: Mapping[str, str]) -> list[str]:
        """The env var names the channels need that ``environ`` lacks or has empty, sorted.
        ``NAME_FILE`` (a mounted secret file, as :func:`alerts.secrets.secret_from_env` reads)
        counts as present; whether the file is readable is the reader's business."""
        needed = {n for c in self.channels.values() for n in c.env_names()}
        return sorted(n for n in needed if not (environ.get(n) or environ.get(f"{n}_FILE")))


# --- validation helpers -----------------------------------------------------------------


def _rule_where(index: int, name: str | None) -> str:
    return f"rules[{index}] {name!r}" if name else f"rules[{index}]"


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_keys(table: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            raise RoutingConfigError(
                where,
                key,
                "unknown_key",
                f"unknown key{_suggest(key, allowed)}; known keys: {', '.join(allowed)}",
            )


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, dict):
        raise RoutingConfigError(where, key, "bad_type", f"must be a table, got {value!r}")
    return value


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise RoutingConfigError(
            where, key, "bad_type", f"must be a non-empty string, got {value!r}"
        )
    return value.strip()


def _strings(value: Any, where: str, key: str, *, allow_empty: bool = False) -> list[str]:
    # An empty criterion list would read as "match anything": refused in rules, where it
    # is likely a mistake; allowed in [mute], where it means "mute nothing".
    if not isinstance(value, list) or not (value or allow_empty):
        raise RoutingConfigError(
            where, key, "bad_type", f"must be a non-empty list of strings, got {value!r}"
        )
    return [_string(v, where, key) for v in value]


def _env_name(value: Any, where: str, key: str) -> str:
    name = _string(value, where, key)
    if not _ENV_NAME.fullmatch(name):
        raise RoutingConfigError(
            where,
            key,
            "bad_value",
            f"{name!r} is not an environment variable name ([A-Z_][A-Z0-9_]*)",
        )
    return name


def _parse_channels(raw: Mapping[str, Any]) -> dict[str, ChannelSpec]:
    channels: dict[str, ChannelSpec] = {}
    for name, table in raw.items():
        where = f"channels.{name}"
        if not isinstance(table, dict):
            raise RoutingConfigError(where, None, "bad_type", "must be a table")
        for secret, env_key in _INLINE_SECRETS.items():
            if secret in table:
                raise RoutingConfigError(
                    where,
                    secret,
                    "bad_value",
                    f"secrets are never written in the file: name the environment variable "
                    f"that holds it with {env_key!r}",
                )
        if "kind" not in table:
            raise RoutingConfigError(
                where, "kind", "missing_key", f"required; one of {', '.join(CHANNEL_KINDS)}"
            )
        kind = _string(table["kind"], where, "kind")
        if kind not in CHANNEL_KINDS:
            raise RoutingConfigError(
                where,
                "kind",
                "bad_value",
                f"unknown kind {kind!r}{_suggest(kind, CHANNEL_KINDS)}; one of {', '.join(CHANNEL_KINDS)}",
            )
        required, optional = CHANNEL_KINDS[kind]
        _check_keys(table, ("kind", *required, *optional), where)
        for key in required:
            if key not in table:
                raise RoutingConfigError(where, key, "missing_key", f"required for kind {kind!r}")
        settings: dict[str, str] = {}
        for key in (*required, *optional):
            if key not in table:
                continue
            value = table[key]
            if key in ("chat_id", "channel_id"):
                if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
                    raise RoutingConfigError(
                        where, key, "bad_type", f"must be a string or integer, got {value!r}"
                    )
                settings[key] = str(value)
            elif key == "api_url":
                url = _string(value, where, key)
                if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
                    raise RoutingConfigError(
                        where, key, "bad_value", f"must be an http(s) URL, got {url!r}"
                    )
                settings[key] = url
            else:
                settings[key] = _env_name(value, where, key)
        channels[name] = ChannelSpec(name=name, kind=kind, **settings)
    return channels


def _parse_rules(raw: list[Any], channels: Mapping[str, ChannelSpec]) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    names: set[str] = set()
    for i, table in enumerate(raw):
        if not isinstance(table, dict):
            raise RoutingConfigError(_rule_where(i, None), None, "bad_type", "must be a table")
        name_value = table.get("name")
        where = _rule_where(i, name_value if isinstance(name_value, str) else None)
        _check_keys(table, _RULE_KEYS, where)
        if "name" not in table:
            raise RoutingConfigError(where, "name", "missing_key", "every rule needs a name")
        name = _string(name_value, where, "name")
        if name in names:
            raise RoutingConfigError(where, "name", "duplicate", f"another rule is named {name!r}")
        names.add(name)
        if "channels" not in table:
            raise RoutingConfigError(where, "channels", "missing_key", "every rule needs channels")
        rule_channels = _strings(table["channels"], where, "channels")
        for channel in rule_channels:
            if channel not in channels:
                raise RoutingConfigError(
                    where,
                    "channels",
                    "unknown_channel",
                    f"channel {channel!r} is not defined{_suggest(channel, channels)}; "
                    f"defined: {', '.join(channels) or '(none)'}",
                )
        stop = table.get("stop", False)
        if not isinstance(stop, bool):
            raise RoutingConfigError(
                where, "stop", "bad_type", f"must be true or false, got {stop!r}"
            )
        priority, escalate_after_s, escalate_to = _escalation(table, where, channels)
        rules.append(
            Rule(
                name=name,
                channels=tuple(dict.fromkeys(rule_channels)),
                stop=stop,
                zones=_opt_set(table, "zones", where),
                types=frozenset(_enum_values(table, "types", EventType, where)),
                confidence=frozenset(_enum_values(table, "confidence", Confidence, where)),
                countries=_countries(table, where),
                icao24=_icao24s(table.get("icao24"), where, "icao24"),
                categories=_folded(table, "categories", where),
                cmpg=_cmpg(table, where),
                tags=_folded(table, "tags", where),
                callsign=_globs(table.get("callsign"), where, "callsign", joined=True),
                priority=priority,
                escalate_after_s=escalate_after_s,
                escalate_to=escalate_to,
            )
        )
    return tuple(rules)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h)")
_DURATION_UNITS_S = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def _duration_s(value: Any, where: str, key: str) -> float:
    """``"10m"``, ``"90s"``, ``"1h"``, ``"2.5min"`` or a number of seconds -> seconds (> 0)."""
    if isinstance(value, bool):
        seconds = -1.0
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.fullmatch(value.strip())):
        seconds = float(m.group(1)) * _DURATION_UNITS_S[m.group(2)]
    else:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise RoutingConfigError(
            where,
            key,
            "bad_value",
            f'must be a duration > 0 like "10m", "90s", "1h" or seconds, got {value!r}',
        )
    return seconds


def _escalation(
    table: Mapping[str, Any], where: str, channels: Mapping[str, ChannelSpec]
) -> tuple[bool, float | None, tuple[str, ...]]:
    """``priority``, ``escalate_after`` and ``escalate_to`` of a rule, checked together."""
    priority = table.get("priority", False)
    if not isinstance(priority, bool):
        raise RoutingConfigError(
            where, "priority", "bad_type", f"must be true or false, got {priority!r}"
        )
    has_after, has_to = "escalate_after" in table, "escalate_to" in table
    if not (has_after or has_to):
        return priority, None, ()
    if not priority:
        key = "escalate_after" if has_after else "escalate_to"
        raise RoutingConfigError(
            where, key, "bad_value", "escalation needs priority = true on the same rule"
        )
    if has_after != has_to:
        missing = "escalate_to" if has_after else "escalate_after"
        raise RoutingConfigError(
            where, missing, "missing_key", "escalate_after and escalate_to go together"
        )
    after_s = _duration_s(table["escalate_after"], where, "escalate_after")
    targets = _strings(table["escalate_to"], where, "escalate_to")
    for channel in targets:
        if channel not in channels:
            raise RoutingConfigError(
                where,
                "escalate_to",
                "unknown_channel",
                f"channel {channel!r} is not defined{_suggest(channel, channels)}; "
                f"defined: {', '.join(channels) or '(none)'}",
            )
    return priority, after_s, tuple(dict.fromkeys(targets))


def _opt_set(table: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    return frozenset(_strings(table[key], where, key)) if key in table else frozenset()


def _folded(table: Mapping[str, Any], key: str, where: str) -> frozenset[str]:
    return frozenset(v.casefold() for v in _opt_set(table, key, where))


def _enum_values(
    table: Mapping[str, Any], key: str, enum: type[EventType] | type[Confidence], where: str
) -> list[Any]:
    if key not in table:
        return []
    valid = [m.value for m in enum]
    out = []
    for value in _strings(table[key], where, key):
        if value not in valid:
            raise RoutingConfigError(
                where,
                key,
                "bad_value",
                f"{value!r} is not one of {', '.join(valid)}{_suggest(value, valid)}",
            )
        out.append(enum(value))
    return out


def _countries(table: Mapping[str, Any], where: str) -> frozenset[str]:
    out = set()
    for value in _opt_set(table, "countries", where):
        code = value.upper()
        if not re.fullmatch(r"[A-Z]{2}", code):
            raise RoutingConfigError(
                where, "countries", "bad_value", f"{value!r} is not an ISO 3166-1 alpha-2 code"
            )
        if code not in _KNOWN_COUNTRIES:
            hint = " (the United Kingdom is 'GB')" if code == "UK" else ""
            raise RoutingConfigError(
                where,
                "countries",
                "bad_value",
                f"{code!r} is not a State in the ICAO address allocation table{hint}",
            )
        out.add(code)
    return frozenset(out)


def _cmpg(table: Mapping[str, Any], where: str) -> frozenset[str]:
    values = _folded(table, "cmpg", where)
    for value in sorted(values):
        if value not in _CMPG:
            raise RoutingConfigError(
                where, "cmpg", "bad_value", f"{value!r} is not one of Civ, Mil, Gov, Pol"
            )
    return values


def _icao24s(value: Any, where: str, key: str, *, allow_empty: bool = False) -> frozenset[str]:
    if value is None:
        return frozenset()
    out = set()
    for item in _strings(value, where, key, allow_empty=allow_empty):
        address = item.lower()
        if not _ICAO24.fullmatch(address):
            raise RoutingConfigError(
                where, key, "bad_value", f"{item!r} is not an ICAO address (six hex digits)"
            )
        out.add(address)
    return frozenset(out)


def _globs(value: Any, where: str, key: str, *, joined: bool) -> tuple[str, ...]:
    if value is None:
        return ()
    items = (
        [_string(value, where, key)] if joined else _strings(value, where, key, allow_empty=True)
    )
    globs = [g.strip().upper() for item in items for g in item.split("|")]
    if any(not g for g in globs):
        raise RoutingConfigError(where, key, "bad_value", f"empty alternative in {value!r}")
    return tuple(dict.fromkeys(globs))


def _parse_mute(raw: Mapping[str, Any]) -> MuteSpec:
    _check_keys(raw, _MUTE_KEYS, "mute")
    return MuteSpec(
        icao24=_icao24s(raw.get("icao24"), "mute", "icao24", allow_empty=True),
        callsigns=_globs(raw.get("callsigns"), "mute", "callsigns", joined=False),
    )


def _parse_cooldown(raw: Mapping[str, Any]) -> float:
    _check_keys(raw, _COOLDOWN_KEYS, "cooldown")
    value = raw.get("per_aircraft_zone_s", DEFAULT_COOLDOWN_S)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value < float("inf")
    ):
        raise RoutingConfigError(
            "cooldown", "per_aircraft_zone_s", "bad_value", f"must be seconds >= 0, got {value!r}"
        )
    return float(value)


def _default_rule(channels: Mapping[str, ChannelSpec]) -> Rule:
    return Rule(name="default", channels=tuple(channels), types=frozenset(_DEFAULT_TYPES))
