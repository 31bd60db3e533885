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
