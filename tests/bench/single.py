"""Single-position messages (issue 18): what a third-party producer sends, one position a
message keyed by icao24, measured in one run on one broker so the figures compare:

- the raw aiokafka baseline on those messages (decode + point-in-zone, no Faust);
- a minimal faust-streaming agent with a table written on change (``procs faustmin``);
- the skyfence worker alone on them;
- the front stage (``python -m streams.front``) plus the worker, end to end, over the same
  messages, with the CPU each process used over the window (cores);
- (``latency_rate_per_s``) p99 position-to-alert through the front stage, single messages
  sent live at that rate (25,000/s, the world's peak, by default).

``python -m tests.bench.single [--broker tansu|kafka] [--seconds N] [--profile DIR]`` runs
the stage alone; with ``--profile`` the Faust agent and the worker run under cProfile for
their whole window and the top functions are printed (the issue's "measure first").
"""

from __future__ import annotations

import argparse
import asyncio
import pstats
import sys
import uuid
from pathlib import Path
from typing import Any

from streams.topics import ensure_topics
from tests.bench.pipeline import (
    PARTITIONS,
    WORK,
    Child,
    _backlog_rate,
    _first_t,
    _last_increase_t,
    _one_shot,
    _progress,
    _settings,
    _steady_rate,
    _wait_total,
    front_stage,
    latency,
    write_traffic,
)

__all__ = ["run_single"]


def _say(text: str) -> None:
    print(f"-- {text}", file=sys.stderr, flush=True)


async def _consume_all(
    role: str,
    bootstrap: str,
    prefix: str,
    total: int,
    *,
    session_timeout_s: float,
    profile: str = "",
    extra: tuple[str, ...] = (),
) -> tuple[float, float, Child]:
    """Run ``procs ROLE`` over the pre-loaded topic with a fresh group until it has handled
    ``total`` positions; its steady rate, its CPU seconds and the child."""
    app_id = f"{role}-{uuid.uuid4().hex[:6]}"
    child = await Child.start(
        "-m",
        "tests.bench.procs",
        role,
        "--bootstrap",
        bootstrap,
        "--app-id",
        app_id,
        "--prefix",
        prefix,
        "--partitions",
        str(PARTITIONS),
        "--session-timeout-s",
        str(session_timeout_s),
        "--data-dir",
        str(WORK / "faust" / app_id),
        "--profile",
        profile,
        *extra,
    )
    try:
        await _wait_total([child], total, timeout_s=900, stall_s=60)
    finally:
        await child.stop()
    rate, _window = _steady_rate([child])
    stopped = child.last("stopped") or {}
    return rate, float(stopped.get("cpu_s", 0.0)), child


async def run_single(
    bootstrap: str,
    broker_name: str,
    *,
    seconds: int,
    session_timeout_s: float,
    profile_dir: Path | None = None,
    latency_rate_per_s: float = 25_000.0,
    latency_duration_s: int = 60,
) -> dict[str, Any]:
    """The single-message stage on one broker; figures keyed ``single_*``."""
    WORK.mkdir(parents=True, exist_ok=True)
    traffic = WORK / f"single-traffic-{seconds}s.jsonl"
    if not traffic.exists():
        n = write_traffic(traffic, 15_000, seconds, seed=3)
    else:
        n = sum(1 for _ in traffic.open("rb"))
    prefix = f"sg-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, _settings(bootstrap, prefix))
    _say(f"{broker_name}: {n:,} single-position messages keyed by icao24")
    await _one_shot(
        "rawsend",
        "--bootstrap",
        bootstrap,
        "--topic",
        f"{prefix}.positions",
        "--file",
        str(traffic),
    )
    out: dict[str, Any] = {"single_positions": n}
    _say(f"{broker_name}: raw aiokafka baseline on single messages")
    base = await _one_shot(
        "baseline",
        "--bootstrap",
        bootstrap,
        "--topic",
        f"{prefix}.positions",
        "--partitions",
        str(PARTITIONS),
        "--expect",
        str(n),
    )
    out["single_baseline_positions_per_s"] = base["positions_per_s"]
    profiles: dict[str, Path] = {}
    for role, key in (("faustmin", "single_faust_minimal"), ("worker", "single_worker")):
        _say(f"{broker_name}: {role} on single messages")
        path = profile_dir / f"{role}.prof" if profile_dir else None
        if path:
            profiles[role] = path
        rate, cpu_s, _child = await _consume_all(
            role,
            bootstrap,
            prefix,
            n,
            session_timeout_s=session_timeout_s,
            profile=str(path or ""),
        )
        out[f"{key}_positions_per_s"] = rate
        out[f"{key}_cpu_s"] = round(cpu_s, 2)
    base_rate = out["single_baseline_positions_per_s"]
    if base_rate:
        out["single_faust_minimal_ratio"] = out["single_faust_minimal_positions_per_s"] / base_rate
        out["single_worker_ratio"] = out["single_worker_positions_per_s"] / base_rate
    if out["single_faust_minimal_positions_per_s"]:
        out["single_worker_vs_faust_minimal"] = (
            out["single_worker_positions_per_s"] / out["single_faust_minimal_positions_per_s"]
        )
    out.update(await _front_and_worker(bootstrap, broker_name, prefix, n, session_timeout_s))
    if out.get("single_front_worker_positions_per_s") and base_rate:
        out["single_front_worker_ratio"] = out["single_front_worker_positions_per_s"] / base_rate
    if latency_rate_per_s:
        _say(
            f"{broker_name}: alert latency through the front stage at "
            f"{latency_rate_per_s:,.0f} single messages/s"
        )
        lat = await latency(
            bootstrap,
            session_timeout_s=session_timeout_s,
            rate_per_s=latency_rate_per_s,
            duration_s=latency_duration_s,
            front=True,
        )
        out.update({k.replace("latency_", "single_front_latency_", 1): v for k, v in lat.items()})
    for role, path in profiles.items():
        if path.exists():
            print(f"==== {role}: cProfile over its window, top by own time", flush=True)
            stats = pstats.Stats(str(path))
            stats.sort_stats("tottime").print_stats(30)
            print(f"==== {role}: top by cumulative time", flush=True)
            stats.sort_stats("cumulative").print_stats(40)
    return out


async def _front_and_worker(
    bootstrap: str, broker_name: str, raw_prefix: str, n: int, session_timeout_s: float
) -> dict[str, Any]:
    """The front stage over the pre-loaded single messages (its raw topic) into a fresh
    positions topic, and a worker on that: positions/s end to end (first position handled
    to last) and the CPU each process used over that window."""
    prefix = f"sf-{uuid.uuid4().hex[:6]}"
    await ensure_topics(bootstrap, _settings(bootstrap, prefix))
    _say(f"{broker_name}: front stage + worker over {n:,} single messages")
    app_id = f"worker-{uuid.uuid4().hex[:6]}"
    worker = await Child.start(
        "-m", "tests.bench.procs", "worker", "--bootstrap", bootstrap, "--app-id", app_id,
        "--prefix", prefix, "--partitions", str(PARTITIONS),
        "--session-timeout-s", str(session_timeout_s), "--data-dir", str(WORK / "faust" / app_id),
    )  # fmt: skip
    front = None
    try:
        await worker.wait_for(lambda line: line.get("assigned", 0) == PARTITIONS, 120)
        front = await front_stage(bootstrap, prefix, f"{raw_prefix}.positions")
        await _wait_total([worker], n, timeout_s=900, stall_s=60)
        # The front stage's whole life (imports and group join included): errs high.
        front_cpu = float((front.last("progress") or {}).get("cpu_s", 0.0))
    finally:
        if front is not None:
            await front.stop()
        await worker.stop()
    samples = _progress(worker)
    t0, t1 = _first_t(samples), _last_increase_t(samples)
    window = (t1 - t0) if t0 is not None and t1 is not None else 0.0
    out: dict[str, Any] = {
        "single_front_worker_positions_per_s": _backlog_rate([worker], n),
        "single_front_worker_window_s": round(window, 2),
    }
    worker_cpu = float((worker.last("stopped") or {}).get("cpu_s", 0.0))
    if window > 0:
        out["single_front_cores"] = round(front_cpu / window, 2)
        # The worker's whole life (start-up included) over the window: errs high.
        out["single_front_worker_cores"] = round(worker_cpu / window, 2)
    return out


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(prog="python -m tests.bench.single")
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    parser.add_argument("--seconds", type=int, default=8, help="seconds of 15,000-aircraft traffic")
    parser.add_argument("--profile", type=Path, default=None, help="directory for cProfile files")
    parser.add_argument(
        "--latency-rate",
        type=float,
        default=25_000.0,
        help="single messages/s for the latency run through the front stage (0: skip)",
    )
    parser.add_argument("--latency-seconds", type=int, default=60, help="length of that run")
    args = parser.parse_args(argv)
    from tests.support.brokers import ApacheKafkaBroker, TansuBroker

    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    broker_cls: Any = TansuBroker if args.broker == "tansu" else ApacheKafkaBroker
    with broker_cls() as broker:
        timeout = 2.0 if args.broker == "tansu" else 10.0
        out = asyncio.run(
            run_single(
                broker.bootstrap,
                args.broker,
                seconds=args.seconds,
                session_timeout_s=timeout,
                profile_dir=args.profile,
                latency_rate_per_s=args.latency_rate,
                latency_duration_s=args.latency_seconds,
            )
        )
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
