"""Prometheus metrics of the delivery side, built on an injected registry (bounded labels)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

__all__ = ["NotifierMetrics"]


class NotifierMetrics:
    """The notifier's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "skyfence_notifier_events_total",
            "Events read by the notifier, by outcome (new, duplicate, undecodable).",
            ["outcome"],
            registry=registry,
        )
        self.deliveries = Counter(
            "skyfence_alerts_total",
            "Alert deliveries, by channel and outcome (delivered, failed).",
            ["channel", "outcome"],
            registry=registry,
        )
