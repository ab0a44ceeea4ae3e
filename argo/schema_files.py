"""Where Argo's SQL contract lives: schema/ in a checkout, argo/_schema/ in a wheel."""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def argo_sql() -> str:
    """The text of schema/argo.sql."""
    for candidate in (
        _PACKAGE_DIR.parent / "schema" / "argo.sql",
        _PACKAGE_DIR / "_schema" / "argo.sql",
    ):
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8")
    raise FileNotFoundError("schema/argo.sql is missing from this installation")
