"""F16: `relay replay --since 30d` after full delivery adds no row at Alpine; after K rows
are deleted in Alpine it restores exactly those K, outcomes included; run while the
daemon delivers, it stores nothing twice."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import psycopg

from argo.signals import open_signals
from argo.timeutil import utc_now
from tests.faults.harness import wait_settled
from tests.faults.invariants import Absorbed, alpine_signals, check, size
from tests.kit.alpine import Alpine
from tests.kit.factories import winning_outcomes
from tests.kit.pgdb import conninfo
from tests.kit.pipeline import generate, relay_env
from tests.support import cli, spawn, stop

_CONTENT = ("signal_id", "verification_hash", "outcome", "exit_price", "profit_loss_pct")


def _content(pg_url: str) -> dict[str, tuple[Any, ...]]:
    return {r["signal_id"]: tuple(r[c] for c in _CONTENT) for r in alpine_signals(pg_url)}


def _replay(env: dict[str, str]) -> int:
    result = cli("relay", "replay", "--since", "30d", env=env)
    assert result.returncode == 0, result.stderr
    match = re.search(r"enqueued (\d+) events", result.stdout)
    assert match, result.stdout
    return int(match.group(1))


def _drain(env: dict[str, str]) -> None:
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 0, result.stderr


def test_f16_replay_after_delivery_after_loss_and_live(
    alpine: Alpine, pg_url: str, tmp_path: Path
) -> None:
    n, k = size(200, 2000), size(10, 100)
    db = tmp_path / "signals.db"
    env = relay_env(alpine, tmp_path)
    generate(env, n, "--batch-size", "100")
    store = open_signals(db)
    closing = store.signals()[: n // 4]
    outcomes = winning_outcomes(closing)
    assert len(store.record_outcomes(outcomes, utc_now())) == len(outcomes)
    store.close()
    _drain(env)
    before = _content(pg_url)
    assert len(before) == n

    enqueued = _replay(env)  # 1: after full delivery
    _drain(env)
    assert _content(pg_url) == before, "a replay after full delivery changed Alpine"

    # 2: K rows lost at Alpine, half of them with outcomes
    with_outcome = [o.signal_id for o in outcomes[: k // 2]]
    lost = (
        with_outcome + [s for s in sorted(before) if s not in with_outcome][: k - len(with_outcome)]
    )
    with psycopg.connect(conninfo(pg_url)) as conn:
        conn.execute("DELETE FROM signals WHERE signal_id = ANY(%s)", (lost,))
    assert len(_content(pg_url)) == n - k
    started = time.monotonic()
    enqueued += _replay(env)
    _drain(env)
    restored = _content(pg_url)
    assert restored == before, "the replay did not restore exactly the lost rows"
    drain_s = time.monotonic() - started

    relay = spawn("relay", "run", env=env, log=tmp_path / "relay.log")  # 3: while it runs
    try:
        generate(env, n // 2, "--seed", "5", "--batch-size", "50")
        enqueued += _replay(env)
        wait_settled(db, timeout=120)
    finally:
        stop(relay)
    absorbed = Absorbed()
    absorbed.scrape(alpine)
    check(
        "F16 replay: delivered, K lost, live",
        db=db,
        pg_url=pg_url,
        env=env,
        n=n + n // 2,
        faults=3,
        absorbed=absorbed.total,
        drain_s=drain_s,
        allow_replays=True,
        notes=f"{enqueued} events replayed; 0 new rows, exactly {k} restored"
        f" ({sum(1 for s in lost if before[s][2])} with outcomes)",
    )
