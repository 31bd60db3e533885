"""Faust's known failure modes, kept out by configuration (issue 13):

- an agent with ``concurrency > 1`` commits offsets past messages still being processed
  (faust-streaming #606), so a crash loses them: every skyfence agent runs with concurrency 1;
- ``processing_guarantee="exactly_once"`` is broken in faust-streaming (#517, #177, #323:
  transactional producers per partition that hang or fence themselves on rebalance): both
  apps keep Faust's ``at_least_once``, and duplicates are removed by the notifier's outbox
  (idempotent by event id and channel) instead.

The apps are built (not started): no broker is needed.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.metrics import NotifierMetrics
from alerts.notifier import Notifier, create_notifier_app
from streams.app import create_tracker_app
from streams.config import StreamSettings
from streams.metrics import TrackerMetrics
from streams.offset_watch import FETCHER_LOGGER
from streams.tracking import Tracker
from streams.zones import builtin_zone


def _apps() -> list[Any]:
    settings = StreamSettings()
    registry = CollectorRegistry()
    fetcher = logging.getLogger(FETCHER_LOGGER)
    filters = list(fetcher.filters)
    try:
        tracker = create_tracker_app(
            settings, "127.0.0.1:9", Tracker([builtin_zone("dprk")]), TrackerMetrics(registry)
        )
        notifier = create_notifier_app(
            settings, "127.0.0.1:9", Notifier([ListChannel()], NotifierMetrics(registry))
        )
    finally:
        fetcher.filters[:] = filters  # the tracker app's offset-reset watch: not for others
    return [tracker.app, notifier.app]


def test_both_apps_process_at_least_once_with_one_task_per_agent() -> None:
    apps = _apps()
    for app in apps:
        assert str(app.conf.processing_guarantee.value) == "at_least_once", app.conf.id
        agents = list(app.agents.values())
        assert agents, f"{app.conf.id}: no agents"
        for agent in agents:
            assert agent.concurrency == 1, f"{app.conf.id}: {agent.name} runs concurrently"
    # Two apps, two consumer groups: the notifier's is <app_id>-notifier.
    assert [a.conf.id for a in apps] == ["skyfence", "skyfence-notifier"]


def test_the_notifier_app_arms_the_zombie_fence_from_the_session_timeout() -> None:
    settings = StreamSettings(session_timeout_s=6.0)
    notifier = Notifier([ListChannel()], NotifierMetrics(CollectorRegistry()))
    create_notifier_app(settings, "127.0.0.1:9", notifier)
    assert notifier.policy.stall_s == 3.0 and notifier.policy.stall_hold_s == 12.0
