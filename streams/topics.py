"""Create the pipeline's topics with the right partition counts before anything uses them.

Faust only creates its internal topics (table changelogs); the positions, events and
dead-letter topics are created here, so a broker's auto-create default (often 1 partition)
never decides the pipeline's parallelism.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from streams.config import StreamSettings
from streams.errors import BrokerError

__all__ = ["CONNECT_TIMEOUT_S", "connect_admin", "ensure_topics"]

log = logging.getLogger(__name__)

#: Kafka protocol error code TOPIC_ALREADY_EXISTS.
_TOPIC_ALREADY_EXISTS = 36
#: How long a command tries to reach the broker before it gives up with one line saying what
#: it tried: long enough for a broker that is still starting, short enough for a typo.
CONNECT_TIMEOUT_S = 15.0
#: Pause between two connection attempts.
_CONNECT_RETRY_S = 1.0


async def connect_admin(
    bootstrap: str,
    *,
    timeout_s: float = CONNECT_TIMEOUT_S,
    request_timeout_s: float = 30.0,
    security: Mapping[str, Any] | None = None,
) -> Any:
    """A started ``AIOKafkaAdminClient`` for ``bootstrap``, retrying for up to ``timeout_s``;
    raises :class:`~streams.errors.BrokerError` naming the address, the attempts and the last
    error when the broker cannot be reached (never a Kafka traceback)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    loop = asyncio.get_running_loop()
    started = loop.time()
    attempts = 0
    # aiokafka logs every failed attempt at ERROR; the one line below says it all.
    kafka_log = logging.getLogger("aiokafka")
    while True:
        attempts += 1
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap,
            request_timeout_ms=int(request_timeout_s * 1000),
            **(security or {}),  # streams.kafka_auth.client_kwargs: TLS and SASL
        )
        level = kafka_log.level
        kafka_log.setLevel(logging.CRITICAL)
        try:
            await asyncio.wait_for(admin.start(), timeout=max(1.0, timeout_s))
            return admin
        except (KafkaError, OSError, TimeoutError, ValueError) as exc:
            await admin.close()
            last = _describe(exc)
        finally:
            kafka_log.setLevel(level)
        waited = loop.time() - started
        if waited + _CONNECT_RETRY_S > timeout_s:
            raise BrokerError(
                f"cannot reach Kafka at {bootstrap}: {attempts} attempt(s) over {waited:.0f} s, "
                f"last: {last}"
            )
        await asyncio.sleep(_CONNECT_RETRY_S)


def _describe(exc: BaseException) -> str:
    """A short description of a connection error (aiokafka repeats its class name and lists
    resolved addresses)."""
    name = type(exc).__name__
    text = str(exc).removeprefix(f"{name}: ").split(" from [", 1)[0].strip()
    return f"{name}: {text}" if text and text != name else name


def _topic_configs(settings: StreamSettings) -> dict[str, str]:
    """Topic configs every topic skyfence creates gets: ``min.insync.replicas`` when set (on a
    cluster, 2 with replication factor 3, so an acks=all write needs two copies and still
    goes through with one broker down); otherwise the broker's defaults."""
    if settings.min_insync_replicas > 0:
        return {"min.insync.replicas": str(settings.min_insync_replicas)}
    return {}


async def ensure_topics(
    bootstrap: str,
    settings: StreamSettings,
    *,
    timeout_s: float = 30.0,
    extra: Sequence[tuple[str, int]] = (),
    compacted: Sequence[tuple[str, int]] = (),
) -> None:
    """Create the positions, events and dead-letter topics (and ``extra`` (name, partitions)
    topics, e.g. the alerts dead-letter topic, and ``compacted`` ones: table changelogs) if
    they do not exist yet, and wait until the broker's metadata shows them all.

    An unreachable broker raises :class:`~streams.errors.BrokerError` after
    :data:`CONNECT_TIMEOUT_S` (see :func:`connect_admin`)."""
    from aiokafka.admin import NewTopic

    from streams.kafka_auth import client_kwargs

    admin = await connect_admin(
        bootstrap, request_timeout_s=timeout_s, security=client_kwargs(settings)
    )
    try:
        existing = set(await admin.list_topics())
        configs = _topic_configs(settings)
        wanted = [
            NewTopic(
                name,
                num_partitions=parts,
                replication_factor=settings.replication_factor,
                topic_configs=configs,
            )
            for name, parts in (
                (settings.positions_topic, settings.partitions),
                (settings.events_topic, settings.partitions),
                (settings.dead_letter_topic, 1),
                *extra,
            )
            if name not in existing
        ] + [
            NewTopic(
                name,
                num_partitions=parts,
                replication_factor=settings.replication_factor,
                topic_configs={**configs, "cleanup.policy": "compact"},
            )
            for name, parts in compacted
            if name not in existing
        ]
        if wanted:
            log.info("creating topics %s", [t.name for t in wanted])
            # Per-topic errors come back in the response, not as exceptions. A concurrent
            # creator winning the race (TOPIC_ALREADY_EXISTS) is fine; anything else is
            # caught by the metadata wait below.
            response = await admin.create_topics(wanted)
            for item in getattr(response, "topic_errors", []):
                if item[1] not in (0, _TOPIC_ALREADY_EXISTS):
                    log.warning("creating topic %s failed with error code %s", item[0], item[1])
        # Wait until the metadata shows every topic (creation is asynchronous on some brokers).
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            names = set(await admin.list_topics())
            needed = (settings.positions_topic, settings.events_topic, *(n for n, _ in compacted))
            if all(t in names for t in needed):
                return
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError("topics did not appear in broker metadata")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
