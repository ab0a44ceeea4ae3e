"""The relay needs nothing of Argo but its outbox face, the process kit and time helpers
(import-linter forbids the modules that exist today; this catches new ones too)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support import ROOT

ALLOWED = ("argo.outbox", "argo.process", "argo.timeutil")


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
