"""The brokers of :mod:`tests.support.brokers` really speak Kafka, stop cleanly and keep data.

For each broker: create a 3-partition topic with the admin client, produce keyed messages
with explicit CreateTime timestamps, consume them back in a consumer group and compare keys,
values, timestamps and per-key partitioning. A broker the test starts itself must, once
stopped, leave no process behind and free its port. Apache Kafka must keep an ``acks=all``
message across :meth:`restart` and across :meth:`kill` (a crash) plus a start.

Every test is bounded: a pytest-timeout mark, plus ``asyncio.wait_for`` or deadlines inside.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.brokers import ApacheKafkaBroker, Broker, TansuBroker, free_port

from .conftest import require_apache_kafka

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

#: icao24-like keys; with murmur2 over 3 partitions they land on all three.
KEYS = [f"{n:06x}".encode() for n in (0x71C001, 0x71C002, 0x8B0A11, 0x4CA2F3, 0xA1B2C3, 0x0D0E0F)]
#: 2023-09-01T00:00:00Z in ms: far from "now", so a broker stamping its own time shows.
BASE_TS_MS = 1_693_526_400_000
MESSAGES_PER_KEY = 5
#: Upper bound for any single client operation in these tests.
OP_TIMEOUT_S = 30.0


@pytest.fixture(
    params=[
        pytest.param("tansu_broker", id="tansu"),
        pytest.param("kafka_broker", id="apache-kafka", marks=pytest.mark.apache_kafka),
    ]
)
def broker(request: pytest.FixtureRequest) -> Broker:
    """The shared session broker, once per broker type."""
    started: Broker = request.getfixturevalue(request.param)
    return started


def _topic(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    await admin.start()
    try:
        await asyncio.wait_for(
            admin.create_topics([NewTopic(topic, num_partitions=partitions, replication_factor=1)]),
            OP_TIMEOUT_S,
        )
        # Kafka answers CreateTopics once the controller commits; the broker's metadata
        # can lag a moment behind, so wait (bounded) until it shows every partition.
        deadline = time.monotonic() + OP_TIMEOUT_S
        while True:
            described = await asyncio.wait_for(admin.describe_topics([topic]), OP_TIMEOUT_S)
            if len(described[0]["partitions"]) == partitions:
                return
            assert time.monotonic() < deadline, f"{topic} not fully described: {described}"
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def _produce(
    bootstrap: str, topic: str, records: list[tuple[bytes, bytes, int]]
) -> list[tuple[int, int]]:
    """Send (key, value, timestamp_ms) one by one with acks=all; return (partition, offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=10_000)
    await producer.start()
    try:
        placed = []
        for key, value, ts_ms in records:
            meta = await asyncio.wait_for(
                producer.send_and_wait(topic, value, key=key, timestamp_ms=ts_ms), OP_TIMEOUT_S
            )
            assert meta.timestamp == ts_ms  # CreateTime: the broker keeps our timestamp
            placed.append((meta.partition, meta.offset))
        return placed
    finally:
        await producer.stop()


async def _consume(bootstrap: str, topic: str, count: int, timeout_s: float = OP_TIMEOUT_S) -> list:
    """Read ``count`` records from the start of ``topic`` in a fresh consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=_topic("it-brokers"),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        got: list = []
        deadline = time.monotonic() + timeout_s
        while len(got) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"consumed {len(got)}/{count} records in {timeout_s} s")
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                got.extend(records)
        return got
    finally:
        await consumer.stop()


def _assert_stopped(pid: int, port: int) -> None:
    """The process is gone and nothing listens on the port, which can be bound again."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with socket.socket() as probe:
        probe.settimeout(2)
        assert probe.connect_ex(("127.0.0.1", port)) == errno.ECONNREFUSED
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as brokers do
        sock.bind(("127.0.0.1", port))


# --------------------------------------------------------------------------------------


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


async def test_keyed_round_trip_keeps_keys_values_timestamps(broker: Broker) -> None:
    topic = _topic("it-roundtrip")
    await _create_topic(broker.bootstrap, topic, partitions=3)
    sent = [
        (key, f"{key.decode()}#{i}".encode(), BASE_TS_MS + 1000 * i + k)
        for i in range(MESSAGES_PER_KEY)
        for k, key in enumerate(KEYS)
    ]
    placed = await _produce(broker.bootstrap, topic, sent)

    partition_of_key: dict[bytes, set[int]] = {}
    for (key, _, _), (partition, _) in zip(sent, placed, strict=True):
        partition_of_key.setdefault(key, set()).add(partition)
    assert all(len(parts) == 1 for parts in partition_of_key.values()), partition_of_key
    assert {p for parts in partition_of_key.values() for p in parts} == {0, 1, 2}

    got = await _consume(broker.bootstrap, topic, len(sent))
    assert sorted((r.key, r.value, r.timestamp) for r in got) == sorted(sent)
    assert {r.timestamp_type for r in got} == {0}  # CreateTime
    for record in got:
        assert record.partition in partition_of_key[record.key]
    # Within a key (so within a partition) the order of sending is kept.
    for key in KEYS:
        values = [r.value for r in got if r.key == key]
        assert values == [v for k, v, _ in sent if k == key]


def test_tansu_stop_leaves_no_process_and_frees_port() -> None:
    with TansuBroker() as broker:
        pid, port = broker.pid, broker.port
        assert pid is not None and broker.running
        assert broker.bootstrap == f"127.0.0.1:{port}"
        assert os.getpgid(pid) == pid  # own process group: the terminal's Ctrl-C is ours
        log_path = broker.log_path
        broker.stop()
        assert not broker.running and broker.pid is None
        assert log_path.is_file()
        _assert_stopped(pid, port)
    assert not log_path.exists()  # close() removed the private directory


@pytest.fixture
def own_kafka() -> Iterator[ApacheKafkaBroker]:
    """An Apache Kafka broker of this test's own, free to stop, kill and restart.

    A short broker session lets the start after a kill() re-register in ~3 s, not ~9 s.
    """
    require_apache_kafka()
    fast_crash_recovery = {
        "broker.session.timeout.ms": "3000",
        "broker.heartbeat.interval.ms": "500",
    }
    with ApacheKafkaBroker(properties=fast_crash_recovery) as broker:
        yield broker


@pytest.mark.apache_kafka
def test_kafka_stop_leaves_no_process_and_frees_port(own_kafka: ApacheKafkaBroker) -> None:
    pid, port, controller = own_kafka.pid, own_kafka.port, own_kafka.controller_port
    assert pid is not None and own_kafka.running
    assert os.getpgid(pid) == pid
    assert "Kafka Server started" in own_kafka.log_path.read_text()  # log4j writes the file
    own_kafka.stop()
    assert not own_kafka.running
    _assert_stopped(pid, port)
    _assert_stopped(pid, controller)


@pytest.mark.apache_kafka
async def test_kafka_restart_and_crash_keep_acked_messages(own_kafka: ApacheKafkaBroker) -> None:
    bootstrap = own_kafka.bootstrap
    topic = _topic("it-restart")
    await _create_topic(bootstrap, topic, partitions=3)
    first = (b"71c001", b"before-restart", BASE_TS_MS)
    await _produce(bootstrap, topic, [first])

    old_pid = own_kafka.pid
    own_kafka.restart()  # blocking is fine: no client is open meanwhile
    assert own_kafka.bootstrap == bootstrap and own_kafka.pid != old_pid
    got = await _consume(bootstrap, topic, 1)
    assert [(r.key, r.value, r.timestamp) for r in got] == [first]

    second = (b"71c001", b"before-crash", BASE_TS_MS + 1)
    await _produce(bootstrap, topic, [second])
    own_kafka.kill()
    assert not own_kafka.running
    own_kafka.start()
    assert own_kafka.bootstrap == bootstrap
    got = await _consume(bootstrap, topic, 2)
    assert [(r.key, r.value, r.timestamp) for r in got] == [first, second]


@pytest.mark.apache_kafka
def test_kafka_check_available_and_cached_fetch() -> None:
    require_apache_kafka()
    assert ApacheKafkaBroker.check_available() is None
    from tests.support.brokers import fetch_kafka

    jars = fetch_kafka()
    started = time.monotonic()
    assert fetch_kafka() == jars  # cached: no Maven run the second time
    assert time.monotonic() - started < 5.0
    assert any(jars.glob("kafka_2.13-*.jar"))
