"""Where Alpine's migrations live: schema/alpine/ in a checkout, alpine/_schema/ in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def migrations_dir(dialect: str) -> Path:
    """The folder of versioned SQL files for `dialect` (postgresql or sqlite)."""
    for base in (_PACKAGE_DIR.parent / "schema" / "alpine", _PACKAGE_DIR / "_schema" / "alpine"):
        candidate = base / dialect
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no migrations for {dialect} in this installation")


def split_statements(script: str) -> list[str]:
    """Split a migration into statements at semicolons outside `$$` bodies (no
    semicolons inside strings)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    statements, current = [], ""
    for index, part in enumerate("\n".join(lines).split("$$")):
        if index % 2:  # inside a $$ ... $$ body: keep it whole
            current += "$$" + part + "$$"
            continue
        first, *rest = part.split(";")
        current += first
        for piece in rest:
            statements.append(current)
            current = piece
    statements.append(current)
    return [s.strip() for s in statements if s.strip()]
