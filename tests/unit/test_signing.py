"""Webhook signatures (alerts.signing): round trip, tampering, replay window, rotation."""

from __future__ import annotations

from alerts.render import webhook_json
from alerts.signing import sign_webhook, verify_webhook
from tests.unit.test_render import _ctx, _event


def test_signature_round_trip_and_tamper() -> None:
    body = webhook_json(_event(), _ctx())
    secret = b"s3cret"
    header = sign_webhook(body, secret, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify_webhook(body, secret, header, now_s=1_700_000_100)
    assert not verify_webhook(body + b" ", secret, header, now_s=1_700_000_100)
    assert not verify_webhook(body, b"other", header, now_s=1_700_000_100)
    assert not verify_webhook(body, secret, header, now_s=1_700_000_301)  # too old
    assert not verify_webhook(body, secret, header, now_s=1_699_999_600)  # from the future
    forged = header.replace("t=1700000000", "t=1700000200")  # replay with a new timestamp
    assert not verify_webhook(body, secret, forged, now_s=1_700_000_200)
    assert not verify_webhook(body, secret, "garbage", now_s=1_700_000_000)
    assert not verify_webhook(body, secret, "t=abc,v1=00", now_s=1_700_000_000)
    rotated = f"{header},v1={'0' * 64}"
    assert verify_webhook(body, secret, rotated, now_s=1_700_000_000)
