"""Response classification tables: ok, retriable with a delay, or permanent."""

from __future__ import annotations

from email.utils import formatdate

import orjson
import pytest

from alerts.errors import DeliveryError
from alerts.responses import channel_kind, classify, parse_retry_after

NOW = 1_695_690_000.0
OK = None


def _j(obj: object) -> bytes:
    return orjson.dumps(obj)


# (channel, status, headers, body, expected): expected is None for ok or
# (reason, retriable, retry_after_s).
CASES = [
    # Slack incoming webhook
    ("slack:ops", 200, {}, b"ok", OK),
    ("slack:ops", 400, {}, b"invalid_payload", ("invalid_payload", False, None)),
    ("slack:ops", 403, {}, b"action_prohibited", ("action_prohibited", False, None)),
    ("slack:ops", 404, {}, b"channel_not_found", ("channel_not_found", False, None)),
    ("slack:ops", 404, {}, b"no_service", ("no_service", False, None)),
    ("slack:ops", 410, {}, b"channel_is_archived", ("channel_is_archived", False, None)),
    ("slack:ops", 400, {}, b"<html>some free text</html>", ("invalid_payload", False, None)),
    ("slack:ops", 429, {"Retry-After": "30"}, b"rate_limited", ("rate_limited", True, 30.0)),
    ("slack:ops", 503, {}, b"", ("server_error", True, None)),
    ("slack:ops", 500, {"retry-after": "2"}, b"", ("server_error", True, 2.0)),
    # Slack Web API
    ("slack_api:ops", 200, {}, _j({"ok": True, "ts": "1.2"}), OK),
    (
        "slack_api:ops",
        429,
        {"Retry-After": "7"},
        _j({"ok": False, "error": "ratelimited"}),
        ("ratelimited", True, 7.0),
    ),
    (
        "slack_api:ops",
        200,
        {},
        _j({"ok": False, "error": "channel_not_found"}),
        ("channel_not_found", False, None),
    ),
    (
        "slack_api:ops",
        200,
        {},
        _j({"ok": False, "error": "invalid_auth"}),
        ("invalid_auth", False, None),
    ),
    (
        "slack_api:ops",
        200,
        {},
        _j({"ok": False, "error": "not_in_channel"}),
        ("not_in_channel", False, None),
    ),
    (
        "slack_api:ops",
        200,
        {},
        _j({"ok": False, "error": "internal_error"}),
        ("internal_error", True, None),
    ),
    (
        "slack_api:ops",
        200,
        {},
        _j({"ok": False, "error": "brand_new_error_xyz"}),
        ("api_error", False, None),
    ),
    ("slack_api:ops", 200, {}, b"not json", ("bad_response", False, None)),
    ("slack_api:ops", 502, {}, b"<html>", ("server_error", True, None)),
    # Telegram Bot API
    ("telegram:desk", 200, {}, _j({"ok": True, "result": {"message_id": 1}}), OK),
    (
        "telegram:desk",
        429,
        {},
        _j(
            {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 5",
                "parameters": {"retry_after": 5},
            }
        ),
        ("rate_limited", True, 5.0),
    ),
    (
        "telegram:desk",
        400,
        {},
        _j({"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}),
        ("bad_request", False, None),
    ),
    (
        "telegram:desk",
        401,
        {},
        _j({"ok": False, "error_code": 401, "description": "Unauthorized"}),
        ("unauthorized", False, None),
    ),
    (
        "telegram:desk",
        403,
        {},
        _j(
            {
                "ok": False,
                "error_code": 403,
                "description": "Forbidden: bot was blocked by the user",
            }
        ),
        ("forbidden", False, None),
    ),
    (
        "telegram:desk",
        404,
        {},
        _j({"ok": False, "error_code": 404, "description": "Not Found"}),
        ("not_found", False, None),
    ),
    (
        "telegram:desk",
        400,
        {},
        _j(
            {
                "ok": False,
                "error_code": 400,
                "description": "Bad Request: group chat was upgraded to a supergroup chat",
                "parameters": {"migrate_to_chat_id": -1001234567890},
            }
        ),
        ("chat_migrated", False, None),
    ),
    ("telegram:desk", 502, {}, b"<html>Bad Gateway</html>", ("server_error", True, None)),
    ("telegram:desk", 200, {}, b"garbage", ("bad_response", False, None)),
    # Generic webhook
    ("webhook:siem", 200, {}, b"", OK),
    ("webhook:siem", 204, {}, b"", OK),
    ("webhook:siem", 408, {}, b"", ("timeout", True, None)),
    ("webhook:siem", 429, {"Retry-After": "120"}, b"", ("rate_limited", True, 120.0)),
    (
        "webhook:siem",
        429,
        {"Retry-After": formatdate(NOW + 90, usegmt=True)},
        b"",
        ("rate_limited", True, 90.0),
    ),
    ("webhook:siem", 503, {"Retry-After": "soon"}, b"", ("server_error", True, None)),
    ("webhook:siem", 500, {}, b"", ("server_error", True, None)),
    ("webhook:siem", 400, {}, b"", ("http_400", False, None)),
    ("webhook:siem", 401, {}, b"", ("http_401", False, None)),
    ("webhook:siem", 404, {}, b"", ("http_404", False, None)),
    ("webhook:siem", 301, {}, b"", ("redirect", False, None)),
]


@pytest.mark.parametrize(("channel", "status", "headers", "body", "expected"), CASES)
def test_classify(
    channel: str,
    status: int,
    headers: dict[str, str],
    body: bytes,
    expected: tuple[str, bool, float | None] | None,
) -> None:
    if expected is None:
        assert classify(channel, status, headers, body, now_s=NOW) is None
        return
    with pytest.raises(DeliveryError) as info:
        classify(channel, status, headers, body, now_s=NOW)
    err = info.value
    assert err.channel == channel
    assert (err.reason, err.retriable, err.retry_after_s) == expected


def test_reasons_are_bounded() -> None:
    """Free text from the peer never becomes a reason (reasons are metric labels)."""
    for body in (b"x" * 500, b"<script>", b"\xff\xfe"):
        with pytest.raises(DeliveryError) as info:
            classify("slack:ops", 400, {}, body)
        assert info.value.reason == "invalid_payload"


def test_retry_after_parsing() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("999999") == 3600.0
    assert parse_retry_after(formatdate(NOW + 30, usegmt=True)) is None  # no clock given
    assert parse_retry_after(formatdate(NOW - 30, usegmt=True), now_s=NOW) == 0.0
    assert parse_retry_after("nan") is None
    assert parse_retry_after("") is None and parse_retry_after(None) is None


def test_channel_kind() -> None:
    assert channel_kind("slack") == "slack_webhook"
    assert channel_kind("slack_api:x") == "slack_api"
    assert channel_kind("Telegram") == "telegram"
    assert channel_kind("pagerduty") == "webhook"
