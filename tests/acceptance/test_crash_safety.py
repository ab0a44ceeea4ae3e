"""Real processes on loopback, really killed: nothing is lost, nothing is stored twice."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from argo.store import SignalStore
from tests.support import (
    AlpineServer,
    cli,
    new_api_key,
    new_signing_secret,
    spawn,
    start_alpine,
    stop,
    wait_for,
)

SIGNALS = 500
SEED = int(os.environ.get("CHAOS_SEED", "20261122"))


@pytest.fixture
def alpine(pg_url: str, tmp_path: Path) -> Iterator[AlpineServer]:
    server = start_alpine(
        pg_url, tmp_path, api_keys=[new_api_key()], signing_secret=new_signing_secret()
    )
    yield server
    stop(server.process)


def relay_env(alpine: AlpineServer, tmp_path: Path) -> dict[str, str]:
    assert alpine.signing_secret
    return {
        "ARGO_DB": str(tmp_path / "signals.db"),
        "ARGO_AUDIT_LOG": str(tmp_path / "signals.log"),
        "ALPINE_API_URL": alpine.url,
        "ARGO_API_KEY": alpine.api_key,
        "ALPINE_SIGNING_SECRET": alpine.signing_secret,
        "RELAY_LEASE_SECONDS": "2",
        "RELAY_METRICS_PORT": "0",
        "RELAY_BATCH_SIZE": "20",
    }


def argo_hashes(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT signal_id, sha256 FROM signals"))


def outbox_counts(db: Path) -> tuple[int, int]:
    """(delivered, total) rows of the outbox."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute("SELECT count(delivered_at), count(*) FROM sync_outbox").fetchone()
    return int(row[0]), int(row[1])


def alpine_rows(pg_url: str) -> list[tuple[str, str]]:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        return [
            (r[0], r[1]) for r in conn.execute("SELECT signal_id, verification_hash FROM signals")
        ]


def drain(env: dict[str, str], db: Path, expected: int) -> None:
    """Run `relay run --once` until every row is delivered (leases of killed relays expire)."""

    def drained() -> bool:
        result = cli("relay", "run", "--once", env=env)
        assert result.returncode == 0, result.stderr
        return outbox_counts(db)[0] == expected

    wait_for(drained, timeout=90, interval=0.2, what="the outbox to drain")


def duplicate_answers(alpine: AlpineServer) -> int:
    text = httpx.get(f"{alpine.url}/metrics").text
    match = re.search(r'alpine_signals_received_total\{result="duplicate"\} (\d+)', text)
    return int(float(match.group(1))) if match else 0


def test_relay_killed_at_random_moments_loses_and_duplicates_nothing(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generated = cli("argo", "generate", "--count", str(SIGNALS), env=env)
    assert generated.returncode == 0, generated.stderr
    assert outbox_counts(db) == (0, SIGNALS)

    rng = random.Random(SEED)
    kills = 0
    for round_number in range(6):
        delivered_before = outbox_counts(db)[0]
        target = min(delivered_before + rng.randint(0, 60), SIGNALS - 60)
        relay = spawn("relay", "run", env=env, log=tmp_path / f"relay-{round_number}.log")
        wait_for(
            lambda relay=relay, target=target: (
                relay.poll() is not None  # type: ignore[misc]
                or outbox_counts(db)[0] >= target
            ),
            timeout=60,
            interval=0.002,
            what=f"relay round {round_number} to reach {target} delivered",
        )
        assert relay.poll() is None, (tmp_path / f"relay-{round_number}.log").read_text()
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait(10)
        kills += 1
    delivered_during_chaos = outbox_counts(db)[0]
    assert 0 < delivered_during_chaos < SIGNALS, "kills must land mid-stream"

    drain(env, db, SIGNALS)

    stored = alpine_rows(pg_url)
    sent = argo_hashes(db)
    assert len(stored) == SIGNALS
    assert len({signal_id for signal_id, _ in stored}) == SIGNALS
    assert dict(stored) == sent
    print(
        f"\nACCEPTANCE relay-kill: signals={SIGNALS} kills={kills} "
        f"delivered_during_chaos={delivered_during_chaos} lost={SIGNALS - len(stored)} "
        f"duplicate_rows={len(stored) - len(set(dict(stored)))} "
        f"redeliveries_answered_duplicate={duplicate_answers(alpine)}"
    )


def test_generator_killed_mid_burst_never_half_writes(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    SignalStore.open(db).close()  # schema in place, so the test can count from the start
    rng = random.Random(SEED + 1)
    kills = 0
    for round_number in range(5):
        before = outbox_counts(db)[1]
        target = before + rng.randint(1, 400)
        generator = spawn(
            "argo",
            "generate",
            "--count",
            "100000",
            "--seed",
            str(round_number),
            env=env,
            log=tmp_path / f"argo-{round_number}.log",
        )
        wait_for(
            lambda generator=generator, target=target: (
                generator.poll() is not None  # type: ignore[misc]
                or outbox_counts(db)[1] >= target
            ),
            timeout=60,
            interval=0.002,
            what="the generator to store some signals",
        )
        os.kill(generator.pid, signal.SIGKILL)
        generator.wait(10)
        kills += 1

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        unpaired = conn.execute(
            "SELECT count(*) FROM signals s WHERE (SELECT count(*) FROM sync_outbox o"
            " WHERE o.signal_id = s.signal_id AND o.event_type = 'signal.created') != 1"
        ).fetchone()[0]
        orphans = conn.execute(
            "SELECT count(*) FROM sync_outbox o WHERE NOT EXISTS"
            " (SELECT 1 FROM signals s WHERE s.signal_id = o.signal_id)"
        ).fetchone()[0]
    assert (unpaired, orphans) == (0, 0)

    total = outbox_counts(db)[1]
    drain(env, db, total)
    assert dict(alpine_rows(pg_url)) == argo_hashes(db)
    print(f"\nACCEPTANCE generator-kill: kills={kills} signals={total} unpaired=0 lost=0")
