"""`make demo` runs the whole pipeline by itself and reports every signal delivered."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT, child_env


def test_demo_runs_end_to_end_and_exits_zero(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "demo.py")],
        env=child_env({"DEMO_SECONDS": "8", "DEMO_WORKDIR": str(tmp_path / "demo")}),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Alpine stored #1 " in result.stdout
    assert "relay killed with SIGKILL" in result.stdout
    assert "waited in the outbox meanwhile" in result.stdout
    assert "OK: every signal and outcome arrived exactly once" in result.stdout
