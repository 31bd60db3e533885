"""The benchmark's child processes, one role each, so every measurement has its own process
(and core) the way a deployment would: ``python -m tests.bench.procs ROLE ...``.

- ``worker``: a skyfence pipeline (``alerts.runner.start_pipeline``: tracker and notifier)
  that prints JSON progress lines (wall time, positions handled, aircraft tracked, RSS) until
  SIGTERM; ``--slack-url`` delivers alerts to a (fake) Slack webhook.
- ``baseline``: the issue's baseline: a raw aiokafka consumer, orjson decoding and the same
  point-in-zone check, no Faust; prints positions/s.
- ``rawsend``: raw aiokafka sending a recording's lines one message each (keyed by icao24,
  the replay command's producer settings); prints positions/s.
- ``faustmin``: the issue's "minimal faust-streaming agent with a table written on change"
  (orjson decode, point-in-zone, a table write when the inside/outside flag changes), with
  the worker's Faust settings and tuning, so a difference between it and ``worker`` is ours;
  prints progress lines like ``worker``.
- ``live``: live load for the latency run: a :class:`~tests.bench.traffic.Fleet` stamped with
  wall time (``--aircraft`` positions/s at 1 Hz), sent in per-partition batches every 20 ms.

Each prints one JSON object per line on stdout; the orchestrator (:mod:`tests.bench.pipeline`)
reads them. uvloop, as ``skyfence worker`` uses.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import signal
import sys
import time
from pathlib import Path
from typing import Any

import orjson


def emit(**fields: Any) -> None:
    sys.stdout.write(orjson.dumps(fields).decode() + "\n")
    sys.stdout.flush()


def rss_kb() -> int:
    """Current resident set size (kB), from /proc (ru_maxrss is the peak, not the current)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _queues(app: Any) -> list[str]:
    """Each subscribed channel's queue: size, maxsize and pending pressure-drop callbacks."""
    out = []
    for chan in getattr(app.topics, "_topics", ()):
        q = getattr(chan, "_queue", None)
        if q is not None:
            pending = len(getattr(q, "_pending_pressure_drop_callbacks", ()))
            out.append(f"{chan}: qsize={q.qsize()} max={q.maxsize} pending_drop={pending}")
    return out


def _fetcher_state(inner: Any) -> dict[str, Any] | None:
    """aiokafka's fetcher: buffered results per partition, in-flight nodes, positions."""
    fetcher = getattr(inner, "_fetcher", None)
    if fetcher is None:
        return None
    records = {}
    for tp, res in list(fetcher._records.items()):
        has_more = getattr(res, "has_more", None)
        records[f"{tp.topic}[{tp.partition}]"] = (
            type(res).__name__,
            has_more() if callable(has_more) else None,
            round(res.calculate_backoff(), 3),
        )
    assignment = fetcher._subscriptions.subscription
    positions = {}
    if assignment is not None and assignment.assignment is not None:
        for tp in assignment.assignment.tps:
            st = assignment.assignment.state_value(tp)
            positions[f"{tp.topic}[{tp.partition}]"] = (
                st.position if st.has_valid_position else None, st.paused
            )
    return {
        "records": records,
        "in_flight": set(fetcher._in_flight),
        "pending_tasks": len(fetcher._pending_tasks),
        "fetch_task_done": fetcher._fetch_task.done() if fetcher._fetch_task else None,
        "fetch_waiters": len(fetcher._fetch_waiters),
        "positions": positions,
    }


def _dump_tasks(app: Any = None) -> None:
    """SIGUSR1: the consumer's flow state and every asyncio task's stack on stderr (for
    diagnosing a stalled worker)."""
    if app is not None:
        consumer = app.consumer
        thread = getattr(consumer, "_thread", None)
        inner = getattr(thread, "_consumer", None)
        for name, value in (
            ("flow_control_active", app.flow_control.is_active()),
            ("rebalancing", app.rebalancing),
            ("in_recovery", app.tables.recovery.in_recovery),
            ("active_partitions", getattr(consumer, "_active_partitions", None)),
            ("paused_partitions", getattr(consumer, "_paused_partitions", None)),
            ("aiokafka_paused", inner.paused() if inner is not None else None),
            ("aiokafka_assignment", inner.assignment() if inner is not None else None),
            ("buffered_partitions", getattr(consumer, "_buffered_partitions", None)),
            ("read_offsets", dict(getattr(consumer, "_read_offset", {}))),
            ("committed_offsets", dict(getattr(consumer, "_committed_offset", {}))),
            ("acked", {tp: (len(a), min(a), max(a)) for tp, a in getattr(consumer, "_acked", {}).items() if a}),
            ("unacked_messages", len(getattr(consumer, "_unacked_messages", ()))),
            ("gaps", {tp: len(g) for tp, g in getattr(consumer, "_gap", {}).items()}),
            ("channel_queues", _queues(app)),
            ("aiokafka_fetcher", _fetcher_state(inner)),
        ):
            print(f"=== {name}: {value}", file=sys.stderr)
    for task in asyncio.all_tasks():
        print(f"--- task {task.get_name()}", file=sys.stderr)
        coro: Any = task.get_coro()
        depth = 0
        while coro is not None and depth < 30:
            frame = (
                getattr(coro, "cr_frame", None)
                or getattr(coro, "gi_frame", None)
                or getattr(coro, "ag_frame", None)
            )
            if frame is not None:
                print(f"    {frame.f_code.co_filename}:{frame.f_lineno} {frame.f_code.co_name}",
                      file=sys.stderr)
            else:
                print(f"    <{type(coro).__name__}>", file=sys.stderr)
            coro = (
                getattr(coro, "cr_await", None)
                or getattr(coro, "gi_yieldfrom", None)
                or getattr(coro, "ag_await", None)
            )
            depth += 1
    sys.stderr.flush()


async def worker(args: argparse.Namespace) -> None:
    import logging

    import aiohttp

    # Warnings and errors of the worker (Faust's included) on stderr, which the harness shows.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from alerts.channels.base import ListChannel
    from alerts.runner import start_pipeline
    from alerts.secrets import Secret
    from streams.config import StreamSettings

    settings = StreamSettings(
        broker=args.bootstrap,
        app_id=args.app_id,
        positions_topic=f"{args.prefix}.positions",
        events_topic=f"{args.prefix}.events",
        dead_letter_topic=f"{args.prefix}.dlq",
        partitions=args.partitions,
        session_timeout_s=args.session_timeout_s,
        data_dir=args.data_dir,
    )
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    session = None
    if args.slack_url:
        from alerts.channels.slack import SlackWebhookChannel

        session = aiohttp.ClientSession()
        channels: list[Any] = [SlackWebhookChannel(Secret(args.slack_url), session)]
    else:
        channels = [ListChannel()]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    enricher = None
    if args.aircraft_db or args.watchlist:
        # The enrichment a desk would load (issue 16: the worker's figure with a 600k-row
        # aircraft database loaded must stay within 5% of the figure without).
        from alerts.enrich import Enricher, open_enrichment

        lists, db = open_enrichment(args.watchlist or (), args.aircraft_db or None)
        enricher = Enricher(watchlists=lists, aircraft_db=db, images=False)
    pipeline = await start_pipeline(
        settings, args.bootstrap, channels, role=args.pipeline_role, enricher=enricher
    )
    loop.add_signal_handler(signal.SIGUSR1, _dump_tasks, pipeline.bundle.app)
    bundle = pipeline.bundle
    emit(ev="started", t=time.time(), rss_kb=rss_kb())
    profiler = _start_profile(args.profile)
    last_handled = -1
    last_emit = 0.0
    try:
        while not stop.is_set():
            now = time.time()
            handled = bundle.handled - bundle.watermarks
            if handled != last_handled or now - last_emit > 0.5:
                try:
                    assigned = sum(
                        1 for tp in bundle.app.consumer.assignment()
                        if tp.topic == settings.positions_topic
                    )
                except Exception:  # not started yet
                    assigned = 0
                emit(ev="progress", t=now, handled=handled, messages=bundle.messages,
                     tracked=bundle.tracked, emitted=bundle.emitted, rss_kb=rss_kb(),
                     assigned=assigned)
                last_handled, last_emit = handled, now
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
    finally:
        _stop_profile(profiler, args.profile)
        await pipeline.stop()
        if session is not None:
            await session.close()
    emit(ev="stopped", t=time.time(), cpu_s=_cpu_s())


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used: the cores a stage used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _start_profile(path: str) -> Any:
    """cProfile from now on when ``path`` is set (dumped by :func:`_stop_profile`)."""
    if not path:
        return None
    import cProfile

    profiler = cProfile.Profile()
    profiler.enable()
    return profiler


def _stop_profile(profiler: Any, path: str) -> None:
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(path)


async def faustmin(args: argparse.Namespace) -> None:
    """A minimal Faust agent over the positions topic: decode, point-in-zone, a table write
    when an aircraft's inside flag changes. Same Faust settings and tuning as the worker."""
    import logging

    import faust

    from streams import faust_tuning
    from streams.app import faust_settings, raw_table, raw_topic
    from streams.config import StreamSettings
    from streams.zones import builtin_zone

    logging.basicConfig(level=logging.WARNING)
    settings = StreamSettings(
        broker=args.bootstrap, app_id=args.app_id, positions_topic=f"{args.prefix}.positions",
        partitions=args.partitions, session_timeout_s=args.session_timeout_s,
        data_dir=args.data_dir,
    )
    Path(args.data_dir).mkdir(parents=True, exist_ok=True)
    faust_tuning.apply()
    app = faust.App(args.app_id, **faust_settings(settings, args.bootstrap))
    topic = raw_topic(app, settings.positions_topic, settings.partitions)
    table = raw_table(app, "inside", settings.partitions)
    contains = builtin_zone("dprk").contains_2d
    contains(40.0, 125.0)
    loads = orjson.loads
    counts = {"handled": 0}

    async def agent(stream: Any) -> None:
        async for key, value in stream.items():
            obj = loads(value)
            inside = b"1" if contains(obj["lat"], obj["lon"]) else b"0"
            if table.get(key) != inside:
                table[key] = inside
            counts["handled"] += 1

    app.agent(topic, name="faustmin")(agent)
    app.finalize()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    emit(ev="started", t=time.time(), rss_kb=rss_kb())
    profiler = _start_profile(args.profile)
    last = -1
    try:
        while not stop.is_set():
            now = time.time()
            if counts["handled"] != last:
                emit(ev="progress", t=now, handled=counts["handled"], rss_kb=rss_kb())
                last = counts["handled"]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.02)
    finally:
        _stop_profile(profiler, args.profile)
        await app.stop()
    emit(ev="stopped", t=time.time(), cpu_s=_cpu_s())


async def baseline(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaConsumer, TopicPartition

    from streams.zones import builtin_zone

    contains = builtin_zone("dprk").contains_2d
    contains(40.0, 125.0)  # build the zone's grid before timing
    consumer = AIOKafkaConsumer(
        bootstrap_servers=args.bootstrap, group_id=None, enable_auto_commit=False,
        auto_offset_reset="earliest", fetch_max_wait_ms=100,
    )
    await consumer.start()
    loads = orjson.loads
    count = inside = 0
    first = None
    try:
        consumer.assign([TopicPartition(args.topic, p) for p in range(args.partitions)])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + args.timeout_s
        while count < args.expect and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=20_000)
            if first is None and batch:
                first = time.perf_counter()
            for records in batch.values():
                for record in records:
                    obj = loads(record.value)
                    if type(obj) is list:
                        for item in obj:
                            count += 1
                            inside += contains(item["lat"], item["lon"])
                    elif "icao24" in obj:
                        count += 1
                        inside += contains(obj["lat"], obj["lon"])
        took = time.perf_counter() - (first or time.perf_counter())
    finally:
        await consumer.stop()
    emit(ev="done", positions=count, inside=inside, seconds=took,
         positions_per_s=count / took if took > 0 else 0.0)


async def rawsend(args: argparse.Namespace) -> None:
    from aiokafka import AIOKafkaProducer

    lines = Path(args.file).read_bytes().splitlines()
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, linger_ms=5, acks="all")
    await producer.start()
    try:
        start = time.perf_counter()
        pending = []
        for line in lines:
            # Lines of tests.bench.traffic start with {"icao24":"xxxxxx"
            pending.append(await producer.send(args.topic, value=line, key=line[11:17]))
            if len(pending) >= 5000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        took = time.perf_counter() - start
    finally:
        await producer.stop()
    emit(ev="done", positions=len(lines), seconds=took, positions_per_s=len(lines) / took)


#: Slices of a second the live load sends separately (20 ms each).
_SLICES = 50


async def live(args: argparse.Namespace) -> None:
    """Wall-clock load: every 20 ms, the aircraft whose phase falls in that slice report."""
    from aiokafka import AIOKafkaProducer

    from streams.codec import BATCH_MAX_POSITIONS, decode_position
    from streams.producer import PositionPublisher
    from tests.bench.traffic import make_fleet

    fleet = make_fleet(args.aircraft, seed=args.seed, crossers=args.crossers,
                       crosser_every_s=args.crosser_every_s, crosser_lead_s=args.crosser_lead_s,
                       first_crosser_s=args.first_crosser_s)
    producer = AIOKafkaProducer(bootstrap_servers=args.bootstrap, linger_ms=0, acks="all")
    await producer.start()
    publisher = PositionPublisher(producer, args.topic, batch_max_positions=BATCH_MAX_POSITIONS)
    sent = 0
    # How late the generator itself sent a slice (after its positions' time stamps plus the
    # slice): latency the worker did not cause. Large means this machine could not produce
    # the load and run the worker and broker at once.
    late_max_s = 0.0
    try:
        t0 = float(int(time.time()) + 1)
        emit(ev="start", t0=t0, crossing_s=fleet.crossing_s)
        for k in range(args.duration_s):
            second_start = t0 + k
            # Positions stamped with the second they belong to plus their phase: sent when
            # that moment comes (in 100 ms slices), so ts is their production wall time.
            lines = fleet.second(second_start)
            slices: list[list[bytes]] = [[] for _ in range(_SLICES)]
            for line in lines:
                at = line.index(b'"ts":') + 5
                ts = float(line[at:line.index(b",", at)])
                slices[min(_SLICES - 1, int((ts - second_start) * _SLICES))].append(line)
            for j, part in enumerate(slices):
                # Sent at the end of its slice: up to 20 ms after its time stamp, so the
                # measured latency errs long, never short.
                delay = second_start + (j + 1) / _SLICES - time.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending = []
                for line in part:
                    report = decode_position(line)
                    if args.single:  # a third-party producer: one keyed message each
                        pending.append(await publisher.publish(report, line))
                        continue
                    sent_future = await publisher.add(report, line)
                    if sent_future is not None:
                        pending.append(sent_future)
                pending.extend(await publisher.flush())
                sent += len(part)
                late_max_s = max(late_max_s, time.time() - (second_start + (j + 1) / _SLICES))
                await asyncio.gather(*pending)
            await publisher.publish_watermark(second_start + 1)
    finally:
        await producer.stop()
    emit(ev="done", sent=sent, late_max_s=late_max_s)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m tests.bench.procs")
    sub = p.add_subparsers(dest="role", required=True)
    w = sub.add_parser("worker")
    w.add_argument("--bootstrap", required=True)
    w.add_argument("--app-id", required=True)
    w.add_argument("--prefix", required=True)
    w.add_argument("--partitions", type=int, default=4)
    w.add_argument("--session-timeout-s", type=float, default=10.0)
    w.add_argument("--data-dir", default="/tmp/skyfence-bench")
    w.add_argument("--slack-url", default="")
    w.add_argument("--role", dest="pipeline_role", default="all",
                   help="tracker, notifier or all (skyfence worker --role)")
    w.add_argument("--profile", default="", help="cProfile the running worker into this file")
    w.add_argument("--aircraft-db", default="")
    w.add_argument("--watchlist", action="append")
    fm = sub.add_parser("faustmin")
    fm.add_argument("--bootstrap", required=True)
    fm.add_argument("--app-id", required=True)
    fm.add_argument("--prefix", required=True)
    fm.add_argument("--partitions", type=int, default=4)
    fm.add_argument("--session-timeout-s", type=float, default=10.0)
    fm.add_argument("--data-dir", default="/tmp/skyfence-bench")
    fm.add_argument("--profile", default="", help="cProfile the running agent into this file")
    b = sub.add_parser("baseline")
    b.add_argument("--bootstrap", required=True)
    b.add_argument("--topic", required=True)
    b.add_argument("--partitions", type=int, default=4)
    b.add_argument("--expect", type=int, required=True)
    b.add_argument("--timeout-s", type=float, default=120.0)
    r = sub.add_parser("rawsend")
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--topic", required=True)
    r.add_argument("--file", required=True)
    lv = sub.add_parser("live")
    lv.add_argument("--bootstrap", required=True)
    lv.add_argument("--topic", required=True)
    lv.add_argument("--aircraft", type=int, default=15_000)
    lv.add_argument("--seed", type=int, default=7)
    lv.add_argument("--crossers", type=int, default=20)
    lv.add_argument("--crosser-every-s", type=float, default=4.0)
    lv.add_argument("--crosser-lead-s", type=float, default=30.0)
    lv.add_argument("--duration-s", type=int, default=90)
    lv.add_argument("--single", action="store_true", help="one keyed message per position")
    # The first second brings every aircraft's first fix (each one written to the table):
    # crossers start after that warm-up, so alerts measure the steady state.
    lv.add_argument("--first-crosser-s", type=float, default=15.0)
    args = p.parse_args(argv)
    role = {"worker": worker, "faustmin": faustmin, "baseline": baseline, "rawsend": rawsend, "live": live}[args.role]
    try:
        import uvloop
        if os.environ.get("SKYFENCE_NO_UVLOOP"):
            raise ImportError("uvloop turned off")
    except ImportError:  # pragma: no cover
        asyncio.run(role(args))
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(role(args))


if __name__ == "__main__":
    main()
