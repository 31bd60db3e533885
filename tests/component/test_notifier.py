"""The notifier without Kafka: outbox, idempotency, retries, dead letters, flood control,
cooldowns, and a 60 s outage of real (fake) Slack, Telegram and webhook servers."""

from __future__ import annotations

import asyncio
import dataclasses
import io
from collections import Counter
from typing import Any

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from alerts.channels.base import ListChannel
from alerts.channels.console import ConsoleChannel
from alerts.channels.slack import SlackWebhookChannel
from alerts.channels.telegram import TelegramChannel
from alerts.channels.webhook import WebhookChannel
from alerts.errors import DeliveryError
from alerts.metrics import NotifierMetrics
from alerts.notifier import DeliveryPolicy, Notifier
from alerts.outbox import COOLDOWN_PREFIX, DictOutbox, EntryState
from alerts.ratelimit import slack_webhook_limit, telegram_bot_bucket, telegram_chat_limit
from alerts.retry import Backoff
from alerts.routing import Router
from alerts.routing_config import RoutingConfig
from alerts.secrets import Secret
from streams.codec import encode_event
from streams.models import AirspaceEvent, Confidence, EventType, make_event_id
from tests.fakes import (
    FakeSlackWebhook,
    FakeTelegram,
    FakeWebhookReceiver,
    Reply,
    accepted_event_ids,
)
from tests.fakes.clock import VirtualClock

pytestmark = pytest.mark.timeout(60)

T0 = 1_700_000_000.0


def _event(
    observed_ts: float = T0, type_: EventType = EventType.ENTERED, icao24: str = "1551e0"
) -> AirspaceEvent:
    return AirspaceEvent(
        event_id=make_event_id(icao24, "dprk", type_.value, observed_ts),
        type=type_,
        icao24=icao24,
        zone="dprk",
        ts=observed_ts - 6.85,
        lat=40.13685,
        lon=124.40787,
        observed_ts=observed_ts,
        callsign="RSD352",
        confidence=Confidence.OBSERVED,
        alt_ft=30000,
    )


def _delivered(events: list[AirspaceEvent]) -> list[AirspaceEvent]:
    """The events as channels get them: enriched once by the notifier (these addresses are
    all in Russia's block, on no watchlist)."""
    return [dataclasses.replace(e, country="RU") for e in events]


def _events(n: int, start_s: float = T0) -> list[AirspaceEvent]:
    # Distinct aircraft, so cooldowns (per aircraft, zone and type) never apply.
    return [_event(start_s + i, icao24=f"{0x100000 + i:06x}") for i in range(n)]


def _notifier(channels: list[Any], clock: VirtualClock, **kwargs: Any) -> tuple[Notifier, CollectorRegistry]:
    registry = CollectorRegistry()
    kwargs.setdefault("policy", DeliveryPolicy(backoff=Backoff(base_s=1.0, max_s=8.0, give_up_after_s=600.0)))
    notifier = Notifier(
        channels,
        NotifierMetrics(registry),
        clock=clock.time,
        monotonic=clock.monotonic,
        sleep=clock.sleep,
        rand=lambda: 0.5,
        **kwargs,
    )
    return notifier, registry


class ScriptedChannel:
    """Raises the scripted errors in order, then records deliveries."""

    def __init__(self, name: str, errors: list[DeliveryError | None] | None = None) -> None:
        self.name = name
        self.errors = list(errors or [])
        self.events: list[AirspaceEvent] = []
        self.attempts = 0

    async def send(self, event: AirspaceEvent) -> None:
        self.attempts += 1
        if self.errors:
            error = self.errors.pop(0)
            if error is not None:
                raise error
        self.events.append(event)

    async def close(self) -> None:
        pass


class DeadLetters:
    def __init__(self) -> None:
        self.items: list[tuple[bytes | None, bytes, dict[str, bytes]]] = []

    async def __call__(self, key: bytes | None, value: bytes, headers: dict[str, bytes]) -> None:
        self.items.append((key, value, headers))


async def test_each_event_is_delivered_once_and_garbage_is_set_aside() -> None:
    clock = VirtualClock(T0)
    channel = ListChannel()
    dead = DeadLetters()
    notifier, registry = _notifier([channel], clock, dead_letter=dead)
    await notifier.start()
    first, second = _event(), _event(T0 + 130, EventType.EXITED)
    for raw in (encode_event(first), encode_event(first), encode_event(second), b"garbage"):
        await notifier.handle(raw)
    assert await notifier.drain(5)
    await notifier.close()
    assert channel.events == _delivered([first, second])
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "duplicate"}) == 1
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "undecodable"}) == 1
    assert notifier.read == 4 and notifier.delivered == 2
    assert dead.items == [(None, b"garbage", {"skyfence-reason": b"undecodable:json"})]
    assert {e.state for e in notifier.entries()} == {EntryState.DELIVERED}


async def test_events_read_again_after_a_restart_are_not_resent() -> None:
    clock = VirtualClock(T0)
    outbox = DictOutbox()
    events = _events(5)
    first = ListChannel()
    a, _ = _notifier([first], clock, outbox=outbox)
    await a.start()
    for e in events:
        await a.handle(encode_event(e))
    assert await a.drain(5)
    await a.close()
    # A new process, same outbox (the Faust table after recovery), the same events again:
    # the consumer had not committed them.
    second = ListChannel()
    b, registry = _notifier([second], clock, outbox=outbox)
    await b.start()
    assert b.restore() == 0
    for e in events:
        await b.handle(encode_event(e))
    assert await b.drain(5)
    await b.close()
    assert first.events == _delivered(events) and second.events == []
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "duplicate"}) == 5


async def test_alerts_accepted_before_a_crash_are_sent_after_restart() -> None:
    clock = VirtualClock(T0)
    outbox = DictOutbox()
    events = _events(4)
    down = ScriptedChannel("slack", [DeliveryError("slack", "http_503", retriable=True)] * 1000)
    a, _ = _notifier([down], clock, outbox=outbox)
    await a.start()
    for e in events:
        await a.handle(encode_event(e))
    for _ in range(20):  # let it fail a few times
        await asyncio.sleep(0)
    a.policy = DeliveryPolicy(stop_grace_s=0.0)
    await a.stop()  # the crash: nothing delivered, everything pending in the outbox
    assert [e.state for e in a.entries()] == [EntryState.PENDING] * 4 and down.events == []
    up = ScriptedChannel("slack")
    b, _ = _notifier([up], clock, outbox=outbox)
    await b.start()
    assert b.restore() == 4
    for e in events:  # redelivered by Kafka too: must not double
        await b.handle(encode_event(e))
    assert await b.drain(5)
    await b.close()
    assert sorted(e.event_id for e in up.events) == sorted(e.event_id for e in events)


async def test_a_failing_channel_does_not_starve_the_others_and_ends_in_the_dead_letters() -> None:
    clock = VirtualClock(T0)
    good = ListChannel()
    bad = ScriptedChannel("telegram", [DeliveryError("telegram", "http_502", retriable=True)] * 1000)
    dead = DeadLetters()
    policy = DeliveryPolicy(backoff=Backoff(base_s=1.0, max_s=30.0, give_up_after_s=120.0))
    notifier, registry = _notifier([bad, good], clock, dead_letter=dead, policy=policy)
    await notifier.start()
    event = _event()
    await notifier.handle(encode_event(event))
    assert await notifier.drain(5)
    await notifier.close()
    assert good.events == _delivered([event])
    assert bad.events == [] and bad.attempts > 3
    (key, value, headers) = dead.items[0]
    assert key == b"1551e0" and value == encode_event(_delivered([event])[0])
    assert headers["skyfence-reason"] == b"retries_exhausted:http_502"
    assert headers["skyfence-channel"] == b"telegram"
    assert int(headers["skyfence-attempts"]) == bad.attempts
    assert sum(clock.slept_s) <= 120.0 + 1e-6  # the give-up budget
    sample = registry.get_sample_value
    assert sample("skyfence_alert_dead_letters_total", {"channel": "telegram", "reason": "retries_exhausted:http_502"}) == 1
    assert sample("skyfence_alert_retries_total", {"channel": "telegram", "reason": "http_502"}) == bad.attempts - 1
    states = {e.channel: e for e in notifier.entries()}
    assert states["telegram"].state is EntryState.DEAD and states["list"].state is EntryState.DELIVERED


async def test_non_retriable_answers_are_dead_lettered_at_once() -> None:
    clock = VirtualClock(T0)
    bad = ScriptedChannel("slack", [DeliveryError("slack", "channel_not_found", retriable=False)])
    dead = DeadLetters()
    notifier, _ = _notifier([bad], clock, dead_letter=dead)
    await notifier.start()
    await notifier.handle(encode_event(_event()))
    assert await notifier.drain(5)
    await notifier.close()
    assert bad.attempts == 1 and clock.slept_s == []
    assert dead.items[0][2]["skyfence-reason"] == b"channel_not_found"


async def test_retry_after_is_honoured() -> None:
    clock = VirtualClock(T0)
    channel = ScriptedChannel(
        "slack", [DeliveryError("slack", "ratelimited", retriable=True, retry_after_s=30.0)]
    )
    notifier, _ = _notifier([channel], clock)
    await notifier.start()
    await notifier.handle(encode_event(_event()))
    assert await notifier.drain(5)
    await notifier.close()
    assert len(channel.events) == 1
    assert clock.slept_s and clock.slept_s[0] >= 30.0  # not the 1 s backoff


async def test_backlog_is_held_not_pushed_unless_replaying() -> None:
    clock = VirtualClock(T0 + 3600)  # the events are an hour old
    desk = ListChannel("slack", local=False)
    console = io.StringIO()
    outbox = DictOutbox()
    notifier, registry = _notifier([desk, ConsoleChannel(console)], clock, outbox=outbox)
    await notifier.start()
    events = _events(3)
    for e in events:
        await notifier.handle(encode_event(e))
    assert await notifier.drain(5)
    await notifier.close()
    assert desk.events == []  # not pushed to the desk...
    assert console.getvalue().count("ENTERED") == 3  # ...but the operator's log shows them
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "held_backlog"}) == 3
    held = [e for e in notifier.entries() if e.channel == "slack"]
    assert [e.state for e in held] == [EntryState.HELD] * 3 and held[0].reason == "backlog"
    # Replaying on purpose pushes them, once.
    replayer, _ = _notifier([desk], clock, outbox=outbox, policy=DeliveryPolicy(replay=True))
    await replayer.start()
    for e in events + events:
        await replayer.handle(encode_event(e))
    assert await replayer.drain(5)
    await replayer.close()
    assert desk.events == _delivered(events)


async def test_fresh_events_are_pushed_and_latency_observed() -> None:
    clock = VirtualClock(T0 + 2.0)
    desk = ListChannel("slack", local=False)
    notifier, registry = _notifier([desk], clock)
    await notifier.start()
    await notifier.handle(encode_event(_event()))
    assert await notifier.drain(5)
    await notifier.close()
    assert len(desk.events) == 1
    assert registry.get_sample_value("skyfence_alert_latency_seconds_count", {"channel": "slack"}) == 1
    assert registry.get_sample_value("skyfence_alert_latency_seconds_sum", {"channel": "slack"}) == 2.0


async def test_cooldown_suppresses_and_records() -> None:
    clock = VirtualClock(T0)
    desk = ListChannel("airspace")
    config = RoutingConfig.from_toml(
        '[channels.airspace]\nkind = "console"\n[cooldown]\nper_aircraft_zone_s = 600\n'
    )
    notifier, registry = _notifier([desk], clock, router=Router(config))
    await notifier.start()
    a, b, c = _event(T0), _event(T0 + 300), _event(T0 + 900)
    for e in (a, b, c):
        await notifier.handle(encode_event(e))
    assert await notifier.drain(5)
    await notifier.close()
    assert desk.events == _delivered([a, c])
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "suppressed_cooldown"}) == 1
    suppressed = [e for e in notifier.entries() if e.state is EntryState.SUPPRESSED]
    assert [e.event_id for e in suppressed] == [b.event_id]


async def test_cooldown_survives_a_restart_and_is_swept_after_retention() -> None:
    """The cooldown window is in the outbox: a new notifier on the same outbox (a restart,
    or the next owner of the partition after a rebalance) still suppresses a repeat within
    it, and lets one through after it. Old cooldown records are swept like settled entries."""
    clock = VirtualClock(T0)
    toml = '[channels.airspace]\nkind = "console"\n[cooldown]\nper_aircraft_zone_s = 600\n'
    outbox = DictOutbox()
    first_desk = ListChannel("airspace")
    first, _ = _notifier([first_desk], clock, router=Router(RoutingConfig.from_toml(toml)), outbox=outbox)
    await first.start()
    a = _event(T0)
    await first.handle(encode_event(a), partition=2)
    assert await first.drain(5)
    await first.close()
    assert first_desk.events == _delivered([a])

    desk = ListChannel("airspace")
    policy = DeliveryPolicy(retention_s=3600.0)
    second, registry = _notifier(
        [desk], clock, router=Router(RoutingConfig.from_toml(toml)), outbox=outbox, policy=policy
    )
    second.restore({2})
    await second.start()
    b, c = _event(T0 + 300), _event(T0 + 700)  # within the window of a, then after it
    for e in (b, c):
        await second.handle(encode_event(e), partition=2)
    assert await second.drain(5)
    assert desk.events == _delivered([c])
    assert registry.get_sample_value("skyfence_notifier_events_total", {"outcome": "suppressed_cooldown"}) == 1

    # A partition this notifier does not own keeps its records to itself.
    third, _ = _notifier([ListChannel("airspace")], clock, router=Router(RoutingConfig.from_toml(toml)), outbox=outbox)
    third.restore({0})
    assert len(third.cooldowns) == 0

    cooldown_keys = [k for k, _ in outbox.scan() if k.startswith(COOLDOWN_PREFIX)]
    assert len(cooldown_keys) == 1  # one per (aircraft, zone, type): c's replaced a's
    second.sweep(clock.time() + 3601.0)
    assert [k for k, _ in outbox.scan() if k.startswith(COOLDOWN_PREFIX)] == []
    await second.close()


async def test_settled_entries_are_swept_after_retention() -> None:
    clock = VirtualClock(T0)
    notifier, _ = _notifier([ListChannel()], clock, policy=DeliveryPolicy(retention_s=100.0))
    await notifier.start()
    await notifier.handle(encode_event(_event()))
    assert await notifier.drain(5)
    await notifier.close()
    assert notifier.sweep(T0 + 50) == 0
    assert notifier.sweep(T0 + 200) == 1
    assert list(notifier.entries()) == []


async def test_sixty_seconds_of_503_and_429_then_a_crash_lose_and_double_nothing() -> None:
    """40 events to Slack, Telegram and a webhook while all three fail for 60 s (503, 429
    with Retry-After / retry_after, resets, 502), with the notifier crashing half-way and a
    new one taking over from the outbox: each event reaches each channel exactly once."""
    clock = VirtualClock(T0)
    outage_end_s = T0 + 60.0
    events = _events(40, start_s=T0)
    async with (
        FakeSlackWebhook() as slack,
        FakeTelegram() as telegram,
        FakeWebhookReceiver(secret=b"hook-secret", clock=clock.time) as hook,
        aiohttp.ClientSession() as session,
    ):
        turn = Counter[str]()

        def outage(kind: str, replies: list[Reply]) -> Any:
            def answer(_rec: Any) -> Reply | None:
                if clock.now_s >= outage_end_s:
                    return None
                turn[kind] += 1
                return replies[turn[kind] % len(replies)]

            return answer

        slack.outage = outage("slack", [Reply(503, "service_unavailable"), FakeSlackWebhook.error(429, "rate_limited", 2), Reply(reset=True)])
        telegram.outage = outage("telegram", [FakeTelegram.flood(3), FakeTelegram.error(502, "Bad Gateway"), FakeTelegram.error(500, "Internal Server Error")])
        hook.outage = outage("hook", [Reply(503, {"error": "down"}), Reply(429, {"error": "slow"}, {"Retry-After": "5"})])

        def channels() -> list[Any]:
            return [
                SlackWebhookChannel(Secret(slack.webhook_url), session, "slack", clock=clock.time),
                TelegramChannel(Secret(telegram.token), telegram.chat_id, session, telegram.url, "telegram", clock=clock.time),
                WebhookChannel(Secret(hook.hook_url), Secret("hook-secret"), session, "webhook", clock=clock.time),
            ]

        def limits() -> dict[str, Any]:
            return {
                "slack": slack_webhook_limit(),
                "telegram": telegram_chat_limit(telegram_bot_bucket(), group=True),
            }

        outbox = DictOutbox()
        policy = DeliveryPolicy(backoff=Backoff(base_s=1.0, max_s=10.0, give_up_after_s=900.0), stop_grace_s=0.0)
        a, _ = _notifier(channels(), clock, outbox=outbox, limits=limits(), policy=policy)
        await a.start()
        for e in events[:25]:
            await a.handle(encode_event(e))
        while clock.now_s < T0 + 30:  # half-way through the outage...
            await asyncio.sleep(0.001)
        await a.stop()  # ...the process dies (no grace)

        b, registry = _notifier(channels(), clock, outbox=outbox, limits=limits(), policy=policy)
        await b.start()
        b.restore()
        for e in events:  # Kafka redelivers the uncommitted first 25, then the rest arrive
            await b.handle(encode_event(e))
        assert await b.drain(30)
        await b.close()

    want = sorted(e.event_id for e in events)
    assert turn["slack"] > 5 and turn["telegram"] > 5 and turn["hook"] > 5  # the outage bit
    for name, got in (
        ("slack", accepted_event_ids(slack)),
        ("telegram", accepted_event_ids(telegram)),
        ("webhook", accepted_event_ids(hook)),
    ):
        assert sorted(got) == want, f"{name}: {len(got)} accepted, {len(set(got))} distinct"
    assert all(r.verified for r in hook.requests)
    assert clock.now_s > outage_end_s
    assert {e.state for e in b.entries()} == {EntryState.DELIVERED}
    assert registry.get_sample_value("skyfence_alerts_pending", {"channel": "slack"}) == 0


async def test_slack_api_threads_and_maps_survive_a_restart() -> None:
    """Entry and exit of one visit stay in one Slack thread even when the worker restarted
    in between (the thread is in the outbox); the map image is uploaded into the thread."""
    from alerts.channels.slack import SlackApiChannel
    from alerts.enrich import Enricher
    from streams.zones import load_zones
    from tests.fakes import FakeSlackApi

    clock = VirtualClock(T0)
    outbox = DictOutbox()
    enricher = Enricher(load_zones(["dprk"]))
    trail = ((40.4, 124.2), (40.2, 124.4), (40.1, 124.5))
    entered = dataclasses.replace(_event(), trail=trail)
    exited = dataclasses.replace(_event(T0 + 7200, EventType.EXITED), trail=trail)
    async with FakeSlackApi() as api, aiohttp.ClientSession() as session:
        for event in (entered, exited):  # one process per event: a restart in between
            channel = SlackApiChannel(Secret(api.token), api.channel, session, api.api_url, "slack_api")
            notifier, _ = _notifier([channel], clock, outbox=outbox, enricher=enricher)
            await notifier.start()
            await notifier.handle(encode_event(event))
            assert await notifier.drain(5)
            await notifier.close()
    posts = [r.json for r in api.routed("chat.postMessage")]
    assert len(posts) == 2 and "thread_ts" not in posts[0]
    first_ts = "1700000000.000100"
    assert posts[1]["thread_ts"] == first_ts
    shares = api.routed("files.completeUploadExternal")
    assert len(shares) == 2 and all(s.form.get("thread_ts") == first_ts for s in shares)
    # The exit ended the visit: its thread record is gone from the outbox.
    assert not any(k.startswith(b"thread|") for k in outbox.data)


def _ids(events: list[AirspaceEvent]) -> list[str]:
    # The notifier enriches events before delivery: compare what was sent by id.
    return [e.event_id for e in events]


class GatedChannel:
    """Holds each send until released, like a request in flight when the process froze."""

    def __init__(self, name: str = "slack") -> None:
        self.name = name
        self.events: list[AirspaceEvent] = []
        self.release = asyncio.Event()

    async def send(self, event: AirspaceEvent) -> None:
        await self.release.wait()
        self.events.append(event)

    async def close(self) -> None:
        pass


async def _frozen_with_queue(clock: VirtualClock, **policy: Any) -> tuple[Notifier, GatedChannel, list[AirspaceEvent]]:
    # A notifier in a consumer group (owns events partition 0) with one alert in flight and
    # two queued; then the process "freezes" (SIGSTOP) for 20 s of monotonic time.
    channel = GatedChannel()
    notifier, _ = _notifier(
        [channel], clock, policy=DeliveryPolicy(stall_s=3.0, stall_hold_s=12.0, **policy)
    )
    notifier.owned = set()
    await notifier.start()
    events = _events(3)
    for e in events:
        await notifier.handle(encode_event(e), partition=0)
    await asyncio.sleep(0)
    clock.now_s += 20.0  # the stall: no tick for 20 s
    channel.release.set()  # the request in flight completes (the peer already had it)
    for _ in range(5):
        await asyncio.sleep(0)
    return notifier, channel, events


async def test_a_stalled_notifier_sends_nothing_more_once_its_partition_moved() -> None:
    # Issue 13, scenario 7 (zombie): after a freeze longer than the session timeout, another
    # notifier owns the partition; the woken one must not send what it still had queued.
    clock = VirtualClock(T0)
    notifier, channel, events = await _frozen_with_queue(clock)
    assert notifier.fenced() and notifier.stalls == 1
    assert _ids(channel.events) == _ids(events[:1]), "sent while fenced"
    notifier.revoke({0})  # the rebalance reaches us: partition 0 is someone else's
    assert await notifier.drain(5)
    await notifier.close()
    assert _ids(channel.events) == _ids(events[:1])
    states = {e.event_id: e.state for e in notifier.entries()}
    assert states[events[0].event_id] is EntryState.DELIVERED
    # Left pending in the outbox: the new owner restores and sends them.
    assert [states[e.event_id] for e in events[1:]] == [EntryState.PENDING] * 2
    # One job was waiting at the gate (dropped there), the other still queued (dropped by
    # the revocation).
    assert notifier.workers["slack"].fenced == 1


async def test_a_stall_without_rebalance_delays_but_loses_nothing() -> None:
    clock = VirtualClock(T0)
    notifier, channel, events = await _frozen_with_queue(clock)
    assert _ids(channel.events) == _ids(events[:1])
    notifier.restore({0})  # a rebalance completed and gave us partition 0 again
    assert not notifier.fenced()
    assert await notifier.drain(5)
    await notifier.close()
    assert _ids(channel.events) == _ids(events)


async def test_the_stall_fence_lifts_by_itself_after_the_hold() -> None:
    clock = VirtualClock(T0)
    notifier, channel, events = await _frozen_with_queue(clock)
    assert _ids(channel.events) == _ids(events[:1])
    assert await notifier.drain(5)  # the gate's waits move the virtual clock past the hold
    await notifier.close()
    assert _ids(channel.events) == _ids(events)
    assert clock.now_s >= T0 + 20.0 + 12.0  # not before the hold (from the stall) ran out


async def test_no_fence_without_a_stall_policy() -> None:
    clock = VirtualClock(T0)
    channel = ListChannel()
    notifier, _ = _notifier([channel], clock)
    await notifier.start()
    clock.now_s += 3600.0
    await notifier.handle(encode_event(_event()))
    assert await notifier.drain(5)
    await notifier.close()
    assert not notifier.fenced() and len(channel.events) == 1


class SlowChangelogTable:
    """A Faust table's surface for :class:`TableOutbox`: ``send_changelog`` returns a
    future that resolves only when the test says Kafka acknowledged the record."""

    def __init__(self) -> None:
        self.data: dict[bytes, bytes] = {}
        self.records: list[tuple[bytes, bytes | None, asyncio.Future[None]]] = []
        self.acks = False

    def send_changelog(self, partition: int, key: bytes, value: bytes | None, **_: Any) -> Any:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.records.append((key, value, fut))
        if self.acks:
            fut.set_result(None)
        return fut

    def ack_all(self) -> None:
        """Kafka acknowledges every record so far, and from now on each at once."""
        self.acks = True
        for _k, _v, fut in self.records:
            if not fut.done():
                fut.set_result(None)


async def test_the_next_alert_waits_until_the_delivered_record_is_in_kafka() -> None:
    """Scenario 7 found two alerts per channel re-sent by the next owner after a freeze: the
    one in flight, and the one before it, whose ``delivered`` record was still buffered. A
    channel's next alert now waits for that record's acknowledgement."""
    from alerts.notifier import TableOutbox

    clock = VirtualClock(T0)
    channel = ListChannel()
    table = SlowChangelogTable()
    notifier, _ = _notifier([channel], clock, outbox=TableOutbox(table))
    await notifier.start()
    events = _events(2)
    for event in events:
        await notifier.handle(encode_event(event))
    for _ in range(50):  # real loop passes: the first send happens, the second must not
        await asyncio.sleep(0.01)
    assert channel.events == _delivered(events[:1])
    table.ack_all()  # Kafka acknowledges the first alert's delivered record
    assert await notifier.drain(5)
    await notifier.close()
    assert channel.events == _delivered(events)
    delivered = [v for _k, v, _f in table.records if v is not None and b"delivered" in v]
    assert len(delivered) == 2


async def test_a_zombie_leaves_events_read_during_the_rebalance_to_the_new_owner() -> None:
    """Scenario 7 (20 duplicates in one run): a notifier woken after a freeze handled events
    still in its fetch buffer and wrote ``pending`` outbox records for alerts the new owner
    had already sent; those records landed after the new owner's ``delivered`` ones, and
    the next rebalance sent them all again. Now, fenced after a stall as long as the
    session timeout, it writes nothing while a rebalance is under way."""
    clock = VirtualClock(T0)
    notifier, _channel, _queued = await _frozen_with_queue(clock, stall_lost_s=6.0)
    rebalancing = False
    notifier.rebalancing = lambda: rebalancing
    late = _events(1, T0 + 100)[0]
    handling = asyncio.create_task(notifier.handle(encode_event(late), partition=0))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not handling.done(), "handled while fenced, before the rebalance said anything"
    rebalancing = True  # the heartbeat failed: the group is rebalancing without us
    assert await asyncio.wait_for(handling, 5) is None
    assert notifier.skipped == 1
    assert late.event_id not in {e.event_id for e in notifier.entries()}, "wrote the outbox"
    notifier.revoke({0})
    await notifier.close()


async def test_a_short_stall_during_a_rebalance_still_handles_the_event() -> None:
    """A stall shorter than the session timeout kept the membership: the event is ours,
    handled once the fence lifts (here: the hold runs out)."""
    clock = VirtualClock(T0)
    notifier, _channel, _queued = await _frozen_with_queue(clock, stall_lost_s=60.0)
    notifier.rebalancing = lambda: True
    late = _events(1, T0 + 100)[0]
    assert await notifier.handle(encode_event(late), partition=0) is not None
    assert notifier.skipped == 0 and clock.now_s >= T0 + 20.0 + 12.0
    assert late.event_id in {e.event_id for e in notifier.entries()}
    await notifier.close()


async def test_idle_only_once_every_read_event_is_handled_and_sent() -> None:
    """What a caller waits for before a graceful stop (a stop leaves queued alerts pending):
    ``read`` counts an event as it arrives, ``handled`` once it is queued, and the workers
    must have sent it."""
    clock = VirtualClock(T0)
    channel = ListChannel()
    notifier, _registry = _notifier([channel], clock)
    await notifier.start()
    gate = asyncio.Event()
    original = notifier._handle

    async def slow_handle(value: bytes | None, partition: int) -> Any:
        await gate.wait()  # the event is read, not yet queued
        return await original(value, partition)

    notifier._handle = slow_handle  # type: ignore[method-assign]
    assert notifier.idle()
    task = asyncio.create_task(notifier.handle(encode_event(_event()), 0))
    await asyncio.sleep(0)
    assert notifier.read == 1 and notifier.handled == 0 and not notifier.idle()
    gate.set()
    await task
    assert notifier.handled == 1
    assert await notifier.drain(5)
    assert notifier.idle() and channel.events == _delivered([_event()])
    await notifier.close()
