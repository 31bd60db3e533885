"""Client-side rate limits as token buckets, with time passed in as data. Pure.

:class:`TokenBucket` refills at ``rate_per_s`` up to ``burst`` tokens. :meth:`TokenBucket.take`
*reserves* a token and returns how long the caller must wait before using it (``0.0``: send
now): reservations queue up, so two calls at the same instant get waits ``0`` and
``1 / rate_per_s``. :class:`MultiLimit` combines several buckets (per chat, per group, per bot)
and reserves in all of them at the time the slowest allows.

Limits the peers document, and the defaults the factories below use:

- Telegram Bot API FAQ ("My bot is hitting limits"): avoid more than one message per second
  in a single chat, more than 20 messages per minute in a group, and about 30 messages per
  second in all (per bot). A bucket with burst ``b`` and rate ``r`` admits at most
  ``b + r * T`` in any window ``T``, so the group bucket is 19/min with burst 1 (at most 20 in
  any minute) and the bot bucket 29/s with burst 1 (at most 30 in any second).
- Slack incoming webhooks and ``chat.postMessage``: about one message per second per
  channel/webhook (docs.slack.dev "Rate limits"; short bursts are tolerated).

The peer's own 429 stays the authority: this only keeps a well-behaved client from earning it.
Nothing here sleeps or reads the clock (``now_s`` is any monotonic seconds value). Out of scope:
sleeping, per-key bucket maps with eviction (the caller owns them).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "MultiLimit",
    "TokenBucket",
    "slack_webhook_limit",
    "telegram_bot_bucket",
    "telegram_chat_limit",
]

#: Telegram: one message per second per chat.
TELEGRAM_CHAT_RATE_PER_S = 1.0
#: Telegram: 20 per minute per group; 19/min + burst 1 never exceeds 20 in any minute.
TELEGRAM_GROUP_RATE_PER_S = 19 / 60
#: Telegram: about 30 per second per bot; 29/s + burst 1 never exceeds 30 in any second.
TELEGRAM_BOT_RATE_PER_S = 29.0
#: Slack: one message per second per webhook/channel.
SLACK_WEBHOOK_RATE_PER_S = 1.0


class TokenBucket:
    """A token bucket: ``rate_per_s`` tokens per second, at most ``burst`` stored.

    Starts full. State is (tokens, time of that count); time never runs backwards inside it
    (an earlier ``now_s`` than already seen is treated as that time).
    """

    __slots__ = ("_at_s", "_tokens", "burst", "rate_per_s")

    def __init__(
        self, rate_per_s: float, burst: float = 1.0, *, now_s: float | None = None
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be > 0")
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate_per_s = float(rate_per_s)
        self.burst = float(burst)
        self._tokens = float(burst)
        self._at_s: float | None = now_s

    def _level(self, at_s: float) -> float:
        """Tokens at time ``at_s`` (>= the state's time), refilled and capped."""
        if self._at_s is None:
            return self._tokens
        return min(self.burst, self._tokens + (at_s - self._at_s) * self.rate_per_s)

    def wait_s(self, now_s: float, tokens: float = 1.0) -> float:
        """Seconds from ``now_s`` until ``tokens`` are available, without reserving them."""
        if tokens > self.burst:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.burst}")
        start = now_s if self._at_s is None else max(now_s, self._at_s)
        missing = tokens - self._level(start)
        return (start - now_s) + max(0.0, missing / self.rate_per_s)

    def reserve_at(self, at_s: float, tokens: float = 1.0) -> None:
        """Take ``tokens`` at time ``at_s`` (which must be when they are available)."""
        if self._at_s is not None:
            at_s = max(at_s, self._at_s)
        level = self._level(at_s)
        # Float rounding can leave a hair below zero; never let the debt grow from it.
        self._tokens = max(level - tokens, -1e-9)
        self._at_s = at_s

    def take(self, now_s: float, tokens: float = 1.0) -> float:
        """Reserve ``tokens`` and return the seconds to wait before using them (0.0: now)."""
        wait = self.wait_s(now_s, tokens)
        self.reserve_at(now_s + wait, tokens)
        return wait


class MultiLimit:
    """Several buckets that must all allow a send (e.g. per chat, per group, per bot).

    Buckets may be shared between limits: give every chat's limit the same bot bucket.
    """

    __slots__ = ("buckets",)

    def __init__(self, buckets: Iterable[TokenBucket]) -> None:
        self.buckets = tuple(buckets)
        if not self.buckets:
            raise ValueError("MultiLimit needs at least one bucket")

    def wait_s(self, now_s: float, tokens: float = 1.0) -> float:
        """Seconds until every bucket has ``tokens``, without reserving."""
        return max(b.wait_s(now_s, tokens) for b in self.buckets)

    def take(self, now_s: float, tokens: float = 1.0) -> float:
        """Reserve in every bucket at the earliest time all allow; return the wait."""
        wait = self.wait_s(now_s, tokens)
        for bucket in self.buckets:
            bucket.reserve_at(now_s + wait, tokens)
        return wait


def telegram_bot_bucket() -> TokenBucket:
    """The per-bot bucket (about 30 messages/s); share one among all chats of a bot."""
    return TokenBucket(TELEGRAM_BOT_RATE_PER_S, burst=1)


def telegram_chat_limit(bot: TokenBucket, *, group: bool) -> MultiLimit:
    """The limit for one chat: 1/s per chat, plus 20/min when it is a group, plus ``bot``."""
    buckets = [TokenBucket(TELEGRAM_CHAT_RATE_PER_S, burst=1)]
    if group:
        buckets.append(TokenBucket(TELEGRAM_GROUP_RATE_PER_S, burst=1))
    buckets.append(bot)
    return MultiLimit(buckets)


def slack_webhook_limit() -> MultiLimit:
    """The limit for one Slack webhook or channel: one message per second."""
    return MultiLimit([TokenBucket(SLACK_WEBHOOK_RATE_PER_S, burst=1)])
