"""`relay verify` against a real Alpine: it agrees with a direct comparison of both
databases, and `--repair` restores exactly what was missing."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.kit.pgdb import argo_database, argo_rows, conninfo
from tests.kit.pipeline import alpine_rows, argo_hashes, drain, generate, relay_env
from tests.support import AlpineServer, cli


def _alpine(pg_url: str, sql: str, *params: object) -> None:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql, params)


def _verify(env: dict[str, str], *extra: str) -> tuple[int, dict[str, object]]:
    result = cli("relay", "verify", "--since", "3650d", "--json", *extra, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_verify_finds_and_repairs_what_alpine_lost(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 30)
    drain(env, db, 30)
    code, report = _verify(env)
    assert code == 0 and report["matched"] == 30 and report["ok"] is True

    lost = sorted(argo_hashes(db))[:3]
    altered = sorted(argo_hashes(db))[3]
    for signal_id in lost:
        _alpine(pg_url, "DELETE FROM signals WHERE signal_id = %s", signal_id)
    _alpine(
        pg_url, "UPDATE signals SET verification_hash = %s WHERE signal_id = %s", "f" * 64, altered
    )
    generate(env, 4, "--seed", "7")  # committed, not yet delivered
    code, report = _verify(env)
    assert code == 1
    assert (report["matched"], report["missing"], report["mismatched"], report["pending"]) == (
        26,
        3,
        1,
        4,
    )
    assert report["first"]["missing"] == lost  # type: ignore[index]
    # The harness's own comparison agrees.
    stored = dict(alpine_rows(pg_url))
    assert sorted(set(argo_hashes(db)) - set(stored)) == sorted(
        [*lost, *report["first"]["pending"]]
    )  # type: ignore[index]

    code, report = _verify(env, "--repair")
    assert report["repaired"] == 3
    drain(env, db, 30 + 4 + 3)
    code, report = _verify(env)
    assert (report["matched"], report["missing"], report["mismatched"]) == (33, 0, 1)
    assert code == 1  # an altered row is not repaired by a replay: Alpine answers 409


def test_verify_without_alpine_is_a_runtime_error(tmp_path: Path) -> None:
    from tests.support import free_port, new_api_key

    env = {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        "ALPINE_API_URL": f"http://127.0.0.1:{free_port()}",
        "ARGO_API_KEY": new_api_key(),
    }
    generate(env, 2)
    result = cli("relay", "verify", "--since", "1d", env=env)
    assert result.returncode == 1 and "Alpine unreachable" in result.stderr


def _once(env: dict[str, str]) -> None:
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_verify_on_postgresql_finds_what_alpine_lost_and_repairs_it(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    """Argo's outbox on PostgreSQL; one lost signal was delivered long ago and its outbox
    rows pruned since: still missing (not pending), and repaired like the other."""
    with argo_database() as argo_url:
        env = relay_env(alpine, tmp_path, ARGO_DB=argo_url)
        generate(env, 6)
        _once(env)
        ids = [r["signal_id"] for r in argo_rows(argo_url, "SELECT signal_id FROM signals")]
        lost = sorted(ids)[:2]
        _argo(
            argo_url,
            "UPDATE sync_outbox SET delivered_at = now() - interval '30 days' WHERE signal_id = %s",
            lost[0],
        )
        pruned = cli("relay", "prune", "--older-than", "7d", env=env)
        assert pruned.returncode == 0 and "deleted 1 delivered row(s)" in pruned.stdout
        for signal_id in lost:
            _alpine(pg_url, "DELETE FROM signals WHERE signal_id = %s", signal_id)
        code, report = _verify(env)
        assert code == 1 and (report["matched"], report["missing"], report["pending"]) == (4, 2, 0)
        assert report["first"]["missing"] == lost  # type: ignore[index]
        code, report = _verify(env, "--repair")
        assert report["repaired"] == 2
        _once(env)
        code, report = _verify(env)
        assert code == 0 and (report["matched"], report["missing"]) == (6, 0)
    assert sorted(signal_id for signal_id, _ in alpine_rows(pg_url)) == sorted(ids)


def _argo(url: str, sql: str, *params: object) -> None:
    with psycopg.connect(conninfo(url)) as conn:
        conn.execute(sql.encode(), params)
