"""Regression tests for issue 12's defects in the tracker's shell (``TrackerApp``), with fakes
instead of Faust and Kafka (as ``test_tracker_shell``): watermarks are bounded, produce
failures dead-letter the input, dead letters are never too large, ``internal`` is counted
as a bug, and Faust's producer buffer survives a refused record.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import orjson
import pytest
from prometheus_client import CollectorRegistry

from streams import faust_tuning
from streams.app import DEAD_LETTER_HEAD_BYTES, SIZE_HEADER, TrackerApp
from streams.codec import MESSAGE_MAX_BYTES, decode_event, encode_watermark
from streams.config import StreamSettings
from streams.metrics import TrackerMetrics
from streams.tracking import Policy, Tracker
from streams.zones import builtin_zone

T0 = 1_695_690_000.0


class FakeTopic:
    """Records what would have been sent; ``fail`` makes ``send`` raise it."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.fail: Exception | None = None

    async def send(self, **kwargs: Any) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(kwargs)


class BrokenTracker(Tracker):
    """A tracker with a bug: raises on one aircraft."""

    def step(self, state: Any, report: Any) -> Any:
        if report.icao24 == "badbad":
            raise ZeroDivisionError("a bug")
        return super().step(state, report)


def _shell(
    settings: StreamSettings | None = None, *, clock_s: float = T0 + 10.0, tracker: Any = None
) -> tuple[TrackerApp, CollectorRegistry]:
    registry = CollectorRegistry()
    bundle = TrackerApp(
        app=None,  # type: ignore[arg-type]
        settings=settings or StreamSettings(),
        tracker=tracker or Tracker([builtin_zone("dprk")], Policy()),
        metrics=TrackerMetrics(registry),
        positions=FakeTopic(),
        events=FakeTopic(),
        dead_letters=FakeTopic(),
        table={},
        clock=lambda: clock_s,
        partitions={},
        listeners=[],
    )
    return bundle, registry


def _fix(i: int, icao24: str = "7278a2", **extra: Any) -> bytes:
    """10-s fixes flying from Dandong's side into DPRK airspace (as test_tracker_shell)."""
    return orjson.dumps(
        {"icao24": icao24, "ts": T0 + 10 * i, "lat": 40.30 - 0.01 * i,
         "lon": 124.0 + 0.025 * i, "alt_ft": 30000, **extra}
    )  # fmt: skip


def _types(bundle: TrackerApp) -> list[str]:
    return [decode_event(s["value"]).type.value for s in bundle.events.sent]


def _reasons(bundle: TrackerApp) -> list[str]:
    return [s["headers"]["skyfence-reason"].decode() for s in bundle.dead_letters.sent]


def _count(registry: CollectorRegistry, name: str, **labels: str) -> float:
    return registry.get_sample_value(name, labels) or 0.0


# -- defect 1 ------------------------------------------------------------------------------


async def test_defect_1_5mb_callsign_is_dead_lettered_cut_and_the_track_goes_on() -> None:
    bundle, registry = _shell()
    poison = orjson.dumps(
        {"icao24": "1551e0", "ts": T0, "lat": 45.0, "lon": 100.0, "callsign": "A" * 5_000_000}
    )
    await bundle.handle(b"1551e0", poison, 0)
    [dead] = bundle.dead_letters.sent
    assert dead["headers"]["skyfence-reason"] == b"too_large"
    assert dead["headers"][SIZE_HEADER] == str(len(poison)).encode()
    assert dead["value"] == poison[:DEAD_LETTER_HEAD_BYTES]
    assert len(dead["value"]) <= MESSAGE_MAX_BYTES
    for i in range(30):
        await bundle.handle(b"7278a2", _fix(i), 0)
    assert _types(bundle) == ["approaching", "entered"]
    assert _count(registry, "skyfence_dead_letters_total", reason="too_large") == 1


async def test_defect_1_event_produce_failure_dead_letters_the_input_and_goes_on() -> None:
    bundle, registry = _shell()
    message = SimpleNamespace(topic="p", partition=0, offset=0, key=b"7278a2", value=b"")
    bundle.events.fail = RuntimeError("MessageSizeTooLargeError")  # no event can be produced
    for i in range(30):
        message.value = _fix(i)
        await bundle.handle_safely(message)
    bundle.events.fail = None
    # The two fixes that raised an event (approaching, entered) are dead-lettered.
    assert _reasons(bundle) == ["produce_failed", "produce_failed"]
    assert all(d["value"] in {_fix(i) for i in range(30)} for d in bundle.dead_letters.sent)
    assert _count(registry, "skyfence_produce_failures_total", what="event") == 2
    # The worker goes on: the next aircraft's entry is emitted.
    for i in range(30):
        message.value = _fix(i, icao24="7278a3")
        message.key = b"7278a3"
        await bundle.handle_safely(message)
    assert _types(bundle)[-1] == "entered"


async def test_defect_1_a_dead_letter_that_cannot_be_produced_never_raises() -> None:
    bundle, registry = _shell()
    bundle.dead_letters.fail = RuntimeError("TopicAuthorizationFailedError")
    await bundle.handle(b"k", b"{oops", 0)
    assert _count(registry, "skyfence_produce_failures_total", what="dead_letter") == 1
    assert _count(registry, "skyfence_dead_letters_total", reason="json") == 1


async def test_defect_1_internal_is_a_bug_signal_with_its_own_metric() -> None:
    bundle, registry = _shell(StreamSettings(partitions=1), tracker=BrokenTracker([builtin_zone("dprk")]))
    message = SimpleNamespace(
        topic="p", partition=0, offset=0, key=b"badbad",
        value=orjson.dumps({"icao24": "badbad", "ts": T0, "lat": 1.0, "lon": 1.0}),
    )  # fmt: skip
    await bundle.handle_safely(message)
    assert _reasons(bundle) == ["internal"]
    assert _count(registry, "skyfence_internal_errors_total") == 1
    # In a batch too, and the rest of the batch is processed.
    batch = orjson.dumps([orjson.loads(message.value), orjson.loads(_fix(0, icao24="123456"))])
    await bundle.handle(None, batch, 0)
    assert _count(registry, "skyfence_internal_errors_total") == 2


async def test_defect_1_producer_buffer_survives_a_refused_record() -> None:
    """Faust's buffer task used to end on the first refused changelog record (the wedge)."""
    errors: list[Exception] = []
    sent: list[str] = []

    async def send_pending(self: Any, fut: Any) -> None:
        if fut.message.value == b"huge":
            raise RuntimeError("MessageSizeTooLargeError")
        sent.append(fut.message.value)

    guarded = faust_tuning.guard_send_pending(send_pending)
    buffer = SimpleNamespace(app=SimpleNamespace(on_produce_error=errors.append))
    loop = asyncio.get_running_loop()
    futs = []
    for value in (b"a", b"huge", b"b"):
        fut = loop.create_future()
        fut.message = SimpleNamespace(  # type: ignore[attr-defined]
            value=value, channel=SimpleNamespace(get_topic_name=lambda: "changelog")
        )
        futs.append(fut)
        await guarded(buffer, fut)
    assert sent == [b"a", b"b"]
    assert len(errors) == 1 and isinstance(futs[1].exception(), RuntimeError)


# -- defect 2 ------------------------------------------------------------------------------


async def test_defect_2_watermark_far_ahead_of_the_partition_is_dead_lettered() -> None:
    bundle, registry = _shell(StreamSettings(watermark_max_skew_s=900.0))
    for i in range(10):
        await bundle.handle(b"7278a2", _fix(i), 0)
    poison = encode_watermark(T0 + 90 + 901)
    await bundle.handle(None, poison, 0)
    assert _reasons(bundle) == ["watermark_ahead"]
    assert bundle.partitions[0].queue.watermark == T0 + 90  # it moved nothing
    # The track goes on and enters, with no false signal_lost before it.
    for i in range(10, 30):
        await bundle.handle(b"7278a2", _fix(i), 0)
    assert _types(bundle) == ["approaching", "entered"]
    # A watermark within the skew still moves an idle partition's timers on.
    await bundle.handle(None, encode_watermark(T0 + 290 + 600), 0)
    assert _types(bundle) == ["approaching", "entered", "signal_lost"]
    assert _count(registry, "skyfence_dead_letters_total", reason="watermark_ahead") == 1


async def test_defect_2_watermark_on_an_empty_partition_and_skew_zero() -> None:
    bundle, _ = _shell(StreamSettings(watermark_max_skew_s=0.0))
    await bundle.handle(None, encode_watermark(T0), 3)  # no position seen on 3 yet
    await bundle.handle(b"7278a2", _fix(0), 3)
    await bundle.handle(None, encode_watermark(T0), 3)  # at the latest position: harmless
    await bundle.handle(None, encode_watermark(T0 + 1), 3)
    assert _reasons(bundle) == ["watermark_ahead", "watermark_ahead"]
    assert bundle.watermarks == 3  # refused ones are watermark messages too (summaries)


async def test_defect_2_live_topic_bounds_watermarks_by_the_wall_clock() -> None:
    settings = StreamSettings(live=True, watermark_max_future_s=60.0, watermark_max_skew_s=1e9)
    bundle, _ = _shell(settings, clock_s=T0)
    await bundle.handle(b"7278a2", _fix(0), 0)
    await bundle.handle(None, encode_watermark(T0 + 59), 0)
    await bundle.handle(None, encode_watermark(T0 + 3600), 0)
    assert _reasons(bundle) == ["watermark_future"]
    assert bundle.partitions[0].queue.watermark == T0 + 59


async def test_live_idle_partition_takes_watermarks_ahead_of_its_positions() -> None:
    # Live, the wall clock bounds watermarks; an idle partition's watermarks (no position for
    # longer than the skew) are what fire its timers, so they are not refused.
    settings = StreamSettings(live=True, watermark_max_future_s=60.0, watermark_max_skew_s=900.0)
    bundle, _ = _shell(settings, clock_s=T0 + 4000)
    await bundle.handle(None, encode_watermark(T0), 1)  # no position yet
    for i in range(10):
        await bundle.handle(b"7278a2", _fix(i), 0)
    await bundle.handle(None, encode_watermark(T0 + 3600), 0)
    assert _reasons(bundle) == []
    assert bundle.partitions[0].queue.watermark == T0 + 3600
    assert bundle.watermarks == 2


def test_watermark_bounds_are_settings() -> None:
    env = {
        "SKYFENCE_WATERMARK_MAX_SKEW_S": "120",
        "SKYFENCE_LIVE": "true",
        "SKYFENCE_WATERMARK_MAX_FUTURE_S": "5",
        "SKYFENCE_SHUTDOWN_TIMEOUT_S": "7",
    }
    s = StreamSettings.from_env(env)
    assert (s.watermark_max_skew_s, s.live, s.watermark_max_future_s) == (120.0, True, 5.0)
    assert s.shutdown_timeout_s == 7.0
    from streams.errors import ConfigError

    with pytest.raises(ConfigError):
        StreamSettings.from_env({"SKYFENCE_WATERMARK_MAX_SKEW_S": "nan"})
    with pytest.raises(ConfigError):
        StreamSettings.from_env({"SKYFENCE_LIVE": "maybe"})
