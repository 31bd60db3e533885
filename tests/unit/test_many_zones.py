"""Many zones at once: the index across zones, ``tz:*``, and overlapping zones.

The tracker asks a :class:`ZoneIndex` which zones a point or path may concern, instead of
looping over every zone; these tests check that it loses nothing (against brute force, and
against trackers given only the zones that matter) and that overlapping zones each raise
their own events.
"""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

import pytest

from streams.codec import encode_event
from streams.models import AirspaceEvent, EventType, PositionReport
from streams.replay import evaluate, read_recording
from streams.tracking import Tracker
from streams.zones import ZoneIndex, load_zones
from tests.conftest import SEED_SCENARIO
from tests.support.tracks import RECORDINGS, read_positions


@pytest.fixture(scope="module")
def every_tz() -> list:
    return load_zones(["tz:*"])


def test_tz_star_loads_every_time_zone_outline(every_tz: list) -> None:
    ids = {z.id for z in every_tz}
    assert len(every_tz) >= 400
    assert {"tz:Asia/Pyongyang", "tz:Europe/Amsterdam", "tz:America/Belize"} <= ids


def test_zone_index_agrees_with_brute_force(every_tz: list) -> None:
    rng = random.Random(15)
    for margin in (0.0, 2.0):
        index = ZoneIndex(every_tz, margin)
        boxes = [
            (z.bounds[0] - margin, z.bounds[1] - margin, z.bounds[2] + margin, z.bounds[3] + margin)
            for z in every_tz
        ]
        for _ in range(2_000):
            lat, lon = rng.uniform(-89.9, 89.9), rng.uniform(-179.9, 179.9)
            lat2 = max(-89.9, min(89.9, lat + rng.uniform(-3, 3)))
            lon2 = max(-179.9, min(179.9, lon + rng.uniform(-3, 3)))
            point = tuple(i for i, b in enumerate(boxes) if b[1] <= lat <= b[3] and b[0] <= lon <= b[2])
            assert index.near(lat, lon) == point
            lo_lat, hi_lat = sorted((lat, lat2))
            lo_lon, hi_lon = sorted((lon, lon2))
            path = tuple(
                i for i, b in enumerate(boxes)
                if not (hi_lat < b[1] or lo_lat > b[3] or hi_lon < b[0] or lo_lon > b[2])
            )  # fmt: skip
            assert index.along(lat, lon, lat2, lon2) == path


def test_tz_star_gives_each_zone_the_events_a_tracker_of_that_zone_alone_gives(
    shared_data: Path, every_tz: list
) -> None:
    # N899DN flies Belize -> Mexico -> USA -> ... over ~15 time-zone outlines: with all ~450
    # zones at once, each zone's events are those of a tracker watching only that zone.
    reports = read_positions(shared_data, next(r for r in RECORDINGS if r.name == "n899dn"))
    everything = evaluate(reports, Tracker(every_tz)).events
    touched = sorted({e.zone for e in everything})
    print(f"\nN899DN against tz:*: {len(everything)} events in {len(touched)} zones")
    assert len(touched) >= 8
    by_id = {z.id: z for z in every_tz}
    for zone_id in touched:
        alone = evaluate(reports, Tracker([by_id[zone_id]])).events
        mine = [e for e in everything if e.zone == zone_id]
        # The trail (recent fixes near any zone, the map's context) is longer near many zones.
        assert [_sans_trail(e) for e in mine] == [_sans_trail(e) for e in alone], zone_id


def _sans_trail(event: AirspaceEvent) -> bytes:
    return encode_event(dataclasses.replace(event, trail=()))


def test_the_seed_is_unchanged_among_every_time_zone(every_tz: list) -> None:
    items = [r for r in read_recording(SEED_SCENARIO) if isinstance(r, PositionReport)]
    (dprk,) = load_zones(["dprk"])
    alone = [_sans_trail(e) for e in evaluate(items, Tracker([dprk])).events]
    crowd = [z for z in every_tz if z.id != "tz:Asia/Pyongyang"] + [dprk]
    among = [_sans_trail(e) for e in evaluate(items, Tracker(crowd)).events if e.zone == "dprk"]
    assert among == alone


def test_overlapping_zones_each_raise_their_own_events() -> None:
    # The seed's Il-62M RSD352 enters the Pyongyang FIR (the built-in zkkp, VATSIM's
    # approximation, CC BY-SA 4.0) and, inside it, DPRK territorial airspace.
    zones = load_zones(["dprk", "zkkp"])
    items = [r for r in read_recording(SEED_SCENARIO) if isinstance(r, PositionReport)]
    events = evaluate(items, Tracker(zones)).events
    rsd = [e for e in events if e.icao24 == "1551e0" and e.type is EventType.ENTERED]
    by_zone = {e.zone: e for e in rsd}
    print(f"\nRSD352 entries: {[(e.zone, e.ts) for e in rsd]}")
    assert set(by_zone) == {"dprk", "zkkp"}
    # The same border (the Yalu mouth), drawn by two sources: the FIR approximation's 102
    # vertices put it 8.5 s after the 17,000-vertex territorial outline.
    assert by_zone["zkkp"].ts == pytest.approx(by_zone["dprk"].ts, abs=30.0)
    assert by_zone["zkkp"].ts != by_zone["dprk"].ts
    assert by_zone["zkkp"].zone_name == "Pyongyang FIR (ZKKP)"
    assert by_zone["dprk"].zone_name == "DPRK airspace"
    assert by_zone["zkkp"].event_id != by_zone["dprk"].event_id
