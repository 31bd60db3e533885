"""HTTP response -> delivered, or a :class:`~alerts.errors.DeliveryError` saying whether to retry.

Pure: :func:`classify` takes what a channel received (status, headers, body) and returns
``None`` when the alert was delivered or raises ``DeliveryError(channel, reason,
retriable=..., retry_after_s=...)``. It never sends, sleeps or reads the clock: a
``Retry-After`` given as an HTTP-date is turned into seconds only when the caller passes
``now_s`` (epoch seconds). ``reason`` is always from a small fixed set, so it can be a metric
label; the peer's free text is never copied into it.

The channel kind comes from the channel name's prefix (``slack_api``, ``slack``,
``telegram``; anything else is a generic webhook), e.g. ``"slack:ops"`` or
``"telegram:desk"``.

What each peer documents, and what is relied on here:

- Slack incoming webhooks (api.slack.com/messaging/webhooks, "Handling errors"): ``200`` with
  body ``ok``; errors as plain-text codes with a status: ``400 invalid_payload``,
  ``400 user_not_found``/``no_text``/``too_many_attachments``/``no_service_id``/``no_team``,
  ``403 action_prohibited``/``invalid_token``/``team_disabled``/
  ``posting_to_general_channel_denied``, ``404 channel_not_found``/``no_service``,
  ``410 channel_is_archived``; ``429`` with ``Retry-After`` seconds (docs.slack.dev rate
  limits; slack-sdk's ``RateLimitErrorRetryHandler`` honours that header). All of these but
  429 and 5xx mean "fix the configuration", so they are not retried.
- Slack Web API (``chat.postMessage``; docs.slack.dev/reference/methods/chat.postMessage):
  HTTP 200 with ``{"ok": true, ...}`` or ``{"ok": false, "error": "<code>"}``; rate limiting
  is HTTP 429 with ``Retry-After`` and ``"error": "ratelimited"``. ``internal_error``,
  ``fatal_error``, ``service_unavailable``, ``request_timeout`` are transient; ``invalid_auth``,
  ``not_authed``, ``channel_not_found``, ``not_in_channel``, ``is_archived``,
  ``msg_too_long``, ``invalid_blocks`` ... are not.
- Telegram Bot API (core.telegram.org/bots/api, "Making requests" and ResponseParameters):
  ``{"ok": true, "result": ...}`` or ``{"ok": false, "error_code": N, "description": ...,
  "parameters": {"retry_after": s, "migrate_to_chat_id": id}}``. ``retry_after`` is "the
  number of seconds left to wait before the request can be repeated"; ``migrate_to_chat_id``
  means the group became a supergroup with a new id, so sending to the old id never works
  again (reason ``chat_migrated``). 400/401/403/404 are request, token or membership errors.
- Generic webhooks (RFC 9110): 2xx delivered; 408, 425, 429 and 5xx retriable, honouring
  ``Retry-After`` as delay-seconds or HTTP-date (§10.2.3); other statuses are not retriable.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from alerts.errors import DeliveryError

__all__ = ["channel_kind", "classify", "parse_retry_after"]

#: Longest delay accepted from a peer; a larger value is clamped, so one bad header cannot
#: park a worker for days (an hour is longer than any documented Slack/Telegram wait).
MAX_RETRY_AFTER_S = 3600.0

#: Slack incoming-webhook error codes (plain-text bodies), all configuration errors.
_SLACK_WEBHOOK_ERRORS = frozenset(
    {
        "invalid_payload",
        "user_not_found",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "too_many_attachments",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "invalid_token",
        "no_text",
    }
)
#: Default reason for a Slack webhook status whose body is not a known code.
_SLACK_WEBHOOK_BY_STATUS = {
    400: "invalid_payload",
    403: "action_prohibited",
    404: "channel_not_found",
    410: "channel_is_archived",
}
#: Slack Web API errors worth retrying (transient on Slack's side).
_SLACK_API_RETRIABLE = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
#: Slack Web API errors reported by name; anything else becomes ``api_error``.
_SLACK_API_KNOWN = _SLACK_API_RETRIABLE | frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_blocks_format",
        "too_many_attachments",
        "restricted_action",
        "team_access_not_granted",
        "invalid_arguments",
        "rate_limited",
    }
)
#: Telegram non-2xx statuses by reason.
_TELEGRAM_BY_STATUS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    413: "too_large",
}
#: Generic statuses worth retrying: timeout, too early, too many requests.
_RETRIABLE_4XX = frozenset({408, 425, 429})


def channel_kind(channel: str) -> str:
    """``"slack_api:ops"`` -> ``slack_api``; ``"slack:ops"`` -> ``slack_webhook``;
    ``"telegram..."`` -> ``telegram``; anything else -> ``webhook``."""
    name = channel.lower()
    if name.startswith(("slack_api", "slack-api", "slack_web")):
        return "slack_api"
    if name.startswith("slack"):
        return "slack_webhook"
    if name.startswith("telegram"):
        return "telegram"
    return "webhook"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_retry_after(value: str | None, now_s: float | None = None) -> float | None:
    """A ``Retry-After`` value -> seconds to wait (clamped to 0..:data:`MAX_RETRY_AFTER_S`).

    Accepts delay-seconds (``"5"``, also ``"1.5"``) or an HTTP-date; an HTTP-date needs the
    caller's ``now_s`` (time is data here) and gives ``None`` without it. Garbage -> ``None``.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        if now_s is None:
            return None
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:  # RFC 9110 dates are GMT
            return None
        seconds = when.timestamp() - now_s
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _json(body: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _server_or_status(channel: str, status: int, retry_after_s: float | None) -> DeliveryError:
    """The statuses every kind treats alike: 429 and 5xx retriable, 408/425 retriable."""
    if status == 429:
        return DeliveryError(channel, "rate_limited", retriable=True, retry_after_s=retry_after_s)
    if status >= 500:
        return DeliveryError(channel, "server_error", retriable=True, retry_after_s=retry_after_s)
    if status in _RETRIABLE_4XX:
        return DeliveryError(channel, "timeout", retriable=True, retry_after_s=retry_after_s)
    return DeliveryError(channel, f"http_{status}", retriable=False)


def _slack_webhook(channel: str, status: int, retry_after_s: float | None, body: bytes) -> None:
    if 200 <= status < 300:
        # Slack answers "ok"; any 2xx means it accepted the message, and a retry would post
        # a duplicate, so a surprising 2xx body is still success.
        return
    if status == 429 or status >= 500 or status in _RETRIABLE_4XX:
        raise _server_or_status(channel, status, retry_after_s)
    code = body.decode("utf-8", "replace").strip()
    if code in _SLACK_WEBHOOK_ERRORS:
        raise DeliveryError(channel, code, retriable=False)
    raise DeliveryError(
        channel, _SLACK_WEBHOOK_BY_STATUS.get(status, f"http_{status}"), retriable=False
    )


def _slack_api(channel: str, status: int, retry_after_s: float | None, body: bytes) -> None:
    obj = _json(body)
    if status == 429:
        raise DeliveryError(channel, "ratelimited", retriable=True, retry_after_s=retry_after_s)
    if status >= 500 or status in _RETRIABLE_4XX:
        raise _server_or_status(channel, status, retry_after_s)
    if obj is None:
        if 200 <= status < 300:
            raise DeliveryError(channel, "bad_response", retriable=False)
        raise DeliveryError(channel, f"http_{status}", retriable=False)
    if obj.get("ok") is True and 200 <= status < 300:
        return
    error = obj.get("error")
    reason = error if isinstance(error, str) and error in _SLACK_API_KNOWN else "api_error"
    retriable = reason in _SLACK_API_RETRIABLE
    raise DeliveryError(
        channel, reason, retriable=retriable, retry_after_s=retry_after_s if retriable else None
    )


def _telegram(channel: str, status: int, retry_after_s: float | None, body: bytes) -> None:
    obj = _json(body)
    if obj is not None and obj.get("ok") is True and 200 <= status < 300:
        return
    params = obj.get("parameters") if obj is not None else None
    params = params if isinstance(params, dict) else {}
    if params.get("migrate_to_chat_id") is not None:
        raise DeliveryError(channel, "chat_migrated", retriable=False)
    code = obj.get("error_code") if obj is not None else None
    effective = code if isinstance(code, int) and not isinstance(code, bool) else status
    if 200 <= effective < 300:  # a 2xx without ok=true: not what the API promises
        raise DeliveryError(channel, "bad_response", retriable=False)
    if effective == 429 or status == 429:
        wait = params.get("retry_after")
        if isinstance(wait, int | float) and not isinstance(wait, bool):
            retry_after_s = min(max(float(wait), 0.0), MAX_RETRY_AFTER_S)
        raise DeliveryError(channel, "rate_limited", retriable=True, retry_after_s=retry_after_s)
    if effective >= 500 or status >= 500 or effective in _RETRIABLE_4XX:
        raise _server_or_status(channel, max(effective, status), retry_after_s)
    reason = _TELEGRAM_BY_STATUS.get(effective, f"http_{effective}")
    raise DeliveryError(channel, reason, retriable=False)


def _webhook(channel: str, status: int, retry_after_s: float | None) -> None:
    if 200 <= status < 300:
        return
    if 300 <= status < 400:
        raise DeliveryError(channel, "redirect", retriable=False)
    if status < 100 or status > 599:
        raise DeliveryError(channel, "bad_status", retriable=False)
    raise _server_or_status(channel, status, retry_after_s)


def classify(
    channel: str,
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    now_s: float | None = None,
    kind: str | None = None,
) -> None:
    """Return ``None`` if the peer accepted the alert, else raise :class:`DeliveryError`.

    ``kind`` picks the rules (``slack_webhook``, ``slack_api``, ``telegram``, ``webhook``);
    without it the channel name's prefix does (see :func:`channel_kind`);
    ``headers`` are matched case-insensitively; ``now_s`` (epoch seconds) is only needed to
    turn an HTTP-date ``Retry-After`` into a delay.
    """
    retry_after_s = parse_retry_after(_header(headers, "Retry-After"), now_s)
    kind = kind or channel_kind(channel)
    if kind == "slack_webhook":
        _slack_webhook(channel, status, retry_after_s, body)
    elif kind == "slack_api":
        _slack_api(channel, status, retry_after_s, body)
    elif kind == "telegram":
        _telegram(channel, status, retry_after_s, body)
    else:
        _webhook(channel, status, retry_after_s)
