"""streams.faust_tuning: publishing through a started producer does not yield to the loop."""

from __future__ import annotations

import asyncio
from types import MethodType, SimpleNamespace
from typing import Any

from faust.topics import Topic

from streams import faust_tuning


class FakeProducer:
    def __init__(self, started: bool) -> None:
        self.started = started


def _topic_with(producer: FakeProducer | None, *, in_transaction: bool = False) -> Any:
    guarded: list[str] = []

    async def maybe_start_producer() -> str:
        guarded.append("guard")
        await asyncio.sleep(0)
        return "guarded producer"

    app = SimpleNamespace(
        _producer=producer, in_transaction=in_transaction, maybe_start_producer=maybe_start_producer
    )
    return SimpleNamespace(app=app, guarded=guarded)


async def _loop_passes_during(coro: Any) -> tuple[Any, int]:
    """Run ``coro``; count how many callbacks scheduled before it ran meanwhile."""
    ran = 0

    def tick() -> None:
        nonlocal ran
        ran += 1

    loop = asyncio.get_running_loop()
    for _ in range(5):
        loop.call_soon(tick)
    result = await coro
    return result, ran


async def test_a_started_producer_is_returned_without_a_loop_pass() -> None:
    assert faust_tuning.apply()
    producer = FakeProducer(started=True)
    topic = _topic_with(producer)
    got, passes = await _loop_passes_during(Topic._get_producer(topic))
    assert got is producer
    assert passes == 0  # Faust's stampede guard alone yields three times
    assert topic.guarded == []


async def test_the_guard_still_starts_the_producer_and_serves_transactions() -> None:
    assert faust_tuning.apply()
    for topic in (
        _topic_with(None),
        _topic_with(FakeProducer(started=False)),
        _topic_with(FakeProducer(started=True), in_transaction=True),
    ):
        got, passes = await _loop_passes_during(Topic._get_producer(topic))
        assert got == "guarded producer"
        assert topic.guarded == ["guard"]
        assert passes > 0


def test_without_monitor_keeps_faust_monitor_out_of_the_sensors() -> None:
    import faust
    from faust.sensors import Monitor

    from streams.faust_tuning import without_monitor

    class Mine(Monitor):
        pass

    plain = faust.App("plain-test", broker="kafka://127.0.0.1:1", store="memory://")
    plain.on_init_dependencies()
    assert plain.monitor in set(plain.sensors)  # Faust's default: what we turn off

    app = faust.App("quiet-test", broker="kafka://127.0.0.1:1", store="memory://")
    without_monitor(app)
    app.on_init_dependencies()  # where Faust adds its monitor when the app starts
    assert set(app.sensors) == set()
    assert app.sensors.on_rebalance_start(app)  # not empty: Faust would warn at each rebalance
    mine = Mine()
    app.sensors.add(mine)  # other sensors still go in
    assert set(app.sensors) == {mine}


async def test_flush_drains_the_buffer_of_table_writes_before_a_commit() -> None:
    """Faust's flush (``flush_atmost(None)``) returns once 0.1 s passes without a record
    sent, with records still buffered; the consumer then committed offsets past table
    writes that a SIGKILL lost (chaos scenario 1). The patched flush returns only when the
    buffer is empty."""
    from faust.transport.producer import ProducerBuffer

    assert faust_tuning.apply()
    sent: list[int] = []

    async def slow_send(fut: Any) -> None:  # aiokafka waiting for room in its batch
        await asyncio.sleep(0.25)
        sent.append(fut)

    buffer = ProducerBuffer()
    buffer.app = SimpleNamespace(conf=SimpleNamespace(producer_threaded=False))  # type: ignore[assignment]
    guarded = faust_tuning.guard_send_pending(lambda self, fut: slow_send(fut))
    buffer._send_pending = MethodType(guarded, buffer)  # type: ignore[method-assign]
    await buffer.start()
    try:
        for i in range(6):
            buffer.put(i)  # type: ignore[arg-type]
        # Faust's own flush gives up with records left (what the commit used to follow).
        await buffer.flush_atmost(None)
        assert len(sent) < 6
        await buffer.flush()
        assert buffer.size == 0 and sent == list(range(6))
    finally:
        await buffer.stop()
