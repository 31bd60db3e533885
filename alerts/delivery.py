"""One delivery loop per channel: rate limit, send, retry with backoff, or give up.

:class:`ChannelWorker` owns a FIFO of :class:`Job` for one channel and sends them one at a
time, in order:

1. wait for the channel's rate limit (:class:`~alerts.ratelimit.MultiLimit`, reserved before
   each attempt, so retries count against the limit too);
2. the ``gate`` (when given) decides, right before each attempt, whether this worker may still
   send: the notifier's fence against zombies (:mod:`alerts.notifier`); a job it refuses is
   dropped, left ``pending`` in the outbox for the partition's new owner;
3. ``channel.send`` (``ack_button=True`` for a priority alert on a channel that
   ``accepts_buttons``), or ``channel.post_note`` for a follow-up (an escalation, an
   acknowledgement in the alert's thread); on success record the message reference the
   channel returned in ``job.ref`` and call ``on_delivered``;
4. on a retriable :class:`~alerts.errors.DeliveryError` wait
   :meth:`~alerts.retry.Backoff.delay_s` (the peer's ``Retry-After`` / ``retry_after`` is the
   floor) and try the same job again, while :meth:`~alerts.retry.Backoff.allows`; then
   ``on_dead`` with ``retries_exhausted``;
5. on a non-retriable answer (400, 401, 403, 404, 410, Slack ``invalid_payload``...) call
   ``on_dead`` at once with the reason. An unexpected exception from a channel is a bug: it is
   logged and treated as non-retriable (``internal``), so one bad alert cannot wedge a channel.

One job at a time per channel keeps alerts in order and makes the rate limits simple; a slow
or failing channel never delays another channel (each has its own worker).

Time comes from an injected ``monotonic`` and waits go through an injected ``sleep``, so tests
drive minutes of outage in milliseconds. Nothing here knows about Kafka: the notifier passes
the callbacks that write the outbox and the dead-letter topic.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

from alerts.channels.base import Channel
from alerts.errors import DeliveryError
from alerts.outbox import DELIVERY_PARTITION, OutboxEntry
from alerts.ratelimit import MultiLimit
from alerts.retry import Backoff
from streams.models import AirspaceEvent

__all__ = ["ChannelWorker", "Job"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Job:
    """One alert to deliver on one channel."""

    entry: OutboxEntry
    event: AirspaceEvent
    #: Monotonic time of the first attempt (the retry budget runs from it).
    first_attempt_s: float | None = None
    #: The delivered message's reference, as the channel returned it (None: it gave none).
    ref: str | None = None

    @property
    def key(self) -> bytes:
        """The outbox key."""
        return self.entry.key

    @property
    def partition(self) -> int:
        """The events partition the alert came from."""
        return self.entry.partition


#: Callbacks: delivered(job, attempts); dead(job, reason, attempts); retry(job, reason, delay_s).
#: gate(job): awaited right before each attempt; True to send, False to drop the job (its
#: partition is owned by another notifier now, which sends it from the outbox).
Delivered = Callable[[Job, int], Awaitable[None]]
Gate = Callable[[Job], Awaitable[bool]]
Dead = Callable[[Job, str, int], Awaitable[None]]
Retrying = Callable[[Job, str, float], None]


class ChannelWorker:
    """Delivers one channel's jobs in order (see the module docstring)."""

    def __init__(
        self,
        channel: Channel,
        *,
        backoff: Backoff,
        on_delivered: Delivered,
        on_dead: Dead,
        on_retry: Retrying | None = None,
        gate: Gate | None = None,
        limit: MultiLimit | None = None,
        image_for: Callable[[AirspaceEvent], bytes | None] | None = None,
        monotonic: Callable[[], float],
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        self.channel = channel
        self.name = channel.name
        self._backoff = backoff
        self._limit = limit
        self._on_delivered = on_delivered
        self._on_dead = on_dead
        self._on_retry = on_retry
        self._gate = gate
        #: Jobs dropped by the gate (another notifier owns their partition).
        self.fenced = 0
        self._image_for = image_for if getattr(channel, "accepts_image", False) else None
        self._monotonic = monotonic
        self._sleep = sleep
        self._rand = rand
        self._queue: deque[Job] = deque()
        self._keys: set[bytes] = set()
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._current: Job | None = None
        self._stopping = False

    def __repr__(self) -> str:
        return f"ChannelWorker({self.name!r}, queued={len(self._queue)})"

    @property
    def pending(self) -> int:
        """Jobs queued or being sent."""
        return len(self._queue) + (self._current is not None)

    def has(self, key: bytes) -> bool:
        """Whether the job with outbox key ``key`` is queued or in flight."""
        return key in self._keys

    def submit(self, job: Job) -> bool:
        """Queue ``job`` (False, and nothing queued, when it is already queued or in flight)."""
        if job.key in self._keys:
            return False
        self._keys.add(job.key)
        self._queue.append(job)
        self._idle.clear()
        self._wake.set()
        return True

    def drop_partitions(self, partitions: Iterable[int]) -> int:
        """Forget queued jobs of ``partitions`` (revoked: their new owner sends them).
        Returns how many were dropped; a job already in flight finishes."""
        gone = set(partitions)
        keep = [j for j in self._queue if j.partition not in gone]
        dropped = len(self._queue) - len(keep)
        for job in self._queue:
            if job.partition in gone:
                self._keys.discard(job.key)
        self._queue = deque(keep)
        if not self._queue and self._current is None:
            self._idle.set()
        return dropped

    async def wait_idle(self, timeout_s: float | None = None) -> bool:
        """Wait until nothing is queued or in flight; False on timeout."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def stop_after_current(self) -> None:
        """Finish the job in flight (and its retries' current attempt), then stop."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        """The delivery loop; runs until cancelled or :meth:`stop_after_current`."""
        while not self._stopping:
            if not self._queue:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            job = self._queue.popleft()
            self._current = job
            try:
                await self._deliver(job)
            finally:
                self._current = None
                self._keys.discard(job.key)
        if not self._queue:
            self._idle.set()

    async def _deliver(self, job: Job) -> None:
        DELIVERY_PARTITION.set(job.partition)  # this task's context only
        attempts = 0
        image: bytes | None = None
        if self._image_for is not None and job.entry.note is None:
            try:
                image = self._image_for(job.event)
            except Exception:  # a map is a nicety: never let it stop the alert
                log.exception("%s: map image failed for %s", self.name, job.event.event_id)
        while True:
            if self._limit is not None:
                wait_s = self._limit.take(self._monotonic())
                if wait_s > 0:
                    await self._sleep(wait_s)
            if self._gate is not None and not await self._gate(job):
                self.fenced += 1
                log.warning(
                    "%s: not sending %s: partition %d is no longer ours",
                    self.name, job.event.event_id, job.partition,
                )  # fmt: skip
                return
            if job.first_attempt_s is None:
                job.first_attempt_s = self._monotonic()
            attempts += 1
            try:
                sent = await self._send(job, image)
            except DeliveryError as exc:
                if not exc.retriable:
                    await self._on_dead(job, exc.reason, attempts)
                    return
                delay_s = self._backoff.delay_s(attempts, exc.retry_after_s, self._rand)
                elapsed_s = self._monotonic() - job.first_attempt_s
                if not self._backoff.allows(attempts, elapsed_s, delay_s):
                    await self._on_dead(job, f"retries_exhausted:{exc.reason}", attempts)
                    return
                if self._on_retry is not None:
                    self._on_retry(job, exc.reason, delay_s)
                await self._sleep(delay_s)
                continue
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: channel failed on %s", self.name, job.event.event_id)
                await self._on_dead(job, "internal", attempts)
                return
            job.ref = sent if isinstance(sent, str) else None
            await self._on_delivered(job, attempts)
            return

    async def _send(self, job: Job, image: bytes | None) -> object:
        """One attempt: the alert (with its map and Acknowledge button where the channel
        takes them), or a follow-up note (escalation, acknowledgement) in its thread.
        Returns what the channel returned: the message reference, if it gives one."""
        entry = job.entry
        if entry.note is not None:
            post_note = getattr(self.channel, "post_note", None)
            if post_note is None:
                raise DeliveryError(self.name, "notes_unsupported", retriable=False)
            ack_id = job.event.event_id if entry.priority else None
            return await post_note(entry.note, reply_to=entry.reply_to, ack_event_id=ack_id)
        kwargs: dict[str, Any] = {}
        if image is not None:
            kwargs["image_png"] = image
        if entry.priority and getattr(self.channel, "accepts_buttons", False):
            kwargs["ack_button"] = True
        return await self.channel.send(job.event, **kwargs)
