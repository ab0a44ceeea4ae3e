"""Where Argo's SQL contract lives: schema/ in a checkout, argo/_schema/ in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent  # argo/
_ROOTS = (_PACKAGE_DIR.parent / "schema", _PACKAGE_DIR / "_schema")


def _schema_path(name: str) -> Path:
    for root in _ROOTS:
        candidate = root / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"schema/{name} is missing from this installation")


def argo_sql() -> str:
    """The text of schema/argo.sql: the complete current schema for a new database."""
    return _schema_path("argo.sql").read_text(encoding="utf-8")


def argo_migrations() -> dict[int, str]:
    """schema/argo-migrations/NNNN_*.sql by the version each one upgrades to."""
    folder = _schema_path("argo-migrations")
    return {
        int(path.name.split("_", 1)[0]): path.read_text(encoding="utf-8")
        for path in sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.sql"))
    }
