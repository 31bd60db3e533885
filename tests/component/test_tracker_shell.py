"""The tracker agent's shell (``TrackerApp.handle``) with fakes instead of Faust and Kafka.

Faust is not started: topics are fakes that record sends and the table is a dict, which is
all the shell touches. This checks what the shell owns: dead letters, rekeying, watermarks,
table writes, expiry sweeps, and rebuilding timers from the table after a rebalance.
"""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import CollectorRegistry

from streams.app import PartitionTracker, TrackerApp, decode_table_value
from streams.codec import decode_event, encode_watermark
from streams.config import StreamSettings
from streams.metrics import TrackerMetrics
from streams.tracking import Policy, Tracker
from streams.zones import builtin_zone

T0 = 1_695_690_000.0


class FakeTopic:
    """Records what would have been sent."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    async def send(self, **kwargs: Any) -> None:
        self.sent.append(kwargs)


def _shell(policy: Policy | None = None) -> tuple[TrackerApp, dict[bytes, bytes], CollectorRegistry]:
    registry = CollectorRegistry()
    table: dict[bytes, bytes] = {}
    bundle = TrackerApp(
        app=None,  # type: ignore[arg-type]
        settings=StreamSettings(),
        tracker=Tracker([builtin_zone("dprk")], policy or Policy()),
        metrics=TrackerMetrics(registry),
        positions=FakeTopic(),
        events=FakeTopic(),
        dead_letters=FakeTopic(),
        table=table,
        clock=lambda: T0 + 10.0,
        partitions={},
        listeners=[],
    )
    return bundle, table, registry


def _fix(i: int, **extra: Any) -> bytes:
    """The 10-s fixes of an aircraft flying from Dandong's side into DPRK airspace."""
    return orjson.dumps(
        {"icao24": "7278a2", "ts": T0 + 10 * i, "lat": 40.30 - 0.01 * i, "lon": 124.0 + 0.025 * i, "alt_ft": 30000, **extra}
    )


def _types(bundle: TrackerApp) -> list[str]:
    return [decode_event(s["value"]).type.value for s in bundle.events.sent]


async def test_dead_letter_rekey_and_events() -> None:
    bundle, table, registry = _shell()
    await bundle.handle(b"k", b"{oops", 0)
    await bundle.handle(None, _fix(0), 0)
    assert bundle.dead_letters.sent[0]["headers"]["skyfence-reason"] == b"json"
    assert bundle.positions.sent[0]["key"] == b"7278a2"  # re-published under its own key
    for i in range(30):
        await bundle.handle(b"7278a2", _fix(i), 1)
    assert _types(bundle) == ["approaching", "entered"]
    assert registry.get_sample_value("skyfence_positions_total", {"outcome": "rekeyed"}) == 1
    # The table holds the state with its partition, written far less often than fixes came.
    partition, state = decode_table_value(table[b"7278a2"])
    assert partition == 1 and "dprk" in state.visits
    writes = registry.get_sample_value("skyfence_state_writes_total")
    assert writes is not None and writes < 30 / 2


async def test_timers_survive_a_rebalance_via_the_table() -> None:
    bundle, _table, _ = _shell(Policy(signal_lost_s=300))
    for i in range(30):
        await bundle.handle(b"7278a2", _fix(i), 2)
    assert _types(bundle) == ["approaching", "entered"]
    # Partitions revoked and re-assigned (or a restart): memory is gone, the table is not.
    bundle.partitions.clear()
    # Only a producer watermark arrives on the partition, 10 minutes later: signal lost.
    await bundle.handle(None, encode_watermark(T0 + 290 + 600), 2)
    assert _types(bundle) == ["approaching", "entered", "signal_lost"]
    lost = decode_event(bundle.events.sent[-1]["value"])
    # The table holds the last fix as of the last checkpoint (at most checkpoint_near_s old).
    assert T0 + 290 - Policy().checkpoint_near_s <= lost.last_seen_ts <= T0 + 290


async def test_expired_state_is_swept_from_memory_and_table() -> None:
    bundle, table, _ = _shell(Policy(ttl_outside_s=3600))
    far = orjson.dumps({"icao24": "abcdef", "ts": T0, "lat": 10.0, "lon": 10.0})
    await bundle.handle(b"abcdef", far, 0)
    assert b"abcdef" in table and bundle.tracked == 1
    # Two hours later another aircraft on the same partition moves the watermark on.
    other = orjson.dumps({"icao24": "123456", "ts": T0 + 7200, "lat": 11.0, "lon": 11.0})
    await bundle.handle(b"123456", other, 0)
    assert b"abcdef" not in table
    assert set(bundle.partitions[0].states) == {"123456"}


def test_partition_tracker_starts_empty() -> None:
    part = PartitionTracker()
    assert part.states == {} and len(part.queue) == 0


async def test_single_messages_are_counted_and_the_front_stage_hinted_once_a_minute(caplog: Any) -> None:
    from streams.app import SINGLE_HINT_CHECK_EVERY
    from streams.codec import encode_batch

    bundle, _table, registry = _shell()
    now = [T0]
    bundle.clock = lambda: now[0]

    def far(i: int) -> bytes:  # a parked aircraft far from every zone, a fix a second
        return orjson.dumps({"icao24": "7278a2", "ts": T0 + i, "lat": 10.0, "lon": 10.0})

    async def singles(n: int, start: int) -> None:
        for i in range(start, start + n):
            await bundle.handle(b"7278a2", far(i), 0)

    caplog.set_level("WARNING", logger="streams.app")
    await singles(SINGLE_HINT_CHECK_EVERY, 0)  # first look: starts the window
    now[0] += 30.0
    await singles(SINGLE_HINT_CHECK_EVERY, SINGLE_HINT_CHECK_EVERY)  # within the minute: quiet
    assert bundle.front_hints == 0
    now[0] += 31.0
    await singles(SINGLE_HINT_CHECK_EVERY, 2 * SINGLE_HINT_CHECK_EVERY)
    assert bundle.front_hints == 1
    assert "skyfence ingest kafka://RAW_TOPIC" in caplog.text
    assert registry.get_sample_value("skyfence_single_position_messages_total") == 3 * SINGLE_HINT_CHECK_EVERY
    # A minute of mostly batches: single messages counted, no hint.
    base = 3 * SINGLE_HINT_CHECK_EVERY
    for k in range(3 * SINGLE_HINT_CHECK_EVERY):
        await bundle.handle(None, encode_batch([far(base + 2 * k), far(base + 2 * k + 1)]), 0)
    now[0] += 61.0
    await singles(SINGLE_HINT_CHECK_EVERY, base + 6 * SINGLE_HINT_CHECK_EVERY)
    assert bundle.front_hints == 1
    assert registry.get_sample_value("skyfence_single_position_messages_total") == 4 * SINGLE_HINT_CHECK_EVERY
