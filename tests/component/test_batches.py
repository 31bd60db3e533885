"""The tracker shell on batch messages: the same events as single messages, strays re-keyed,
bad elements dead-lettered one by one (fakes instead of Faust and Kafka, as in
test_tracker_shell)."""

from __future__ import annotations

from typing import Any

import orjson

from streams.codec import decode_event, encode_batch, partition_of
from tests.component.test_tracker_shell import T0, _fix, _shell, _types

PARTITIONS = 4  # StreamSettings() default, which _shell uses
OWNER = partition_of("7278a2", PARTITIONS)


async def test_a_batch_gives_the_events_single_messages_give() -> None:
    single, single_table, _ = _shell()
    for i in range(40):
        await single.handle(b"7278a2", _fix(i), OWNER)
    batched, batched_table, registry = _shell()
    for start in range(0, 40, 15):
        await batched.handle(None, encode_batch([_fix(i) for i in range(start, min(40, start + 15))]), OWNER)
    assert _types(batched) == _types(single) == ["approaching", "entered"]
    assert [s["value"] for s in batched.events.sent] == [s["value"] for s in single.events.sent]
    assert batched_table == single_table
    assert batched.handled == single.handled == 40
    accepted = registry.get_sample_value("skyfence_positions_total", {"outcome": "accepted"})
    assert accepted == 40


async def test_strays_are_republished_under_their_own_key() -> None:
    bundle, _table, registry = _shell()
    wrong = (OWNER + 1) % PARTITIONS
    stray_icao = next(f"{n:06x}" for n in range(1, 10_000) if partition_of(f"{n:06x}", PARTITIONS) == OWNER)
    stray = orjson.dumps({"icao24": stray_icao, "ts": T0, "lat": 10.0, "lon": 10.0})
    await bundle.handle(None, encode_batch([stray, _fix(0)]), wrong)
    # Neither belongs on `wrong`: both go back to the positions topic, keyed, unchanged in meaning.
    assert [s["key"] for s in bundle.positions.sent] == [stray_icao.encode(), b"7278a2"]
    assert orjson.loads(bundle.positions.sent[1]["value"]) == orjson.loads(_fix(0))
    assert registry.get_sample_value("skyfence_positions_total", {"outcome": "rekeyed"}) == 2
    assert bundle.tracked == 0
    # Re-read on their own partition under their key, they are tracked.
    for sent in bundle.positions.sent:
        await bundle.handle(sent["key"], sent["value"], partition_of(sent["key"].decode(), PARTITIONS))
    assert bundle.tracked == 2


async def test_bad_elements_are_dead_lettered_and_the_rest_processed() -> None:
    bundle, _table, registry = _shell()
    batch = b"[" + b",".join([_fix(0), b'{"icao24":"7278a2","ts":1,"lat":1,"lon":1}', _fix(1)]) + b"]"
    await bundle.handle(None, batch, OWNER)
    assert [s["headers"]["skyfence-reason"] for s in bundle.dead_letters.sent] == [b"bad_ts"]
    assert registry.get_sample_value("skyfence_positions_total", {"outcome": "accepted"}) == 2
    await bundle.handle(None, b"[{", OWNER)  # not JSON at all: the whole message, once
    assert bundle.dead_letters.sent[-1]["value"] == b"[{"
    assert bundle.handled == 4


async def test_timers_fire_inside_a_batch_before_the_position_that_passes_them() -> None:
    bundle, _table, _ = _shell()
    far_icao = next(f"{n:06x}" for n in range(1, 10_000) if partition_of(f"{n:06x}", PARTITIONS) == OWNER)
    fixes = [_fix(i) for i in range(30)]  # enters, then falls silent
    later = orjson.dumps({"icao24": far_icao, "ts": T0 + 290 + 900, "lat": 10.0, "lon": 10.0})
    await bundle.handle(None, encode_batch([*fixes, later]), OWNER)
    assert _types(bundle) == ["approaching", "entered", "signal_lost"]
    assert decode_event(bundle.events.sent[-1]["value"]).last_seen_ts == T0 + 290


async def test_single_messages_far_from_zones_take_the_short_path_with_the_same_outcome() -> None:
    """Single messages of tracked aircraft far from every zone skip ``Tracker.step``
    (``step_far``, as the batch loop does); on the seed scenario's traffic, sent one position
    a message, the events, the table writes and the outcome counts must be what ``step``
    alone gives (a tracker whose ``step_far`` always declines is the reference)."""
    from streams.codec import encode_position
    from streams.models import PositionReport
    from streams.replay import read_recording
    from streams.tracking import Tracker
    from tests.conftest import SEED_SCENARIO

    class StepOnly(Tracker):
        def step_far(self, *args: object, **kwargs: object) -> bool | None:
            return None

    class Counting(Tracker):
        far = 0

        def step_far(self, *args: Any, **kwargs: Any) -> bool | None:
            persist = super().step_far(*args, **kwargs)
            self.far += persist is not None
            return persist

    reports = [r for r in read_recording(SEED_SCENARIO) if isinstance(r, PositionReport)][:12_000]
    fast, fast_table, fast_registry = _shell()
    slow, slow_table, slow_registry = _shell()
    slow.tracker = StepOnly(slow.tracker.zones, slow.tracker.policy)
    fast.tracker = counting = Counting(fast.tracker.zones, fast.tracker.policy)
    for report in reports:
        key, value = report.icao24.encode(), encode_position(report)
        partition = partition_of(report.icao24, PARTITIONS)
        await fast.handle(key, value, partition)
        await slow.handle(key, value, partition)
    assert fast.events.sent and [s["value"] for s in fast.events.sent] == [s["value"] for s in slow.events.sent]
    assert fast_table == slow_table
    assert counting.far > 1_000  # the short path was taken
    for outcome in ("accepted", "duplicate", "out_of_order", "suspect"):
        sample = {"outcome": outcome}
        name = "skyfence_positions_total"
        assert fast_registry.get_sample_value(name, sample) == slow_registry.get_sample_value(name, sample)


async def test_an_emergency_squawk_far_from_zones_is_timed_in_a_batch_as_alone() -> None:
    """A far aircraft that starts squawking 7700 is timed from its first such fix (the rule's
    ``squawk_persist_s``), whether its fixes come in a batch or alone: the batch loop's short
    path must leave it to ``step``, as the single-message path does."""

    def fix(i: int, **extra: Any) -> bytes:  # over Honshu, far from every zone, heading west
        return orjson.dumps({"icao24": "7278a2", "ts": T0 + 10 * i, "lat": 37.0, "lon": 139.0 - 0.02 * i,
                             "alt_ft": 30000, "gs_kt": 450.0, "track_deg": 270.0, **extra})  # fmt: skip

    fixes = [fix(0), *(fix(i, squawk="7700") for i in range(1, 12))]
    single, single_table, _ = _shell()
    for value in fixes:
        await single.handle(b"7278a2", value, OWNER)
    batched, batched_table, _ = _shell()
    await batched.handle(None, encode_batch(fixes), OWNER)
    assert batched_table == single_table
    state = single._partition(OWNER).states["7278a2"]
    assert state.squawk_watch is not None and state.squawk_watch[0] == "7700"
