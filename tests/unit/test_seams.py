"""The relay imports nothing of Argo but its outbox face, the signal store's face for
replay and verify (`argo.signals`), the process kit and time helpers. This is the direct
imports; tests/unit/test_import_graph.py checks the transitive ones."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

ALLOWED = ("argo.outbox", "argo.signals", "argo.process", "argo.timeutil")


def _argo_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n == "argo" or n.startswith("argo.")}


def test_the_relay_imports_only_the_outbox_face_of_argo() -> None:
    offenders = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in sorted((ROOT / "relay").glob("*.py"))
        for name in _argo_imports(path)
        if not name.startswith(ALLOWED)
    }
    assert not offenders, sorted(offenders)
