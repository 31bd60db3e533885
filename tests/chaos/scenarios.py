"""The chaos scenarios. Each is ``async (Context) -> RunResult``: one run, on a started Apache
Kafka broker, with every random choice drawn from ``ctx.rng`` (seeded by the runner and
printed, so a failing run can be replayed with the same kill points).

Every scenario replays the seed scenario (seeds/dprk-2023-09.jsonl.gz) into real ``skyfence
worker`` subprocesses and scores what a fake Slack and a fake Telegram accepted against the
golden events (:mod:`tests.chaos.score`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from random import Random

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from tests.chaos.harness import (
    EXPECTED,
    HTTP_TIMEOUT_S,
    SESSION_TIMEOUT_S,
    ChaosRun,
    FaultPlan,
)
from tests.chaos.score import RunResult
from tests.fakes.peers import FakeSlackWebhook, FakeTelegram, Reply
from tests.support.brokers import ApacheKafkaBroker
from tests.support.procs import wait_for

__all__ = ["DESCRIPTIONS", "SCENARIOS", "Context", "Load"]


@dataclass(frozen=True)
class Load:
    """How hard a run pushes: ``make chaos`` uses the defaults, the pytest version less."""

    #: Scenario 3: how long the channels fail (wall time).
    outage_s: float = 60.0
    #: Scenario 7: how long the zombie stays stopped, in session timeouts.
    stop_sessions: float = 3.0


@dataclass
class Context:
    bootstrap: str
    tmp: Path
    rng: Random
    run: int
    seed: int
    load: Load = field(default_factory=Load)


Scenario = Callable[[Context], Awaitable[RunResult]]


def _restored(text: str) -> int:
    return sum(int(n) for n in re.findall(r"restored (\d+) pending", text))


async def group_caught_up(bootstrap: str, group: str, topic: str, partitions: int) -> bool:
    """True once ``group`` has committed up to the end of every partition of ``topic``."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await admin.start()
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
        committed = await admin.list_consumer_group_offsets(group, partitions=tps)
        return all(
            (meta := committed.get(tp)) is not None and meta.offset >= ends[tp] for tp in tps
        )
    finally:
        await consumer.stop()
        await admin.close()


async def _wait_caught_up(run: ChaosRun, group: str, topic: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not await group_caught_up(run.bootstrap, group, topic, run.partitions):
        if time.monotonic() > deadline:
            raise AssertionError(f"{group} did not catch up on {topic} in {timeout_s:.0f} s")
        for w in run.workers:
            if w.proc.poll() is not None and w.proc.returncode not in (0, -signal.SIGKILL):
                raise AssertionError(f"worker {w.name} exited {w.proc.returncode}")
        await asyncio.sleep(0.5)


# --------------------------------------------------------------------------------------------
# 1. Worker SIGKILL, two workers sharing the partitions
# --------------------------------------------------------------------------------------------


async def worker_sigkill(ctx: Context) -> RunResult:
    """Two ``--role all`` workers share the partitions; one is SIGKILLed after a random number
    of alerts plus a random delay, while the replay may still run."""
    result = RunResult("1-worker-sigkill", ctx.run, ctx.seed)
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos1") as run:
        try:
            a = await run.start_worker("A")
            b = await run.start_worker("B")
            after = ctx.rng.randint(0, len(EXPECTED) - 2)
            delay_s = ctx.rng.uniform(0.0, 1.0)
            victim, survivor = (a, b) if ctx.rng.random() < 0.5 else (b, a)
            replaying = asyncio.create_task(run.replay_seed())
            await wait_for(
                lambda: len(run.accepted("slack")) >= after, 120, f"{after} alerts", run.live()
            )
            await asyncio.sleep(delay_s)
            killed_s = await run.kill_worker(victim)
            last_ok = [t for c in run.timelines for t, _ in run.accepted(c)]
            since_ok_ms = (killed_s - max(last_ok)) * 1000 if last_ok else None
            await replaying
            await run.wait_delivered(180, [survivor])
            await run.stop_worker(survivor)
            result.channels = run.score(killed_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "killed": victim.name,
                "after_alerts": str(after),
                "kill_s": f"{killed_s - run.t0:.1f}",
                "ms_since_last_200": "-" if since_ok_ms is None else f"{since_ok_ms:.0f}",
                "restored": str(_restored(survivor.stderr_text())),
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 2. Broker SIGKILL and restart on the same log dir, mid-replay
# --------------------------------------------------------------------------------------------


async def read_topic(
    bootstrap: str, topic: str, partitions: int
) -> dict[int, list[tuple[bytes | None, bytes | None]]]:
    """Every (key, value) of ``topic``, per partition, in offset order."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: dict[int, list[tuple[bytes | None, bytes | None]]] = {p: [] for p in range(partitions)}
        while any(len(out[tp.partition]) < ends[tp] for tp in tps):
            batch = await consumer.getmany(*tps, timeout_ms=2000)
            if not batch:
                break
            for tp, msgs in batch.items():
                out[tp.partition].extend((m.key, m.value) for m in msgs)
        return out
    finally:
        await consumer.stop()


def compare_positions(
    sent: list[tuple[bytes, bytes]], topic: dict[int, list[tuple[bytes | None, bytes | None]]]
) -> tuple[int, int, int]:
    """Compare the positions topic with the source record by record: per aircraft (key), the
    sequence of raw lines in the topic must be the sequence sent. Returns (lost, doubled,
    aircraft out of order); watermarks are not positions and are left out."""
    want: dict[bytes, list[bytes]] = {}
    for key, raw in sent:
        want.setdefault(key, []).append(raw)
    got: dict[bytes, list[bytes]] = {}
    for records in topic.values():
        for k, v in records:
            if k is None or v is None or v.startswith(b'{"watermark"'):
                continue
            got.setdefault(k, []).append(v)
    lost = doubled = disordered = 0
    for key in want.keys() | got.keys():
        w, g = want.get(key, []), got.get(key, [])
        cw, cg = Counter(w), Counter(g)
        lost += sum((cw - cg).values())
        doubled += sum((cg - cw).values())
        if w != g and cw == cg:
            disordered += 1
    return lost, doubled, disordered


async def broker_restart(ctx: Context) -> RunResult:
    """A broker of its own (same Kafka version); a worker runs; the seed is replayed with an
    idempotent producer (acks=all); 0.5-4 s into the replay the broker is SIGKILLed, stays
    down 1-5 s, and restarts on the same log dir. The positions topic must equal the source
    record by record, and the pipeline must resume by itself and deliver every alert once."""
    result = RunResult("2-broker-restart", ctx.run, ctx.seed)
    kill_after_s = ctx.rng.uniform(0.5, 4.0)
    down_s = ctx.rng.uniform(1.0, 5.0)
    broker = ApacheKafkaBroker(
        work_dir=ctx.tmp / "kafka",
        properties={"broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "500"},
    )
    await asyncio.to_thread(broker.start)
    try:
        async with ChaosRun(broker.bootstrap, ctx.tmp, tag="chaos2") as run:
            try:
                w = await run.start_worker("A")
                replay_started_s = time.monotonic()
                replaying = asyncio.create_task(run.replay_seed())
                await asyncio.sleep(kill_after_s)
                mid_replay = not replaying.done()
                await asyncio.to_thread(broker.kill)
                killed_s = time.monotonic()
                await asyncio.sleep(down_s)
                await asyncio.to_thread(broker.start)
                up_s = time.monotonic()
                sent = await replaying
                replay_s = time.monotonic() - replay_started_s
                topic = await read_topic(run.bootstrap, run.positions_topic, run.partitions)
                lost, doubled, disordered = compare_positions(sent, topic)
                if lost or doubled or disordered:
                    raise AssertionError(
                        f"positions topic vs source: {lost} lost, {doubled} doubled, "
                        f"{disordered} aircraft out of order (of {len(sent)})"
                    )
                await run.wait_delivered(240, [w])
                await run.stop_worker(w)
                result.channels = run.score(up_s)
                if not result.ok:  # keep what each fake saw, for the diagnosis
                    (ctx.tmp / "dump.txt").write_text(run.dump())
                result.notes = {
                    "kill_after_s": f"{kill_after_s:.1f}",
                    "mid_replay": str(mid_replay).lower(),
                    "down_s": f"{up_s - killed_s:.1f}",
                    "positions_compared": str(len(sent)),
                    "replay_s": f"{replay_s:.1f}",
                }
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
                result.channels = run.score(None)
                (ctx.tmp / "dump.txt").write_text(run.dump() + "\n" + broker.log_tail())
    finally:
        await asyncio.to_thread(broker.close)
    return result


# --------------------------------------------------------------------------------------------
# 3. Notifier outage: 503, then 429 + Retry-After, then timeouts
# --------------------------------------------------------------------------------------------


async def notifier_outage(ctx: Context) -> RunResult:
    """Both channels accept a random 1-5 alerts, then fail for ``load.outage_s``: a third of it
    503 (Telegram: 502), a third 429 with Retry-After 2 s (Telegram: flood control), a third
    no answer within the workers' HTTP timeout. Every alert must arrive after, once, in order."""
    result = RunResult("3-notifier-outage", ctx.run, ctx.seed)
    timeout = Reply(200, "ok", delay_s=HTTP_TIMEOUT_S + 3)
    window_s = ctx.load.outage_s
    plans = {
        "slack": FaultPlan(
            [Reply(503, "service_unavailable"), FakeSlackWebhook.error(429, "rate_limited", 2), timeout],
            ok_first=ctx.rng.randint(1, 5),
            window_s=window_s,
        ),
        "telegram": FaultPlan(
            [FakeTelegram.error(502, "Bad Gateway"), FakeTelegram.flood(2), timeout],
            ok_first=ctx.rng.randint(1, 5),
            window_s=window_s,
        ),
    }  # fmt: skip
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos3") as run:
        try:
            for name, plan in plans.items():
                run.timelines[name].plan = plan
            w = await run.start_worker("A")
            await run.replay_seed()
            await wait_for(
                lambda: all(p.end_s is not None and time.monotonic() > p.end_s for p in plans.values()),
                window_s + 120, "both outages to end", [w],
            )  # fmt: skip
            await run.wait_delivered(120, [w])
            await run.stop_worker(w)
            end_s = max(p.end_s for p in plans.values() if p.end_s is not None)
            result.channels = run.score(end_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "outage_s": f"{window_s:g}",
                **{f"{n}_ok_first": str(p.ok_first) for n, p in plans.items()},
                **{f"{n}_failed": str(p.failed) for n, p in plans.items()},
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 4. Poison in the positions and events topics
# --------------------------------------------------------------------------------------------

#: (key, value) poison for both topics: garbage bytes, wrong schema, 900 KB, NaN, null keys,
#: a null value (tombstone), a number, a half-written record.
POISON: list[tuple[bytes | None, bytes | None]] = [
    (b"1551e0", bytes(range(256)) * 4),
    (b"1551e0", b'{"hello": "world", "v": 1}'),
    (b"720632", b'{"icao24": "720632", "ts": "yesterday", "lat": 40.0, "lon": 125.0}'),
    (b"720632", b'{"icao24":"720632","pad":"' + b"x" * (900 * 1024) + b'"}'),
    (b"7804d1", b'{"icao24":"7804d1","ts":1695795000.0,"lat":NaN,"lon":125.0}'),
    (None, b'{"icao24":"7804d1","ts":1695795000.0,"lat":1e999,"lon":125.0}'),
    (None, b"\xff\xfe\x00garbage"),
    (b"1551e0", None),
    (b"1551e0", b"42"),
    (b"720633", b'{"icao24":"720633","ts":16958'),
]


async def _produce_poison(run: ChaosRun, topic: str, rng: Random, stop: asyncio.Event) -> int:
    """Send every poison message to ``topic`` once, at random moments (0-3 s apart) while
    the replay runs; returns how many were sent."""
    producer = AIOKafkaProducer(
        bootstrap_servers=run.bootstrap, acks="all", max_request_size=2 * 1024 * 1024
    )
    await producer.start()
    try:
        order = list(POISON)
        rng.shuffle(order)
        for key, value in order:
            await producer.send_and_wait(topic, key=key, value=value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rng.uniform(0.0, 3.0))
        return len(order)
    finally:
        await producer.stop()


async def _dead_letters(bootstrap: str, topic: str) -> list[tuple[bytes | None, dict[str, bytes]]]:
    """Every (value, headers) in ``topic`` (one partition), from the start."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024, fetch_max_bytes=8 * 1024 * 1024,
    )  # fmt: skip
    await consumer.start()
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        end = (await consumer.end_offsets([tp]))[tp]
        out: list[tuple[bytes | None, dict[str, bytes]]] = []
        while len(out) < end:
            batch = await consumer.getmany(tp, timeout_ms=2000)
            for msg in batch.get(tp, []):
                out.append((msg.value, dict(msg.headers)))
            if not batch:
                break
        return out
    finally:
        await consumer.stop()


def _poison_found(letters: list[tuple[bytes | None, dict[str, bytes]]]) -> int:
    """How many :data:`POISON` values are among ``letters`` with a reason header (a null
    value counts as empty; the 900 KB one may be cut, so it is matched by reason too)."""
    left = [v or b"" for _k, v in POISON]
    found = 0
    for value, headers in letters:
        if "skyfence-reason" not in headers:
            continue
        v = value or b""
        big = [p for p in left if len(p) > 100_000]
        if v in left:
            left.remove(v)
            found += 1
        elif big and (headers["skyfence-reason"].startswith(b"too_large") or v[:64] == big[0][:64]):
            left.remove(big[0])
            found += 1
    return found


async def poison(ctx: Context) -> RunResult:
    """Poison (:data:`POISON`, shuffled) goes into the positions and the events topics at
    random moments during the replay. Each must land in its dead-letter topic with a reason;
    no worker may stall or crash; every good alert still arrives once."""
    result = RunResult("4-poison", ctx.run, ctx.seed)
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos4") as run:
        try:
            w = await run.start_worker("A")
            stop = asyncio.Event()
            tasks = [
                asyncio.create_task(_produce_poison(run, topic, ctx.rng, stop))
                for topic in (run.positions_topic, run.events_topic)
            ]
            started_s = time.monotonic()
            await run.replay_seed()
            sent = await asyncio.gather(*tasks)
            await run.wait_delivered(150, [w])
            await _wait_caught_up(run, run.tracker_group, run.positions_topic, 60)
            await _wait_caught_up(run, run.notifier_group, run.events_topic, 60)
            await run.stop_worker(w)
            dlq = await _dead_letters(run.bootstrap, run.dead_letter_topic)
            alerts_dlq = await _dead_letters(run.bootstrap, run.alerts_dead_letter_topic)
            # Each poison message must be in its dead-letter topic with a reason (other dead
            # letters, e.g. watermarks the hostile-input bounds refuse, may be there too).
            reasons = sorted(h.get("skyfence-reason", b"?").decode() for _v, h in dlq)
            alert_reasons = sorted(h.get("skyfence-reason", b"?").decode() for _v, h in alerts_dlq)
            for topic, letters, n in (("positions", dlq, sent[0]), ("events", alerts_dlq, sent[1])):
                found = _poison_found(letters)
                if found < n:
                    got = sorted(h.get("skyfence-reason", b"?").decode() for _v, h in letters)
                    raise AssertionError(
                        f"{topic} dead letters: {found} of {n} poison messages: {got}"
                    )
            result.channels = run.score(started_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "poison_positions": str(sent[0]),
                "poison_events": str(sent[1]),
                "dlq_reasons": "+".join(sorted(set(reasons))),
                "alerts_dlq_reasons": "+".join(sorted(set(alert_reasons))),
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 5. Restart with aircraft inside
# --------------------------------------------------------------------------------------------

#: Between 1551e0's `entered` and its `exited` (seed event times, s): it is inside all along.
_INSIDE_FROM_TS, _INSIDE_TO_TS = 1695690900.0, 1695873300.0


def inside_at(ts: float) -> list[str]:
    """Aircraft the golden events put inside a zone at event time ``ts``."""
    inside: set[str] = set()
    for e in EXPECTED:
        if e.observed_ts >= ts:
            break
        if e.type in ("entered", "first_seen_inside"):
            inside.add(e.icao24)
        elif e.type == "exited":
            inside.discard(e.icao24)
    return sorted(inside)


async def restart_inside(ctx: Context) -> RunResult:
    """Replay the seed up to a random time while an aircraft is inside, stop the worker
    (SIGKILL or SIGTERM, at random) once it has taken in everything, start a new one, replay
    the rest: no second ``entered``, and the later exits still arrive."""
    result = RunResult("5-restart-inside", ctx.run, ctx.seed)
    cut_ts = ctx.rng.uniform(_INSIDE_FROM_TS, _INSIDE_TO_TS)
    how = ctx.rng.choice(["SIGKILL", "SIGTERM"])
    delay_s = ctx.rng.uniform(0.0, 2.0)
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos5") as run:
        try:
            a = await run.start_worker("A")
            await run.replay_seed(lambda ts: ts < cut_ts)
            await _wait_caught_up(run, run.tracker_group, run.positions_topic, 120)
            await asyncio.sleep(delay_s)
            if how == "SIGKILL":
                await run.kill_worker(a)
            else:
                await run.stop_worker(a)
            b = await run.start_worker("B")
            restarted_s = time.monotonic()
            await run.replay_seed(lambda ts: ts >= cut_ts)
            await run.wait_delivered(150, [b])
            await run.stop_worker(b)
            result.channels = run.score(restarted_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "cut_ts": f"{cut_ts:.0f}",
                "inside": "+".join(inside_at(cut_ts)),
                "stop": how,
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 6. Rebalance storm, on more partitions
# --------------------------------------------------------------------------------------------

#: Scenario 6 runs on more partitions than the default 4, where table recovery on Tansu
#: logged ConsistencyError (issue 13).
STORM_PARTITIONS = 8
#: Faust's recovery check (faust/tables/recovery.py E_PERSISTED_OFFSET).
_CONSISTENCY = re.compile(r"ConsistencyError|is higher\s+than the last offset")


async def rebalance_storm(ctx: Context) -> RunResult:
    """Worker A runs on 8 partitions; while the seed is replayed and delivered, three more
    workers join and leave (SIGTERM) one after another, each staying 2-6 s. Every rebalance
    recovers both tables; every alert must arrive once, and no worker may log Faust's
    ConsistencyError (persisted offset higher than highwater)."""
    result = RunResult("6-rebalance-storm", ctx.run, ctx.seed)
    stays_s = [ctx.rng.uniform(2.0, 6.0) for _ in range(3)]
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos6", partitions=STORM_PARTITIONS) as run:
        try:
            a = await run.start_worker("A")
            started_s = time.monotonic()
            replaying = asyncio.create_task(run.replay_seed())
            for i, stay_s in enumerate(stays_s, 1):
                c = await run.start_worker(f"C{i}")
                await asyncio.sleep(stay_s)
                await run.stop_worker(c, timeout_s=60)
            left_s = time.monotonic()
            await replaying
            await run.wait_delivered(180, [a])
            await run.stop_worker(a)
            logs = [w.stderr_text() for w in run.workers]
            consistency = sum(len(_CONSISTENCY.findall(t)) for t in logs)
            if consistency:
                raise AssertionError(f"{consistency} ConsistencyError line(s) in the workers' logs")
            result.channels = run.score(left_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "partitions": str(STORM_PARTITIONS),
                "stays_s": "/".join(f"{s:.1f}" for s in stays_s),
                "assignments": str(sum(t.count("Setting newly assigned partitions") for t in logs)),
                "consistency_errors": str(consistency),
                "storm_s": f"{left_s - started_s:.0f}",
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 7. Zombie notifier: SIGSTOP longer than the session timeout, another takes over, SIGCONT
# --------------------------------------------------------------------------------------------


async def zombie_notifier(ctx: Context) -> RunResult:
    """A tracker and notifier N1 (``--role``); after 1-4 alerts N1 is frozen with SIGSTOP with
    alerts still queued, N2 starts and takes the partitions over once N1's session expires,
    delivers, and then N1 is resumed (SIGCONT) after ``load.stop_sessions`` session timeouts
    or N2's first delivery (the later) plus 0-2 s. N1 must not send what N2 sent."""
    result = RunResult("7-zombie-notifier", ctx.run, ctx.seed)
    after = ctx.rng.randint(1, 4)
    extra_s = ctx.rng.uniform(0.0, 2.0)
    async with ChaosRun(ctx.bootstrap, ctx.tmp, tag="chaos7") as run:
        try:
            tracker = await run.start_worker("tracker", "tracker")
            n1 = await run.start_worker("N1", "notifier")
            await run.replay_seed()
            await wait_for(
                lambda: min(len(run.accepted(c)) for c in run.timelines) >= after,
                120, f"{after} alerts on both channels", run.live(),
            )  # fmt: skip
            n1.proc.send_signal(signal.SIGSTOP)
            stopped_s = time.monotonic()
            sent_before = sum(len(run.accepted(c)) for c in run.timelines)
            n2 = await run.start_worker("N2", "notifier")
            await wait_for(
                lambda: any(t > stopped_s for c in run.timelines for t, _ in run.accepted(c)),
                120, "N2's first delivery", [tracker, n2],
            )  # fmt: skip
            wake_s = stopped_s + ctx.load.stop_sessions * SESSION_TIMEOUT_S
            await asyncio.sleep(max(0.0, wake_s - time.monotonic()) + extra_s)
            n1.proc.send_signal(signal.SIGCONT)
            resumed_s = time.monotonic()
            stopped_for_s = resumed_s - stopped_s
            await run.wait_delivered(150, [tracker, n2], settle_s=2 * SESSION_TIMEOUT_S)
            for w in (n1, n2, tracker):
                if w.proc.poll() is None:
                    await run.stop_worker(w)
            result.channels = run.score(resumed_s)
            if not result.ok:  # keep what each fake saw, for the diagnosis
                (ctx.tmp / "dump.txt").write_text(run.dump())
            result.notes = {
                "after_alerts": str(after),
                "queued_at_stop": str(2 * len(EXPECTED) - sent_before),
                "stopped_s": f"{stopped_for_s:.1f}",
                "n1_stalls_seen": str(n1.stderr_text().count("stalled for")),
                "n1_dropped": str(n1.stderr_text().count("is no longer ours")),
                "n2_restored": str(_restored(n2.stderr_text())),
            }
        except Exception as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            result.channels = run.score(None)
            (ctx.tmp / "dump.txt").write_text(run.dump())
    return result


# --------------------------------------------------------------------------------------------
# 8. A three-broker cluster loses the partition leaders' broker
# --------------------------------------------------------------------------------------------

#: Replication of the run's topics on the cluster: every partition on all three nodes, and
#: an acks=all write needs two copies, so one node down loses nothing and stops nothing.
CLUSTER_RF, CLUSTER_MIN_ISR = 3, 2


async def _progress(bootstrap: str, group: str, topic: str, partitions: int) -> int | None:
    """Sum of ``group``'s committed offsets on ``topic``; None if the cluster cannot say now
    (the coordinator may be moving)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
    try:
        await asyncio.wait_for(admin.start(), 5)
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        committed = await asyncio.wait_for(
            admin.list_consumer_group_offsets(group, partitions=tps), 5
        )
        return sum(max(0, m.offset) for m in committed.values() if m is not None)
    except Exception:  # a probe during an election: the caller polls again
        return None
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


async def _check_replication(run: ChaosRun) -> None:
    """The pipeline's own topics were created with replication factor 3 and
    min.insync.replicas 2 (by ``skyfence worker``, from SKYFENCE_REPLICATION_FACTOR and
    SKYFENCE_MIN_INSYNC_REPLICAS)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=run.bootstrap)
    await admin.start()
    try:
        topics = [run.positions_topic, run.events_topic]
        for desc in await admin.describe_topics(topics):
            rfs = {len(p["replicas"]) for p in desc["partitions"]}
            if rfs != {CLUSTER_RF}:
                raise AssertionError(f"{desc['topic']}: replication factors {rfs}")
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, None) for t in topics]
        )
        for response in responses:
            for resource in response.resources:
                name, entries = resource[3], resource[4]
                isr = {e[0]: e[1] for e in entries}.get("min.insync.replicas")
                if isr != str(CLUSTER_MIN_ISR):
                    raise AssertionError(f"{name}: min.insync.replicas={isr}")
    finally:
        await admin.close()


async def cluster_broker_loss(ctx: Context) -> RunResult:
    """A three-node Apache Kafka KRaft cluster (each node broker and controller); the run's
    topics at replication factor 3, min.insync.replicas 2. A worker runs; 1-5 s into the
    seed replay (idempotent producer, acks=all) the node leading the most partitions of the
    positions and events topics is SIGKILLed and stays down. Leaders move to the two left;
    the positions topic must equal the source record by record, and every alert must arrive
    once. Measured: the election (kill until every partition of the run's topics and the
    group offsets has a leader on a live node) and the pause (kill until the tracker's
    committed offset moves again)."""
    from tests.support.brokers import ApacheKafkaCluster

    result = RunResult("8-cluster-broker-loss", ctx.run, ctx.seed)
    kill_after_s = ctx.rng.uniform(1.0, 5.0)
    cluster = ApacheKafkaCluster(3, work_dir=ctx.tmp / "cluster")
    started_s = time.monotonic()
    await asyncio.to_thread(cluster.start)
    cluster_start_s = time.monotonic() - started_s
    env = {
        "SKYFENCE_REPLICATION_FACTOR": str(CLUSTER_RF),
        "SKYFENCE_MIN_INSYNC_REPLICAS": str(CLUSTER_MIN_ISR),
    }
    try:
        async with ChaosRun(cluster.bootstrap, ctx.tmp, tag="chaos8", env=env) as run:
            try:
                w = await run.start_worker("A")
                await _check_replication(run)
                topics = [run.positions_topic, run.events_topic]
                replay_started_s = time.monotonic()
                replaying = asyncio.create_task(run.replay_seed())
                await asyncio.sleep(kill_after_s)
                mid_replay = not replaying.done()
                before = await cluster.leaders(topics)
                led = Counter(before.values())
                top = max(led.values())
                victim = ctx.rng.choice(sorted(n for n, c in led.items() if c == top))
                progress_at_kill = await _progress(
                    cluster.bootstrap, run.tracker_group, run.positions_topic, run.partitions
                )
                alerts_at_kill = len(run.accepted("slack"))
                await asyncio.to_thread(cluster.kill_node, victim)
                killed_s = time.monotonic()
                # Election: every partition of the run's topics (changelogs included) and
                # the group coordinator's topic led by a live node.
                elected_s = resumed_s = None
                while time.monotonic() - killed_s < 120 and (
                    elected_s is None or resumed_s is None
                ):
                    now = time.monotonic()
                    if elected_s is None:
                        with contextlib.suppress(Exception):
                            every = await cluster.leaders(None)
                            mine = {
                                tp: n for tp, n in every.items()
                                if tp[0].startswith(run.id) or tp[0] == "__consumer_offsets"
                            }  # fmt: skip
                            if mine and all(n not in (victim, -1) for n in mine.values()):
                                elected_s = now - killed_s
                    if resumed_s is None:
                        got = await _progress(
                            cluster.live_bootstrap, run.tracker_group, run.positions_topic,
                            run.partitions,
                        )  # fmt: skip
                        if got is not None and got > (progress_at_kill or 0):
                            resumed_s = now - killed_s
                        elif (
                            replaying.done() and got is not None and got >= len(replaying.result())
                        ):  # nothing was left to process at the kill: no pause to measure
                            break
                    await asyncio.sleep(0.25)
                sent = await replaying
                replay_s = time.monotonic() - replay_started_s
                topic = await read_topic(
                    cluster.live_bootstrap, run.positions_topic, run.partitions
                )
                lost, doubled, disordered = compare_positions(sent, topic)
                if lost or doubled or disordered:
                    raise AssertionError(
                        f"positions topic vs source: {lost} lost, {doubled} doubled, "
                        f"{disordered} aircraft out of order (of {len(sent)})"
                    )
                await run.wait_delivered(240, [w])
                await run.stop_worker(w)
                result.channels = run.score(killed_s)
                if not result.ok:  # keep what each fake saw, for the diagnosis
                    (ctx.tmp / "dump.txt").write_text(run.dump())
                result.notes = {
                    "nodes": "3",
                    "rf": str(CLUSTER_RF),
                    "min_isr": str(CLUSTER_MIN_ISR),
                    "killed_node": str(victim),
                    "leaders_moved": str(led[victim]),
                    "kill_after_s": f"{kill_after_s:.1f}",
                    "mid_replay": str(mid_replay).lower(),
                    "alerts_before_kill": str(alerts_at_kill),
                    "election_s": "-" if elected_s is None else f"{elected_s:.1f}",
                    "pause_s": "-" if resumed_s is None else f"{resumed_s:.1f}",
                    "positions_compared": str(len(sent)),
                    "replay_s": f"{replay_s:.1f}",
                    "cluster_start_s": f"{cluster_start_s:.1f}",
                }
            except Exception as exc:
                result.error = f"{type(exc).__name__}: {exc}"
                result.channels = run.score(None)
                (ctx.tmp / "dump.txt").write_text(run.dump() + "\n" + cluster.log_tail())
    finally:
        await asyncio.to_thread(cluster.close)
    return result


SCENARIOS: dict[str, Scenario] = {
    "1-worker-sigkill": worker_sigkill,
    "2-broker-restart": broker_restart,
    "3-notifier-outage": notifier_outage,
    "4-poison": poison,
    "5-restart-inside": restart_inside,
    "6-rebalance-storm": rebalance_storm,
    "7-zombie-notifier": zombie_notifier,
    "8-cluster-broker-loss": cluster_broker_loss,
}

DESCRIPTIONS: dict[str, str] = {
    "1-worker-sigkill": (
        "two `--role all` workers share 4 partitions; one (chosen at random) is SIGKILLed "
        "after a random number of alerts (0-13) plus 0-1 s, the seed replay may still run; "
        "recovery runs from the kill"
    ),
    "2-broker-restart": (
        "a broker of its own; 0.5-4 s into the seed replay (idempotent producer, acks=all) "
        "the broker is SIGKILLed, stays down 1-5 s and restarts on the same log dir; the "
        "positions topic is compared with the source record by record (per aircraft, in "
        "order); recovery runs from the broker's restart"
    ),
    "3-notifier-outage": (
        "both channels accept 1-5 alerts, then fail for the outage window: 503 (Telegram "
        "502), then 429 with Retry-After 2 s (Telegram flood control), then no answer within "
        "the 2 s HTTP timeout; recovery runs from the end of the outage"
    ),
    "4-poison": (
        "10 poison messages each into the positions and the events topics at random moments "
        "during the replay (garbage bytes, wrong schema, a 900 KB value, NaN and 1e999, null "
        "keys, a null value, a bare number, a cut-off record): each must be in its "
        "dead-letter topic with a `skyfence-reason` header; recovery runs from the replay's start"
    ),
    "5-restart-inside": (
        "the seed is replayed up to a random time while 1551e0 is inside the DPRK zone, the "
        "worker is stopped (SIGKILL or SIGTERM) once it has taken in every position, a new "
        "worker starts and the rest is replayed; recovery runs from the restart"
    ),
    "6-rebalance-storm": (
        "worker A on 8 partitions; during the replay three more `--role all` workers join "
        "and leave (SIGTERM) one after another, 2-6 s each; no worker may log Faust's "
        "ConsistencyError; recovery runs from the last one leaving"
    ),
    "7-zombie-notifier": (
        "a `--role tracker` and a `--role notifier` (N1); after 1-4 alerts N1 is frozen "
        "(SIGSTOP) with alerts queued, N2 starts, takes the partitions over when N1's 6 s "
        "session expires and delivers; N1 is resumed (SIGCONT) after 3 session timeouts "
        "(or N2's first delivery) plus 0-2 s; recovery runs from SIGCONT"
    ),
    "8-cluster-broker-loss": (
        "a cluster of its own: three Apache Kafka KRaft nodes (each broker and controller, "
        "384 MB heap), the run's topics at replication factor 3 and min.insync.replicas 2; "
        "1-5 s into the seed replay (idempotent producer, acks=all) the node leading the "
        "most partitions of the positions and events topics is SIGKILLed and stays down; "
        "the positions topic is compared with the source record by record; `election_s` is "
        "kill until every partition of the run's topics and of the group offsets has a live "
        "leader, `pause_s` kill until the tracker's committed offset moves again; recovery "
        "runs from the kill"
    ),
}
