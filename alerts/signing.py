"""Webhook signatures: sign a body, verify a signature header. Pure: the clock is passed in.

Scheme (modelled on Stripe's ``Stripe-Signature``): the header value is
``t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}." + body)>``. The receiver recomputes
the MAC over the raw body it received, compares in constant time, and rejects a timestamp
further than a tolerance (default 300 s) from its own clock, which bounds replays. Several
``v1=`` entries may be present during a secret rotation; any match verifies.

:class:`~alerts.channels.webhook.WebhookChannel` signs what :func:`alerts.render.webhook_json`
renders; receivers (and the tests' fake receiver) verify with :func:`verify_webhook`.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["SIGNATURE_TOLERANCE_S", "sign_webhook", "verify_webhook"]

#: Default webhook signature tolerance: Stripe's default, 5 minutes.
SIGNATURE_TOLERANCE_S = 300


def _mac(body: bytes, secret: bytes, timestamp_s: int) -> str:
    return hmac.new(secret, f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()


def sign_webhook(body: bytes, secret: bytes, timestamp_s: int) -> str:
    """The signature header value ``t=<timestamp_s>,v1=<hex HMAC-SHA256>`` over
    ``f"{timestamp_s}." + body`` (see the module docstring)."""
    return f"t={int(timestamp_s)},v1={_mac(body, secret, int(timestamp_s))}"


def verify_webhook(
    body: bytes,
    secret: bytes,
    header: str,
    now_s: float,
    tolerance_s: float = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``header`` carries a valid ``v1`` MAC of ``body`` and its timestamp is within
    ``tolerance_s`` of ``now_s`` (the receiver's clock, passed in). Malformed -> False."""
    timestamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates or abs(now_s - timestamp) > tolerance_s:
        return False
    expected = _mac(body, secret, timestamp)
    return any(hmac.compare_digest(expected, c) for c in candidates)
