"""The layering rule (DESIGN.md §3): the engine imports no Qt, and ``zbo_gui.core`` is light."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT_PREFIXES = ("PySide6", "pyqtgraph", "shiboken6")


def _loaded_modules(statement: str) -> set[str]:
    """Run ``statement`` in a fresh interpreter and return the names in its ``sys.modules``."""
    code = f"{statement}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    env = {k: v for k, v in os.environ.items() if k != "QT_QPA_PLATFORM"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_engine_imports_no_qt() -> None:
    modules = _loaded_modules(
        "import zbo_gui.core, zbo_gui.storage, zbo_gui.core.campaign, zbo_gui.runner, zbo_gui.cli"
    )
    assert "zbo_gui.runner" in modules and "zbo_gui.cli" in modules
    assert "torch" in modules  # the campaign really pulled in the numerics
    qt = sorted(m for m in modules if m.split(".")[0] in QT_PREFIXES)
    assert qt == []


def test_core_package_import_is_light() -> None:
    modules = _loaded_modules("import zbo_gui.core")
    assert "zbo_gui.core.config" in modules
    heavy = sorted(m for m in modules
                   if m.split(".")[0] in ("torch", "pyro", "pyroved", "gpytorch", "botorch"))
    assert heavy == []
    assert not any(m.split(".")[0] in QT_PREFIXES for m in modules)


def _lint_imports() -> str:
    found = shutil.which("lint-imports")
    if found is None:
        found = str(Path(sys.executable).with_name("lint-imports"))
    assert Path(found).exists(), f"lint-imports not found (looked next to {sys.executable})"
    return found


def test_import_linter_contracts_hold() -> None:
    done = subprocess.run([_lint_imports(), "--no-cache", "--no-logo"], capture_output=True,
                          text=True, cwd=ROOT, timeout=240, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken", done.stdout)
    assert kept is not None and int(kept.group(1)) >= 3, done.stdout
