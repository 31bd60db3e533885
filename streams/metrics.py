"""Prometheus metrics of the stream side, built on an injected registry.

Names follow Prometheus conventions: ``_total`` for counters, base units (``_seconds``).
Labels are bounded: outcome, reason, event type and zone id (zones are configured, so few);
never an aircraft address or an event id.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["TrackerMetrics"]


class TrackerMetrics:
    """The tracker agent's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.positions = Counter(
            "skyfence_positions_total",
            "Position messages handled by the tracker, by outcome "
            "(accepted, duplicate, out_of_order, suspect, rekeyed, dead_letter).",
            ["outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "skyfence_dead_letters_total",
            "Position messages sent to the dead-letter topic, by reason.",
            ["reason"],
            registry=registry,
        )
        self.events = Counter(
            "skyfence_events_total",
            "Airspace events emitted, by type and zone.",
            ["type", "zone"],
            registry=registry,
        )
        self.state_writes = Counter(
            "skyfence_state_writes_total",
            "Writes of per-aircraft state to the table (and so its changelog).",
            registry=registry,
        )
        self.tracked_aircraft = Gauge(
            "skyfence_tracked_aircraft",
            "Aircraft whose state this worker holds in memory.",
            registry=registry,
        )
        self.position_age = Histogram(
            "skyfence_position_age_seconds",
            "Wall-clock time minus position time when the tracker handles a position "
            "(end-to-end freshness; large during replays of old recordings).",
            buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600, float("inf")),
            registry=registry,
        )
        self.produce_failures = Counter(
            "skyfence_produce_failures_total",
            "Messages the tracker could not produce (too large, not authorised...), by what "
            "they were (event, state, rekey, dead_letter); the input is dead-lettered as "
            "produce_failed where it can be. Should stay at zero.",
            ["what"],
            registry=registry,
        )
        self.internal_errors = Counter(
            "skyfence_internal_errors_total",
            "Inputs on which the tracker raised (dead-lettered as 'internal'): a bug in "
            "skyfence, never bad input. Should stay at zero; alert on any increase.",
            registry=registry,
        )
        self.offset_resets = Counter(
            "skyfence_consumer_offset_resets_total",
            "Fetch positions found out of range and reset to the earliest retained offset, "
            "by topic: records in between were deleted (retention) before this worker read "
            "them. Should stay at zero.",
            ["topic"],
            registry=registry,
        )
