"""Backoff delays and token buckets: pure, deterministic with injected randomness and time."""

from __future__ import annotations

import subprocess
import sys

import pytest

from alerts.ratelimit import (
    MultiLimit,
    TokenBucket,
    slack_webhook_limit,
    telegram_bot_bucket,
    telegram_chat_limit,
)
from alerts.retry import Backoff

pytestmark = pytest.mark.timeout(30)


def _const(value: float):  # type: ignore[no-untyped-def]
    return lambda: value


# --------------------------------------------------------------------------- backoff


def test_full_jitter_stays_under_a_growing_capped_ceiling() -> None:
    b = Backoff(base_s=1, max_s=300, multiplier=2)
    assert [b.ceiling_s(n) for n in (1, 2, 3, 4, 9, 10, 50, 5000)] == [
        1,
        2,
        4,
        8,
        256,
        300,
        300,
        300,
    ]
    assert b.delay_s(4, rand=_const(0.5)) == 4.0
    assert b.delay_s(4, rand=_const(0.0)) == 0.0
    assert b.delay_s(20, rand=_const(0.999)) < 300


def test_other_jitter_modes() -> None:
    assert Backoff(jitter="equal").delay_s(3, rand=_const(0.0)) == 2.0
    assert Backoff(jitter="equal").delay_s(3, rand=_const(0.5)) == 3.0
    assert Backoff(jitter="none").delay_s(3, rand=_const(0.7)) == 4.0


def test_retry_after_is_a_floor_with_a_little_jitter() -> None:
    b = Backoff(retry_after_jitter_s=1.0)
    assert b.delay_s(1, retry_after_s=30, rand=_const(0.0)) == 30.0
    assert b.delay_s(1, retry_after_s=30, rand=_const(0.5)) == 30.5
    # Never below the peer's value, even when backoff alone would be shorter.
    assert b.delay_s(2, retry_after_s=10, rand=_const(0.9)) >= 10
    # A peer's value beyond max_s is still honoured.
    assert Backoff(max_s=5).delay_s(1, retry_after_s=60, rand=_const(0.0)) == 60.0
    # When backoff is longer than the peer asked, backoff wins.
    assert Backoff(jitter="none").delay_s(6, retry_after_s=1, rand=_const(0.0)) == 32.0


def test_deterministic_with_seeded_rand() -> None:
    import random

    b = Backoff()
    r1, r2 = random.Random(7), random.Random(7)
    assert [b.delay_s(n, rand=r1.random) for n in range(1, 12)] == [
        b.delay_s(n, rand=r2.random) for n in range(1, 12)
    ]


def test_budget_and_attempts() -> None:
    b = Backoff(give_up_after_s=60, max_attempts=5)
    assert b.allows(1, elapsed_s=0, next_delay_s=30)
    assert not b.allows(1, elapsed_s=40, next_delay_s=30)
    assert not b.allows(5, elapsed_s=0, next_delay_s=0)
    assert Backoff(give_up_after_s=None).allows(100, elapsed_s=1e9, next_delay_s=1e9)


def test_invalid_backoff() -> None:
    for kwargs in ({"multiplier": 0.5}, {"base_s": -1}, {"jitter": "half"}, {"max_attempts": 0}):
        with pytest.raises(ValueError):
            Backoff(**kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Backoff().delay_s(0)


# --------------------------------------------------------------------------- token buckets


def test_bucket_bursts_then_spaces_reservations() -> None:
    b = TokenBucket(rate_per_s=2, burst=3)
    assert [b.take(100.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.5, 1.0]
    # Time passes: by 101.0 the queue up to 101.0 is served, the next waits its turn.
    assert b.take(101.0) == pytest.approx(0.5)
    assert b.take(110.0) == 0.0  # refilled (capped at burst) after a long idle


def test_bucket_refill_is_capped_and_time_never_runs_back() -> None:
    b = TokenBucket(rate_per_s=1, burst=2)
    assert b.take(0.0) == 0.0
    assert b.take(0.0) == 0.0
    assert b.wait_s(0.5) == pytest.approx(0.5)
    assert b.take(1000.0) == 0.0
    assert b.take(1000.0) == 0.0
    assert b.take(999.0) == pytest.approx(2.0)  # an earlier clock is treated as the latest
    with pytest.raises(ValueError):
        b.take(0.0, tokens=3)
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_multi_limit_waits_for_the_slowest_and_reserves_everywhere() -> None:
    fast, slow = TokenBucket(10, burst=1), TokenBucket(1, burst=1)
    limit = MultiLimit([fast, slow])
    assert limit.take(0.0) == 0.0
    assert limit.take(0.0) == pytest.approx(1.0)  # slow bucket decides
    assert fast.wait_s(0.0) == pytest.approx(1.1)  # reserved at t=1.0 in the fast one too


def test_telegram_limits_per_chat_group_and_bot() -> None:
    bot = telegram_bot_bucket()
    private = telegram_chat_limit(bot, group=False)
    group = telegram_chat_limit(bot, group=True)
    # One chat: one message per second.
    assert [private.take(0.0) for _ in range(3)] == pytest.approx([0.0, 1.0, 2.0])
    # A group: never more than 20 in any 60 s window.
    now, sent = 0.0, []
    for _ in range(45):
        now += group.take(now)
        sent.append(now)
    for i in range(len(sent)):
        assert sum(1 for t in sent if sent[i] <= t < sent[i] + 60) <= 20


def test_telegram_bot_bucket_caps_all_chats() -> None:
    bot = telegram_bot_bucket()
    chats = [telegram_chat_limit(bot, group=False) for _ in range(100)]
    sent = [c.take(0.0) for c in chats]  # 100 chats at once
    assert sum(1 for t in sent if t < 1.0) <= 30
    assert max(sent) == pytest.approx(99 / 29)


def test_slack_webhook_one_per_second() -> None:
    limit = slack_webhook_limit()
    assert [limit.take(5.0) for _ in range(3)] == pytest.approx([0.0, 1.0, 2.0])


@pytest.mark.parametrize("module", ["alerts.retry", "alerts.ratelimit", "alerts.secrets"])
def test_pure_modules_load_no_io_library(module: str) -> None:
    code = (
        f"import sys, {module}; "
        "print(','.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('aiohttp', 'aiokafka', 'faust', 'prometheus_client'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
