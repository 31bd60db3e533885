"""The tracker's per-aircraft state codec (streams.state_codec)."""

from __future__ import annotations

from streams.state_codec import decode_state, encode_state
from streams.tracking import Tracker
from tests.unit.test_tracking import SQUARE, fix, run


def test_state_round_trip_is_small() -> None:
    tracker = Tracker([SQUARE])
    state, _ = run(
        tracker, [fix(0, 0.5, 0.5, callsign="KOR151", alt_ft=12000), fix(100, 0.5, 1.001)]
    )
    assert state is not None and state.visits["sq"].exit_ts is not None
    raw = encode_state(state)
    assert len(raw) < 512
    back = decode_state(raw)
    assert back == state
