"""The README's Performance table, generated from bench-results.json.

``python -m tests.bench.report`` rewrites the text between ``<!-- perf:begin -->`` and
``<!-- perf:end -->`` in README.md (``make bench`` does it after measuring).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["table", "update_readme"]

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
RESULTS = REPO / "bench-results.json"
BEGIN = "<!-- perf:begin -->"
END = "<!-- perf:end -->"


def _rate(v: float) -> str:
    return f"{v:,.0f}/s"


def _x(v: float) -> str:
    return f"{v:.2f}x"


def _s(v: float) -> str:
    return f"{v:.2f} s"


def _ms(v: float) -> str:
    return f"{v * 1000:,.0f} ms"


def _ns(v: float) -> str:
    return f"{v:,.0f} ns"


def _bytes(v: float) -> str:
    return f"{v:,.0f} B"


def _mb(v: float) -> str:
    return f"{v:,.0f} MB"


#: (label, key, formatter, target text)
ROWS: list[tuple[str, str, Callable[[float], str], str]] = [
    ("(a) baseline: raw aiokafka consumer + orjson + point-in-zone, 1 position/message",
     "baseline_positions_per_s", _rate, ""),
    ("(a') the same baseline on batch messages", "baseline_batched_positions_per_s", _rate, ""),
    ("(b) skyfence worker (Faust, tracker, table, events), positions/s",
     "pipeline_positions_per_s", _rate, ">= 100,000/s"),
    ("(b)/(a)", "ratio", _x, ">= 0.5"),
    ("(c) 2 workers on 2 cores vs 1", "scaling_2_workers", _x, ">= 1.7x"),
    ("(d) alert latency p50, position produced -> fake Slack", "latency_p50_s", _ms, ""),
    ("(d) alert latency p99", "latency_p99_s", _ms, "< 500 ms"),
    ("(d) alert latency max", "latency_max_s", _ms, ""),
    ("(d) load generator's own lateness, max (latency the worker did not cause)",
     "latency_loadgen_late_max_s", _ms, ""),
    ("(d') alert latency p50 at the world's peak, 25,000 positions/s", "latency_world_p50_s",
     _ms, ""),
    ("(d') alert latency p99 at the world's peak", "latency_world_p99_s", _ms, ""),
    ("(e) point-in-zone, global traffic mix", "geometry_ns_per_position", _ns, "<= 1,000 ns"),
    ("(e) point-in-zone within 20 km of the DPRK outline", "geometry_boundary_ns_per_position",
     _ns, ""),
    ("(e) whole tracker step, global mix", "tracker_step_ns_per_position", _ns, ""),
    ("(f) memory per tracked aircraft (state, table value, caches)", "bytes_per_aircraft",
     _bytes, "< 1,024 B"),
    ("(f) worker RSS with 20,000 aircraft tracked", "worker_rss_mb_20k_aircraft", _mb, ""),
    ("(f) worker RSS just started", "worker_rss_mb_at_start", _mb, ""),
    ("(g) worker start -> first position processed", "startup_s", _s, "<= 5 s"),
    ("(g) restart with 20,000 aircraft in the table -> first position", "recovery_s", _s,
     "<= 15 s"),
    ("(h) `skyfence replay --max` (batches)", "producer_replay_positions_per_s", _rate, ""),
    ("(h) raw aiokafka producer, same lines, 1 per message", "producer_raw_positions_per_s",
     _rate, ""),
    ("`evaluate` on the seed scenario (offline, no Kafka)", "evaluate_seed_positions_per_s",
     _rate, ""),
    ("(s) single messages: raw aiokafka baseline", "single_baseline_positions_per_s", _rate, ""),
    ("(s) single messages: minimal Faust agent, table written on change",
     "single_faust_minimal_positions_per_s", _rate, ""),
    ("(s) single messages: skyfence worker alone", "single_worker_positions_per_s", _rate,
     ">= minimal Faust agent"),
    ("(s) worker alone / minimal Faust agent", "single_worker_vs_faust_minimal", _x, ">= 1.00x"),
    ("(s) single messages: front stage + worker, end to end",
     "single_front_worker_positions_per_s", _rate, ">= 100,000/s"),
    ("(s) front stage + worker / baseline", "single_front_worker_ratio", _x, ">= 0.35"),
    ("(s) cores used by the front stage over that window", "single_front_cores", _x, ""),
    ("(s) cores used by the worker over that window (start-up included)",
     "single_front_worker_cores", _x, ""),
    ("(s) alert latency p99 through the front stage, 25,000 single messages/s",
     "single_front_latency_p99_s", _ms, "<= 500 ms"),
    ("(i) `evaluate`, border-heavy traffic (along and across the Yalu)",
     "evaluate_border_heavy_positions_per_s", _rate, ""),
    ("(i) border-heavy vs the seed scenario, same run", "border_heavy_vs_seed", _x, ">= 0.5"),
    ("(j) tracker per position far from every zone, 1 zone", "tracker_far_ns_per_position_zones_1",
     _ns, ""),
    ("(j) the same with 1,000 zones", "tracker_far_ns_per_position_zones_1000", _ns, ""),
    ("(j) 1,000 zones vs 1 zone", "zones_1000_vs_1", _x, "<= 2x"),
    ("(i) aircraft database load, 600,000 rows (~115 MB, OpenSky layout, generated)",
     "aircraft_db_load_s", _s, "< 5 s"),
    ("(i) aircraft database memory held", "aircraft_db_memory_mb", _mb, "< 150 MB"),
    ("(i) plane-alert-db load (../shared/data, 17,000 rows)", "watchlist_load_s", _s, "< 2 s"),
    ("(i) plane-alert-db memory held", "watchlist_memory_mb", _mb, "< 50 MB"),
    ("(i) (b) with the aircraft database loaded", "pipeline_positions_per_s_aircraft_db",
     _rate, ""),
    ("(i) (b) with the database / (b) without", "aircraft_db_worker_ratio", _x, ">= 0.95x"),
    ("(k) `skyfence ingest sbs://` from a local TCP server into Kafka", "ingest_sbs_positions_per_s",
     _rate, ">= 50,000/s"),
    ("(k) SBS parser alone (decode rate)", "ingest_sbs_decode_positions_per_s", _rate, ""),
    ("(k) `skyfence ingest beast://` from a local TCP server into Kafka",
     "ingest_beast_positions_per_s", _rate, ">= 50,000/s"),
    ("(k) Beast framer + Mode S decoder alone (decode rate)", "ingest_beast_decode_positions_per_s",
     _rate, ""),
]


def table(results: dict[str, Any]) -> str:
    """A Markdown table of the figures, Apache Kafka and (where measured) Tansu."""
    tansu = results.get("tansu") or {}
    targets = results.get("targets") or {}
    lines = [
        "| figure | Apache Kafka | Tansu | target | |",
        "|---|---|---|---|---|",
    ]
    for label, key, fmt, target in ROWS:
        value = results.get(key)
        if not isinstance(value, int | float):
            continue
        other = tansu.get(key)
        status = ""
        check = targets.get(key)
        if isinstance(check, dict) and check.get("met") is not None:
            status = "met" if check["met"] else f"missed ({check.get('missed_by', '')})"
        lines.append(
            f"| {label} | {fmt(value)} | {fmt(other) if isinstance(other, int | float) else ''} "
            f"| {target} | {status} |"
        )
    return "\n".join(lines)


def section(results: dict[str, Any]) -> str:
    """The generated part of the README's Performance section."""
    machine = results.get("machine") or {}
    rate = results.get("latency_rate_positions_per_s")
    alerts = results.get("latency_alerts")
    notes = [
        f"Latest `make bench` ({'quick run, ' if results.get('quick') else ''}"
        f"{results.get('broker', 'Apache Kafka')}; {machine.get('cores')} cores, "
        f"{machine.get('cpu_model')}; 1-min load average {machine.get('load_1m')} at the start, "
        f"{machine.get('load_1m_after')} at the end; traffic: {results.get('positions', 0):,} "
        "generated positions of 15,000 aircraft):",
        "",
        table(results),
        "",
    ]
    if rate:
        notes.append(
            f"Latency: {alerts} of {results.get('latency_alerts_expected')} expected alerts "
            "(`approaching` and `entered` of crossing aircraft, "
            f"0.5 alerts/s) while {rate:,.0f} positions/s of live traffic (50% of (b)) flowed, "
            "each measured from its triggering position's time stamp (the wall time it was "
            "sent, to within 20 ms) to the fake Slack webhook receiving it. (d') is the same "
            f"at 25,000 positions/s ({results.get('latency_world_alerts')} of "
            f"{results.get('latency_world_alerts_expected')}). The worker, "
            "the broker and the load generator share the machine's cores."
        )
        for prefix in ("latency", "latency_world"):
            emitted = results.get(f"{prefix}_events_emitted")
            undelivered = results.get(f"{prefix}_undelivered") or []
            if emitted is not None and (undelivered or emitted != results.get(f"{prefix}_alerts_expected")):
                notes.append(
                    f"\n`{prefix}`: {emitted} alert events emitted; not received before the "
                    f"worker stopped: {', '.join(undelivered) or 'none'}."
                )
    missed = [
        f"- `{key}` {check['missed_by']}: {check['limited_by']}."
        for key, check in (results.get("targets") or {}).items()
        if isinstance(check, dict) and check.get("met") is False
    ]
    if missed:
        notes += ["", "Targets missed, and what limits them:", "", *missed]
    return "\n".join(notes)


def update_readme(results: dict[str, Any], readme: Path = README) -> bool:
    """Rewrite the text between the markers; False (and nothing written) without them."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return False
    head, rest = text.split(BEGIN, 1)
    _old, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{section(results)}\n{END}{tail}")
    return True


def main() -> None:
    results = json.loads(RESULTS.read_text())
    if update_readme(results):
        print(f"updated {README.relative_to(REPO)} from {RESULTS.relative_to(REPO)}")
    else:
        print(f"no {BEGIN} / {END} markers in {README}")


if __name__ == "__main__":
    main()
