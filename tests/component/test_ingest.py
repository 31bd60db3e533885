"""``Ingest`` with an in-process fake producer: routing, dead letters, dedup, the bounded
buffer while the broker is down, resends, the idempotence fallback and the stop flush."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError, UnknownError
from prometheus_client import CollectorRegistry

from streams.codec import PositionBatch, decode_positions, partition_of
from streams.config import StreamSettings
from streams.ingest import Ingest, IngestMetrics, IngestOptions
from streams.models import BadLine, PositionReport, Watermark
from streams.sources.base import ListSource

T0 = 1695690855.0
SETTINGS = StreamSettings(broker="fake:9092", positions_topic="pos", dead_letter_topic="dlq")


class FakeProducer:
    """Enough of ``AIOKafkaProducer``: records what it was sent; ``down`` holds acks back;
    ``fail_next`` fails that many futures; ``refuse_next`` raises from ``send``."""

    def __init__(
        self,
        log: list[tuple[str, bytes | None, bytes, list[Any]]],
        *,
        idempotent: bool,
        refuse_idempotent: bool = False,
    ) -> None:
        self.log = log
        self.idempotent = idempotent
        self.refuse_idempotent = refuse_idempotent
        self.down = False
        self.held: list[tuple[asyncio.Future[Any], tuple[str, bytes | None, bytes, list[Any]]]] = []
        self.fail_next = 0
        self.refuse_next = 0
        self.stopped = False
        self.start_failures = 0

    async def start(self) -> None:
        if self.start_failures:
            self.start_failures -= 1
            raise KafkaConnectionError("down")
        if self.idempotent and self.refuse_idempotent:
            raise UnknownError("InitProducerId")

    async def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        headers: list[Any] | None = None,
    ) -> asyncio.Future[Any]:
        if partition is not None:  # a batch: every aircraft in it belongs to that partition
            decoded = decode_positions(value)
            assert isinstance(decoded, PositionBatch | Watermark)
            if isinstance(decoded, PositionBatch):
                    assert all(partition_of(p.icao24, 3) == partition for p in decoded.reports)
        if self.refuse_next:
            self.refuse_next -= 1
            raise KafkaTimeoutError()
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        rec = (topic, key, value, headers or [])
        if self.fail_next:
            self.fail_next -= 1
            fut.set_exception(KafkaConnectionError("lost"))
        elif self.down:
            self.held.append((fut, rec))
        else:
            self.log.append(rec)
            fut.set_result(None)
        return fut

    def come_back(self) -> None:
        self.down = False
        for fut, rec in self.held:
            self.log.append(rec)
            fut.set_result(None)
        self.held.clear()

    async def stop(self) -> None:
        self.stopped = True


def sent_positions(log: list[Any]) -> list[tuple[bytes | None, PositionReport]]:
    """(key, position) of every position sent, batches unpacked (key None in a batch, whose
    partition must own each of its aircraft)."""
    out: list[tuple[bytes | None, PositionReport]] = []
    for topic, key, value, _headers in log:
        if topic != "pos":
            continue
        decoded = decode_positions(value)
        if isinstance(decoded, PositionBatch):
            out += [(None, p) for p in decoded.reports]
        elif isinstance(decoded, PositionReport):
            out.append((key, decoded))
    return out


def reports(n: int, *, base: int = 0x100000, source: str = "sbs") -> list[PositionReport]:
    return [
        PositionReport(f"{base + i:06x}", T0 + i, 40.0 + i * 0.01, 124.0, 30000, source=source)
        for i in range(n)
    ]


def make(
    sources: list[Any],
    *,
    options: IngestOptions | None = None,
    clock: Any = None,
    settings: StreamSettings = SETTINGS,
    **producer_kw: Any,
) -> tuple[Ingest, list[Any], list[FakeProducer]]:
    log: list[Any] = []
    made: list[FakeProducer] = []

    def factory(idempotent: bool) -> FakeProducer:
        p = FakeProducer(log, idempotent=idempotent, **producer_kw)
        made.append(p)
        return p

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    ingest = Ingest(
        sources,
        settings,
        factory,
        metrics=IngestMetrics(CollectorRegistry()),
        options=options,
        sleep=no_sleep,
        **({"clock": clock} if clock is not None else {}),
    )
    return ingest, log, made


async def test_positions_keyed_rejections_dead_lettered_duplicates_dropped() -> None:
    a = reports(50)
    # the same fixes heard by a second receiver, 0.3 s later and 20 m off; plus its own aircraft
    b = [
        PositionReport(r.icao24, r.ts + 0.3, r.lat + 0.0002, r.lon, r.alt_ft, source="readsb")
        for r in a[:30]
    ]
    b += reports(10, base=0x200000, source="readsb")
    bad = [
        BadLine(7, "bad_lat", "lat 95", b"MSG,3,...95.0"),
        BadLine(8, "no_position", "no pos", b"{}"),
    ]
    ingest, log, made = make(
        [ListSource(a + bad, name="sbs://a:1"), ListSource(b, name="http://b/aircraft.json")]
    )
    stats = await asyncio.wait_for(ingest.run(), 10)
    positions = sent_positions(log)
    dlq = [(v, dict(h)) for t, k, v, h in log if t == "dlq"]
    assert len(positions) == 60 and stats.duplicates == 30
    assert all(k is None or k == p.icao24.encode() for k, p in positions)
    assert any(k is None for k, _ in positions)  # batched
    assert {p.icao24 for _, p in positions} == {r.icao24 for r in a + b}
    assert dlq == [
        (
            b"MSG,3,...95.0",
            {
                "skyfence-reason": b"bad_lat",
                "skyfence-detail": b"lat 95",
                "skyfence-source": b"sbs://a:1",
            },
        ),
        (
            b"{}",
            {
                "skyfence-reason": b"no_position",
                "skyfence-detail": b"no pos",
                "skyfence-source": b"sbs://a:1",
            },
        ),
    ]
    assert stats.rejections == 2 and stats.suppressed == 0
    assert stats.acked == 62 and len(ingest.buffer) == 0
    assert made[0].idempotent and made[0].stopped
    assert ingest.metrics.duplicates.labels("http://b/aircraft.json")._value.get() == 30


async def test_broker_down_fills_the_bounded_buffer_counts_overflow_then_drains() -> None:
    items = reports(120)
    gate = asyncio.Event()

    class Gated(ListSource):
        async def __aiter__(self) -> Any:
            for n, item in enumerate(self._items):
                if n == 100:
                    await gate.wait()
                await asyncio.sleep(0)  # as a socket read would
                yield item

    ingest, log, made = make([Gated(items, name="sbs://a:1")], options=IngestOptions(buffer_max=80))
    task = asyncio.create_task(ingest.run())
    await ingest.producer_ready.wait()
    made[0].down = True
    while ingest.stats.positions < 100:
        await asyncio.sleep(0.01)
    assert len(ingest.buffer) <= 80
    assert ingest.stats.overflow >= 100 - 80 - len(log)
    dropped = ingest.stats.overflow
    assert dropped > 0 and ingest.metrics.overflow._value.get() == dropped
    made[0].come_back()
    gate.set()
    stats = await asyncio.wait_for(task, 10)
    sent = [p.icao24 for _, p in sent_positions(log)]
    assert len(sent) == len(set(sent)) == 120 - dropped  # every accepted record exactly once
    assert stats.acked == len(sent)


async def test_failed_sends_are_retried_and_failed_acks_resent() -> None:
    ingest, log, made = make([ListSource(reports(20), name="s")])
    task = asyncio.create_task(ingest.run())
    await ingest.producer_ready.wait()
    made[0].refuse_next = 3  # accumulator full: send raises, nothing appended
    made[0].fail_next = 2  # two futures fail: those records are queued again
    stats = await asyncio.wait_for(task, 10)
    sent = sorted(p.icao24 for _, p in sent_positions(log))
    assert sent == sorted(r.icao24 for r in reports(20))
    assert stats.resent >= 2 and stats.acked == 20  # two failed messages (batches) queued again


async def test_idempotence_falls_back_on_a_broker_that_refuses_it_and_waits_for_a_down_broker() -> (
    None
):
    ingest, log, made = make([ListSource(reports(3), name="s")], refuse_idempotent=True)
    await asyncio.wait_for(ingest.run(), 10)
    assert [p.idempotent for p in made] == [True, False] and ingest.idempotent is False
    assert len(sent_positions(log)) == 3

    ingest, log, made = make(
        [ListSource(reports(3), name="s")],
        options=IngestOptions(idempotence="on"),
        refuse_idempotent=True,
    )
    with pytest.raises(UnknownError):
        await asyncio.wait_for(ingest.run(), 10)

    # A broker down at start: the producer start is retried, positions wait in the buffer.
    log2: list[Any] = []
    attempts: list[FakeProducer] = []

    def factory(idempotent: bool) -> FakeProducer:
        p = FakeProducer(log2, idempotent=idempotent)
        p.start_failures = 1 if len(attempts) < 3 else 0
        attempts.append(p)
        return p

    async def no_sleep(_: float) -> None:
        await asyncio.sleep(0)

    ingest = Ingest(
        [ListSource(reports(5), name="s")],
        SETTINGS,
        factory,
        metrics=IngestMetrics(CollectorRegistry()),
        sleep=no_sleep,
    )
    await asyncio.wait_for(ingest.run(), 10)
    assert len(attempts) == 4 and len(sent_positions(log2)) == 5


async def test_stop_flushes_what_is_buffered() -> None:
    forever = asyncio.Event()

    class Endless(ListSource):
        async def __aiter__(self) -> Any:
            for item in self._items:
                yield item
            await forever.wait()

    ingest, log, made = make([Endless(reports(40), name="s")])
    task = asyncio.create_task(ingest.run())
    await ingest.producer_ready.wait()
    made[0].down = True
    while ingest.stats.positions < 40:
        await asyncio.sleep(0.01)
    ingest.stop()
    await asyncio.sleep(0.05)
    assert not task.done()  # still flushing: the broker has not acknowledged
    made[0].come_back()
    stats = await asyncio.wait_for(task, 10)
    assert stats.acked == 40 and len(sent_positions(log)) == 40 and made[0].stopped


async def test_no_position_dead_lettered_once_per_aircraft_and_source_per_window() -> None:
    """A polled API lists the same position-less aircraft every poll: each (source,
    aircraft) gets one dead letter per ``no_position_every_s``; the repeats are counted."""
    now = [0.0]

    def no_pos(icao24: str) -> BadLine:
        return BadLine(1, "no_position", "aircraft without a position", b"{}", icao24=icao24)

    class Polls(ListSource):
        """Three polls of two aircraft, the clock moving 1 s, then 601 s."""

        async def __aiter__(self) -> Any:
            for step in (0.0, 1.0, 601.0):
                now[0] += step
                for item in (no_pos("aaaaaa"), no_pos("bbbbbb")):
                    yield item
                await asyncio.sleep(0)

    other = ListSource([no_pos("aaaaaa")], name="opensky://")
    ingest, log, _ = make(
        [Polls([], name="adsbx://api.adsb.lol"), other],
        options=IngestOptions(no_position_every_s=600.0),
        clock=lambda: now[0],
    )
    stats = await asyncio.wait_for(ingest.run(), 10)
    dlq = [(dict(h)["skyfence-source"], v) for t, _k, v, h in log if t == "dlq"]
    # poll 1: both aircraft; poll 2 (1 s later): none; poll 3 (602 s): both again; the
    # other source's aircraft is its own key.
    assert sorted(dlq) == sorted(
        [(b"adsbx://api.adsb.lol", b"{}")] * 4 + [(b"opensky://", b"{}")]
    )
    assert stats.rejections == 7 and stats.suppressed == 2
    suppressed = ingest.metrics.suppressed.labels("adsbx://api.adsb.lol", "no_position")
    assert suppressed._value.get() == 2


async def test_watermarks_follow_the_feed_to_every_partition_behind_the_positions() -> None:
    """On a live topic, ingest sends ``{"watermark": ts}`` to every partition: the oldest
    latest position time of the active sources, less the lateness, only when it moved, and
    never ahead of the positions queued before it. A source silent for SOURCE_ACTIVE_S no
    longer holds it back."""
    from streams.codec import decode_positions as decode
    from streams.ingest import SOURCE_ACTIVE_S

    now = [100.0]
    gate = asyncio.Event()
    sbs = reports(20)  # ts T0 .. T0 + 19
    slow = reports(3, base=0x300000, source="opensky")  # ts T0 .. T0 + 2

    class Paced(ListSource):
        async def __aiter__(self) -> Any:
            for item in self._items:
                yield item
            await gate.wait()

    live = StreamSettings(
        broker="fake:9092", positions_topic="pos", dead_letter_topic="dlq", live=True
    )
    ingest, log, _ = make(
        [Paced(sbs, name="sbs://a:1"), Paced(slow, name="opensky://")],
        options=IngestOptions(watermark_every_s=3600.0, watermark_lateness_s=5.0),
        clock=lambda: now[0],
        settings=live,
    )
    run = asyncio.create_task(ingest.run())
    while ingest.stats.positions < 23 or not ingest.partitions:
        assert not run.done(), run.exception()
        await asyncio.sleep(0.01)
    # Both sources active: the slower one (latest T0 + 2) holds the watermark at T0 - 3.
    assert ingest.watermark_due() == T0 + 2 - 5.0
    assert ingest.send_watermark() and not ingest.send_watermark()  # sent once: unmoved
    # OpenSky silent past SOURCE_ACTIVE_S: the SBS feed alone (latest T0 + 19) moves it.
    now[0] += SOURCE_ACTIVE_S + 1
    assert ingest.watermark_due() is None  # neither source gave a position since
    ingest.offer(PositionReport("100000", T0 + 30, 40.0, 124.0, source="sbs"), "sbs://a:1")
    assert ingest.send_watermark()
    while len(ingest.buffer):
        assert not run.done(), run.exception()
        await asyncio.sleep(0.01)
    gate.set()
    ingest.stop()
    stats = await asyncio.wait_for(run, 10)
    assert stats.watermarks == 2 and len(ingest.buffer) == 0
    # Each of the 3 partitions got both watermarks, in order, after the positions queued
    # before them.
    marks = [decode(v) for t, _k, v, _h in log if t == "pos"]
    wm_ts = [m.ts for m in marks if isinstance(m, Watermark)]
    assert wm_ts == [T0 - 3.0] * 3 + [T0 + 25.0] * 3  # 3 partitions each
    first_wm = next(i for i, m in enumerate(marks) if isinstance(m, Watermark))
    before = [m for m in marks[:first_wm] if not isinstance(m, Watermark)]
    n_before = sum(len(m.reports) if isinstance(m, PositionBatch) else 1 for m in before)
    assert n_before == 23  # every position queued before the first watermark went first
    assert ingest.metrics.produced.labels("watermark")._value.get() == 2


async def test_no_watermarks_on_a_replayed_topic() -> None:
    ingest, log, _ = make([ListSource(reports(5), name="sbs://a:1")])
    stats = await asyncio.wait_for(ingest.run(), 10)
    assert stats.watermarks == 0 and len(log) >= 1
    assert not [v for t, _k, v, _h in log if b"watermark" in v]


# -- /healthz and /readyz of the ingest process ----------------------------------------------


async def test_ingest_health_and_readiness_over_http() -> None:
    """``/healthz`` says per source whether it is receiving, reconnecting (alive) or stalled
    (not); ``/readyz`` fails while the broker does not acknowledge, and both recover."""
    import aiohttp

    from streams.health import Operations
    from streams.ingest import ACK_STALE_S, IngestProbe
    from streams.sources.live import LiveShell
    from tests.support.brokers import free_port

    wall = [T0]
    mono = [0.0]
    feed: asyncio.Queue[Any] = asyncio.Queue()

    class Feed(LiveShell):
        """A live source the test feeds by hand; its clock is the test's."""

        async def __aiter__(self) -> Any:
            while not self._closed:
                item = await feed.get()
                if item is None:
                    return
                self.progressed()
                yield item

        async def aclose(self) -> None:
            self._closed = True
            feed.put_nowait(None)

    source = Feed("sbs://rx:30003", clock=lambda: wall[0])
    ingest, _log, made = make([source], clock=lambda: mono[0])
    ops = Operations(
        CollectorRegistry(), probes=[IngestProbe(ingest, stall_after_s=120.0)], interval_s=60
    )
    port = free_port()
    await ops.start("127.0.0.1", port)
    run = asyncio.create_task(ingest.run())

    async def get(path: str) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}{path}") as resp,
        ):
            return resp.status, await resp.json()

    try:
        while not made or not ingest.producer_ready.is_set():
            await asyncio.sleep(0.01)
        feed.put_nowait(reports(1)[0])
        while ingest.stats.acked < 1:
            await asyncio.sleep(0.01)
        status, body = await get("/healthz")
        assert status == 200, body
        assert body["ingest"]["sender"] == "running"
        assert body["ingest"]["sources"]["sbs://rx:30003"]["state"] == "receiving"
        status, body = await get("/readyz")
        assert status == 200 and body["ingest"]["broker"] == "reachable", body

        # The broker stops acknowledging: not ready once a record waits ACK_STALE_S.
        made[-1].down = True
        feed.put_nowait(reports(1, base=0x200000)[0])
        while ingest.buffer.in_flight == 0:
            await asyncio.sleep(0.01)
        assert (await get("/readyz"))[0] == 200  # just sent: not stale yet
        mono[0] += ACK_STALE_S + 1
        status, body = await get("/readyz")
        assert status == 503 and body["ingest"]["broker"] == "unreachable", body
        assert body["ingest"]["seconds_waiting_for_ack"] >= ACK_STALE_S
        made[-1].come_back()
        assert (await get("/readyz"))[0] == 200

        # Nothing read for longer than stall_after_s: reconnecting is alive, silent is not.
        wall[0] += 121.0
        source._backoff.attempt = 2
        status, body = await get("/healthz")
        assert status == 200 and body["ingest"]["sources"]["sbs://rx:30003"]["state"] == (
            "reconnecting"
        )
        source._backoff.reset()
        status, body = await get("/healthz")
        assert status == 503 and body["status"] == "stalled", body
        src = body["ingest"]["sources"]["sbs://rx:30003"]
        assert src["state"] == "stalled" and src["seconds_since_progress"] >= 121.0
        feed.put_nowait(reports(1, base=0x300000)[0])
        while ingest.stats.positions < 3:
            await asyncio.sleep(0.01)
        assert (await get("/healthz"))[0] == 200
    finally:
        ingest.stop()
        await asyncio.wait_for(run, 10)
        await ops.stop()
    # The sender gone (the run over): liveness fails.
    assert not IngestProbe(ingest, stall_after_s=120.0).health()[0]
