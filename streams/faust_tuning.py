"""Start-up and latency fixes for faust-streaming 0.15 / aiokafka 0.14, applied explicitly.

Measured on this project's machines (see the README's "Start-up time"):

- Tansu holds a new consumer group's JoinGroup for half the session timeout; Faust's default
  60 s made the first join take 30 s. The session timeout is a setting
  (``StreamSettings.session_timeout_s``): 2 s on the embedded Tansu, 10 s on Apache Kafka
  (which refuses less than 6 s by default).
- ``TableManager.on_start`` sleeps a fixed 1 s before the consumer may subscribe:
  :func:`apply` removes the sleep (every table is declared before start, which Faust
  requires anyway).
- Faust hard-codes ``fetch_max_wait_ms=1500``; Tansu holds a Fetch for half of it even when
  data arrives, so a live position waited up to 750 ms. :func:`apply` sets 100 ms (Apache
  Kafka answers a Fetch as soon as data arrives either way; idle cost: ~10 empty fetches/s).
- Tansu numbers the first group generation 0 and aiokafka only sends LeaveGroup for a
  generation above 0, so a cleanly stopped worker lingered in the group and the next start
  waited for it to expire (109 s with defaults). :func:`apply` leaves for generation >= 0.
- Every message Faust publishes (each table changelog write, each event) first awaits
  ``App.maybe_start_producer``, a ``mode`` stampede guard that yields to the event loop three
  times (``asyncio.sleep(0)``) even when the producer is long started. Each yield is a loop
  pass and a chance for aiokafka's fetcher thread to take the GIL: the first second of a
  world feed (15,000 new aircraft, a table write each) cost ~130 us per write, most of it
  here. :func:`apply` returns the started producer at once and keeps the guard for the
  first start and for transactions.

- A table write goes through Faust's producer buffer, whose one background task produces
  each buffered record. A record the producer refused (``MessageSizeTooLargeError``, an
  authorisation error) raised out of that task and ended it: no table write was ever
  produced again, commits waited on the buffer forever, and the worker wedged and ignored
  SIGTERM. :func:`apply` catches the error per record: the record's future fails, the error
  is logged and passed to ``app.on_produce_error`` when the app has one (the tracker counts
  it), and the task goes on with the next record.

- Before it commits offsets, Faust flushes its producer, and that starts with the buffer of
  table writes: ``ProducerBuffer.flush`` (``flush_atmost(None)``), which returns as soon as
  0.1 s passes without the buffer's task sending a record, *with records still in the
  buffer*. On a loaded machine the task often takes longer (aiokafka's ``send`` waits for
  room in its batch), so offsets were committed past messages whose table writes had not
  even reached the producer: a SIGKILL then lost those writes for good. That is what chaos
  scenario 1 found: a notifier whose outbox entries for committed events never reached the
  changelog (two alerts lost), and a tracker restored from aircraft state older than the
  committed positions (a spurious ``signal_lost`` / ``signal_regained``). :func:`apply`
  makes ``flush`` drain: it returns only when the buffer is empty and its last record was
  handed to the producer (whose own flush then waits for the broker's acks), logging a warning every
  :data:`FLUSH_WARN_S` while it waits (a producer that cannot send holds the commit back,
  which is at-least-once; committing anyway would lose the writes).

- Faust adds its ``Monitor`` sensor to every app. It keeps in-memory statistics (counters,
  deques of timings, offsets by partition) that nothing in skyfence reads (our metrics are
  Prometheus, :mod:`streams.metrics`), at the cost of six hooks per message (in, event in,
  event out, out, table get/set) and two per produced message. :func:`without_monitor`
  keeps it out of an app's sensors; ``app.monitor`` still exists for whoever asks.

Each patch replaces one method with a copy of Faust's or aiokafka's code minus the delay; a
version check refuses to patch other versions, where the code may differ.
"""

from __future__ import annotations

import asyncio
import logging
from importlib.metadata import version
from typing import Any

__all__ = ["FETCH_MAX_WAIT_MS", "FLUSH_WARN_S", "apply", "draining_flush", "without_monitor"]

log = logging.getLogger(__name__)

#: Longest a Fetch may wait for data: bounds the latency of a live position on Tansu.
FETCH_MAX_WAIT_MS = 100
#: While a flush waits for the buffer of table writes to drain, warn this often: the commit
#: it holds back is overdue (the producer cannot send, e.g. the broker is down).
FLUSH_WARN_S = 30.0
_PATCHED_VERSIONS = {"faust-streaming": "0.15.", "aiokafka": "0.14."}
_applied = False


def guard_send_pending(send_pending: Any) -> Any:
    """Wrap ``ProducerBuffer._send_pending`` so a record the producer refuses fails alone
    (module docstring) instead of ending the buffer's task."""

    async def _send_pending(self: Any, fut: Any) -> None:
        # Taken off the queue, not yet handed to the producer: draining_flush waits for it.
        self.skyfence_in_flight = getattr(self, "skyfence_in_flight", 0) + 1
        try:
            await send_pending(self, fut)
        except Exception as exc:  # CancelledError is not an Exception: stops still stop
            if not fut.done():
                fut.set_exception(exc)
                fut.exception()  # retrieved: no "exception was never retrieved" at exit
            try:
                topic = fut.message.channel.get_topic_name()
            except Exception:  # only for the log line
                topic = "?"
            log.error("could not produce a buffered record to %s: %r", topic, exc)
            hook = getattr(self.app, "on_produce_error", None)
            if hook is not None:
                hook(exc)
        finally:
            self.skyfence_in_flight -= 1

    return _send_pending


async def draining_flush(self: Any) -> None:
    """``ProducerBuffer.flush`` that returns only once every buffered record was handed to
    the producer (module docstring), including the one the buffer's task has taken off the
    queue and is sending (counted by :func:`guard_send_pending`); Faust's gave up after 0.1 s
    without progress and never waited for that last one."""
    waited_s = 0.0
    while self.size or getattr(self, "skyfence_in_flight", 0):
        if self.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")  # as Faust's
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=_FLUSH_POLL_S)
            waited_s = 0.0
        except TimeoutError:
            waited_s += _FLUSH_POLL_S
            if waited_s >= FLUSH_WARN_S:
                waited_s = 0.0
                log.warning(
                    "the producer has not taken a table write for %.0f s (%d buffered): "
                    "offsets are not committed until it does", FLUSH_WARN_S, self.size,
                )  # fmt: skip


#: How often :func:`draining_flush` looks again when no record was sent (Faust's 0.1 s).
_FLUSH_POLL_S = 0.1


def apply() -> bool:
    """Apply the patches once per process; returns False (and logs) on unknown versions."""
    global _applied
    if _applied:
        return True
    for package, prefix in _PATCHED_VERSIONS.items():
        if not version(package).startswith(prefix):
            log.warning("not tuning Faust: %s %s is not %sx", package, version(package), prefix)
            return False

    from aiokafka.consumer.group_coordinator import GroupCoordinator
    from aiokafka.errors import KafkaError
    from aiokafka.protocol.group import LeaveGroupRequest
    from faust.tables.manager import TableManager
    from faust.topics import Topic
    from faust.transport.drivers import aiokafka as faust_aiokafka
    from faust.transport.producer import ProducerBuffer

    create_consumer = faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer

    def _create_worker_consumer(self: Any, transport: Any) -> Any:
        consumer = create_consumer(self, transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the consumer starts
        return consumer

    async def _maybe_leave_group(self: Any) -> None:
        if self.generation >= 0 and self.member_id and self._group_instance_id is None:
            try:
                await self._send_req(LeaveGroupRequest(self.group_id, self.member_id))
            except KafkaError as err:
                log.warning("LeaveGroup failed: %s", err)
        self.reset_generation()

    async def _table_manager_on_start(self: Any) -> None:
        if not self.should_stop:
            await self._update_channels()
            await self.recovery.start()

    guarded_get_producer = Topic._get_producer

    async def _get_producer(self: Any) -> Any:
        app = self.app
        producer = app._producer
        if producer is not None and producer.started and not app.in_transaction:
            return producer
        return await guarded_get_producer(self)

    ProducerBuffer._send_pending = guard_send_pending(ProducerBuffer._send_pending)  # type: ignore[method-assign]
    ProducerBuffer.flush = draining_flush  # type: ignore[method-assign]
    Topic._get_producer = _get_producer  # type: ignore[method-assign]
    faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    GroupCoordinator._maybe_leave_group = _maybe_leave_group  # type: ignore[method-assign]
    TableManager.on_start = _table_manager_on_start  # type: ignore[method-assign]
    _applied = True
    return True


def without_monitor(app: Any) -> None:
    """Keep Faust's default ``Monitor`` out of ``app``'s sensors (see the module docstring).

    Call before the app starts: Faust adds the monitor when it starts, and its consumer binds
    the sensor hooks when it is created; this replaces the app's sensor set with one that
    refuses the default monitor (any other sensor is still added)."""
    from faust.sensors import Monitor, SensorDelegate

    class _Sensors(SensorDelegate):
        def add(self, sensor: Any) -> None:
            if type(sensor) is Monitor:
                return
            super().add(sensor)

        def on_rebalance_start(self, app: Any) -> Any:
            # Faust warns "Missing sensor state for rebalance" at every rebalance when this
            # is empty (no sensor at all): a marker keeps it quiet.
            state = super().on_rebalance_start(app)
            state["skyfence-no-monitor"] = None
            return state

    sensors = _Sensors(app)
    for sensor in list(app.sensors):
        sensors.add(sensor)
    app.sensors = sensors
