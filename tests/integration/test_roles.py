"""Tracker and notifier as two apps, on Apache Kafka: ``skyfence worker --role tracker`` and
``--role notifier`` in two processes deliver the seed scenario's alerts exactly once, as one
``--role all`` process does.

In the split layout the notifier is also stopped (SIGTERM) after its first deliveries and a
new notifier process takes over while the tracker keeps running: delivery restarts on its own,
from its own consumer group and outbox, and still sends each alert once.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.conftest import SEED_GOLDEN, SEED_SCENARIO
from tests.fakes.peers import FakeSlackWebhook, Recorded, Reply, accepted_event_ids
from tests.support.procs import Worker, events_committed, kill_all, start_worker, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka, pytest.mark.timeout(420)]

PARTITIONS = 4


def _expected_ids() -> list[str]:
    # A quick Slack channel gets the default routing: every event type but `approaching`.
    events = [orjson.loads(line) for line in SEED_GOLDEN.read_bytes().splitlines() if line.strip()]
    return sorted(e["event_id"] for e in events if e["type"] != "approaching")


@dataclass
class Gate:
    """Slack outage hook: accept ``ok_first`` requests, then 503 until ``open``."""

    ok_first: int = 3
    open: bool = False
    accepted: int = 0

    def __call__(self, rec: Recorded) -> Reply | None:
        if self.open or self.accepted < self.ok_first:
            self.accepted += 1
            return None  # the fake's documented success
        return Reply(503, "service_unavailable")


async def _stop(worker: Worker, timeout_s: float = 30.0) -> None:
    worker.proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.to_thread(worker.proc.wait, timeout_s)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"worker {worker.name} did not stop within {timeout_s} s") from None
    assert worker.proc.returncode == 0, worker.dump()


@pytest.mark.parametrize("layout", ["all", "split"])
async def test_roles_deliver_the_seed_exactly_once(
    kafka_broker, tmp_path: Path, layout: str
) -> None:  # type: ignore[no-untyped-def]
    bootstrap = kafka_broker.bootstrap
    run = uuid.uuid4().hex[:8]
    expected = _expected_ids()
    workers: list[Worker] = []
    gate = Gate()
    async with FakeSlackWebhook(lifetime_s=410) as slack:
        if layout == "split":
            slack.outage = gate
        env = {
            **os.environ,
            "SKYFENCE_APP_ID": f"roles-{run}",
            "SKYFENCE_POSITIONS_TOPIC": f"roles-{run}.positions",
            "SKYFENCE_EVENTS_TOPIC": f"roles-{run}.events",
            "SKYFENCE_DEAD_LETTER_TOPIC": f"roles-{run}.dlq",
            "SKYFENCE_ALERTS_DEAD_LETTER_TOPIC": f"roles-{run}.alerts-dlq",
            "SKYFENCE_PARTITIONS": str(PARTITIONS),
            "SKYFENCE_DATA_DIR": str(tmp_path / "faust"),
            "SKYFENCE_SESSION_TIMEOUT_S": "6",  # Apache Kafka's minimum
            "PYTHONUNBUFFERED": "1",
        }
        base = [sys.executable, "-m", "alerts.cli", "-v", "worker", "--broker", bootstrap]
        channel = ["--slack-webhook", slack.webhook_url, "--replay-alerts", "--no-maps", "--no-console"]  # fmt: skip
        try:
            if layout == "all":
                workers.append(start_worker("all", [*base, *channel], env, tmp_path))
            else:
                workers.append(start_worker("tracker", [*base, "--role", "tracker"], env, tmp_path))
                workers.append(
                    start_worker(
                        "notifier-1", [*base, "--role", "notifier", *channel], env, tmp_path
                    )
                )
            for w in workers:
                await wait_for(
                    lambda w=w: "running" in w.stderr_text(), 120, f"{w.name} to start", workers
                )
            if layout == "split":
                assert "worker (tracker) running" in workers[0].stderr_text()
                assert "worker (notifier) running" in workers[1].stderr_text()

            producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, acks="all")
            await producer.start()
            try:
                await replay(
                    read_recording_raw(SEED_SCENARIO),
                    PositionPublisher(producer, f"roles-{run}.positions"),
                )
            finally:
                await producer.stop()

            if layout == "split":
                # Restart delivery alone: after three alerts Slack answers 503 until the first
                # notifier has stopped, so most alerts are pending in its outbox then.
                await wait_for(
                    lambda: len(accepted_event_ids(slack)) >= 3, 180, "first alerts", workers
                )
                # ... and once it has taken in every event (offsets committed), so what the
                # second one sends must come from the outbox, not from events read again.
                n_events = sum(1 for line in SEED_GOLDEN.read_bytes().splitlines() if line.strip())
                for _ in range(450):
                    if await events_committed(
                        bootstrap, f"roles-{run}-notifier", f"roles-{run}.events", n_events
                    ):
                        break
                    await asyncio.sleep(0.2)
                else:
                    raise AssertionError("the first notifier did not commit every event in 90 s")
                await _stop(workers[1])
                gate.open = True
                first_sent = len(accepted_event_ids(slack))
                assert first_sent == 3, f"the first notifier sent {first_sent}"
                workers.append(
                    start_worker(
                        "notifier-2", [*base, "--role", "notifier", *channel], env, tmp_path
                    )
                )
                live = [workers[0], workers[2]]
            else:
                live = list(workers)

            await wait_for(
                lambda: len(accepted_event_ids(slack)) >= len(expected),
                180,
                "every alert",
                live,
            )
            await asyncio.sleep(2.0)  # a duplicate would arrive about now
            for w in live:
                await _stop(w)
            got = sorted(accepted_event_ids(slack))
            assert got == expected, f"not each alert exactly once: {got}"
            if layout == "split":
                # The second notifier took the first one's pending alerts from the outbox.
                restored = re.findall(r"restored (\d+) pending", workers[2].stderr_text())
                assert sum(int(n) for n in restored) >= 1, workers[2].dump()
        except BaseException:
            kill_all(workers, dump=True)
            print(f"slack: {[(r.status, r.event_id()) for r in slack.requests]}")
            raise
        finally:
            kill_all(workers)
            for w in workers:
                w.close_files()
