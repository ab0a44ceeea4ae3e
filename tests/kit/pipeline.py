"""Helpers for acceptance tests that run the real argo, relay and alpine processes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.kit.alpine import Alpine
from tests.support import cli, wait_for


def relay_env(alpine: Alpine, workdir: Path, **overrides: str) -> dict[str, str]:
    """Environment for argo and relay children talking to `alpine`."""
    env = {
        "ARGO_DB": str(workdir / "signals.db"),
        "ARGO_AUDIT_LOG": str(workdir / "signals.log"),
        "ALPINE_API_URL": alpine.url,
        "ARGO_API_KEY": alpine.api_key,
        "RELAY_LEASE_SECONDS": "2",
        "RELAY_METRICS_PORT": "0",
        "RELAY_OUTAGE_CAP_SECONDS": "2",
    }
    if alpine.signing_secret:
        env["ALPINE_SIGNING_SECRET"] = alpine.signing_secret
    env.update(overrides)
    return env


def generate(env: dict[str, str], count: int, *extra: str) -> None:
    result = cli("argo", "generate", "--count", str(count), *extra, env=env)
    assert result.returncode == 0, result.stderr


def argo_hashes(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT signal_id, sha256 FROM signals"))


def outbox_counts(db: Path) -> tuple[int, int]:
    """(delivered, total) rows of the outbox."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT count(delivered_at), count(*) FROM sync_outbox").fetchone()
    return int(row[0]), int(row[1])


def outbox_rows(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sync_outbox ORDER BY id")]


def alpine_rows(pg_url: str) -> list[tuple[str, str]]:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        return [
            (r[0], r[1]) for r in conn.execute("SELECT signal_id, verification_hash FROM signals")
        ]


def relay_status(env: dict[str, str]) -> dict[str, object]:
    result = cli("relay", "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    report: dict[str, object] = json.loads(result.stdout)
    return report


def drain(env: dict[str, str], db: Path, expected: int, timeout: float = 90) -> None:
    """Run `relay run --once` until `expected` rows are delivered (killed relays' leases expire)."""

    def drained() -> bool:
        result = cli("relay", "run", "--once", env=env)
        assert result.returncode == 0, result.stderr
        return outbox_counts(db)[0] == expected

    wait_for(drained, timeout=timeout, interval=0.2, what="the outbox to drain")


def assert_exactly_once(pg_url: str, db: Path) -> int:
    """Alpine holds every Argo signal once, with Argo's hash; returns how many."""
    stored = alpine_rows(pg_url)
    sent = argo_hashes(db)
    assert len(stored) == len(sent), f"{len(sent) - len(stored)} lost"
    assert len({signal_id for signal_id, _ in stored}) == len(stored), "duplicates"
    assert dict(stored) == sent, "hash mismatch"
    return len(stored)
