"""The batch form of the positions topic and the fast validation path (streams.codec)."""

from __future__ import annotations

import math
import random
from typing import Any

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from streams.codec import (
    BadItem,
    PositionBatch,
    _position_from_mapping_full,
    decode_positions,
    encode_batch,
    encode_position,
    partition_of,
    position_from_mapping,
)
from streams.errors import DecodeError
from streams.models import PositionReport, Watermark

T0 = 1_695_690_000.0


@pytest.mark.parametrize("partitions", [1, 2, 3, 4, 7, 12])
def test_partition_of_matches_kafkas_default_partitioner(partitions: int) -> None:
    rng = random.Random(partitions)
    everything = list(range(partitions))
    for _ in range(500):
        icao24 = f"{rng.randrange(1 << 24):06x}"
        assert partition_of(icao24, partitions) == DefaultPartitioner()(icao24.encode(), everything, everything)


def test_batch_round_trip_keeps_order_and_normalises_like_v1() -> None:
    raws = [
        orjson.dumps({"icao24": "ABCDEF", "ts": T0 + i, "lat": 40.0, "lon": 124.0 + i / 100, "alt_ft": 30000.4})
        for i in range(5)
    ]
    decoded = decode_positions(encode_batch(raws))
    assert isinstance(decoded, PositionBatch) and decoded.bad == []
    assert [r.ts for r in decoded.reports] == [T0 + i for i in range(5)]
    assert decoded.reports[0] == position_from_mapping(orjson.loads(raws[0]))
    assert decoded.reports[0].icao24 == "abcdef" and decoded.reports[0].alt_ft == 30000


def test_bad_elements_of_a_batch_are_set_aside_one_by_one() -> None:
    good = orjson.dumps({"icao24": "abcdef", "ts": T0, "lat": 40.0, "lon": 124.0})
    decoded = decode_positions(b"[" + good + b',{"icao24":"zz"},7,' + good + b"]")
    assert isinstance(decoded, PositionBatch)
    assert len(decoded.reports) == 2
    assert [(b.index, b.reason) for b in decoded.bad] == [(1, "bad_icao24"), (2, "not_object")]
    assert decoded.bad[0] == BadItem(1, "bad_icao24", decoded.bad[0].detail, b'{"icao24":"zz"}')


def test_single_positions_and_watermarks_still_decode() -> None:
    one = decode_positions(b'{"icao24":"abcdef","ts":1695690000,"lat":1,"lon":2}')
    assert one == PositionReport("abcdef", T0, 1.0, 2.0)
    assert decode_positions(b'{"watermark": 1695690000.5}') == Watermark(T0 + 0.5)
    with pytest.raises(DecodeError) as err:
        decode_positions(b"[{")
    assert err.value.reason == "json"


def _full_or_reason(obj: Any) -> Any:
    try:
        return _position_from_mapping_full(obj)
    except DecodeError as exc:
        return exc.reason


#: Values each field may take, good and bad, to compare the fast path with the full one.
_VALUES: dict[str, list[Any]] = {
    "icao24": ["abcdef", "ABCDEF", "abcde", "abcdeg", 123456, None, "ábcdef", ["x"]],
    "ts": [T0, int(T0), T0 * 1000, 1.0, True, "1", math.nan, math.inf, None, 2**60],
    "lat": [40.0, 40, -90, 90.0, 90.5, math.nan, True, None, "4"],
    "lon": [124.0, 124, -180, 180.5, -math.inf, False, None],
    "alt_ft": [None, 35000, 35000.6, math.inf, True, "1", 2**60, -50],
    "gs_kt": [None, 450.0, 450, math.nan, False, "x"],
    "track_deg": [None, 90.0, 370, -10.5, math.inf, True],
    "vrate_fpm": [None, -640, 12.5, math.nan, True],
    "callsign": [None, " KOR151 ", "", "   ", 7],
    "squawk": [None, "7500", "7800", "750", 7500],
    "on_ground": [None, False, True, 0, "true"],
    "source": [None, "adsb", 3],
}


def test_fast_path_agrees_with_the_full_validation() -> None:
    rng = random.Random(5)
    for _ in range(20_000):
        obj = {key: rng.choice(values) for key, values in _VALUES.items() if rng.random() < 0.9}
        obj = {k: v for k, v in obj.items() if v is not None or rng.random() < 0.5}
        try:
            fast: Any = position_from_mapping(obj)
        except DecodeError as exc:
            fast = exc.reason
        full = _full_or_reason(obj)
        assert fast == full, obj
        if isinstance(fast, PositionReport):
            assert [type(getattr(fast, f)) for f in fast.__slots__] == [
                type(getattr(full, f)) for f in full.__slots__
            ], obj
            # What the agent re-publishes for a stray decodes to the same report.
            assert position_from_mapping(orjson.loads(encode_position(fast))) == fast
