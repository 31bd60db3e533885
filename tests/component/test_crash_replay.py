"""A crash under at-least-once, on the tracker's pure shell (tests/chaos/crashsim.py): the
new owner starts from the table, which is ahead of the committed offsets, and handles again
the positions after them. It must emit nothing the uninterrupted run did not (an event
emitted again has the same id, and the notifier's outbox drops it)."""

from __future__ import annotations

import asyncio

import pytest

from tests.chaos.crashsim import replay_with_crash, seed_positions


@pytest.fixture(scope="module")
def items():  # type: ignore[no-untyped-def]
    return seed_positions()


@pytest.fixture(scope="module")
def uninterrupted(items):  # type: ignore[no-untyped-def]
    return asyncio.run(replay_with_crash(items, None))


#: Cut points in the seed's busy stretch on 28 September, and how many positions before each
#: were handled but not committed. (23955, 2000) emitted eight signal_lost/signal_regained
#: alerts of 1534b2 and 720633 while the restored watermark was the newest state's time
#: (chaos scenario 6, seed 271241, failed the same way on Apache Kafka).
CUTS = [(23955, 2000), (24100, 600), (24300, 150), (12000, 800)]


@pytest.mark.parametrize(("cut", "rewind"), CUTS)
async def test_positions_handled_again_after_a_crash_emit_nothing_new(
    items, uninterrupted, cut: int, rewind: int
) -> None:  # type: ignore[no-untyped-def]
    got = await replay_with_crash(items, cut, rewind)
    assert set(got) - set(uninterrupted) == set()
    assert set(uninterrupted) - set(got) == set()


async def test_a_consistent_cut_gives_the_same_events_in_the_same_order(
    items, uninterrupted
) -> None:  # type: ignore[no-untyped-def]
    got = await replay_with_crash(items, 24000)
    assert got == uninterrupted
