"""The due queue: which aircraft have a timer due, by event time (streams.scheduler)."""

from __future__ import annotations

from streams.scheduler import DueQueue


def test_due_queue_returns_due_aircraft_once() -> None:
    q = DueQueue()
    q.push(10.0, "a")
    q.push(5.0, "b")
    q.push(10.0, "a")
    assert list(q.advance(4.0)) == []
    assert list(q.advance(10.0)) == ["b", "a"]
    assert len(q) == 0 and q.watermark == 10.0
    assert list(q.advance(3.0)) == [] and q.watermark == 10.0


def test_an_entry_equal_to_a_queued_one_is_queued_once() -> None:
    """A watched aircraft's unchanged due time, pushed again by every stale entry that pops,
    takes one place in the heap; the order of what comes due is unchanged."""
    q = DueQueue()
    for _ in range(5):
        q.push(10.0, "a")
    q.push(10.0, "b")
    q.push(7.0, "b")
    assert len(q) == 3
    assert list(q.advance(10.0)) == ["b", "a"]
    q.push(10.0, "a")  # popped, so queued again
    assert len(q) == 1
    q.clear()
    q.push(10.0, "a")
    assert len(q) == 1
