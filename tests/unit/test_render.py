"""Renderers: Slack Block Kit validity and limits, Telegram HTML safety, signed webhooks."""

from __future__ import annotations

import html
import subprocess
import sys
from html.parser import HTMLParser

import orjson
import pytest

from alerts.render import (
    SLACK_HEADER_MAX,
    TELEGRAM_CAPTION_MAX,
    TELEGRAM_MESSAGE_MAX,
    AlertContext,
    build_context,
    slack_blocks,
    telegram_caption,
    telegram_html,
    webhook_json,
)
from alerts.watchlist import Aircraft
from streams.models import AirspaceEvent, Confidence, EventType

KST = 9 * 3600

RA86496 = Aircraft(
    icao24="1551e0",
    registration="RA-86496",
    operator="Russian Air Force",
    type="Ilyushin IL-62M",
    icao_type="IL62",
    category="Other Air Forces",
    tags=("Classic",),
    cmpg="Mil",
    link="https://w.wiki/Czj9",
)


def _event(**over: object) -> AirspaceEvent:
    base: dict[str, object] = {
        "event_id": "5b923ef3734ac632be67",
        "type": EventType.ENTERED,
        "icao24": "1551e0",
        "zone": "dprk",
        "ts": 1695690867.0,
        "lat": 39.5,
        "lon": 124.3,
        "observed_ts": 1695690870.0,
        "callsign": "RSD352",
        "confidence": Confidence.OBSERVED,
        "zone_name": "DPRK airspace",
        "alt_ft": 35100,
        "gs_kt": 465.3,
        "track_deg": 166.4,
    }
    base.update(over)
    return AirspaceEvent(**base)  # type: ignore[arg-type]


def _ctx(**over: object) -> AlertContext:
    return build_context(
        _event(**over),
        aircraft=RA86496,
        distance_to_boundary_m=1234.0,
        tz_name="KST",
        tz_offset_s=KST,
    )


HOSTILE = [
    "<script>alert(1)</script>",
    "&amp;",
    '"><b>x</b><a href="javascript:alert(1)">',
    "🇰🇵✈️ Air Koryo 高麗航空",
    "A" * 5000,
    "<@U123|everyone> <!channel> *bold* `tick`",
]


# ----------------------------------------------------------------------------- context


def test_context_reads_like_a_desk_alert() -> None:
    ctx = _ctx()
    assert ctx.what == "entered DPRK airspace"
    assert ctx.how_known == "seen inside"
    assert ctx.headline == "🚨 RSD352 entered DPRK airspace"
    assert ctx.country is not None and ctx.country.code == "RU"
    assert ctx.utc_text == "2023-09-26 01:14:27Z"
    assert ctx.local_text == "2023-09-26 10:14:27 KST (UTC+09:00)"
    assert ctx.position_text == "39.5000N 124.3000E"
    assert ctx.flight_text == "FL351 · 465 kt · track 166°"
    assert ctx.distance_text == "1.2 km (0.7 NM) from the boundary"
    urls = {link.label: link.url for link in ctx.links}
    assert urls["ADS-B Exchange"] == "https://globe.adsbexchange.com/?icao=1551e0"
    assert urls["Flightradar24"] == "https://www.flightradar24.com/data/aircraft/ra-86496"


def test_context_inferred_and_unknown_aircraft() -> None:
    ctx = build_context(_event(icao24="7278a2", callsign=None, confidence=Confidence.INFERRED))
    assert ctx.how_known == "inferred from track"
    assert ctx.country is not None and ctx.country.code == "KP"
    assert ctx.headline == "🚨 7278a2 entered DPRK airspace"
    assert ctx.local_text is None
    assert [link.label for link in ctx.links] == ["ADS-B Exchange"]  # no registration known


@pytest.mark.parametrize("etype", list(EventType))
def test_every_event_type_renders(etype: EventType) -> None:
    ctx = _ctx(type=etype, eta_ts=1695690900.0, last_seen_ts=1695690800.0, verdict="confirmed")
    assert ctx.what.endswith(("DPRK airspace", "(it was inside)"))
    _check_slack(slack_blocks(ctx))
    _check_telegram(telegram_html(ctx), TELEGRAM_MESSAGE_MAX)


# ----------------------------------------------------------------------------- Slack


def _check_slack(message: dict[str, object]) -> None:
    from slack_sdk.models.blocks import Block

    blocks = message["blocks"]
    assert isinstance(blocks, list) and 0 < len(blocks) <= 50
    assert isinstance(message["text"], str) and message["text"]
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None
        block.validate_json()  # raises SlackObjectFormationError on a limit breach
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= SLACK_HEADER_MAX
        if raw["type"] == "section":
            assert len(raw.get("fields", [])) <= 10
            assert all(len(f["text"]) <= 2000 for f in raw["fields"])
            assert len(raw.get("text", {}).get("text", "")) <= 3000
        if raw["type"] == "context":
            assert len(raw["elements"]) <= 10
    orjson.dumps(message)


def test_slack_layout() -> None:
    msg = slack_blocks(_ctx())
    _check_slack(msg)
    assert [b["type"] for b in msg["blocks"]] == ["header", "section", "context"]
    fields = [f["text"] for f in msg["blocks"][1]["fields"]]
    assert fields[0].startswith("*Aircraft*") and "RA-86496" in fields[0] and "Russia" in fields[0]
    assert "entered DPRK airspace" in fields[1]
    assert "KST (UTC+09:00)" in fields[2] and "01:14:27Z" in fields[2]
    assert "39.5000N 124.3000E" in fields[3]
    context = " ".join(e["text"] for e in msg["blocks"][2]["elements"])
    assert "seen inside" in context
    assert "<https://globe.adsbexchange.com/?icao=1551e0|ADS-B Exchange>" in context


@pytest.mark.parametrize("evil", HOSTILE)
def test_slack_escapes_hostile_text(evil: str) -> None:
    aircraft = Aircraft("1551e0", evil[:40], evil, evil, None, evil, ())
    ctx = build_context(_event(callsign=evil, zone_name=evil), aircraft=aircraft)
    msg = slack_blocks(ctx)
    _check_slack(msg)
    for block in msg["blocks"]:
        texts = [f["text"] for f in block.get("fields", [])] + [
            e["text"] for e in block.get("elements", [])
        ]
        for text in texts:
            # The only '<' left are our own links; user text cannot open one.
            stripped = text
            for link in ctx.links:
                stripped = stripped.replace(f"<{link.url}|", "")
            assert "<" not in stripped, text
            assert "&amp;amp;" not in text or "&amp;" in evil


# ----------------------------------------------------------------------------- Telegram

ALLOWED = {"b", "i", "a", "code"}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.stack: list[str] = []
        self.text: list[str] = []
        self.hrefs: list[str] = []
        self.balanced = True

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.stack.append(tag)
        if tag == "a":
            self.hrefs.extend(v or "" for k, v in attrs if k == "href")
            assert [k for k, _ in attrs] == ["href"]
        else:
            assert attrs == []

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack.pop() != tag:
            self.balanced = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _check_telegram(text: str, limit: int) -> _Collector:
    assert len(text.encode("utf-16-le")) // 2 <= limit
    parser = _Collector()
    parser.feed(text)
    parser.close()
    assert parser.balanced and not parser.stack, text
    assert set(parser.tags) <= ALLOWED
    assert all(h.startswith("https://") for h in parser.hrefs)
    # No bare '&' that is not an entity, no stray '<' or '>' outside tags.
    stripped = text
    for tag in ("b", "i", "code", "a"):
        stripped = stripped.replace(f"<{tag}>", "").replace(f"</{tag}>", "")
    for href in parser.hrefs:
        stripped = stripped.replace(f'<a href="{html.escape(href, quote=True)}">', "")
    assert "<" not in stripped and ">" not in stripped
    return parser


@pytest.mark.parametrize("evil", HOSTILE)
def test_telegram_hostile_text_round_trips(evil: str) -> None:
    aircraft = Aircraft("7278a2", "P-882", evil, "Il-62M", "IL62", "Dictator Alert", ())
    ctx = build_context(
        _event(icao24="7278a2", callsign=evil[:24]),
        aircraft=aircraft,
        tz_name="KST",
        tz_offset_s=KST,
    )
    for text, limit in (
        (telegram_html(ctx), TELEGRAM_MESSAGE_MAX),
        (telegram_caption(ctx), TELEGRAM_CAPTION_MAX),
    ):
        parser = _check_telegram(text, limit)
        plain = "".join(parser.text)
        # Unescaping gives back the original text (capped operators keep their prefix).
        assert ctx.operator is not None and ctx.operator in plain
        assert ctx.callsign is not None and ctx.callsign in plain
        assert ctx.operator.rstrip("…") == evil[: len(ctx.operator.rstrip("…"))]


def test_telegram_truncates_between_lines() -> None:
    aircraft = Aircraft("7278a2", "P-882", "&<>" * 2000, "Il-62M", "IL62", "x", ())
    ctx = build_context(_event(icao24="7278a2"), aircraft=aircraft)
    short = telegram_html(ctx, limit=200)
    _check_telegram(short, 200)
    assert short.endswith("…")
    full = telegram_html(ctx)
    _check_telegram(full, TELEGRAM_MESSAGE_MAX)
    assert "<b>" in full and '<a href="https://globe.adsbexchange.com/?icao=7278a2">' in full


def test_telegram_escapes_link_attribute() -> None:
    aircraft = Aircraft(
        "1551e0", 'RA"><b>', "op", None, None, None, (), link='https://x.test/?a="><script>'
    )
    ctx = build_context(_event(), aircraft=aircraft)
    parser = _check_telegram(telegram_html(ctx), TELEGRAM_MESSAGE_MAX)
    assert "script" not in parser.tags
    assert any("flightradar24" in h for h in parser.hrefs)


def test_non_http_links_are_dropped() -> None:
    aircraft = Aircraft("1551e0", None, None, None, None, None, (), link="javascript:alert(1)")
    ctx = build_context(_event(), aircraft=aircraft)
    assert [link.label for link in ctx.links] == ["ADS-B Exchange"]


# ----------------------------------------------------------------------------- webhooks


def test_webhook_json_carries_event_and_context() -> None:
    event = _event()
    body = webhook_json(event, _ctx())
    obj = orjson.loads(body)
    assert obj["event"]["event_id"] == event.event_id and obj["event"]["v"] == 1
    assert obj["event"]["type"] == "entered"
    assert obj["context"]["country"] == {"code": "RU", "name": "Russia", "flag": "🇷🇺"}
    assert obj["context"]["local"]["tz_offset_s"] == KST
    assert obj["context"]["distance_to_boundary_m"] == 1234.0
    assert body == webhook_json(event, _ctx())  # deterministic bytes


@pytest.mark.parametrize(
    "module", ["alerts.icao", "alerts.render", "alerts.responses", "alerts.watchlist"]
)
def test_pure_modules_load_no_io_library(module: str) -> None:
    forbidden = (
        "faust",
        "aiokafka",
        "aiohttp",
        "prometheus_client",
        "mode",
        "slack_sdk",
        "requests",
    )
    code = (
        f"import sys, {module}; "
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {forbidden!r})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
