"""Crash simulation on the tracker's pure shell: is a consistent cut enough?

``python -m tests.chaos.crashsim [--cuts N] [--seed S]`` replays the seed scenario through
:class:`streams.app.TrackerApp` with a dict for the table (no Kafka, no Faust), once
uninterrupted and once per random cut point: at the cut, the worker "dies" and a new one
starts from the table exactly as the first left it (every write made before the cut, none
after: what a commit that follows a drained flush gives) and handles the rest. Any event
that differs from the uninterrupted run is printed. Issue 13 used it to show that the
tracker's far-aircraft checkpoints (``checkpoint_far_s``) do not by themselves cause the
spurious signal-loss alerts scenario 1 saw (0 of 150 cuts differed): those came from
offsets committed past table writes still in Faust's buffer (streams/faust_tuning.py).
A tool, not a test: each cut replays the whole seed (~3 s).
"""

from __future__ import annotations

import argparse
import asyncio
import random
from collections.abc import Sequence
from typing import Any

from prometheus_client import CollectorRegistry

from streams.app import TrackerApp
from streams.codec import decode_event, partition_of
from streams.config import StreamSettings
from streams.metrics import TrackerMetrics
from streams.models import PositionReport
from streams.replay import read_recording_raw
from streams.tracking import Policy, Tracker
from streams.zones import builtin_zone
from tests.conftest import SEED_SCENARIO

#: Partitions of the simulated positions topic (the chaos runs' default).
PARTITIONS = 4


class _Topic:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def _shell(table: dict[bytes, bytes]) -> TrackerApp:
    return TrackerApp(
        app=None,  # type: ignore[arg-type]
        settings=StreamSettings(partitions=PARTITIONS),
        tracker=Tracker([builtin_zone("dprk")], Policy()),
        metrics=TrackerMetrics(CollectorRegistry()),
        positions=_Topic(),
        events=_Topic(),
        dead_letters=_Topic(),
        table=table,
        clock=lambda: 0.0,
        partitions={},
        listeners=[],
    )


async def replay_with_crash(
    items: list[tuple[PositionReport, bytes]], cut: int | None, rewind: int = 0
) -> list[str]:
    """Event ids of one replay, with a crash before item ``cut`` (None: no crash). The new
    worker starts from the table as the first left it and handles the items from
    ``cut - rewind`` on: ``rewind`` items were handled (their table writes made) but their
    offsets not committed, as at-least-once allows."""
    table: dict[bytes, bytes] = {}
    shell, ids = _shell(table), []
    i = 0
    while i < len(items):
        if i == cut:
            ids += [decode_event(s["value"]).event_id for s in shell.events.sent]
            shell = _shell(dict(table))
            cut = None
            i = max(0, i - rewind)
        report, raw = items[i]
        await shell.handle(report.icao24.encode(), raw, partition_of(report.icao24, PARTITIONS))
        i += 1
    return ids + [decode_event(s["value"]).event_id for s in shell.events.sent]


def seed_positions() -> list[tuple[PositionReport, bytes]]:
    """The seed scenario's positions, each with its raw message."""
    return [
        (item, raw)
        for item, raw in read_recording_raw(SEED_SCENARIO)
        if isinstance(item, PositionReport)
    ]


async def simulate(cuts: int, seed: int, rewind: int = 0) -> int:
    """Print every cut whose events differ from the uninterrupted run (with ``rewind``, whose
    event ids differ as sets: what is handled again may be emitted again, under the same id,
    which the notifier's outbox drops); return how many."""
    items = seed_positions()
    want = await replay_with_crash(items, None)
    bad = 0
    for cut in sorted(random.Random(seed).sample(range(1, len(items)), cuts)):
        got = await replay_with_crash(items, cut, rewind)
        if (set(got) != set(want)) if rewind else (got != want):
            bad += 1
            extra = sorted(set(got) - set(want))
            missing = sorted(set(want) - set(got))
            print(f"cut {cut} (ts {items[cut][0].ts:.0f}): extra {extra}, missing {missing}")
    print(f"crashsim: {bad} of {cuts} cuts differ from the uninterrupted run ({len(want)} events)")
    return bad


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.crashsim", description=__doc__)
    parser.add_argument("--cuts", type=int, default=20, help="random cut points (default 20)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument(
        "--rewind",
        type=int,
        default=0,
        help="items handled before the cut but not committed, handled again (default 0)",
    )
    args = parser.parse_args(argv)
    return 1 if asyncio.run(simulate(args.cuts, args.seed, args.rewind)) else 0


if __name__ == "__main__":
    raise SystemExit(main())
