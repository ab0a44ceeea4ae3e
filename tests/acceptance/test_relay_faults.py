"""The relay against a real Alpine that goes away, rejects rows, or rejects our key."""

from __future__ import annotations

import json
import signal
import sqlite3
import time
from pathlib import Path

from tests.pipeline import (
    alpine_rows,
    assert_exactly_once,
    drain,
    generate,
    outbox_counts,
    outbox_rows,
    relay_env,
    relay_status,
)
from tests.support import (
    AlpineServer,
    cli,
    new_api_key,
    spawn,
    start_alpine,
    stop,
    wait_for,
)

OUTAGE_SECONDS = 30


def test_alpine_down_for_30_seconds_then_everything_drains(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 100)
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    try:
        wait_for(lambda: outbox_counts(db)[0] == 100, what="the first 100 to be delivered")
        stop(alpine.process)
        outage_started = time.monotonic()
        generate(env, 300, "--seed", "2")
        # Watch the whole outage: the relay stays up and turns nothing into a dead letter.
        while time.monotonic() - outage_started < OUTAGE_SECONDS:
            assert relay.poll() is None
            assert all(r["dead_at"] is None for r in outbox_rows(db))
            time.sleep(1)
        assert outbox_counts(db)[0] == 100
        restarted = start_alpine(
            pg_url,
            tmp_path,
            api_keys=alpine.api_keys,
            signing_secret=alpine.signing_secret,
            port=int(alpine.url.rsplit(":", 1)[1]),
        )
        try:
            recovered_at = time.monotonic()
            wait_for(lambda: outbox_counts(db)[0] == 400, timeout=60, what="the backlog to drain")
            drain_seconds = time.monotonic() - recovered_at
        finally:
            stop(restarted.process)
    finally:
        stop(relay)
    rows = outbox_rows(db)
    assert all(r["dead_at"] is None and r["attempts"] == 0 for r in rows)
    assert assert_exactly_once(pg_url, db) == 400
    print(
        f"\nACCEPTANCE outage: alpine down {OUTAGE_SECONDS}s, 300 queued meanwhile, drained"
        f" {drain_seconds:.1f}s after recovery, dead=0, attempts charged=0,"
        f" relay exit={relay.returncode}"
    )
    assert relay.returncode == 0


def test_a_poison_row_is_dead_lettered_and_the_rest_flow(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 200)
    with sqlite3.connect(db) as conn:
        (row_id, payload) = conn.execute(
            "SELECT id, payload FROM sync_outbox ORDER BY id LIMIT 1 OFFSET 57"
        ).fetchone()
        poisoned = json.loads(payload) | {"sha256": "0" * 64}
        conn.execute(
            "UPDATE sync_outbox SET payload = ? WHERE id = ?", (json.dumps(poisoned), row_id)
        )
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 0, result.stderr
    rows = outbox_rows(db)
    dead = [r for r in rows if r["dead_at"]]
    assert [r["id"] for r in dead] == [row_id]
    assert "sha256" in str(dead[0]["last_error"])
    assert sum(1 for r in rows if r["delivered_at"]) == 199  # in the same single drain
    assert len(alpine_rows(pg_url)) == 199
    listed = cli("relay", "dead", "list", "--events", env=env)
    assert poisoned["signal_id"] in listed.stdout


def test_wrong_key_pauses_without_dead_letters_then_delivers_once_fixed(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 50)
    wrong = dict(env, ARGO_API_KEY=new_api_key())
    relay = spawn("relay", "run", env=wrong, log=tmp_path / "relay-wrong.log")
    try:
        status = wait_for(
            lambda: (s := relay_status(env))["paused"] and s,
            what="the relay to report itself paused",
        )
        assert "401" in str(status["paused_reason"])
        assert status["dead"] == 0 and status["pending"] == 50
        assert all(r["attempts"] == 0 for r in outbox_rows(db))
        assert "ARGO_API_KEY" in (tmp_path / "relay-wrong.log").read_text()
    finally:
        stop(relay)
    assert relay.returncode == 0
    fixed = spawn("relay", "run", env=env, log=tmp_path / "relay-fixed.log")
    try:
        wait_for(lambda: outbox_counts(db)[0] == 50, what="delivery with the right key")
        assert wait_for(lambda: not relay_status(env)["paused"], what="paused to clear")
    finally:
        stop(fixed)
    assert assert_exactly_once(pg_url, db) == 50


def test_replay_after_full_delivery_adds_no_rows_at_alpine(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path)
    db = tmp_path / "signals.db"
    generate(env, 120)
    drain(env, db, 120)
    replay = cli("relay", "replay", "--since", "1h", env=env)
    assert replay.returncode == 0 and "enqueued 120 events" in replay.stdout, replay.stderr
    drain(env, db, 240)
    assert assert_exactly_once(pg_url, db) == 120


def test_sigterm_mid_batch_exits_zero_and_loses_nothing(
    alpine: AlpineServer, pg_url: str, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path, RELAY_BATCH_SIZE="25", RELAY_LEASE_SECONDS="600")
    db = tmp_path / "signals.db"
    generate(env, 3000, "--batch-size", "50")
    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")
    wait_for(lambda: outbox_counts(db)[0] >= 300, what="delivery to be under way")
    relay.send_signal(signal.SIGTERM)
    assert relay.wait(20) == 0
    at_exit = outbox_counts(db)[0]
    # Released, not left leased: a new relay need not wait out the 600 s lease.
    assert not [r for r in outbox_rows(db) if r["claimed_by"] and not r["delivered_at"]]
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 0, result.stderr
    assert outbox_counts(db)[0] == 3000
    assert assert_exactly_once(pg_url, db) == 3000
    print(f"\nACCEPTANCE sigterm: delivered {at_exit} before SIGTERM, exit 0, rest drained, lost=0")
