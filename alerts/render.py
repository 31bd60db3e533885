"""Event -> what a desk reads: Slack Block Kit, Telegram HTML, signed webhook JSON. Pure.

:func:`build_context` assembles an :class:`AlertContext` (who, what, when, where, how sure,
where to look next) from an :class:`~streams.models.AirspaceEvent` plus what the caller
knows: the watchlist entry (:mod:`alerts.watchlist`), the distance to the boundary in metres
and the zone's local time zone **as data** (name and UTC offset in seconds: KST is
``tz_offset_s=32400``). Nothing here reads a clock, a file or the tz database; the State of
registry comes from the ICAO address (:mod:`alerts.icao`).

Renderers and the limits they respect:

- :func:`slack_blocks` -> a ``chat.postMessage`` / incoming-webhook body: ``text`` (plain
  fallback for notifications) and ``blocks``: header, a section of fields, a context line.
  Block Kit limits (docs.slack.dev/reference/block-kit/blocks): at most 50 blocks per
  message, header ``plain_text`` <= 150 characters, section text <= 3000, at most 10 fields
  of <= 2000 characters each, context <= 10 elements. User text in ``mrkdwn`` has ``&``,
  ``<``, ``>`` escaped as ``&amp;``, ``&lt;``, ``&gt;`` (docs.slack.dev "Formatting text for
  app surfaces": escaping), so a callsign cannot forge a link or a mention.
- :func:`telegram_html` / :func:`telegram_caption` -> ``sendMessage`` / ``sendPhoto`` text
  with ``parse_mode=HTML`` (core.telegram.org/bots/api#html-style): only ``<b>``, ``<i>``,
  ``<code>`` and ``<a href>``; ``&``, ``<``, ``>`` escaped everywhere and ``"`` inside
  attributes. Messages are at most 4096 characters, captions 1024; length is counted in
  UTF-16 code units (at least what Telegram counts) and text is cut only between complete
  lines, so no tag or entity is ever split.
- :func:`slack_ack_block` / :func:`telegram_ack_markup` -> the Acknowledge button of a
  priority alert (:mod:`alerts.escalation`): a Block Kit ``actions`` block (``action_id``
  ``"ack"``, ``value`` the event id) and a Telegram ``inline_keyboard`` whose
  ``callback_data`` is ``"ack:<event_id>"`` (at most 64 bytes, checked);
  :func:`slack_note` / :func:`telegram_note` -> a follow-up line (an escalation,
  "Acknowledged by X").
- :func:`webhook_json` -> the event (event format v1) plus the context, as JSON bytes with
  sorted keys (the same inputs give the same bytes); :mod:`alerts.signing` signs them.

Numbers and times are worded by :mod:`alerts.units`, the same words as the console line.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import orjson

from alerts.formatting import SQUAWK_MEANINGS, detail
from alerts.icao import Country, country_of
from alerts.units import (
    format_altitude,
    format_distance,
    format_lat_lon,
    format_local,
    format_speed,
    format_track,
    format_utc,
)
from alerts.watchlist import Aircraft
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType
from streams.text import printable

__all__ = [
    "SLACK_HEADER_MAX",
    "SLACK_TEXT_MAX",
    "TELEGRAM_CALLBACK_DATA_MAX",
    "TELEGRAM_CAPTION_MAX",
    "TELEGRAM_MESSAGE_MAX",
    "AlertContext",
    "Link",
    "build_context",
    "context_dict",
    "plain_text",
    "slack_ack_block",
    "slack_blocks",
    "slack_escape",
    "slack_note",
    "telegram_ack_markup",
    "telegram_caption",
    "telegram_html",
    "telegram_note",
    "webhook_json",
]

#: Telegram's limit on an inline button's ``callback_data`` (bytes).
TELEGRAM_CALLBACK_DATA_MAX = 64
#: The Acknowledge button's label.
ACK_LABEL = "Acknowledge"

#: Slack header block plain_text limit (characters).
SLACK_HEADER_MAX = 150
#: Slack section text limit (characters).
SLACK_SECTION_MAX = 3000
#: Slack section field text limit (characters) and field count.
SLACK_FIELD_MAX = 2000
SLACK_FIELDS_MAX = 10
#: Slack context block: elements per block.
SLACK_CONTEXT_ELEMENTS_MAX = 10
#: Top-level ``text`` fallback: Slack truncates past 40,000; notifications show far less, so
#: keep it to a section's worth.
SLACK_TEXT_MAX = 3000
#: Telegram sendMessage text limit after entity parsing.
TELEGRAM_MESSAGE_MAX = 4096
#: Telegram media caption limit after entity parsing.
TELEGRAM_CAPTION_MAX = 1024
#: Caps on any one piece of outside text (callsign, operator, ...) before rendering: long
#: enough for any real value, short enough that a hostile 5,000-character operator name
#: cannot crowd out the facts that matter.
_MAX_NAME_CHARS = 120
_MAX_ID_CHARS = 24

_VERBS = {
    EventType.ENTERED: "entered",
    EventType.EXITED: "left",
    EventType.FIRST_SEEN_INSIDE: "first seen inside",
    EventType.APPROACHING: "approaching",
    EventType.SIGNAL_LOST: "lost signal near",
    EventType.SIGNAL_REGAINED: "signal regained near",
    EventType.SQUAWK_EMERGENCY: "squawking emergency near",
}
_EMOJI = {
    EventType.ENTERED: "🚨",
    EventType.EXITED: "↩️",
    EventType.FIRST_SEEN_INSIDE: "🚨",
    EventType.APPROACHING: "⚠️",
    EventType.SIGNAL_LOST: "📡",
    EventType.SIGNAL_REGAINED: "📡",
    EventType.SQUAWK_EMERGENCY: "🆘",
}


@dataclass(frozen=True, slots=True)
class Link:
    """A labelled http(s) link."""

    label: str
    url: str


@dataclass(frozen=True, slots=True)
class AlertContext:
    """Everything an alert says, in words a desk understands, before any channel's markup.

    ``what`` is the event in words (``"entered DPRK airspace"``); ``how_known`` the
    confidence in words (``"seen inside"`` / ``"inferred from track"``); ``utc_text`` and
    ``local_text`` the crossing time; ``distance_to_boundary_m`` is metres to the zone's
    boundary when the caller computed it. Outside strings are raw (unescaped) but capped.
    """

    event_id: str
    event_type: EventType
    emoji: str
    headline: str
    what: str
    zone: str
    zone_name: str
    callsign: str | None
    icao24: str
    country: Country | None
    registration: str | None
    aircraft_type: str | None
    operator: str | None
    category: str | None
    confidence: Confidence
    how_known: str
    detail: str
    ts: float
    utc_text: str
    local_text: str | None
    tz_name: str | None
    tz_offset_s: int | None
    lat: float
    lon: float
    position_text: str
    alt_ft: int | None
    gs_kt: float | None
    track_deg: float | None
    distance_to_boundary_m: float | None
    links: tuple[Link, ...]
    #: Whether the latest fix is inside the zone (None: not known); words the distance.
    distance_inside: bool | None = None

    @property
    def who(self) -> str:
        """``RSD352 (1551e0)``, or just the address when there is no callsign."""
        return f"{self.callsign} ({self.icao24})" if self.callsign else self.icao24

    @property
    def country_text(self) -> str | None:
        """``🇷🇺 Russia`` or ``None``."""
        return f"{self.country.flag} {self.country.name}" if self.country else None

    @property
    def flight_text(self) -> str:
        """``FL350 · 465 kt · track 166°`` from whatever is known."""
        parts = [format_altitude(self.alt_ft)]
        if self.gs_kt is not None:
            parts.append(format_speed(self.gs_kt))
        if self.track_deg is not None:
            parts.append(format_track(self.track_deg))
        return " · ".join(parts)

    @property
    def distance_text(self) -> str | None:
        """``12.3 km (6.6 NM) from the boundary`` or ``None``."""
        d = self.distance_to_boundary_m
        if d is None:
            return None
        where = {True: "inside", False: "outside", None: "from"}[self.distance_inside]
        return f"{format_distance(d)} {where} the boundary"


def _cap(text: str | None, limit: int) -> str | None:
    """Strip, collapse control characters, cap at ``limit`` characters (with an ellipsis)."""
    if text is None:
        return None
    cleaned = "".join(" " if (ord(c) < 32 or ord(c) == 127) else c for c in text).strip()
    if not cleaned:
        return None
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _escaped(text: str | None) -> str | None:
    return None if text is None else printable(text)


def _safe_url(url: str | None) -> str | None:
    """Only http(s) URLs, with the characters that break Slack/HTML link syntax encoded."""
    if not url:
        return None
    url = url.strip()
    if urlsplit(url).scheme.lower() not in ("http", "https"):
        return None
    return quote(url, safe="/:?=&#%@!$'()*+,;~.-_[]")


def _how_known(event: AirspaceEvent) -> str:
    if event.type is EventType.SQUAWK_EMERGENCY:
        return "squawk heard"
    if event.type is EventType.APPROACHING:
        return "predicted from track"
    if event.type is EventType.SIGNAL_LOST:
        return "inferred from track" if event.eta_ts is not None else "signal lost"
    if event.confidence is Confidence.OBSERVED:
        return "seen leaving" if event.type is EventType.EXITED else "seen inside"
    return "inferred from track"


def _categories(event: AirspaceEvent, aircraft: Aircraft | None) -> str | None:
    """``Other Air Forces``; with several lists, each category with its list's name."""
    matches = [m for m in event.watchlists if m.category]
    if len(matches) == 1:
        return matches[0].category
    if matches:
        return " · ".join(f"{m.category} ({m.list})" for m in matches)
    return aircraft.category if aircraft else None


def build_context(
    event: AirspaceEvent,
    *,
    aircraft: Aircraft | None = None,
    distance_to_boundary_m: float | None = None,
    tz_name: str | None = None,
    tz_offset_s: int | None = None,
    distance_inside: bool | None = None,
) -> AlertContext:
    """Assemble the context of one alert.

    ``aircraft`` is the watchlist entry, if any; ``tz_name``/``tz_offset_s`` the zone's local
    time zone (e.g. ``"KST"``, ``32400``) -- given as data, so the caller decides how it knows
    the offset at ``event.ts``.
    """
    # Zone ids and names are free text from zone files: escaped (issue 12), then capped.
    zone_name = (
        _cap(_escaped(event.zone_name), _MAX_NAME_CHARS)
        or _cap(printable(event.zone), _MAX_NAME_CHARS)
        or "?"
    )
    verb = _VERBS.get(event.type, event.type.value.replace("_", " "))
    what = f"{verb} {zone_name}"
    if event.type is EventType.SIGNAL_REGAINED and event.verdict == "confirmed":
        what += " (it was inside)"
    if event.type is EventType.SQUAWK_EMERGENCY:
        meaning = SQUAWK_MEANINGS.get(event.squawk or "", "emergency")
        what = f"squawking {event.squawk or '?'} ({meaning}) near {zone_name}"
    callsign = _cap(event.callsign, _MAX_ID_CHARS)
    # The enriched event says who the aircraft is; a watchlist entry given directly is the
    # fallback (events enriched before the lists were loaded, tests).
    registration = _cap(
        event.registration or (aircraft.registration if aircraft else None), _MAX_ID_CHARS
    )
    icao24 = event.icao24.lower()
    links = [Link("ADS-B Exchange", f"https://globe.adsbexchange.com/?icao={quote(icao24)}")]
    if registration:
        links.append(
            Link(
                "Flightradar24",
                f"https://www.flightradar24.com/data/aircraft/{quote(registration.lower(), safe='')}",
            )
        )
    info = _safe_url(aircraft.link) if aircraft else None
    if info:
        links.append(Link("Info", info))
    emoji = _EMOJI.get(event.type, "ℹ️")  # noqa: RUF001
    return AlertContext(
        event_id=event.event_id,
        event_type=event.type,
        emoji=emoji,
        headline=f"{emoji} {callsign or icao24} {what}",
        what=what,
        zone=event.zone,
        zone_name=zone_name,
        callsign=callsign,
        icao24=icao24,
        country=country_of(icao24),
        registration=registration,
        aircraft_type=_cap(
            event.aircraft_type or (aircraft.type if aircraft else None), _MAX_NAME_CHARS
        ),
        operator=_cap(event.operator or (aircraft.operator if aircraft else None), _MAX_NAME_CHARS),
        category=_cap(_categories(event, aircraft), _MAX_NAME_CHARS),
        confidence=event.confidence,
        how_known=_how_known(event),
        detail=detail(event),
        ts=event.ts,
        utc_text=format_utc(event.ts),
        local_text=format_local(event.ts, tz_name, tz_offset_s),
        tz_name=tz_name,
        tz_offset_s=tz_offset_s,
        lat=event.lat,
        lon=event.lon,
        position_text=format_lat_lon(event.lat, event.lon),
        alt_ft=event.alt_ft,
        gs_kt=event.gs_kt,
        track_deg=event.track_deg,
        distance_to_boundary_m=distance_to_boundary_m,
        links=tuple(links),
        distance_inside=distance_inside,
    )


# --------------------------------------------------------------------------- Slack


def slack_escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn gives meaning to: ``&``, ``<``, ``>``."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _fit(text: str, limit: int) -> str:
    """Plain text cut to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fit_lines(lines: list[str], limit: int, length: Callable[[str], int] = len) -> str:
    """Join whole lines while their ``length`` stays within ``limit``; never cuts inside one
    (so no escape or tag is split)."""
    out: list[str] = []
    used = 0
    for line in lines:
        extra = length(line) + (1 if out else 0)
        if used + extra > limit:
            if used + 2 <= limit:
                out.append("…")
            break
        out.append(line)
        used += extra
    return "\n".join(out)


def _aircraft_lines(ctx: AlertContext, esc: Any, code: Any, bold: Any) -> list[str]:
    lines = [f"{bold('Aircraft')}"]
    ident = f"{esc(ctx.callsign)} · {code(ctx.icao24)}" if ctx.callsign else code(ctx.icao24)
    lines.append(ident)
    if ctx.country_text:
        lines.append(esc(ctx.country_text))
    described = " · ".join(esc(v) for v in (ctx.registration, ctx.aircraft_type) if v)
    if described:
        lines.append(described)
    if ctx.operator:
        lines.append(esc(ctx.operator))
    return lines


def slack_blocks(ctx: AlertContext) -> dict[str, Any]:
    """A Slack message body: ``{"text": fallback, "blocks": [header, section, context]}``,
    valid for ``chat.postMessage`` and incoming webhooks."""

    def bold(s: str) -> str:
        return f"*{s}*"

    def code(s: str) -> str:
        return f"`{slack_escape(s)}`"

    fields = [
        _fit_lines(_aircraft_lines(ctx, slack_escape, code, bold), SLACK_FIELD_MAX),
        _fit_lines(
            [bold("Event"), slack_escape(ctx.what)]
            + ([slack_escape(ctx.detail)] if ctx.detail else []),
            SLACK_FIELD_MAX,
        ),
        _fit_lines(
            [bold("Time"), slack_escape(ctx.utc_text)]
            + ([slack_escape(ctx.local_text)] if ctx.local_text else []),
            SLACK_FIELD_MAX,
        ),
        _fit_lines(
            [bold("Position"), ctx.position_text, slack_escape(ctx.flight_text)]
            + ([ctx.distance_text] if ctx.distance_text else []),
            SLACK_FIELD_MAX,
        ),
    ]
    link_text = " · ".join(f"<{link.url}|{slack_escape(link.label)}>" for link in ctx.links)
    context_elements = [
        {"type": "mrkdwn", "text": _fit(f"Confidence: *{slack_escape(ctx.how_known)}*", 2000)},
        {"type": "mrkdwn", "text": _fit_lines([link_text], 2000) or "no links"},
        {"type": "mrkdwn", "text": f"event `{slack_escape(ctx.event_id)}`"},
    ]
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": _fit(ctx.headline, SLACK_HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [{"type": "mrkdwn", "text": f} for f in fields[:SLACK_FIELDS_MAX]],
        },
        {"type": "context", "elements": context_elements[:SLACK_CONTEXT_ELEMENTS_MAX]},
    ]
    fallback = " · ".join(
        part
        for part in (
            ctx.headline,
            ctx.country_text,
            ctx.registration,
            ctx.operator,
            ctx.utc_text,
            ctx.local_text,
            ctx.position_text,
            ctx.how_known,
        )
        if part
    )
    return {"text": _fit(slack_escape(fallback), SLACK_TEXT_MAX), "blocks": blocks}


# --------------------------------------------------------------------------- Telegram


def _h(text: str) -> str:
    """Escape text content for Telegram HTML."""
    return html.escape(text, quote=False)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit_html_lines(lines: list[str], limit: int) -> str:
    """Join complete, well-formed lines while the UTF-16 length stays within ``limit``."""
    return _fit_lines(lines, limit, _utf16_len)


def _telegram_lines(ctx: AlertContext, *, full: bool) -> list[str]:
    lines = [f"<b>{_h(ctx.headline)}</b>"]
    ident = (
        f"{_h(ctx.callsign)} <code>{_h(ctx.icao24)}</code>"
        if ctx.callsign
        else f"<code>{_h(ctx.icao24)}</code>"
    )
    if ctx.country_text:
        ident += f" {_h(ctx.country_text)}"
    lines.append(ident)
    described = " · ".join(_h(v) for v in (ctx.registration, ctx.aircraft_type) if v)
    if described:
        lines.append(described)
    if ctx.operator:
        lines.append(f"<i>{_h(ctx.operator)}</i>")
    lines.append(f"🕑 {_h(ctx.utc_text)}" + (f" · {_h(ctx.local_text)}" if ctx.local_text else ""))
    lines.append(f"📍 {_h(ctx.position_text)} · {_h(ctx.flight_text)}")
    if ctx.distance_text:
        lines.append(_h(ctx.distance_text))
    if ctx.detail:
        lines.append(_h(ctx.detail))
    lines.append(f"Confidence: <b>{_h(ctx.how_known)}</b>")
    if ctx.links:
        lines.append(
            " · ".join(
                f'<a href="{html.escape(link.url, quote=True)}">{_h(link.label)}</a>'
                for link in ctx.links
            )
        )
    if full and ctx.category:
        lines.append(f"Watchlist: {_h(ctx.category)}")
    lines.append(f"event <code>{_h(ctx.event_id)}</code>")
    return lines


def telegram_html(ctx: AlertContext, *, limit: int = TELEGRAM_MESSAGE_MAX) -> str:
    """``sendMessage`` text for ``parse_mode=HTML``, at most ``limit`` (UTF-16) characters."""
    return _fit_html_lines(_telegram_lines(ctx, full=True), limit)


_TAG = re.compile(r"<[^>]*>")


def plain_text(ctx: AlertContext) -> str:
    """The alert as plain text lines (the Telegram message without markup): for terminals."""
    return html.unescape(_TAG.sub("", "\n".join(_telegram_lines(ctx, full=True))))


def telegram_caption(ctx: AlertContext) -> str:
    """A ``sendPhoto`` caption (``parse_mode=HTML``), at most 1024 characters."""
    return _fit_html_lines(_telegram_lines(ctx, full=False), TELEGRAM_CAPTION_MAX)


# --------------------------------------------------------------------------- webhooks


def context_dict(ctx: AlertContext) -> dict[str, Any]:
    """The context as plain JSON-ready data (the ``context`` member of a webhook body)."""
    return {
        "what": ctx.what,
        "headline": ctx.headline,
        "how_known": ctx.how_known,
        "detail": ctx.detail or None,
        "callsign": ctx.callsign,
        "icao24": ctx.icao24,
        "country": (
            {"code": ctx.country.code, "name": ctx.country.name, "flag": ctx.country.flag}
            if ctx.country
            else None
        ),
        "registration": ctx.registration,
        "aircraft_type": ctx.aircraft_type,
        "operator": ctx.operator,
        "category": ctx.category,
        "utc": ctx.utc_text,
        "local": (
            {"tz_name": ctx.tz_name, "tz_offset_s": ctx.tz_offset_s, "time": ctx.local_text}
            if ctx.local_text
            else None
        ),
        "distance_to_boundary_m": ctx.distance_to_boundary_m,
        "links": [{"label": link.label, "url": link.url} for link in ctx.links],
    }


def webhook_json(event: AirspaceEvent, ctx: AlertContext) -> bytes:
    """``{"event": <event format v1>, "context": {...}}`` as compact JSON with sorted keys
    (the same inputs always give the same bytes, so signatures are reproducible)."""
    body = {"event": orjson.loads(encode_event(event)), "context": context_dict(ctx)}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


# --------------------------------------------------------------------------- buttons, notes


def slack_ack_block(event_id: str) -> dict[str, Any]:
    """The Block Kit ``actions`` block with the Acknowledge button of alert ``event_id``."""
    return {
        "type": "actions",
        "block_id": "skyfence_ack",
        "elements": [
            {
                "type": "button",
                "action_id": "ack",
                "text": {"type": "plain_text", "text": ACK_LABEL, "emoji": False},
                "style": "primary",
                "value": event_id,
            }
        ],
    }


def telegram_ack_markup(event_id: str) -> dict[str, Any]:
    """The ``reply_markup`` with the Acknowledge button of alert ``event_id``; ValueError
    when ``callback_data`` would pass Telegram's 64-byte limit."""
    data = f"ack:{event_id}"
    if len(data.encode()) > TELEGRAM_CALLBACK_DATA_MAX:
        raise ValueError(f"callback_data of {len(data.encode())} bytes > 64: {data!r}")
    return {"inline_keyboard": [[{"text": ACK_LABEL, "callback_data": data}]]}


def slack_note(text: str, ack_event_id: str | None = None) -> dict[str, Any]:
    """A follow-up message body (``text`` + one section, and the Acknowledge button when
    ``ack_event_id`` is given)."""
    safe = _fit(slack_escape(text), SLACK_SECTION_MAX)
    blocks: list[dict[str, Any]] = [{"type": "section", "text": {"type": "mrkdwn", "text": safe}}]
    if ack_event_id is not None:
        blocks.append(slack_ack_block(ack_event_id))
    return {"text": _fit(slack_escape(text), SLACK_TEXT_MAX), "blocks": blocks}


def telegram_note(text: str) -> str:
    """A follow-up line as Telegram HTML (escaped, cut to the message limit)."""
    return _fit_html_lines([_h(line) for line in text.splitlines() or [""]], TELEGRAM_MESSAGE_MAX)
