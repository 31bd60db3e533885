"""Regression tests for issue 12's command-line defects (``defect_5`` and the CLI side of
``defect_3``): every user error is one line and exit 2, within seconds, leaving nothing
running; ``-`` reads stdin and detection on a pipe loses nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streams.errors import BrokerError
from streams.topics import connect_admin

ROOT = Path(__file__).resolve().parents[2]
SEED = ROOT / "seeds" / "dprk-2023-09.jsonl.gz"
SKYFENCE = [sys.executable, "-m", "alerts.cli"]


def _run(*args: str, stdin: bytes | None = None, timeout_s: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SKYFENCE_")}
    return subprocess.run(
        [*SKYFENCE, *args], input=stdin, capture_output=True, timeout=timeout_s, cwd=ROOT, env=env
    )


def _one_line_error(proc: subprocess.CompletedProcess[bytes]) -> str:
    assert proc.returncode == 2, proc.stderr.decode()
    err = proc.stderr.decode().strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    return err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_defect_3_missing_file_and_directory_are_one_line_exit_2(tmp_path: Path) -> None:
    assert "no such file" in _one_line_error(_run("evaluate", str(tmp_path / "nope.jsonl")))
    assert "directory" in _one_line_error(_run("evaluate", str(tmp_path)))


def test_defect_3_truncated_gzip_prints_the_events_found(tmp_path: Path) -> None:
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(SEED.read_bytes()[:300_000])
    proc = _run("evaluate", str(cut))
    assert proc.returncode == 0
    assert len(proc.stdout.splitlines()) > 0  # the events of the part read
    assert b"truncated: compressed data truncated after line" in proc.stderr


def test_defect_5_stdin_dash_and_pipes_lose_nothing() -> None:
    whole = _run("evaluate", str(SEED))
    piped = _run("evaluate", "-", stdin=gzip.decompress(SEED.read_bytes()))
    assert piped.returncode == 0 and piped.stdout == whole.stdout
    assert piped.stderr.splitlines()[0] == whole.stderr.splitlines()[0]
    # /dev/stdin is a pipe here: detection used to consume its first 64 KB.
    dev = _run("evaluate", "/dev/stdin", stdin=SEED.read_bytes())
    assert dev.stdout == whole.stdout
    one = _run("evaluate", "-", stdin=b'{"icao24":"1551e0","ts":1695690858,"lat":40,"lon":124}\n')
    assert one.returncode == 0 and b"evaluate: 1 positions" in one.stderr


@pytest.mark.parametrize("speed", ["0", "-1", "nan", "inf", "fast"])
def test_defect_5_replay_speed_must_be_above_zero(speed: str) -> None:
    proc = _run("replay", str(SEED), "--broker", "127.0.0.1:9", "--speed", speed)
    assert proc.returncode == 2 and b"--speed" in proc.stderr
    assert b"Traceback" not in proc.stderr


def test_defect_5_replay_checks_its_file_before_connecting(tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _run("replay", str(tmp_path / "nope.jsonl"), "--broker", "127.0.0.1:9")
    assert "no such file" in _one_line_error(proc)
    assert time.monotonic() - started < 10  # no connection attempt (that takes 15 s)
    garbage = tmp_path / "x.bin"
    garbage.write_bytes(os.urandom(1000))
    assert "bad_format" in _one_line_error(_run("replay", str(garbage), "--broker", "127.0.0.1:9"))


async def test_defect_5_unreachable_broker_is_a_bounded_wait_that_says_what_it_tried() -> None:
    port = _free_port()
    started = asyncio.get_running_loop().time()
    with pytest.raises(BrokerError) as info:
        await connect_admin(f"127.0.0.1:{port}", timeout_s=2.0)
    took = asyncio.get_running_loop().time() - started
    assert took < 6.0
    assert f"127.0.0.1:{port}" in str(info.value) and "attempt" in str(info.value)


def test_defect_5_replay_to_an_unreachable_broker_exits_2(tmp_path: Path) -> None:
    proc = _run("replay", str(SEED), "--broker", f"127.0.0.1:{_free_port()}", timeout_s=40)
    err = _one_line_error(proc)
    assert "cannot reach Kafka" in err


def test_defect_5_test_alert_without_a_channel_is_exit_2() -> None:
    assert "no channel configured" in _one_line_error(_run("test-alert"))


def test_defect_5_worker_with_a_taken_metrics_port_stops_at_once() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        proc = _run("worker", "--metrics-port", str(port), timeout_s=30)
    err = _one_line_error(proc)
    assert f"127.0.0.1:{port}" in err
    assert time.monotonic() - started < 20


def test_defect_5_worker_bad_port_value_is_a_usage_error() -> None:
    proc = _run("worker", "--metrics-port", "99999")
    assert proc.returncode == 2 and b"port" in proc.stderr
