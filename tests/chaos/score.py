"""Scoring a chaos run (pure): what each channel received against what it should have.

A run yields, per channel, the event ids the fake peer *accepted* (answered 200), in arrival
order, with arrival times. :func:`score_channel` compares them with the expected alerts (the
seed's golden events, filtered as the routing does) and counts:

- ``missed``: expected alerts never accepted;
- ``duplicated``: accepted more than once (each extra copy counts), plus ``unexpected``
  alerts (ids not in the golden file: e.g. a second ``entered`` after a restart);
- ``out_of_order``: aircraft whose alerts arrived in another order than their event order;
- ``recovery_s``: from the end of the fault to the moment every expected alert had arrived
  (0 when everything had arrived before the fault ended; None when something is missed).

:func:`summary_line` and :func:`reliability_markdown` turn many runs into the ``make chaos``
summary and ``docs/reliability.md``.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

__all__ = [
    "ChannelScore",
    "Expected",
    "RunResult",
    "expected_alerts",
    "reliability_markdown",
    "score_channel",
    "summary_line",
]


@dataclass(frozen=True, slots=True)
class Expected:
    """One alert a quick channel must receive."""

    event_id: str
    icao24: str
    type: str
    observed_ts: float


def expected_alerts(golden: Path) -> list[Expected]:
    """The golden events a quick channel gets (default routing: all but ``approaching``), in
    file order (the tracker's emission order per aircraft)."""
    out = []
    for line in golden.read_bytes().splitlines():
        if not line.strip():
            continue
        e = orjson.loads(line)
        if e["type"] != "approaching":
            out.append(Expected(e["event_id"], e["icao24"], e["type"], float(e["observed_ts"])))
    return out


@dataclass(frozen=True, slots=True)
class ChannelScore:
    """One channel's outcome in one run."""

    channel: str
    expected: int
    delivered: int
    missed: int
    duplicated: int
    unexpected: int
    out_of_order: int
    recovery_s: float | None


def score_channel(
    channel: str,
    expected: Sequence[Expected],
    accepted: Sequence[tuple[float, str]],
    fault_end_s: float | None,
) -> ChannelScore:
    """Score one channel: ``accepted`` is ``(monotonic arrival time, event id)`` of each 200,
    in arrival order; ``fault_end_s`` the monotonic time the fault ended (None: no fault)."""
    want = {e.event_id: e for e in expected}
    counts = Counter(eid for _t, eid in accepted)
    missed = sum(1 for eid in want if counts[eid] == 0)
    duplicated = sum(n - 1 for eid, n in counts.items() if eid in want and n > 1)
    unexpected = sum(n for eid, n in counts.items() if eid not in want)
    # Order per aircraft: the first arrival of each alert, compared with the event order.
    arrived: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for _t, eid in accepted:
        if eid in want and eid not in seen:
            seen.add(eid)
            arrived[want[eid].icao24].append(eid)
    order: dict[str, list[str]] = defaultdict(list)
    for e in expected:
        if e.event_id in seen:
            order[e.icao24].append(e.event_id)
    out_of_order = sum(1 for icao, ids in arrived.items() if ids != order[icao])
    recovery_s: float | None = None
    if missed == 0:
        first: dict[str, float] = {}
        for t, eid in accepted:
            first.setdefault(eid, t)
        done_s = max((first[eid] for eid in want), default=0.0)
        recovery_s = 0.0 if fault_end_s is None else max(0.0, done_s - fault_end_s)
    return ChannelScore(
        channel,
        expected=len(want),
        delivered=sum(counts[eid] for eid in want) + unexpected,
        missed=missed,
        duplicated=duplicated + unexpected,
        unexpected=unexpected,
        out_of_order=out_of_order,
        recovery_s=recovery_s,
    )


@dataclass
class RunResult:
    """One run of one scenario: its channel scores and what the scenario measured."""

    scenario: str
    run: int
    seed: int
    channels: list[ChannelScore] = field(default_factory=list)
    #: Scenario-specific figures (kill time, outage length, pause...), printed and tabled.
    notes: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    #: The Apache Kafka version the run used.
    kafka: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RunResult:
        data = dict(obj)
        data["channels"] = [ChannelScore(**c) for c in data.get("channels", [])]
        return cls(**data)

    @property
    def ok(self) -> bool:
        return self.error is None and all(
            c.missed == 0 and c.duplicated == 0 and c.out_of_order == 0 for c in self.channels
        )

    def total(self, attr: str) -> int:
        return sum(int(getattr(c, attr)) for c in self.channels)

    @property
    def recovery_s(self) -> float | None:
        values = [c.recovery_s for c in self.channels]
        if not values or any(v is None for v in values):
            return None
        return max(v for v in values if v is not None)

    def line(self) -> str:
        figures = ", ".join(f"{k}={v}" for k, v in self.notes.items())
        rec = self.recovery_s
        return (
            f"{self.scenario} run {self.run} (seed {self.seed}): "
            f"{'ok' if self.ok else 'FAILED'}; expected={self.total('expected')}, "
            f"delivered={self.total('delivered')}, missed={self.total('missed')}, "
            f"duplicated={self.total('duplicated')}, out_of_order={self.total('out_of_order')}, "
            f"recovery_s={'-' if rec is None else f'{rec:.1f}'}"
            + (f"; {figures}" if figures else "")
            + (f"; error: {self.error}" if self.error else "")
        )


def summary_line(results: Iterable[RunResult]) -> str:
    """``chaos: <scenarios> scenarios, <runs> runs, missed=<n>, duplicated=<n>,
    max_recovery_s=<x>`` (a run that errored counts its expected alerts as missed)."""
    results = list(results)
    scenarios = len({r.scenario for r in results})
    missed = sum(r.total("missed") if r.channels else 0 for r in results)
    duplicated = sum(r.total("duplicated") for r in results)
    recoveries = [r.recovery_s for r in results if r.recovery_s is not None]
    max_rec = max(recoveries, default=0.0)
    failed = sum(1 for r in results if r.error is not None)
    tail = f", errors={failed}" if failed else ""
    return (
        f"chaos: {scenarios} scenarios, {len(results)} runs, missed={missed}, "
        f"duplicated={duplicated}, max_recovery_s={max_rec:.1f}{tail}"
    )


def reliability_markdown(
    results: Sequence[RunResult],
    *,
    kafka_version: str,
    command: str,
    descriptions: Mapping[str, str],
    notes: str = "",
) -> str:
    """The generated ``docs/reliability.md``: one row per scenario, then each run."""
    by: dict[str, list[RunResult]] = defaultdict(list)
    for r in results:
        by[r.scenario].append(r)
    rows = []
    for name, runs in by.items():
        recs = [r.recovery_s for r in runs if r.recovery_s is not None]
        rec = f"{min(recs):.1f} / {max(recs):.1f}" if recs else "-"
        rows.append(
            f"| {name} | {len(runs)} | {sum(r.total('expected') for r in runs)} | "
            f"{sum(r.total('delivered') for r in runs)} | {sum(r.total('missed') for r in runs)} | "
            f"{sum(r.total('duplicated') for r in runs)} | "
            f"{sum(r.total('out_of_order') for r in runs)} | {rec} | "
            f"{sum(1 for r in runs if r.error)} | "
            f"{', '.join(sorted({r.kafka or kafka_version for r in runs}))} |"
        )
    lines = [
        "# Reliability: chaos runs against Apache Kafka",
        "",
        f"Generated by `{command}` (do not edit by hand; `make chaos` rewrites it).",
        "",
        "Counts are summed over the runs and over both channels (a fake Slack webhook and a",
        "fake Telegram bot on 127.0.0.1), so *expected* is 2 x 15 alerts per run of the seed.",
        "*Duplicated* counts every extra copy of an alert and every alert that is not in the",
        "golden file; *out of order* counts aircraft whose alerts arrived in another order",
        "than their events. *Recovery* is min / max seconds from the end of the fault (the",
        "kill, the end of the outage, SIGCONT) until every expected alert had arrived.",
        "",
        "| scenario | runs | expected | delivered | missed | duplicated | out of order "
        "| recovery s (min / max) | errors | Kafka |",
        "|---|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        summary_line(results),
        "",
        "## Scenarios",
        "",
        *[f"- **{name}**: {descriptions.get(name, '')}" for name in by],
        "",
        *([notes.rstrip(), ""] if notes else []),
        "## Runs",
        "",
        *[f"- {r.line()}" for r in results],
        "",
    ]
    return "\n".join(lines)
