"""Single-position messages (issue 18): what a third-party producer sends, one position a
message keyed by icao24, measured in one run on one broker so the figures compare:

- the raw aiokafka baseline on those messages (decode + point-in-zone, no Faust);
- a minimal faust-streaming agent with a table written on change (``procs faustmin``);
- the skyfence worker alone on them;
- (when the front stage is there) the front stage plus the worker, end to end.

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
    _one_shot,
    _settings,
    _steady_rate,
    _wait_total,
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
    for role, path in profiles.items():
        if path.exists():
            print(f"==== {role}: cProfile over its window, top by own time", flush=True)
            stats = pstats.Stats(str(path))
            stats.sort_stats("tottime").print_stats(30)
            print(f"==== {role}: top by cumulative time", flush=True)
            stats.sort_stats("cumulative").print_stats(40)
    return out


def main(argv: list[str] | None = None) -> None:
    import json

    parser = argparse.ArgumentParser(prog="python -m tests.bench.single")
    parser.add_argument("--broker", choices=("tansu", "kafka"), default="tansu")
    parser.add_argument("--seconds", type=int, default=8, help="seconds of 15,000-aircraft traffic")
    parser.add_argument("--profile", type=Path, default=None, help="directory for cProfile files")
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
            )
        )
    print(json.dumps(out, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
