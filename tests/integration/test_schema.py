"""Each schema applies to a fresh database, and applying it again changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from alpine.migrations import available, pending, upgrade
from alpine.store import make_engine
from argo.sqlite import connect
from argo.store import apply_schema


def test_argo_schema_applies_twice(tmp_path: Path) -> None:
    conn = connect(tmp_path / "signals.db")
    apply_schema(conn)
    apply_schema(conn)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"signals", "sync_outbox"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def test_alpine_migrations_on_fresh_postgresql(empty_pg_url: str) -> None:
    engine = make_engine(empty_pg_url)
    try:
        assert pending(engine) == [m.version for m in available("postgresql")]
        assert upgrade(engine) == ["0001_signals", "0002_subscribers"]
        assert upgrade(engine) == []
        assert pending(engine) == []
        columns = {c["name"] for c in inspect(engine).get_columns("signals")}
        assert {
            "signal_id",
            "verification_hash",
            "received_at",
            "api_key_id",
            "timestamp",
        } <= columns
        with engine.connect() as conn:
            kind = conn.execute(
                text(
                    "SELECT data_type FROM information_schema.columns"
                    " WHERE table_name = 'signals' AND column_name = 'timestamp'"
                )
            ).scalar_one()
        assert kind == "timestamp with time zone"
    finally:
        engine.dispose()


def test_alpine_migrations_on_fresh_sqlite(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'alpine.db'}")
    try:
        assert upgrade(engine) == ["0001_signals", "0002_subscribers"]
        assert upgrade(engine) == []
    finally:
        engine.dispose()
