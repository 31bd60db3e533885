"""``skyfence demo`` end to end, as a user runs it: embedded Tansu, worker, seed replay."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from alerts.runner import demo
from streams.config import StreamSettings
from tests.conftest import SEED_SCENARIO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


async def test_demo_prints_the_seed_story(tmp_path: Path) -> None:
    out = io.StringIO()
    settings = StreamSettings(broker="", data_dir=str(tmp_path / "faust"))
    assert await demo(settings, SEED_SCENARIO, timeout_s=150, out=out) == 0
    text = out.getvalue()
    alerts = [line for line in text.splitlines() if line.startswith("ALERT")]
    assert any(re.search(r"2023-09-26 \S+\s+ENTERED\s+dprk\s+RSD352\s+1551e0", a) for a in alerts)
    assert any(re.search(r"2023-09-28 \S+\s+EXITED\s+dprk\s+RSD352\s+1551e0", a) for a in alerts)
    assert any(re.search(r"ENTERED\s+dprk\s+CCA121", a) for a in alerts)  # Air China
    assert any(re.search(r"ENTERED\s+dprk\s+KOR152", a) for a in alerts)  # Air Koryo
    summary = next(line for line in text.splitlines() if line.startswith("-- summary"))
    replayed = re.search(r"(\d+) positions replayed, (\d+) processed", summary)
    assert replayed is not None and replayed[1] == replayed[2] and int(replayed[1]) > 38_000
    first = re.search(r"first alert ([\d.]+) s after the broker started", text)
    assert first is not None  # the 20 s budget is checked by the benchmark, not here
