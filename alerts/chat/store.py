"""Where chat commands leave traces: the desk-state topic and the audit topic.

**Desk state** (mutes, the desk's own watchlist) lives in a *compacted* Kafka topic of one
partition, ``<app_id>.desk`` by default, keyed ``mute:<target>`` / ``watch:<target>``, a
tombstone removing one. Every worker reads it from the beginning at start and then follows
it, so a mute typed into any worker's chat reaches every notifier, and survives restarts.
Why not a Faust table of the notifier app: a table is partitioned like the events topic, so
each notifier would hold only the mutes of its own partitions' keys, while a mute must apply
to every partition's events (and ``/mute RSD352`` names a callsign, not a partition key).
A Faust ``GlobalTable`` would fit but recovers through the app's consumer with its own
rebalance quirks; a plain compacted topic read by a group-less consumer is simpler and is
exactly what a global table is underneath.

**Audit**: one JSON record per command (allowed or refused) and per button press, keyed by
the actor, in ``<app_id>.audit`` (a setting; 1 partition, normal retention).

:class:`MemoryDeskStore` is the in-memory fake with the same surface (tests, Kafka-less runs).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any, Protocol

import orjson

from streams.config import StreamSettings
from streams.kafka_auth import client_kwargs
from streams.topics import ensure_topics

__all__ = ["DeskStore", "KafkaDeskStore", "MemoryDeskStore"]

log = logging.getLogger(__name__)

#: Called for every desk-state record read (key, value or None), in topic order.
OnRecord = Callable[[str, bytes | None], None]


class DeskStore(Protocol):
    """Writes desk-state records and audit records."""

    async def put(self, key: str, value: bytes | None) -> None:
        """Write one desk-state record (None: a tombstone)."""
        ...

    async def audit(self, record: dict[str, Any]) -> None:
        """Write one audit record."""
        ...


class MemoryDeskStore:
    """In memory: ``records`` and ``audits`` in write order; ``on_record`` sees each state
    record as the Kafka store's follower would."""

    def __init__(self, on_record: OnRecord | None = None) -> None:
        self.records: list[tuple[str, bytes | None]] = []
        self.audits: list[dict[str, Any]] = []
        self.on_record = on_record

    async def put(self, key: str, value: bytes | None) -> None:
        self.records.append((key, value))
        if self.on_record is not None:
            self.on_record(key, value)

    async def audit(self, record: dict[str, Any]) -> None:
        self.audits.append(record)


class KafkaDeskStore:
    """The desk-state topic (compacted, read whole then followed) and the audit topic.

    :meth:`start` creates both topics if needed, reads the state topic to its end (calling
    ``on_record`` for each record) and keeps following it; :meth:`put` and :meth:`audit`
    write and wait for the broker's acknowledgement.
    """

    def __init__(
        self,
        settings: StreamSettings,
        bootstrap: str,
        state_topic: str,
        audit_topic: str,
        on_record: OnRecord,
    ) -> None:
        self.settings = settings
        self.bootstrap = bootstrap
        self.state_topic = state_topic
        self.audit_topic = audit_topic
        self.on_record = on_record
        self._kwargs = client_kwargs(settings)
        self._producer: Any = None
        self._consumer: Any = None
        self._follow: asyncio.Task[None] | None = None
        #: State records read (start and follow).
        self.read = 0

    async def start(self, *, timeout_s: float = 30.0) -> None:
        """Create the topics, replay the state topic, then follow it in the background."""
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

        await ensure_topics(
            self.bootstrap,
            self.settings,
            extra=[(self.audit_topic, 1)],
            compacted=[(self.state_topic, 1)],
        )
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap, acks="all", **self._kwargs
        )
        await self._producer.start()
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self._kwargs,
        )
        await self._consumer.start()
        tp = TopicPartition(self.state_topic, 0)
        self._consumer.assign([tp])
        await self._consumer.seek_to_beginning(tp)
        end = (await self._consumer.end_offsets([tp]))[tp]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while await self._consumer.position(tp) < end and loop.time() < deadline:
            batch = await self._consumer.getmany(tp, timeout_ms=500)
            for records in batch.values():
                for record in records:
                    self._take(record)
        self._follow = asyncio.create_task(self._following(), name="skyfence-desk-state")

    def _take(self, record: Any) -> None:
        self.read += 1
        try:
            key = record.key.decode() if record.key else ""
            self.on_record(key, record.value)
        except Exception:  # a bad record must not stop the follower
            log.exception("desk state: skipping record at offset %s", record.offset)

    async def _following(self) -> None:
        while True:
            try:
                batch = await self._consumer.getmany(timeout_ms=1000)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("desk state: read failed; retrying")
                await asyncio.sleep(1.0)
                continue
            for records in batch.values():
                for record in records:
                    self._take(record)

    async def put(self, key: str, value: bytes | None) -> None:
        await self._producer.send_and_wait(self.state_topic, key=key.encode(), value=value)

    async def audit(self, record: dict[str, Any]) -> None:
        actor = record.get("actor", {})
        key = f"{actor.get('platform', '')}:{actor.get('user_id', '')}".encode()
        await self._producer.send_and_wait(self.audit_topic, key=key, value=orjson.dumps(record))

    async def stop(self) -> None:
        """Stop following and close the clients."""
        if self._follow is not None:
            self._follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._follow
            self._follow = None
        for client in (self._consumer, self._producer):
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
        self._consumer = self._producer = None
