"""The offset-reset watch: aiokafka's INFO notice becomes a counted WARNING."""

from __future__ import annotations

import logging

import pytest
from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from streams.metrics import TrackerMetrics
from streams.offset_watch import FETCHER_LOGGER, OffsetResetWatch


def test_reset_notice_is_counted_per_topic_and_raised_to_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    watch = OffsetResetWatch(TrackerMetrics(registry).offset_resets)
    logger = logging.getLogger(FETCHER_LOGGER)
    before = logger.level
    watch.install()
    try:
        caplog.set_level(logging.INFO, logger=FETCHER_LOGGER)
        tp = TopicPartition("skyfence.positions", 2)
        # aiokafka's own wording (aiokafka/consumer/fetcher.py).
        logger.info("Fetch offset %s is out of range for partition %s, resetting offset", 42, tp)
        logger.info("some other notice %s", 1)
    finally:
        watch.remove()
        logger.setLevel(before)
    reset, other = caplog.records[-2:]
    assert reset.levelno == logging.WARNING and "42" in reset.getMessage()
    assert "skyfence.positions" in reset.getMessage() and "out of range" in reset.getMessage()
    assert other.levelno == logging.INFO and other.getMessage() == "some other notice 1"
    assert watch.resets == 1
    value = registry.get_sample_value(
        "skyfence_consumer_offset_resets_total", {"topic": "skyfence.positions"}
    )
    assert value == 1.0
    assert watch not in logger.filters  # removed
