"""Chat commands on Apache Kafka: mutes survive a restart and reach every worker, and every
command (allowed or refused) is in the audit topic as JSON.

Two :class:`~alerts.chat.runtime.ChatRuntime` instances stand for two workers (no Faust app
needed: the desk state is a plain compacted topic followed by a group-less consumer).
"""

from __future__ import annotations

import asyncio
import time
import uuid

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from alerts.chat.runtime import ChatRuntime
from alerts.commands import parse_command
from alerts.config import AlertSettings
from alerts.interact import Actor
from streams.config import StreamSettings

pytestmark = [pytest.mark.integration, pytest.mark.apache_kafka, pytest.mark.timeout(120)]

DESK = Actor("telegram", "-1001", "42", "duty")
STRANGER = Actor("telegram", "-999", "666", "eve")
NOW_S = 1_700_000_000.0


def _runtime() -> ChatRuntime:
    runtime = ChatRuntime.from_settings(AlertSettings(chat_allowed_chats="-1001"), env={})
    assert runtime is not None
    return runtime


async def _say(runtime: ChatRuntime, actor: Actor, text: str) -> str:
    command = parse_command(text, actor, at_s=NOW_S)
    assert command is not None
    reply = await runtime.handler.on_command(command)
    return reply.text


async def _audit(bootstrap: str, topic: str) -> list[dict[str, object]]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        out = []
        while len(out) < end:
            batch = await consumer.getmany(tp, timeout_ms=1000)
            out += [orjson.loads(r.value) for r in batch.get(tp, [])]
        return out
    finally:
        await consumer.stop()


async def test_mutes_survive_restart_reach_other_workers_and_commands_are_audited(
    kafka_broker: object,
) -> None:
    bootstrap = kafka_broker.bootstrap  # type: ignore[attr-defined]
    settings = StreamSettings(broker=bootstrap, app_id=f"chat-{uuid.uuid4().hex[:8]}")
    first, other = _runtime(), _runtime()
    await first.start(settings, bootstrap)
    await other.start(settings, bootstrap)
    try:
        assert "not allowed" in await _say(first, STRANGER, "/mute 780a1b 6h")
        assert "Muted 1551e0" in await _say(first, DESK, "/mute 1551e0 6h")
        assert "Added 1551e0" in await _say(first, DESK, "/watch 1551e0")
        assert first.state.muted("1551e0", None, time.time() + 60)
        # The other worker follows the topic: the mute reaches its notifier within seconds.
        for _ in range(100):
            if "1551e0" in other.state.mutes and "1551e0" in other.state.watches:
                break
            await asyncio.sleep(0.1)
        assert set(other.state.mutes) == {"1551e0"} and set(other.state.watches) == {"1551e0"}
    finally:
        await first.stop()
        await other.stop()
    # A restarted worker reads the compacted topic from the beginning.
    restarted = _runtime()
    await restarted.start(settings, bootstrap)
    try:
        assert restarted.state.muted("1551e0", None, time.time() + 60)
        assert not restarted.state.muted("780a1b", None, time.time() + 60)  # the refused one
        assert "Unmuted 1551e0" in await _say(restarted, DESK, "/unmute 1551e0")
    finally:
        await restarted.stop()
    again = _runtime()
    await again.start(settings, bootstrap)
    try:
        assert again.state.mutes == {} and set(again.state.watches) == {"1551e0"}
    finally:
        await again.stop()
    state_topic, audit_topic = first.topics(settings)
    assert (state_topic, audit_topic) == (f"{settings.app_id}.desk", f"{settings.app_id}.audit")
    audits = await _audit(bootstrap, audit_topic)
    assert [(a["command"], a["outcome"], a["actor"]["chat_id"]) for a in audits] == [  # type: ignore[index]
        ("mute", "refused", "-999"),
        ("mute", "ok", "-1001"),
        ("watch", "ok", "-1001"),
        ("unmute", "ok", "-1001"),
    ]
    assert audits[0]["args"] == ["780a1b", "6h"]
    assert abs(float(audits[0]["at_s"]) - time.time()) < 120  # type: ignore[arg-type]
    assert str(audits[0]["time"]).endswith("Z")
