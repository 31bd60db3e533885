"""The front stage (``python -m streams.front kafka://RAW``, what ``skyfence ingest
kafka://RAW`` runs) between single keyed messages and the worker, on Tansu and Apache Kafka:
the seed scenario gives exactly the golden events, also when the front stage is SIGKILLed
mid-stream and started again (it re-reads what it had not committed; the worker drops the
repeats)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from alerts.channels.base import ListChannel
from alerts.runner import Pipeline, start_pipeline
from streams.codec import encode_event, encode_watermark
from streams.models import PositionReport
from streams.replay import read_recording_raw
from streams.topics import ensure_topics
from tests.conftest import SEED_SCENARIO, golden_as_delivered
from tests.integration.test_pipeline import _settings, _sort_key, broker  # noqa: F401

pytestmark = [pytest.mark.integration, pytest.mark.timeout(420)]

REPO = Path(__file__).resolve().parents[2]


async def _load_raw(bootstrap: str, topic: str, partitions: int) -> int:
    """The seed as single messages keyed by icao24 (Kafka's default partitioner), then each
    partition's watermark; returns the number of positions."""
    items = [(r, raw) for r, raw in read_recording_raw(SEED_SCENARIO) if isinstance(r, PositionReport)]
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, value=raw, key=r.icao24.encode()) for r, raw in items]
        await asyncio.gather(*futures)
        last_ts = max(r.ts for r, _ in items)
        for partition in range(partitions):
            await (await producer.send(topic, value=encode_watermark(last_ts), partition=partition))
    finally:
        await producer.stop()
    return len(items)


class Front:
    """The front stage in its own process, its progress lines read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.progress: dict[str, Any] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls, settings: Any, raw_topic: str, round_max_records: int, *, cli: bool = False
    ) -> Front:
        """``python -m streams.front`` with progress lines, or (``cli``) the user's command,
        ``skyfence ingest kafka://RAW``."""
        env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "SKYFENCE_POSITIONS_TOPIC": settings.positions_topic,
            "SKYFENCE_EVENTS_TOPIC": settings.events_topic,
            "SKYFENCE_DEAD_LETTER_TOPIC": settings.dead_letter_topic,
            "SKYFENCE_PARTITIONS": str(settings.partitions),
        }
        if cli:
            argv = ["-m", "alerts.cli", "ingest", f"kafka://{raw_topic}", "--broker", settings.broker]
        else:
            argv = [
                "-m", "streams.front", f"kafka://{raw_topic}", "--broker", settings.broker,
                "--progress", "--round-max-records", str(round_max_records),
            ]  # fmt: skip
        proc = await asyncio.create_subprocess_exec(
            sys.executable, *argv, env=env, cwd=REPO, stdout=asyncio.subprocess.PIPE
        )
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for line in self.proc.stdout:
            try:
                self.progress = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue

    async def wait_messages(self, n: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.progress.get("messages", 0) < n:
            assert self.proc.returncode is None, "front stage exited"
            assert time.monotonic() < deadline, f"front stage stuck at {self.progress}"
            await asyncio.sleep(0.02)

    async def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.returncode is None:
            self.proc.send_signal(sig)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        await self._reader
        return code


async def _wait_done(pipeline: Pipeline, partitions: int, timeout_s: float) -> None:
    """Until every positions partition got the forwarded end-of-stream watermark (it follows
    every position in its partition) and the notifier has read every event..."""
    deadline = time.monotonic() + timeout_s
    bundle, notifier = pipeline.bundle, pipeline.notifier

    def watermarks() -> int:  # applied, or refused as ahead of a quiet partition's positions
        return bundle.watermarks

    # ...and has handled what it read and sent what it queued (a stop leaves queued alerts
    # pending for the next start: the channel would miss them).
    while not (watermarks() >= partitions and notifier.read >= bundle.emitted and notifier.idle()):
        assert time.monotonic() < deadline, (
            f"not drained: {bundle.handled} handled, {watermarks()} watermarks, "
            f"notifier read {notifier.read}/{bundle.emitted}, handled {notifier.handled}"
        )
        await asyncio.sleep(0.1)


def _golden() -> list[bytes]:
    # As channels receive them: enriched once by the notifier (tests/conftest.py).
    return sorted(golden_as_delivered(), key=_sort_key)


@pytest.mark.parametrize("kill", [False, True], ids=["clean", "sigkill"])
async def test_single_messages_through_the_front_stage_give_the_golden_events(  # type: ignore[no-untyped-def]
    broker,  # noqa: F811
    tmp_path: Path,
    kill: bool,
) -> None:
    settings = _settings(broker, tmp_path)
    raw_topic = settings.positions_topic.replace(".positions", ".raw")
    await ensure_topics(broker.bootstrap, settings, extra=[(raw_topic, settings.partitions)])
    n = await _load_raw(broker.bootstrap, raw_topic, settings.partitions)
    channel = ListChannel()
    pipeline = await start_pipeline(settings, broker.bootstrap, [channel])
    fronts: list[Front] = []
    try:
        # Small rounds when killing, so the kill lands mid-stream with rounds uncommitted.
        rounds = 500 if kill else 20_000
        # The clean run goes through the user's command, `skyfence ingest kafka://RAW`.
        fronts.append(await Front.start(settings, raw_topic, rounds, cli=not kill))
        if kill:
            await fronts[0].wait_messages(n // 3, timeout_s=180)
            assert await fronts[0].stop(signal.SIGKILL) == -signal.SIGKILL
            killed_at = fronts[0].progress["messages"]
            assert killed_at < n
            fronts.append(await Front.start(settings, raw_topic, rounds))
        await _wait_done(pipeline, settings.partitions, timeout_s=300)
        handled = pipeline.bundle.handled - settings.partitions  # less the watermarks
        # Nothing lost; after a kill, what the first process sent but had not committed came
        # again (counted by the worker as duplicates, not as new fixes).
        assert handled >= n
        assert pipeline.bundle.single_messages < 50  # batches, not single messages
        if kill:
            assert fronts[1].progress["messages"] > 0
            repeats = sum(
                pipeline.registry.get_sample_value("skyfence_positions_total", {"outcome": o}) or 0
                for o in ("duplicate", "out_of_order")
            )
            assert repeats >= handled - n
    finally:
        for front in fronts:
            await front.stop()
        await pipeline.stop()
    got = sorted((encode_event(e) for e in channel.events), key=_sort_key)
    assert got == _golden()
