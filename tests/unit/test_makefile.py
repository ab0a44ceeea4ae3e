"""`make demo` on a fresh clone installs the runtime packages only, not the [dev] extra
(every test and lint tool): the demo needs neither."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support import ROOT


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_installs_only_the_runtime(tmp_path: Path) -> None:
    plan = subprocess.run(
        ["make", "-n", "-B", "demo", f"VENV={tmp_path}/venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    installs = [line for line in plan.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs), plan
    assert not any("[dev]" in line for line in installs), plan
    assert "scripts/demo.py" in plan
