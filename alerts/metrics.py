"""Prometheus metrics of the delivery side, built on an injected registry (bounded labels).

Label values: ``channel`` is a configured channel name (a handful); ``outcome`` and
``reason`` come from fixed sets (``DeliveryError.reason`` values, ``retries_exhausted:...``).

Two latencies, both histograms in seconds:

- ``skyfence_delivery_latency_seconds``: from the notifier accepting the event (wall time,
  when it is written to the outbox) to the peer accepting the alert. Observed for every
  delivered alert, replays included: it is the delivery path's own time (queues, rate limits,
  retries, the peer's answer).
- ``skyfence_alert_latency_seconds``: end to end, from the fix that revealed the event
  (position time) to the peer accepting the alert; live traffic only (a replayed 2023 event
  would be years late).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

__all__ = ["DELIVERY_OUTCOMES", "NotifierMetrics"]

#: Outcomes of ``skyfence_deliveries_total``. Per attempt: sent, retried (a retriable
#: failure), rate_limited (the peer said slow down; retried), rejected (a failure not worth
#: retrying). Per alert: dead_lettered (given up on), suppressed (cooldown, or muted from chat), held (an old
#: event, not pushed outside replay mode).
DELIVERY_OUTCOMES = (
    "sent", "retried", "rate_limited", "rejected", "dead_lettered", "suppressed", "held",
)  # fmt: skip

#: Buckets for end-to-end alert latency (event observed -> peer accepted), seconds.
_LATENCY_BUCKETS_S = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)


class NotifierMetrics:
    """The notifier's metrics."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry
        self.outcomes = Counter(
            "skyfence_deliveries_total",
            "Delivery attempts and alerts by channel and outcome: "
            + ", ".join(DELIVERY_OUTCOMES)
            + " (see alerts.metrics.DELIVERY_OUTCOMES).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.delivery_latency = Histogram(
            "skyfence_delivery_latency_seconds",
            "From the notifier accepting an event (wall time) to the peer accepting its alert, "
            "replays included.",
            ["channel"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )
        self.events = Counter(
            "skyfence_notifier_events_total",
            "Events read by the notifier, by outcome (new, duplicate, unrouted, held_backlog, "
            "suppressed_cooldown, suppressed_muted, undecodable, not_ours: read by a stalled "
            "notifier during the rebalance that moved its partitions).",
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
        self.enrichment_reloads = Counter(
            "skyfence_enrichment_reloads_total",
            "Watchlist and aircraft-database files re-read after a change on disk, by kind "
            "(watchlist, aircraft_db) and outcome (reloaded; failed: the old contents stay).",
            ["kind", "outcome"],
            registry=registry,
        )
        self.escalations = Counter(
            "skyfence_escalations_total",
            "Priority alerts (acknowledge / escalate) by outcome: opened (accepted with a "
            "button), escalated (nobody acknowledged in time), acknowledged.",
            ["outcome"],
            registry=registry,
        )
        self.latency = Histogram(
            "skyfence_alert_latency_seconds",
            "End to end: from the fix that revealed the event (position time) to the peer "
            "accepting the alert (wall time); live traffic only (replays are not observed).",
            ["channel"],
            buckets=_LATENCY_BUCKETS_S,
            registry=registry,
        )

    def watch_outbox(self, size: Callable[[], int]) -> None:
        """Export ``skyfence_outbox_entries``: ``size()`` at scrape time."""
        self._registry.register(_OutboxSize(size))


class _OutboxSize(Collector):
    def __init__(self, size: Callable[[], int]) -> None:
        self._size = size

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "skyfence_outbox_entries",
            "Entries in this notifier's outbox (pending, settled within the idempotency "
            "horizon, cooldown records).",
            value=self._size(),
        )

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
