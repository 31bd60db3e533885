"""The pure core imports no Kafka, HTTP or metrics library; streams never imports alerts; no
product module imports the tests."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Every module the README (and each package's docstring) calls pure, in data-flow order.
PURE = [
    # streams: sources -> records -> tracking
    "streams.sources",
    "streams.sources.base",
    "streams.sources.beast",
    "streams.sources.fr24",
    "streams.sources.mode_s",
    "streams.sources.modes_csv",
    "streams.sources.opensky",
    "streams.sources.readsb",
    "streams.sources.sbs",
    "streams.sources.aircraft_json",
    "streams.sources.opensky_states",
    "streams.sources.rs1090",
    "streams.sources.normalize",
    "streams.sources.dedup",
    "streams.sources.spec",
    "streams.replay_controls",
    "streams.replay",
    "streams.models",
    "streams.codec",
    "streams.errors",
    "streams.scheduler",
    "streams.tracking",
    "streams.text",
    "streams.geo",
    "streams.zones",
    "streams.state_codec",
    # alerts: routing -> rendering -> delivery decisions
    "alerts.errors",
    "alerts.routing_config",
    "alerts.routing",
    "alerts.icao",
    "alerts.nnumber",
    "alerts.aircraftdb",
    "alerts.watchlist",
    "alerts.units",
    "alerts.formatting",
    "alerts.render",
    "alerts.signing",
    "alerts.maps",
    "alerts.responses",
    "alerts.retry",
    "alerts.ratelimit",
    "alerts.outbox",
    "alerts.desk",
    "alerts.interact",
    "alerts.commands",
    "alerts.escalation",
]
FORBIDDEN = ("faust", "aiokafka", "aiohttp", "prometheus_client", "mode")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_load_no_io_library(module: str) -> None:
    code = (
        f"import sys, {module}; "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}); print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"{module} pulled in {out.stdout.strip()}"


def test_every_module_the_readme_calls_pure_is_checked() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("The decisions live in a pure core")
    paragraph = text[start : text.index("that imports no", start)]
    named = {p.removesuffix(".py").replace("/", ".") for p in re.findall(r"`((?:streams|alerts)/[\w/]+\.py)`", paragraph)}
    assert len(named) >= 10, paragraph  # the list was found
    assert named - set(PURE) == set()


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _product_files() -> list[Path]:
    return sorted(p for pkg in ("streams", "alerts") for p in (ROOT / pkg).rglob("*.py"))


def test_streams_never_imports_alerts() -> None:
    root = ROOT / "streams"
    offenders = [
        str(p) for p in root.rglob("*.py") if "import alerts" in p.read_text() or "from alerts" in p.read_text()
    ]
    assert offenders == []


def test_no_product_module_imports_the_tests() -> None:
    files = _product_files()
    assert len(files) > 30
    offenders = [str(p) for p in files if any(m.split(".")[0] == "tests" for m in _imported_modules(p))]
    assert offenders == []
