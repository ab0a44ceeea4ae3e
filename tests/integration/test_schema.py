"""Each schema applies to a fresh database, and applying it again changes nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect, text

from alpine.migrations import available, pending, upgrade
from alpine.store import make_engine
from argo.db.schema import current_version, ensure_schema, latest_version, statements
from argo.db.sqlite import connect


def test_argo_schema_applies_twice(tmp_path: Path) -> None:
    conn = connect(tmp_path / "signals.db")
    assert ensure_schema(conn) == latest_version() == 7
    assert ensure_schema(conn) == 7
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"signals", "sync_outbox"} <= tables
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    conn.close()


def _shape(path: Path) -> dict[str, object]:
    conn = connect(path)
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {
            "columns": {
                t: sorted(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables
            },
            "indexes": sorted(
                r[0]
                for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
                if not r[0].startswith("sqlite_autoindex")
            ),
        }
    finally:
        conn.close()


def test_a_first_release_database_upgrades_to_the_fresh_schema(tmp_path: Path) -> None:
    old = connect(tmp_path / "old.db")
    first_release = (Path(__file__).parent / "data" / "argo_v1.sql").read_text()
    for statement in statements(first_release):
        old.execute(statement)
    old.execute(
        "INSERT INTO signals (signal_id, symbol, action, entry_price, target_price, stop_price,"
        " confidence, strategy, asset_type, data_source, timestamp, sha256, created_at)"
        " VALUES ('0123456789abcdef', 'AAPL', 'BUY', 1, 2, 0.5, 90, 's', 'stock', 'd', 't',"
        f" '{'0' * 64}', 't')"
    )
    assert current_version(old) == 1
    assert ensure_schema(old) == 7
    assert old.execute("SELECT count(*) FROM signals").fetchone()[0] == 1
    old.close()
    fresh = connect(tmp_path / "fresh.db")
    ensure_schema(fresh)
    fresh.close()
    assert _shape(tmp_path / "old.db") == _shape(tmp_path / "fresh.db")


def test_alpine_migrations_on_fresh_postgresql(empty_pg_url: str) -> None:
    engine = make_engine(empty_pg_url)
    try:
        assert pending(engine) == [m.version for m in available("postgresql")]
        assert upgrade(engine) == [m.version for m in available("postgresql")]
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
        assert upgrade(engine) == [m.version for m in available("sqlite")]
        assert upgrade(engine) == []
    finally:
        engine.dispose()
