"""LoopCounter and LoopHistogram (streams.metrics): the tracker's hot-path series, updated
without prometheus_client's locks, must expose exactly what prometheus_client's Counter and
Histogram expose for the same updates."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from streams.metrics import LoopCounter, LoopHistogram, TrackerMetrics

_BUCKETS = (1e-6, 2.5e-6, 5e-6, 1e-5, 0.001, 0.5, 1.0, 5.0)


def _exposition(registry: CollectorRegistry) -> list[str]:
    """The text exposition without ``_created`` lines (creation times differ by a hair)."""
    return [
        line for line in generate_latest(registry).decode().splitlines() if "_created" not in line
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.sampled_from([0.0, *_BUCKETS, math.inf]),
            st.floats(min_value=0.0, max_value=10.0, allow_nan=False),
        ),
        max_size=50,
    ),
    st.booleans(),
)
def test_loop_histogram_exposes_what_a_histogram_does(
    values: list[float], inf_bucket: bool
) -> None:
    """Same buckets (an upper bound counts as inside its bucket, as ``le`` says), count, sum,
    with or without an explicit +Inf bucket."""
    buckets = (*_BUCKETS, math.inf) if inf_bucket else _BUCKETS
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopHistogram("x_seconds", "doc", buckets, registry=ours)
    real = Histogram("x_seconds", "doc", buckets=buckets, registry=theirs)
    for value in values:
        loop.observe(value)
        real.observe(value)
    assert _exposition(ours) == _exposition(theirs)
    assert ours.get_sample_value("x_seconds_count") == len(values)
    assert ours.get_sample_value("x_seconds_created") is not None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5)), max_size=40))
def test_loop_counter_exposes_what_a_counter_does(incs: list[tuple[str, int]]) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    loop = LoopCounter("x_total", "doc", ["outcome"], registry=ours)
    real = Counter("x_total", "doc", ["outcome"], registry=theirs)
    plain_loop = LoopCounter("y_total", "doc", registry=ours)
    plain_real = Counter("y_total", "doc", registry=theirs)
    for label, amount in incs:
        loop.labels(label).inc(amount)
        real.labels(label).inc(amount)
        plain_loop.inc(amount)
        plain_real.inc(amount)
    assert _exposition(ours) == _exposition(theirs)


def test_loop_counter_refuses_what_a_counter_refuses() -> None:
    registry = CollectorRegistry()
    counter = LoopCounter("z_total", "doc", ["outcome"], registry=registry)
    with pytest.raises(ValueError, match="non-negative"):
        counter.labels("a").inc(-1)
    with pytest.raises(ValueError, match="labels"):
        counter.labels("a", "b")
    with pytest.raises(ValueError, match="labels"):
        counter.inc()
    with pytest.raises(ValueError, match="increasing"):
        LoopHistogram("h", "doc", (2.0, 1.0), registry=registry)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        LoopCounter("z_total", "doc", registry=registry)  # the registry's own name check


def test_tracker_metrics_keep_their_names() -> None:
    """The series dashboards and alert rules read are all still exposed."""
    registry = CollectorRegistry()
    metrics = TrackerMetrics(registry, clock=lambda: 100.0)
    metrics.processed(0, 0.002, 1, 100.0)
    metrics.positions.labels("accepted").inc()
    metrics.single_messages.inc()
    metrics.position_age.observe(0.3)
    text = generate_latest(registry).decode()
    for series in (
        'skyfence_batch_processing_seconds_bucket{le="0.0025"} 1.0',
        "skyfence_batch_processing_seconds_count 1.0",
        'skyfence_position_processing_seconds_bucket{le="0.01"} 1.0',
        'skyfence_positions_total{outcome="accepted"} 1.0',
        "skyfence_single_position_messages_total 1.0",
        'skyfence_position_age_seconds_bucket{le="0.5"} 1.0',
        "# TYPE skyfence_positions_total counter",
        "# TYPE skyfence_batch_processing_seconds histogram",
    ):
        assert series in text, series
