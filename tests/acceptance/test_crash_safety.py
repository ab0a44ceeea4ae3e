"""Real processes on loopback, really killed: nothing is lost, nothing is stored twice."""

from __future__ import annotations

import os
import random
import re
import signal
import sqlite3
from pathlib import Path

import httpx
import pytest

from argo.signals import open_signals
from tests.kit.pipeline import (
    assert_exactly_once,
    drain,
    generate,
    outbox_counts,
    relay_env,
)
from tests.support import (
    AlpineServer,
    cli,
    spawn,
    wait_for,
)

SEED = int(os.environ.get("CHAOS_SEED", "20261122"))


def duplicate_answers(alpine: AlpineServer) -> int:
    text = httpx.get(f"{alpine.url}/metrics").text
    match = re.search(r'alpine_signals_received_total\{result="duplicate"\} (\d+)', text)
    return int(float(match.group(1))) if match else 0


@pytest.mark.parametrize(
    ("signals", "kills", "batch_size", "max_step"),
    [
        pytest.param(500, 6, 20, 60, id="500-signals-6-kills"),
        # The fault matrix's F1 (tests/faults) runs 1k/10k signals under kills: soak only.
        pytest.param(5000, 20, 100, 200, id="5000-signals-20-kills", marks=pytest.mark.soak),
    ],
)
def test_relay_killed_at_random_moments_loses_and_duplicates_nothing(
    alpine: AlpineServer,
    pg_url: str,
    tmp_path: Path,
    signals: int,
    kills: int,
    batch_size: int,
    max_step: int,
) -> None:
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE=str(batch_size))
    db = tmp_path / "signals.db"
    generate(env, signals, "--batch-size", "50")
    assert outbox_counts(db) == (0, signals)

    rng = random.Random(SEED + signals)
    for round_number in range(kills):
        target = min(outbox_counts(db)[0] + rng.randint(0, max_step), signals - max_step)
        log = tmp_path / f"relay-{round_number}.log"
        relay = spawn("relay", "run", env=env, log=log)
        wait_for(
            lambda relay=relay, target=target: (  # type: ignore[misc]
                relay.poll() is not None or outbox_counts(db)[0] >= target
            ),
            timeout=60,
            interval=0.002,
            what=f"relay round {round_number} to reach {target} delivered",
        )
        assert relay.poll() is None, log.read_text()
        os.kill(relay.pid, signal.SIGKILL)
        relay.wait(10)
    delivered_during_chaos = outbox_counts(db)[0]
    assert 0 < delivered_during_chaos < signals, "kills must land mid-stream"

    drain(env, db, signals)
    stored = assert_exactly_once(pg_url, db)
    print(
        f"\nACCEPTANCE relay-kill: signals={signals} kills={kills} "
        f"delivered_during_chaos={delivered_during_chaos} stored={stored} lost={signals - stored} "
        "duplicate_rows=0 hash_mismatches=0 "
        f"redeliveries_answered_duplicate={duplicate_answers(alpine)}"
    )


def test_generator_killed_mid_burst_never_half_writes(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    open_signals(db).close()  # schema in place, so the test can count from the start
    rng = random.Random(SEED + 1)
    kills = 0
    for round_number in range(5):
        target = outbox_counts(db)[1] + rng.randint(1, 400)
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
            lambda generator=generator, target=target: (  # type: ignore[misc]
                generator.poll() is not None or outbox_counts(db)[1] >= target
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
    # The audit chain verifies up to the last line written (a torn last line is reported).
    verified = cli("argo", "audit", "verify", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    total = outbox_counts(db)[1]
    drain(env, db, total)
    assert_exactly_once(pg_url, db)
    print(f"\nACCEPTANCE generator-kill: kills={kills} signals={total} unpaired=0 lost=0")
