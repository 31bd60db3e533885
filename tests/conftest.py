"""Shared fixtures: paths to the repo's seeds and the shared third-party data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "seeds"
SHARED_DATA = REPO.parent / "shared" / "data"
SEED_SCENARIO = SEEDS / "dprk-2023-09.jsonl.gz"
SEED_GOLDEN = SEEDS / "dprk-2023-09.events.jsonl"


@pytest.fixture
def shared_data() -> Path:
    """The shared third-party recordings; skips when the folder is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent")
    return SHARED_DATA


def golden_as_delivered() -> list[bytes]:
    """The golden events as channels receive them: enriched once by the notifier's default
    enricher (no lists, no database: the State of registry, and a US address's N-number).
    The golden file itself is the tracker's output, as ``skyfence evaluate`` writes it."""
    from alerts.enrich import Enricher
    from streams.codec import decode_event, encode_event

    enricher = Enricher()
    return [
        encode_event(enricher.enrich(decode_event(line)))
        for line in SEED_GOLDEN.read_bytes().splitlines()
        if line.strip()
    ]
