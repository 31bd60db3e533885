"""The progress watchdog's decision, from samples and a virtual clock."""

from __future__ import annotations

from streams.health import PartitionLag, ProgressWatchdog


class Clock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_stalls_when_assigned_lag_grows_and_nothing_moves() -> None:
    clock = Clock()
    dog = ProgressWatchdog(stall_after_s=60.0, clock=clock)
    assert not dog.sample(assigned=4, lag=10, progress=500)
    for lag in (20, 30, 40):
        clock.now_s += 19.0
        assert not dog.sample(assigned=4, lag=lag, progress=500)  # 57 s: not yet
    clock.now_s += 5.0
    assert dog.sample(assigned=4, lag=50, progress=500)
    assert dog.stalled and dog.stalls == 1
    assert "no progress for 62 s" in dog.reason and "lag 50 (was 10)" in dog.reason
    clock.now_s += 30.0
    assert dog.sample(assigned=4, lag=60, progress=500) and dog.stalls == 1  # one stall, once
    # Any progress clears it.
    assert not dog.sample(assigned=4, lag=10, progress=560)
    assert not dog.stalled and dog.reason == "" and dog.since_progress_s() == 0.0


def test_idle_without_backlog_or_assignment_is_not_a_stall() -> None:
    clock = Clock()
    idle = ProgressWatchdog(stall_after_s=60.0, clock=clock)
    unassigned = ProgressWatchdog(stall_after_s=60.0, clock=clock)
    idle.sample(assigned=4, lag=0, progress=500)
    unassigned.sample(assigned=0, lag=0, progress=0)
    clock.now_s += 3600.0
    assert not idle.sample(assigned=4, lag=0, progress=500)  # quiet feed, nothing waiting
    assert not unassigned.sample(assigned=0, lag=0, progress=0)
    assert idle.since_progress_s() == 3600.0


def test_lag_shrinking_without_position_change_is_not_a_stall() -> None:
    # Records deleted by retention under a slow consumer shrink the lag: not our stall.
    clock = Clock()
    dog = ProgressWatchdog(stall_after_s=10.0, clock=clock)
    dog.sample(assigned=1, lag=100, progress=5)
    clock.now_s += 20.0
    assert not dog.sample(assigned=1, lag=40, progress=5)


def test_partition_lag_is_highwater_minus_position() -> None:
    assert PartitionLag("t", 0, position=90, highwater=100).lag == 10
    assert PartitionLag("t", 0, position=None, highwater=7).lag == 7
    assert PartitionLag("t", 0, position=5, highwater=None).lag == 0
    assert PartitionLag("t", 0, position=12, highwater=10).lag == 0
