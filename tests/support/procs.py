"""Worker processes for integration tests: start ``skyfence worker`` as a subprocess, keep its
output in files, wait for a condition while watching that no worker died."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.conftest import REPO

__all__ = ["Worker", "events_committed", "kill_all", "start_worker", "wait_for"]


@dataclass
class Worker:
    """A ``skyfence worker`` subprocess and its output files."""

    name: str
    proc: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    files: tuple[IO[bytes], IO[bytes]]

    def stderr_text(self) -> str:
        return self.stderr.read_text(errors="replace")

    def close_files(self) -> None:
        for f in self.files:
            f.close()

    def dump(self) -> str:
        return (
            f"===== worker {self.name} (rc={self.proc.returncode}) stdout =====\n"
            f"{self.stdout.read_text(errors='replace')[-20000:]}\n"
            f"===== worker {self.name} stderr =====\n{self.stderr_text()[-40000:]}\n"
        )


def kill_all(workers: Sequence[Worker], *, dump: bool = False) -> None:
    """SIGKILL every worker still running (a test's cleanup); print their output if ``dump``."""
    for w in workers:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(10)
        if dump:
            print(w.dump())


def start_worker(name: str, cmd: list[str], env: dict[str, str], tmp: Path) -> Worker:
    """Start ``cmd`` in the repository with ``env``; stdout/stderr to files in ``tmp``."""
    out, err = tmp / f"worker-{name}.out", tmp / f"worker-{name}.err"
    fo, fe = out.open("wb"), err.open("wb")
    proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, env=env, cwd=REPO)
    return Worker(name, proc, out, err, (fo, fe))


async def wait_for(
    cond: Callable[[], bool], timeout_s: float, what: str, workers: Sequence[Worker]
) -> None:
    """Poll ``cond`` every 0.1 s until true; fail if a worker exits or on timeout."""
    deadline = time.monotonic() + timeout_s
    while not cond():
        for w in workers:
            if w.proc.poll() is not None:
                raise AssertionError(
                    f"worker {w.name} exited ({w.proc.returncode}) while waiting for {what}"
                )
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


async def events_committed(
    bootstrap: str, group: str, topic: str, total: int, partitions: int = 4
) -> bool:
    """True once the group has committed every event of ``topic`` and the topic holds ``total``.

    Faust flushes its producer (the outbox changelog included) before it commits, so from
    then on each pending entry A wrote is in the changelog, and B must take it from there
    rather than from the events read again."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        if sum(ends.values()) != total:
            return False
        return all(
            (meta := committed.get(tp)) is not None and meta.offset >= ends[tp] for tp in tps
        )
    finally:
        await consumer.stop()
        await admin.close()
