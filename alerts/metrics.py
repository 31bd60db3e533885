"""Prometheus metrics of the delivery side, built on an injected registry (bounded labels).

Label values: ``channel`` is a configured channel name (a handful); ``outcome`` and
``reason`` come from fixed sets (``DeliveryError.reason`` values, ``retries_exhausted:...``).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["NotifierMetrics"]

#: Buckets for end-to-end alert latency (event observed -> peer accepted), seconds.
_LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class NotifierMetrics:
    """The notifier's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "skyfence_notifier_events_total",
            "Events read by the notifier, by outcome (new, duplicate, unrouted, held_backlog, "
            "suppressed_cooldown, undecodable).",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "skyfence_alerts_total",
            "Alert deliveries, by channel and outcome (delivered, dead_letter).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.retries = Counter(
            "skyfence_alert_retries_total",
            "Failed delivery attempts that will be retried, by channel and reason.",
            ["channel", "reason"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "skyfence_alert_dead_letters_total",
            "Alerts given up on and sent to the alerts dead-letter topic, by channel and reason.",
            ["channel", "reason"],
            registry=registry,
        )
        self.pending = Gauge(
            "skyfence_alerts_pending",
            "Alerts accepted and not yet delivered or given up on, by channel.",
            ["channel"],
            registry=registry,
        )
        self.latency = Histogram(
            "skyfence_alert_latency_seconds",
            "From the fix that revealed the event (event time) to the peer accepting the alert "
            "(wall time); live traffic only (replayed events are not observed).",
            ["channel"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
