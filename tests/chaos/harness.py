"""The machinery every chaos scenario shares: one run's names, fakes, workers and replay.

:class:`ChaosRun` is an async context manager for one run of one scenario on a started
Apache Kafka broker: it gives the run its own app id and topics (a uuid suffix), starts a fake
Slack webhook and a fake Telegram bot on 127.0.0.1 whose every request is timed
(:class:`Timeline`, which can also play a :class:`FaultPlan` outage), starts ``skyfence
worker`` subprocesses (each in its own data directory), replays the seed scenario (all of
it, or the positions before / after a time) and scores what the fakes accepted
(:mod:`tests.chaos.score`). Every worker still running at the end is killed; their output
is kept in the run's directory and appended to the error on failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from aiokafka import AIOKafkaProducer

from streams.models import PositionReport
from streams.producer import PositionPublisher, replay
from streams.replay import read_recording_raw
from tests.chaos.score import ChannelScore, Expected, expected_alerts, score_channel
from tests.conftest import SEED_GOLDEN, SEED_SCENARIO
from tests.fakes.peers import FakePeer, FakeSlackWebhook, FakeTelegram, Recorded, Reply
from tests.support.procs import Worker, start_worker, wait_for

__all__ = ["EXPECTED", "ChaosRun", "FaultPlan", "Timeline"]

#: The alerts each quick channel must receive from the seed scenario.
EXPECTED: list[Expected] = expected_alerts(SEED_GOLDEN)
#: Partitions of each topic.
PARTITIONS = 4
#: Apache Kafka's smallest group session timeout (group.min.session.timeout.ms).
SESSION_TIMEOUT_S = 6.0
#: Client-side HTTP timeout the workers use: short, so "timeout" outages cost little.
HTTP_TIMEOUT_S = 2.0


@dataclass
class FaultPlan:
    """An outage: after ``ok_first`` accepted requests, answer each phase's reply for its
    share of ``window_s`` (wall time, from the first failed request), then accept again."""

    phases: Sequence[Reply]
    ok_first: int
    window_s: float
    started_s: float | None = None
    failed: int = 0

    def reply(self, now_s: float, accepted: int) -> Reply | None:
        if self.started_s is None:
            if accepted < self.ok_first:
                return None
            self.started_s = now_s
        elapsed = now_s - self.started_s
        if elapsed >= self.window_s:
            return None
        self.failed += 1
        phase = int(elapsed / self.window_s * len(self.phases))
        return self.phases[min(phase, len(self.phases) - 1)]

    @property
    def end_s(self) -> float | None:
        return None if self.started_s is None else self.started_s + self.window_s


@dataclass
class Timeline:
    """The outage hook of a fake: times every request, plays an optional fault plan."""

    seen: list[tuple[float, Recorded]] = field(default_factory=list)
    plan: FaultPlan | None = None

    def __call__(self, rec: Recorded) -> Reply | None:
        now = time.monotonic()
        self.seen.append((now, rec))
        if self.plan is None:
            return None
        return self.plan.reply(now, len(self.accepted()))

    def accepted(self) -> list[tuple[float, str]]:
        """(arrival time, event id) of each request answered 200, in arrival order."""
        return [(t, eid) for t, r in self.seen if r.status == 200 and (eid := r.event_id())]


class ChaosRun:
    """One run: names, fakes, workers, replay, score (module docstring)."""

    def __init__(
        self,
        bootstrap: str,
        tmp: Path,
        *,
        tag: str,
        partitions: int = PARTITIONS,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        #: Extra environment of every worker (e.g. replication settings on a cluster).
        self.extra_env = dict(env or {})
        self.tmp = tmp
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.id = f"{tag}-{uuid.uuid4().hex[:8]}"
        self.partitions = partitions
        self.slack = FakeSlackWebhook(lifetime_s=900)
        self.telegram = FakeTelegram(chat_id="424242", lifetime_s=900)
        self.timelines = {"slack": Timeline(), "telegram": Timeline()}
        self.slack.outage = self.timelines["slack"]
        self.telegram.outage = self.timelines["telegram"]
        self.workers: list[Worker] = []
        self.t0 = time.monotonic()

    # -- names -------------------------------------------------------------------------------

    @property
    def positions_topic(self) -> str:
        return f"{self.id}.positions"

    @property
    def events_topic(self) -> str:
        return f"{self.id}.events"

    @property
    def dead_letter_topic(self) -> str:
        return f"{self.id}.dlq"

    @property
    def alerts_dead_letter_topic(self) -> str:
        return f"{self.id}.alerts-dlq"

    @property
    def tracker_group(self) -> str:
        return self.id

    @property
    def notifier_group(self) -> str:
        return f"{self.id}-notifier"

    def peers(self) -> dict[str, FakePeer]:
        return {"slack": self.slack, "telegram": self.telegram}

    # -- lifecycle ---------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await self.slack.__aenter__()
        await self.telegram.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for w in self.workers:
            if w.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    w.proc.send_signal(signal.SIGCONT)  # a stopped worker cannot die otherwise
                w.proc.kill()
                await asyncio.to_thread(w.proc.wait, 10)
            w.close_files()
        await self.slack.stop()
        await self.telegram.stop()

    # -- workers -----------------------------------------------------------------------------

    def env(self, worker: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "SKYFENCE_APP_ID": self.id,
            "SKYFENCE_POSITIONS_TOPIC": self.positions_topic,
            "SKYFENCE_EVENTS_TOPIC": self.events_topic,
            "SKYFENCE_DEAD_LETTER_TOPIC": self.dead_letter_topic,
            "SKYFENCE_ALERTS_DEAD_LETTER_TOPIC": self.alerts_dead_letter_topic,
            "SKYFENCE_PARTITIONS": str(self.partitions),
            "SKYFENCE_DATA_DIR": str(self.tmp / f"faust-{worker}"),
            "SKYFENCE_ALERT_RETRY_MAX_S": "3",
            "SKYFENCE_HTTP_TIMEOUT_S": str(HTTP_TIMEOUT_S),
            "SKYFENCE_SESSION_TIMEOUT_S": f"{SESSION_TIMEOUT_S:g}",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
            **extra,
        }

    def command(self, role: str = "all") -> list[str]:
        cmd = [sys.executable, "-m", "alerts.cli", "-v", "worker", "--broker", self.bootstrap]
        if role != "all":
            cmd += ["--role", role]
        if role != "tracker":
            cmd += [
                "--slack-webhook", self.slack.webhook_url,
                "--telegram-token", self.telegram.token,
                "--telegram-chat", self.telegram.chat_id,
                "--telegram-api-url", self.telegram.url,
                "--replay-alerts", "--no-maps", "--no-console",
            ]  # fmt: skip
        return cmd

    async def start_worker(self, name: str, role: str = "all", *, wait: bool = True) -> Worker:
        """Start ``skyfence worker --role role``; wait until it says it runs."""
        w = start_worker(name, self.command(role), self.env(name), self.tmp)
        self.workers.append(w)
        if wait:
            await wait_for(lambda: "running" in w.stderr_text(), 90, f"{name} to start", [w])
        return w

    def live(self) -> list[Worker]:
        return [w for w in self.workers if w.proc.poll() is None]

    async def stop_worker(self, w: Worker, timeout_s: float = 30.0) -> None:
        """SIGTERM and wait; a graceful stop must exit 0."""
        w.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(w.proc.wait, timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"worker {w.name} did not stop within {timeout_s} s") from None
        if w.proc.returncode != 0:
            raise AssertionError(f"worker {w.name} exited {w.proc.returncode}")

    async def kill_worker(self, w: Worker) -> float:
        """SIGKILL; returns the monotonic time it was dead."""
        w.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(w.proc.wait, 10)
        return time.monotonic()

    # -- input -------------------------------------------------------------------------------

    async def replay_seed(
        self,
        keep: Callable[[float], bool] = lambda ts: True,
        *,
        speed: float | None = None,
    ) -> list[tuple[bytes, bytes]]:
        """Publish the seed's positions whose time ``keep`` accepts (idempotent producer,
        acks=all); returns the (key, raw line) of each, in order."""
        items = [
            (item, raw)
            for item, raw in read_recording_raw(SEED_SCENARIO)
            if isinstance(item, PositionReport) and keep(item.ts)
        ]
        # Idempotent with acks=all: retried sends through a broker crash neither double nor
        # reorder; 3 min of retries outlast a broker restart on a loaded machine.
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            linger_ms=5,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=180_000,
        )
        await producer.start()
        try:
            stats = await replay(
                items, PositionPublisher(producer, self.positions_topic), speed=speed
            )
        finally:
            await producer.stop()
        assert stats.sent == len(items)
        return [
            (item.icao24.encode(), raw) for item, raw in items if isinstance(item, PositionReport)
        ]

    # -- outcome -----------------------------------------------------------------------------

    def accepted(self, channel: str) -> list[tuple[float, str]]:
        return self.timelines[channel].accepted()

    def all_delivered(self) -> bool:
        want = {e.event_id for e in EXPECTED}
        return all(want <= {eid for _t, eid in self.accepted(c)} for c in self.timelines)

    async def wait_delivered(
        self, timeout_s: float, workers: Sequence[Worker] | None = None, settle_s: float = 3.0
    ) -> None:
        """Wait until both channels have every expected alert, then ``settle_s`` more (a
        duplicate would arrive about then)."""
        await wait_for(
            self.all_delivered, timeout_s, "every alert on both channels",
            self.live() if workers is None else workers,
        )  # fmt: skip
        await asyncio.sleep(settle_s)

    def score(self, fault_end_s: float | None) -> list[ChannelScore]:
        return [
            score_channel(name, EXPECTED, self.accepted(name), fault_end_s)
            for name in self.timelines
        ]

    def dump(self) -> str:
        """Every worker's output tail and what each fake saw (for a failure message)."""
        parts = [w.dump() for w in self.workers]
        for name, tl in self.timelines.items():
            parts.append(
                f"{name}: "
                + str([(round(t - self.t0, 1), r.status, r.event_id()) for t, r in tl.seen])
            )
        return "\n".join(parts)
