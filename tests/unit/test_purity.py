"""The pure core imports no Kafka, HTTP or metrics library, and streams never imports alerts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

PURE = ["streams.models", "streams.codec", "streams.zones", "streams.tracking", "streams.replay", "alerts.formatting"]
FORBIDDEN = ("faust", "aiokafka", "aiohttp", "prometheus_client", "mode")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_load_no_io_library(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulled in {out.stdout.strip()}"


def test_streams_never_imports_alerts() -> None:
    root = Path(__file__).resolve().parents[2] / "streams"
    offenders = [
        str(p) for p in root.rglob("*.py") if "import alerts" in p.read_text() or "from alerts" in p.read_text()
    ]
    assert offenders == []
