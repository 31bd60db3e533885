"""Delivery guarantee across a hard crash, on Apache Kafka: each alert reaches each routed
channel exactly once, none lost, through an outage of 503/429 answers.

Two real ``skyfence worker`` processes in turn (A, then B after A is SIGKILLed) deliver the
alerts of the seed to in-process fake Slack and Telegram servers. After the first few alerts
both fakes fail every request for a window of wall time (Slack: 503 / 429 + ``Retry-After``;
Telegram: flood control / 502), so worker A holds pending alerts in its outbox when it dies.
Worker B must recover them from the outbox changelog and deliver them once the outage ends.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.conftest import SEED_GOLDEN, SEED_SCENARIO
from tests.fakes.peers import FakeSlackWebhook, FakeTelegram, Recorded, Reply, accepted_event_ids
from tests.support.procs import Worker, events_committed, kill_all, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

#: Requests each fake accepts before its outage starts.
OK_BEFORE_OUTAGE = 3
#: Wall time the outage lasts, from the first failed request (per fake).
OUTAGE_S = 25.0
#: Partitions of each topic.
PARTITIONS = 4
#: Failed requests per fake, at least, before worker A is killed.
FAILURES_BEFORE_KILL = 3


@dataclass
class Outage:
    """An outage hook for a fake: accept ``ok_first`` requests, then answer ``failures`` in
    turn for ``window_s`` seconds of wall time, then accept again. Records each request with
    its arrival time (monotonic), so the test can tell which worker it came from."""

    failures: Sequence[Reply]
    ok_first: int = OK_BEFORE_OUTAGE
    window_s: float = OUTAGE_S
    started_s: float | None = None
    seen: list[tuple[float, Recorded]] = field(default_factory=list)
    failed: int = 0

    def __call__(self, rec: Recorded) -> Reply | None:
        now = time.monotonic()
        self.seen.append((now, rec))
        if self.started_s is None:
            if len(self.seen) <= self.ok_first:
                return None  # the fake's documented success
            self.started_s = now
        if now - self.started_s < self.window_s:
            reply = self.failures[self.failed % len(self.failures)]
            self.failed += 1
            return reply
        return None

    @property
    def ended(self) -> bool:
        return self.started_s is not None and time.monotonic() - self.started_s >= self.window_s

    def accepted(self, before: float | None = None, after: float | None = None) -> list[str]:
        """Event ids answered 200, arrived before/after the given monotonic times."""
        return [
            eid
            for t, r in self.seen
            if r.status == 200
            and (before is None or t < before)
            and (after is None or t >= after)
            and (eid := r.event_id())
        ]


def _expected_ids() -> list[str]:
    # Quick channels get the default routing: every event type but the `approaching` forecast.
    events = [orjson.loads(line) for line in SEED_GOLDEN.read_bytes().splitlines() if line.strip()]
    return sorted(e["event_id"] for e in events if e["type"] != "approaching")


async def test_alerts_exactly_once_through_outage_and_sigkill(kafka_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bootstrap = kafka_broker.bootstrap
    t0 = time.monotonic()
    run = uuid.uuid4().hex[:8]
    expected = _expected_ids()
    assert len(expected) == 15

    slack_outage = Outage(
        [Reply(503, "service_unavailable"), FakeSlackWebhook.error(429, "rate_limited", 2)]
    )
    telegram_outage = Outage([FakeTelegram.flood(2), FakeTelegram.error(502, "Bad Gateway")])
    workers: list[Worker] = []
    async with (
        FakeSlackWebhook(lifetime_s=290) as slack,
        FakeTelegram(chat_id="424242", lifetime_s=290) as telegram,
    ):
        slack.outage = slack_outage
        telegram.outage = telegram_outage
        env = {
            **os.environ,
            "SKYFENCE_APP_ID": f"alerts-{run}",
            "SKYFENCE_POSITIONS_TOPIC": f"alerts-{run}.positions",
            "SKYFENCE_EVENTS_TOPIC": f"alerts-{run}.events",
            "SKYFENCE_DEAD_LETTER_TOPIC": f"alerts-{run}.dlq",
            "SKYFENCE_ALERTS_DEAD_LETTER_TOPIC": f"alerts-{run}.alerts-dlq",
            "SKYFENCE_PARTITIONS": str(PARTITIONS),
            "SKYFENCE_DATA_DIR": str(tmp_path / "faust"),
            "SKYFENCE_ALERT_RETRY_MAX_S": "3",
            "SKYFENCE_SESSION_TIMEOUT_S": "6",  # Apache Kafka's minimum
            "PYTHONUNBUFFERED": "1",
        }
        cmd = [
            sys.executable, "-m", "alerts.cli", "-v", "worker",
            "--broker", bootstrap,
            "--slack-webhook", slack.webhook_url,
            "--telegram-token", telegram.token,
            "--telegram-chat", telegram.chat_id,
            "--telegram-api-url", telegram.url,
            "--replay-alerts", "--no-maps", "--no-console",
        ]  # fmt: skip
        try:
            a = start_worker("A", cmd, env, tmp_path)
            workers.append(a)
            # The worker creates the topics before it says it runs.
            await wait_for(
                lambda: "running on" in a.stderr_text(), 60, "worker A to start", workers
            )

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
            await producer.start()
            try:
                await replay(
                    read_recording_raw(SEED_SCENARIO),
                    PositionPublisher(producer, f"alerts-{run}.positions"),
                )
            finally:
                await producer.stop()

            def outage_bit() -> bool:
                return all(
                    o.started_s is not None and o.failed >= FAILURES_BEFORE_KILL
                    for o in (slack_outage, telegram_outage)
                )

            await wait_for(
                outage_bit, 60, "the first alerts and then failures on both fakes", workers
            )
            # Kill only once A has taken in every event (its offsets committed), so what B
            # delivers must come from the outbox, not from events it reads again.
            n_events = sum(1 for line in SEED_GOLDEN.read_bytes().splitlines() if line.strip())
            deadline = time.monotonic() + 15
            while not await events_committed(
                bootstrap, f"alerts-{run}-notifier", f"alerts-{run}.events", n_events
            ):
                assert a.proc.poll() is None, "worker A exited before committing the events"
                assert time.monotonic() < deadline, "A did not commit every event within 15 s"
                await asyncio.sleep(0.2)
            assert not slack_outage.ended and not telegram_outage.ended, (
                "outage over before the kill"
            )
            last_ok_s = max(
                t for o in (slack_outage, telegram_outage) for t, r in o.seen if r.status == 200
            )
            # Hard crash. Nothing is accepted during the outage (both fakes answer every
            # request with a failure until it ends, and it has not ended), so the kill cannot
            # land between a peer's 200 and the `delivered` record of that alert reaching the
            # outbox changelog: the one window where a redelivery is allowed (notifier
            # docstring). The last 200 was seconds ago (asserted below), far longer than the
            # producer round trip that records it. Exactly once is the required outcome.
            a.proc.send_signal(signal.SIGKILL)
            a.proc.wait(timeout=10)
            killed_s = time.monotonic()
            assert a.proc.returncode == -signal.SIGKILL
            assert killed_s - last_ok_s > 1.0, "killed too soon after a 200"

            b = start_worker("B", cmd, env, tmp_path)
            workers.append(b)
            started_b_s = time.monotonic()

            def all_delivered() -> bool:
                return all(len(accepted_event_ids(p)) >= len(expected) for p in (slack, telegram))

            await wait_for(all_delivered, 120, "every alert on both channels", [b])
            await asyncio.sleep(2.0)  # a duplicate would arrive about now
            b.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(b.proc.wait, 30)
            except subprocess.TimeoutExpired:
                raise AssertionError("worker B did not stop within 30 s of SIGTERM") from None
            assert b.proc.returncode == 0

            for name, peer, outage in (
                ("slack", slack, slack_outage),
                ("telegram", telegram, telegram_outage),
            ):
                got = accepted_event_ids(peer)
                assert sorted(got) == expected, f"{name}: not each alert exactly once: {got}"
                assert outage.failed >= FAILURES_BEFORE_KILL, f"{name}: no outage seen"
                assert outage.started_s is not None
                end_s = outage.started_s + outage.window_s
                assert all(r.status == 200 for t, r in outage.seen if t >= end_s), (
                    f"{name}: failed after the outage"
                )
                by_a = outage.accepted(before=killed_s)
                by_b = outage.accepted(after=started_b_s)
                assert len(by_a) == OK_BEFORE_OUTAGE, f"{name}: accepted from A: {by_a}"
                assert len(by_b) == len(expected) - OK_BEFORE_OUTAGE, (
                    f"{name}: accepted from B: {by_b}"
                )
                assert not set(by_a) & set(by_b), f"{name}: B resent what A delivered"
            # B sent what A left pending, taken from the outbox changelog (not re-read events).
            restored = sum(int(n) for n in re.findall(r"restored (\d+) pending", b.stderr_text()))
            assert restored == 2 * (len(expected) - OK_BEFORE_OUTAGE), f"B restored {restored}"
            print(
                f"kill {killed_s - t0:.1f} s after start; "
                + "; ".join(
                    f"{n}: outage from {o.started_s - t0:.1f} s, {o.failed} failed, "  # type: ignore[operator]
                    f"{len(o.accepted(before=killed_s))} accepted by A, "
                    f"{len(o.accepted(after=started_b_s))} by B, last at {o.seen[-1][0] - t0:.1f} s"
                    for n, o in (("slack", slack_outage), ("telegram", telegram_outage))
                )
            )
        except BaseException:
            kill_all(workers, dump=True)
            print(f"slack: {[(r.status, r.event_id()) for r in slack.requests]}")
            print(f"telegram: {[(r.status, r.event_id()) for r in telegram.requests]}")
            raise
        finally:
            kill_all(workers)
            for w in workers:
                w.close_files()
