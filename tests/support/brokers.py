"""Apache Kafka for the test suite and the benchmarks: fetched with Maven, run with Java.

Test tooling, not product: users deploy their own Kafka. The demo's embedded broker
(Tansu) lives in :mod:`streams.embedded`; this module re-exports it so tests name both
brokers from one place, behind one small API (:class:`~streams.embedded.Broker`).

:class:`ApacheKafkaBroker` runs real Apache Kafka 4.x in KRaft mode, one JVM acting as
broker and controller. Its jars come from Maven Central through Maven (:func:`fetch_kafka`,
cached per version); there is no tarball and no Docker. Data lives in a private directory
and survives :meth:`~ApacheKafkaBroker.restart` and :meth:`~ApacheKafkaBroker.kill`, which
the reliability tests need.

Verified on the project machine (OpenJDK 17.0.15, Maven 3.8.7, Python 3.11, aiokafka 0.14,
November 2026, when Maven Central's newest ``org.apache.kafka:kafka_2.13`` was 4.4.0):
Kafka 4.4.0 (the default), 4.2.0, 4.1.2 and 4.1.1 all pass tests/integration/test_brokers.py
(CreateTime timestamps, consumer groups, restart and crash recovery) and a probe of the
admin API (create/describe/delete topics, CreatePartitions, configs, group offsets) and of
the idempotent producer; 4.4.0 and 4.1.2 also pass the Faust pipeline tests. Logging:
``log4j-core`` and ``log4j-slf4j2-impl`` 2.24.3 plus ``slf4j-api`` 2.0.16 pinned on purpose:
every Kafka 4.x POM up to 4.4.0 still depends on ``slf4j-api`` 1.7.36, which wins Maven's
nearest-first tie over the provider's 2.0.16 and cannot see an SLF4J 2 provider, so without
the pin the broker logs nothing at all. Fetched with ``maven-dependency-plugin`` 3.8.1: the
first fetch (~45 jars, ~45 MB, cold ~/.m2) took 4.5 s here; Kafka then starts in ~3 s and
stops in ~0.5 s.

Errors: :class:`~streams.errors.BrokerError` (start-up failed or timed out, a fetch failed,
misuse) and :class:`~streams.errors.BrokerUnavailable` (Java 17+ or Maven is missing;
``reason`` is one human sentence).

Environment: ``SKYFENCE_KAFKA_VERSION`` (Kafka version, default :data:`DEFAULT_KAFKA_VERSION`),
``SKYFENCE_KAFKA_CACHE`` (cache root, default ``~/.cache/skyfence/kafka``; jars land in
``<root>/<version>/jars``), ``JAVA_HOME`` (preferred over ``java`` on ``PATH``).

Command line: ``python -m tests.support.brokers fetch`` pre-fetches Kafka and prints the jar
directory; ``python -m tests.support.brokers tansu`` or ``... kafka`` starts one broker,
prints its bootstrap address on stdout and runs until Ctrl-C.

Secured listeners: ``extra_listeners={"SECURE": "SASL_SSL"}`` adds a listener beside the
PLAINTEXT one (which stays the inter-broker listener and the readiness probe's), on its own
loopback port (:meth:`ApacheKafkaBroker.listener_bootstrap`); its TLS and SASL settings go in
``properties`` (``listener.name.secure.*``), and ``scram_users`` (``"SCRAM-SHA-256=[name=u,
password=p]"``) are written into the storage at format time (KRaft keeps SCRAM credentials in
its metadata). The caller makes the certificates (tests/integration/test_kafka_security.py).

:class:`ApacheKafkaCluster` runs three (or more) such JVMs as one KRaft cluster, each node
broker and controller (a static quorum, ``controller.quorum.voters``), each with its own ports,
log dir and small heap; internal topics and the default for new topics are replication factor
3 with ``min.insync.replicas=2``. :meth:`~ApacheKafkaCluster.kill_node` SIGKILLs one node,
:meth:`~ApacheKafkaCluster.start_node` brings it back on the same ports and data (chaos
scenario 8).

Out of scope: tuning for throughput, Windows (process groups,
``fcntl`` locking and ``prctl`` are POSIX/Linux), and downloading Java or Maven.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Self

from aiokafka import TopicPartition

from streams.embedded import (
    LOOPBACK,
    START_ATTEMPTS,
    Broker,
    SubprocessBroker,
    TansuBroker,
    _append_note,
    _count_brokers,
    _run_sync,
    _tail,
    free_port,
)
from streams.errors import BrokerError, BrokerUnavailable

__all__ = [
    "DEFAULT_KAFKA_VERSION",
    "ApacheKafkaBroker",
    "ApacheKafkaCluster",
    "Broker",
    "BrokerError",
    "BrokerUnavailable",
    "TansuBroker",
    "fetch_kafka",
    "free_port",
    "kafka_cache_dir",
    "main",
    "resolve_kafka_version",
]

log = logging.getLogger(__name__)

#: Newest Kafka 4.x on Maven Central when verified here, end to end with aiokafka 0.14 and
#: the project's Faust pipeline tests (4.1.2 and 4.2.0 passed the same; set
#: SKYFENCE_KAFKA_VERSION=4.1.2 to pin the line faust-streaming's maintainers tested).
DEFAULT_KAFKA_VERSION = "4.4.0"

#: Log4j 2 backend for the broker (Kafka's POM ships none); verified with Kafka 4.1-4.4.
LOG4J_VERSION = "2.24.3"
#: The SLF4J API log4j-slf4j2-impl 2.24.3 is built against; must beat Kafka's 1.7.36.
SLF4J_VERSION = "2.0.16"

#: Maven 3.8 defaults to an old dependency plugin, so name a current one explicitly.
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

#: Kafka 4.x brokers refuse to run on anything older.
MIN_JAVA_MAJOR = 17

ENV_KAFKA_VERSION = "SKYFENCE_KAFKA_VERSION"
ENV_KAFKA_CACHE = "SKYFENCE_KAFKA_CACHE"

#: Generous: a JVM start plus KRaft quorum formation takes ~3 s on the 2-core project machine
#: (~12 s after a kill, see ApacheKafkaBroker.kill), several times that on a loaded CI runner.
KAFKA_START_TIMEOUT_S = 90.0
#: First fetch is ~45 MB of jars: 4.5 s here, minutes on a slow link.
FETCH_TIMEOUT_S = 900.0

# --------------------------------------------------------------------------------------
# Apache Kafka: fetch with Maven, run with Java
# --------------------------------------------------------------------------------------


def resolve_kafka_version(version: str | None = None) -> str:
    """Return ``version``, else ``$SKYFENCE_KAFKA_VERSION``, else the default."""
    return version or os.environ.get(ENV_KAFKA_VERSION) or DEFAULT_KAFKA_VERSION


def kafka_cache_dir(version: str | None = None, cache_dir: Path | None = None) -> Path:
    """Return the directory holding one Kafka version's ``pom.xml`` and ``jars/``.

    ``cache_dir`` (else ``$SKYFENCE_KAFKA_CACHE``, else ``$XDG_CACHE_HOME/skyfence/kafka``
    or ``~/.cache/skyfence/kafka``) is the root; each version gets a subdirectory.
    """
    if cache_dir is None:
        env_root = os.environ.get(ENV_KAFKA_CACHE)
        if env_root:
            cache_dir = Path(env_root)
        else:
            xdg = os.environ.get("XDG_CACHE_HOME")
            base = Path(xdg) if xdg else Path.home() / ".cache"
            cache_dir = base / "skyfence" / "kafka"
    return Path(cache_dir).expanduser() / resolve_kafka_version(version)


def _pom_xml(version: str) -> str:
    """The throwaway POM whose dependencies are exactly a runnable Kafka broker."""
    deps = [
        ("org.apache.kafka", "kafka_2.13", version),
        ("org.apache.logging.log4j", "log4j-core", LOG4J_VERSION),
        ("org.apache.logging.log4j", "log4j-slf4j2-impl", LOG4J_VERSION),
        # Depth 1 beats Kafka's transitive slf4j-api 1.7.36, which ignores SLF4J 2 providers.
        ("org.slf4j", "slf4j-api", SLF4J_VERSION),
    ]
    body = "\n".join(
        f"    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId>"
        f"<version>{v}</version></dependency>"
        for g, a, v in deps
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by skyfence tests/support/brokers.py: the jars of an Apache Kafka {version} broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>skyfence</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{body}
  </dependencies>
</project>
"""


def _expected_jars(version: str) -> list[str]:
    return [
        f"kafka_2.13-{version}.jar",
        f"log4j-core-{LOG4J_VERSION}.jar",
        f"log4j-slf4j2-impl-{LOG4J_VERSION}.jar",
        f"slf4j-api-{SLF4J_VERSION}.jar",
    ]


def _cached_jars(version: str, root: Path) -> Path | None:
    """Return the jar dir if a completed fetch for exactly this POM is intact, else None.

    The marker holds the POM's sha256 and then every jar name the fetch produced, so a
    changed POM, an interrupted fetch or a jar deleted since all count as "not cached".
    """
    jars = root / "jars"
    try:
        digest, *names = (root / "fetch-complete").read_text().split()
    except (OSError, ValueError):
        return None
    if digest != hashlib.sha256(_pom_xml(version).encode()).hexdigest():
        return None
    if names and all((jars / name).is_file() for name in names):
        return jars
    return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` (parallel test workers fetch once)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def fetch_kafka(
    version: str | None = None,
    cache_dir: Path | None = None,
    *,
    timeout_s: float = FETCH_TIMEOUT_S,
) -> Path:
    """Download the jars of an Apache Kafka broker with Maven; return the jar directory.

    Does nothing when a completed fetch of the same POM is cached. A marker file is written
    last, so an interrupted download is redone from scratch. Raises
    :class:`BrokerUnavailable` without ``mvn`` on PATH, :class:`BrokerError` if Maven fails.
    """
    version = resolve_kafka_version(version)
    root = kafka_cache_dir(version, cache_dir)
    with _file_lock(root / ".lock"):
        cached = _cached_jars(version, root)
        if cached is not None:
            return cached
        mvn = shutil.which("mvn")
        if mvn is None:
            raise BrokerUnavailable(
                "Apache Kafka tests need Java 17+ and Maven: mvn not found on PATH "
                f"(and Kafka {version} jars are not cached in {root})"
            )
        jars = root / "jars"
        marker = root / "fetch-complete"
        marker.unlink(missing_ok=True)
        shutil.rmtree(jars, ignore_errors=True)
        pom = root / "pom.xml"
        pom.write_text(_pom_xml(version), encoding="utf-8")
        fetch_log = root / "fetch.log"
        argv = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            f"-DoutputDirectory={jars}",
            f"{DEPENDENCY_PLUGIN}:copy-dependencies",
        ]
        log.info("fetching Apache Kafka %s jars into %s", version, jars)
        started_at = time.monotonic()
        try:
            with fetch_log.open("wb") as out:
                result = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=root,
                    timeout=timeout_s,
                    check=False,
                )
        except subprocess.TimeoutExpired as exc:
            raise BrokerError(
                f"Maven did not fetch Kafka {version} within {timeout_s:.0f} s; "
                f"see {fetch_log}:\n{_tail(fetch_log)}"
            ) from exc
        missing = [name for name in _expected_jars(version) if not (jars / name).is_file()]
        if result.returncode != 0 or missing:
            raise BrokerError(
                f"Maven failed to fetch Kafka {version} (exit {result.returncode}, "
                f"missing {missing}); see {fetch_log}:\n{_tail(fetch_log)}"
            )
        names = sorted(path.name for path in jars.glob("*.jar"))
        digest = hashlib.sha256(pom.read_bytes()).hexdigest()
        marker.write_text("\n".join([digest, *names]) + "\n")  # last: marks completion
        log.info("fetched Kafka %s in %.1f s", version, time.monotonic() - started_at)
        return jars


def _java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` if it exists, else ``java`` on PATH, else None."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


@lru_cache(maxsize=8)
def _java_major(java: str) -> int | None:
    """Major version of a ``java`` executable (8 for "1.8.0_x", 17 for "17.0.15")."""
    try:
        result = subprocess.run(
            [java, "-version"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr + result.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def _cluster_id() -> str:
    """A fresh KRaft cluster id: 22 characters of base64url, as Kafka's tools make.

    Never one starting with "-": StorageTool's argument parser would read it as an option
    (one id in 64 did, and the broker failed to format).
    """
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


class ApacheKafkaBroker(SubprocessBroker):
    """Apache Kafka 4.x in KRaft mode, one node (broker + controller), on loopback ports.

    ``version`` defaults to :func:`resolve_kafka_version`; ``cache_dir`` is the jar cache
    root (see :func:`kafka_cache_dir`); ``properties`` are added to / override the
    generated ``server.properties``; ``jvm_opts`` replaces the default heap/GC options.
    :meth:`start` fetches the jars first if needed (not counted in ``timeout_s``) and
    formats storage once; :meth:`restart` and :meth:`kill` keep ports and data. A given
    ``work_dir`` is wiped of old data on the first start (the cluster id is new).

    After :meth:`kill`, the next start takes ~10 s longer: the controller refuses the new
    registration until the dead incarnation's session expires (``broker.session.timeout.ms``,
    9 s by default). Tests that crash brokers often can pass ``properties=
    {"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"}`` (~5 s).
    """

    name: ClassVar[str] = "apache-kafka"
    _default_start_timeout_s: ClassVar[float] = KAFKA_START_TIMEOUT_S
    _log_name: ClassVar[str] = "kafka.log"

    #: Sized for a 2-core machine; exit on OOM rather than limp on.
    DEFAULT_JVM_OPTS: ClassVar[tuple[str, ...]] = (
        "-Xms256m",
        "-Xmx1g",
        "-XX:+UseG1GC",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
    )

    def __init__(
        self,
        version: str | None = None,
        *,
        cache_dir: Path | None = None,
        work_dir: Path | None = None,
        properties: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] | None = None,
        start_attempts: int = START_ATTEMPTS,
        extra_listeners: Mapping[str, str] | None = None,
        scram_users: Sequence[str] = (),
    ) -> None:
        super().__init__(work_dir=work_dir, start_attempts=start_attempts)
        #: Listener name -> security protocol, beside PLAINTEXT (e.g. {"SECURE": "SASL_SSL"}).
        self._extra_listeners = dict(extra_listeners or {})
        self._extra_ports: dict[str, int] = {}
        self._scram_users = list(scram_users)
        self._version = resolve_kafka_version(version)
        self._cache_dir = cache_dir
        self._properties = dict(properties or {})
        self._jvm_opts = list(self.DEFAULT_JVM_OPTS if jvm_opts is None else jvm_opts)
        self._controller_port: int | None = None
        self._cluster_id = _cluster_id()
        self._jars: Path | None = None

    @property
    def version(self) -> str:
        """The Apache Kafka version, e.g. ``4.1.1``."""
        return self._version

    @property
    def controller_port(self) -> int:
        """The KRaft controller port on 127.0.0.1 (not for clients)."""
        if self._controller_port is None:
            raise BrokerError(f"{self.name} broker has not been started")
        return self._controller_port

    def listener_bootstrap(self, name: str, host: str = LOOPBACK) -> str:
        """``host:port`` of the extra listener ``name`` (started broker only)."""
        if name not in self._extra_ports:
            raise BrokerError(f"{self.name} broker has no started listener {name!r}")
        return f"{host}:{self._extra_ports[name]}"

    @property
    def data_dir(self) -> Path:
        """Kafka's ``log.dirs``: the topic data that survives restarts."""
        return self.work_dir / "data"

    @classmethod
    def check_available(
        cls, version: str | None = None, cache_dir: Path | None = None
    ) -> str | None:
        """Return None if this machine can run Kafka, else a reason fit for a skip message.

        Needs Java 17+ always, and Maven unless the jars for ``version`` are cached.
        """
        prefix = "Apache Kafka tests need Java 17+ and Maven"
        java = _java_executable()
        if java is None:
            return f"{prefix}: java not found on PATH"
        major = _java_major(java)
        if major is None:
            return f"{prefix}: could not read the version of {java}"
        if major < MIN_JAVA_MAJOR:
            return f"{prefix}: {java} is Java {major}"
        version = resolve_kafka_version(version)
        root = kafka_cache_dir(version, cache_dir)
        if _cached_jars(version, root) is None and shutil.which("mvn") is None:
            return f"{prefix}: mvn not found on PATH (and Kafka {version} is not cached in {root})"
        return None

    def start(self, timeout_s: float | None = None) -> Self:
        """Fetch if needed, format storage on first start, start, wait until ready."""
        if self.running:
            return self
        reason = self.check_available(self._version, self._cache_dir)
        if reason is not None:
            raise BrokerUnavailable(reason)
        if self._jars is None:
            self._jars = fetch_kafka(self._version, self._cache_dir)
        return super().start(timeout_s)

    # -- config -------------------------------------------------------------------------

    def _server_properties(self) -> dict[str, str]:
        port, controller = self.port, self.controller_port
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{controller}",
            "listeners": f"PLAINTEXT://{LOOPBACK}:{port},CONTROLLER://{LOOPBACK}:{controller}",
            "advertised.listeners": f"PLAINTEXT://{LOOPBACK}:{port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "auto.create.topics.enable": "true",
            # One node: internal topics cannot have more replicas, and a few partitions
            # make the first group join / transaction fast.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            # Tests join groups one consumer at a time: do not wait 3 s for more.
            "group.initial.rebalance.delay.ms": "0",
        }
        for name, protocol in self._extra_listeners.items():
            address = f"{name}://{LOOPBACK}:{self._extra_ports[name]}"
            props["listeners"] += "," + address
            props["advertised.listeners"] += "," + address
            props["listener.security.protocol.map"] += f",{name}:{protocol}"
        props.update(self._properties)
        return props

    def _log4j_properties(self) -> str:
        return f"""# Written by skyfence tests/support/brokers.py
status = error
name = skyfence-kafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = {self.log_path}
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.file.ref = FILE
logger.server.name = kafka.server
logger.server.level = INFO
"""

    def _java_base(self) -> list[str]:
        java = _java_executable()
        if java is None or self._jars is None:
            raise BrokerUnavailable("Apache Kafka needs Java 17+: java not found on PATH")
        log4j = self.work_dir / "log4j2.properties"
        return [
            java,
            *self._jvm_opts,
            f"-Dlog4j2.configurationFile={log4j}",
            "-cp",
            str(self._jars / "*"),  # java expands the wildcard itself; no shell involved
        ]

    def _prepare(self, *, fresh: bool) -> None:
        if fresh or self._port is None or self._controller_port is None:
            self._port, self._controller_port = free_port(), free_port()
            while self._controller_port == self._port:
                self._controller_port = free_port()
            self._extra_ports = {}
            for name in self._extra_listeners:
                port = free_port()
                while port in (self._port, self._controller_port, *self._extra_ports.values()):
                    port = free_port()
                self._extra_ports[name] = port
            # A failed first attempt may have left a half-formed quorum behind.
            shutil.rmtree(self.data_dir, ignore_errors=True)
        lines = [f"{key}={value}" for key, value in self._server_properties().items()]
        (self.work_dir / "server.properties").write_text("\n".join(lines) + "\n")
        (self.work_dir / "log4j2.properties").write_text(self._log4j_properties())
        if not (self.data_dir / "meta.properties").is_file():
            self._format_storage()

    def _format_storage(self) -> None:
        argv = [
            *self._java_base(),
            "kafka.tools.StorageTool",
            "format",
            "-t",
            self._cluster_id,
            "-c",
            str(self.work_dir / "server.properties"),
            *(arg for user in self._scram_users for arg in ("--add-scram", user)),
        ]
        _append_note(self.log_path, f"formatting storage, cluster id {self._cluster_id}")
        with self.log_path.open("ab") as out:
            try:
                result = subprocess.run(
                    argv,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.work_dir,
                    timeout=120,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise BrokerError("kafka.tools.StorageTool format timed out") from exc
        if result.returncode != 0:
            raise BrokerError(f"kafka.tools.StorageTool format failed (exit {result.returncode})")

    def _argv(self) -> list[str]:
        return [*self._java_base(), "kafka.Kafka", str(self.work_dir / "server.properties")]


# --------------------------------------------------------------------------------------
# A multi-node KRaft cluster
# --------------------------------------------------------------------------------------

#: Heap per node of a cluster: three JVMs and the workers share a 2-core machine; a test
#: cluster holds a few MB of topic data.
CLUSTER_JVM_OPTS: tuple[str, ...] = (
    "-Xms128m",
    "-Xmx384m",
    "-XX:+UseG1GC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)


class _ClusterNode(ApacheKafkaBroker):
    """One node of an :class:`ApacheKafkaCluster`: ports, node id and quorum are given by the
    cluster (every node must know every controller before any starts), never re-picked."""

    def __init__(
        self,
        *,
        node_id: int,
        port: int,
        controller_port: int,
        voters: str,
        cluster_id: str,
        **kwargs: object,
    ) -> None:
        super().__init__(start_attempts=1, **kwargs)  # type: ignore[arg-type]
        self.node_id = node_id
        self._port, self._controller_port = port, controller_port
        self._voters = voters
        self._cluster_id = cluster_id

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"apache-kafka-node{self.node_id}"

    def _prepare(self, *, fresh: bool) -> None:
        props = self._server_properties()
        props.update({
            "node.id": str(self.node_id),
            "controller.quorum.voters": self._voters,
        })  # fmt: skip
        lines = [f"{key}={value}" for key, value in props.items()]
        (self.work_dir / "server.properties").write_text("\n".join(lines) + "\n")
        (self.work_dir / "log4j2.properties").write_text(self._log4j_properties())
        if not (self.data_dir / "meta.properties").is_file():
            self._format_storage()


class ApacheKafkaCluster:
    """``size`` Apache Kafka 4.x nodes on 127.0.0.1 forming one KRaft cluster.

    Every node is broker and controller (a static quorum of ``size`` voters, so a majority
    must run for metadata to change: 2 of 3). Internal topics and new topics default to
    replication factor ``min(3, size)`` with ``min.insync.replicas`` one less, so an acks=all
    write still succeeds with one node down. Brokers are fenced 3 s after their last
    heartbeat (``broker.session.timeout.ms``), which bounds leader election after a crash.

    :meth:`start` formats each node's storage with one cluster id, spawns every JVM (none
    can be ready before a majority of controllers runs), then waits until each answers and
    the metadata lists all brokers. :meth:`kill_node` / :meth:`start_node` crash and revive
    one node on its ports and data; :meth:`close` stops all and removes owned directories.
    """

    name: ClassVar[str] = "apache-kafka-cluster"

    def __init__(
        self,
        size: int = 3,
        version: str | None = None,
        *,
        cache_dir: Path | None = None,
        work_dir: Path | None = None,
        properties: Mapping[str, str] | None = None,
        jvm_opts: Sequence[str] | None = None,
    ) -> None:
        if size < 1:
            raise BrokerError("a cluster needs at least one node")
        self._version = resolve_kafka_version(version)
        self._cache_dir = cache_dir
        self._given_work_dir = Path(work_dir) if work_dir is not None else None
        self._work_dir: Path | None = None
        self._owns_work_dir = False
        rf = min(3, size)
        isr = max(1, rf - 1)
        self._properties = {
            "offsets.topic.replication.factor": str(rf),
            "transaction.state.log.replication.factor": str(rf),
            "transaction.state.log.min.isr": str(isr),
            "share.coordinator.state.topic.replication.factor": str(rf),
            "share.coordinator.state.topic.min.isr": str(isr),
            "default.replication.factor": str(rf),
            "min.insync.replicas": str(isr),
            # A crashed node is fenced (and its partitions' leaders re-elected) this long
            # after its last heartbeat; the default 9 s would dominate the measured pause.
            "broker.session.timeout.ms": "3000",
            "broker.heartbeat.interval.ms": "500",
            "unclean.leader.election.enable": "false",
            **dict(properties or {}),
        }
        self._jvm_opts = list(CLUSTER_JVM_OPTS if jvm_opts is None else jvm_opts)
        self._size = size
        self.nodes: list[_ClusterNode] = []

    @property
    def version(self) -> str:
        """The Apache Kafka version, e.g. ``4.4.0``."""
        return self._version

    @property
    def bootstrap(self) -> str:
        """Every node's client address, comma-separated (a client survives any one down)."""
        if not self.nodes:
            raise BrokerError(f"{self.name} has not been started")
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def replication_factor(self) -> int:
        """The replication factor topics get by default (3 on three nodes)."""
        return min(3, self._size)

    @property
    def min_insync_replicas(self) -> int:
        """The cluster's default ``min.insync.replicas`` (2 on three nodes)."""
        return int(self._properties["min.insync.replicas"])

    def node(self, node_id: int) -> _ClusterNode:
        """The node with KRaft ``node.id`` ``node_id`` (1-based)."""
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise BrokerError(f"{self.name} has no node {node_id}")

    def start(self, timeout_s: float = KAFKA_START_TIMEOUT_S) -> Self:
        """Fetch the jars if needed, start every node, wait until all serve; return ``self``."""
        reason = ApacheKafkaBroker.check_available(self._version, self._cache_dir)
        if reason is not None:
            raise BrokerUnavailable(reason)
        jars = fetch_kafka(self._version, self._cache_dir)
        if self._work_dir is None:
            if self._given_work_dir is not None:
                self._work_dir = self._given_work_dir
                self._work_dir.mkdir(parents=True, exist_ok=True)
            else:
                self._work_dir = Path(tempfile.mkdtemp(prefix="skyfence-kafka-cluster-"))
                self._owns_work_dir = True
        if not self.nodes:
            ports: set[int] = set()
            while len(ports) < 2 * self._size:
                ports.add(free_port())
            pairs = list(zip(sorted(ports)[0::2], sorted(ports)[1::2], strict=True))
            voters = ",".join(f"{i}@{LOOPBACK}:{c}" for i, (_p, c) in enumerate(pairs, 1))
            cluster_id = _cluster_id()
            for i, (port, controller) in enumerate(pairs, 1):
                node_dir = self._work_dir / f"node{i}"
                shutil.rmtree(node_dir / "data", ignore_errors=True)  # a new cluster id
                node = _ClusterNode(
                    node_id=i, port=port, controller_port=controller, voters=voters,
                    cluster_id=cluster_id, version=self._version, cache_dir=self._cache_dir,
                    work_dir=node_dir, properties=self._properties, jvm_opts=self._jvm_opts,
                )  # fmt: skip
                node._jars = jars
                self.nodes.append(node)
        deadline = time.monotonic() + timeout_s
        try:
            # Spawn all first: no node is ready before a majority of the voters runs.
            for node in self.nodes:
                if not node.running:
                    node._ensure_work_dir()
                    node._prepare(fresh=False)
                    _append_note(node.log_path, f"cluster start on {node.bootstrap}")
                    node._spawn()
            for node in self.nodes:
                node._wait_ready(deadline)
                node._established = True
            self.wait_brokers(self._size, deadline - time.monotonic())
        except BaseException:
            self.stop()
            raise
        log.info("%s %s ready at %s", self.name, self.version, self.bootstrap)
        return self

    def wait_brokers(self, count: int, timeout_s: float) -> None:
        """Block until the cluster's metadata lists ``count`` brokers (unfenced)."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            for node in self.nodes:
                if not node.running:
                    continue
                with contextlib.suppress(Exception):
                    seen = _run_sync(_count_brokers(node.bootstrap, 5.0))
                    if seen >= count:
                        return
            time.sleep(0.2)
        raise BrokerError(f"{self.name}: {seen} of {count} brokers in the metadata in time")

    @property
    def live_bootstrap(self) -> str:
        """The client addresses of the nodes running now (for probes that must not wait
        on a dead node)."""
        return ",".join(n.bootstrap for n in self.nodes if n.running)

    async def leaders(self, topics: Sequence[str] | None) -> dict[tuple[str, int], int]:
        """(topic, partition) -> node id of its leader, as a running node's metadata says
        (-1: no leader now), for ``topics`` (None: every topic). Asks the live nodes only."""
        from aiokafka import AIOKafkaClient  # lazy, as in streams.embedded

        client = AIOKafkaClient(bootstrap_servers=self.live_bootstrap, request_timeout_ms=5000)
        try:
            await asyncio.wait_for(client.bootstrap(), 10)
            cluster = await asyncio.wait_for(client.fetch_all_metadata(), 10)
            out: dict[tuple[str, int], int] = {}
            for topic in sorted(cluster.topics()) if topics is None else topics:
                for p in sorted(cluster.partitions_for_topic(topic) or ()):
                    leader = cluster.leader_for_partition(TopicPartition(topic, p))
                    out[(topic, p)] = -1 if leader is None else leader
            return out
        finally:
            await client.close()

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node (a crash); its ports and data are kept for :meth:`start_node`."""
        self.node(node_id).kill()

    def start_node(self, node_id: int, timeout_s: float = KAFKA_START_TIMEOUT_S) -> None:
        """Start one stopped or killed node again on its ports and data; wait until it serves."""
        self.node(node_id).start(timeout_s)

    def stop(self, timeout_s: float = 15.0) -> None:
        """Stop every node (SIGTERM to all at once, then SIGKILL); ports and data are kept.

        All at once: a node stopped last, one by one, waits for a controller quorum that is
        already gone for its controlled shutdown, and hangs until killed."""
        for node in self.nodes:
            if node._proc is not None and node.running:
                node._signal(node._proc, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for node in self.nodes:
            if node._proc is not None and node.running:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    node._proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            node.kill()  # already exited: only forgets the process; else SIGKILL

    def close(self) -> None:
        """Stop every node and delete the cluster's directory unless the caller gave it."""
        self.stop()
        if self._owns_work_dir and self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
            self._work_dir = None
            self._owns_work_dir = False

    def log_tail(self, max_lines: int = 20) -> str:
        """The end of every node's log, for failure messages."""
        return "\n".join(f"--- {n.name} ---\n{n.log_tail(max_lines)}" for n in self.nodes)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m tests.support.brokers {fetch,tansu,kafka}``; returns the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.brokers",
        description="Fetch Apache Kafka, or run a local Kafka-protocol broker until Ctrl-C.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="download Kafka jars; print their directory")
    fetch.add_argument("--version", help=f"Kafka version (default {DEFAULT_KAFKA_VERSION})")
    commands.add_parser("tansu", help="run Tansu (memory storage) and print its bootstrap")
    kafka = commands.add_parser("kafka", help="run Apache Kafka and print its bootstrap")
    kafka.add_argument("--version", help=f"Kafka version (default {DEFAULT_KAFKA_VERSION})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")

    try:
        if args.command == "fetch":
            print(fetch_kafka(args.version), flush=True)
            return 0
        broker: TansuBroker | ApacheKafkaBroker = (
            TansuBroker() if args.command == "tansu" else ApacheKafkaBroker(args.version)
        )
        # Ctrl-C must work even if our parent started us with SIGINT ignored (a shell's
        # background job), and SIGTERM from a supervisor should stop the broker the same way.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        with broker:
            print(broker.bootstrap, flush=True)
            print(f"log: {broker.log_path}  (Ctrl-C to stop)", file=sys.stderr, flush=True)
            code = broker.wait()
            tail = broker.log_tail()
            print(f"{broker.name} exited on its own (code {code}):\n{tail}", file=sys.stderr)
            return 1
    except BrokerUnavailable as exc:
        print(exc.reason, file=sys.stderr)
        return 2
    except BrokerError as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
