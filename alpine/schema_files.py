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
    """Split a migration into statements at semicolons outside `$$` bodies and SQLite
    trigger bodies (`BEGIN ... END`); no semicolons inside strings."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    statements, current = [], ""
    for index, part in enumerate("\n".join(lines).split("$$")):
        if index % 2:  # inside a $$ ... $$ body: keep it whole
            current += "$$" + part + "$$"
            continue
        first, *rest = part.split(";")
        current += first
        for piece in rest:
            if _open_trigger(current):
                current += ";" + piece
                continue
            statements.append(current)
            current = piece
    statements.append(current)
    return [s.strip() for s in statements if s.strip()]


def _open_trigger(statement: str) -> bool:
    """A SQLite CREATE TRIGGER whose BEGIN ... END body has not ended yet."""
    words = statement.split()
    return (
        [w.upper() for w in words[:2]] == ["CREATE", "TRIGGER"]
        and bool(words)
        and words[-1].upper() != "END"
    )
