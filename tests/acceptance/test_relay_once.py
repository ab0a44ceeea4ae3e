"""`relay run --once` against real processes: it drains or says why not (exit 3), and
`relay replay` restores what Alpine lost, outcomes included."""

from __future__ import annotations

from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.kit.factories import winning_outcomes
from tests.kit.faultproxy import slow_proxy
from tests.kit.pipeline import assert_exactly_once, generate, outbox_counts, relay_env
from tests.support import AlpineServer, cli, free_port, new_api_key


def test_once_against_a_slow_alpine_delivers_everything(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    """Every POST takes longer than the lease: the lease is renewed, nothing is left."""
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE="6", RELAY_POSTS_IN_FLIGHT="2")
    generate(env, 12)
    with slow_proxy(alpine.url, delay=1.2) as proxy:
        slow = dict(env, ALPINE_API_URL=proxy.url, RELAY_LEASE_SECONDS="1")
        result = cli("relay", "run", "--once", env=slow, timeout=120)
    assert result.returncode == 0, result.stderr
    assert outbox_counts(tmp_path / "signals.db") == (12, 12)
    assert assert_exactly_once(pg_url, tmp_path / "signals.db") == 12


def test_once_past_its_deadline_exits_3_and_loses_nothing(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE="2", RELAY_POSTS_IN_FLIGHT="1")
    generate(env, 10)
    with slow_proxy(alpine.url, delay=0.5) as proxy:
        slow = dict(env, ALPINE_API_URL=proxy.url)
        result = cli("relay", "run", "--once", "--deadline-seconds", "1", env=slow)
    assert result.returncode == 3, result.stderr
    assert "stopped early (deadline)" in result.stderr
    delivered, total = outbox_counts(tmp_path / "signals.db")
    assert 0 < delivered < total == 10
    assert cli("relay", "run", "--once", env=env).returncode == 0
    assert assert_exactly_once(pg_url, tmp_path / "signals.db") == 10


def test_once_during_an_outage_exits_3_saying_so(tmp_path: Path) -> None:
    env = {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        "ALPINE_API_URL": f"http://127.0.0.1:{free_port()}",  # nothing listens there
        "ARGO_API_KEY": new_api_key(),
    }
    generate(env, 5)
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 3 and "stopped early (outage)" in result.stderr
    assert outbox_counts(tmp_path / "signals.db") == (0, 5)


def test_once_with_a_wrong_key_exits_3_paused(alpine: AlpineServer, tmp_path: Path) -> None:
    env = relay_env(alpine, tmp_path, ARGO_API_KEY=new_api_key())
    generate(env, 5)
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 3 and "stopped early (paused)" in result.stderr
    assert "401" in result.stderr


def _alpine_rows(pg_url: str) -> dict[str, tuple[object, ...]]:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT signal_id, verification_hash, outcome, exit_price, profit_loss_pct FROM signals"
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def test_replay_restores_a_signal_alpine_lost_with_its_outcome(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 6)
    store = open_signals(db)
    signals = store.signals()
    closed = winning_outcomes(signals[:3])
    assert len(store.record_outcomes(closed, utc_now())) == 3
    store.close()
    assert cli("relay", "run", "--once", env=env).returncode == 0
    before = _alpine_rows(pg_url)
    lost = closed[0].signal_id
    assert before[lost][1] == "win"
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute("DELETE FROM signals WHERE signal_id = %s", (lost,))
    replay = cli("relay", "replay", "--since", "30d", env=env)
    assert replay.returncode == 0, replay.stderr
    assert "enqueued 9 events (3 outcomes)" in replay.stdout
    drained = cli("relay", "run", "--once", env=env)
    assert drained.returncode == 0, drained.stderr
    assert _alpine_rows(pg_url) == before  # the lost signal is back, outcome and all
    assert assert_exactly_once(pg_url, db) == 6
