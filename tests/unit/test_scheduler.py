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
