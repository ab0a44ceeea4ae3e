"""The attempt log with real processes: every POST of a signal is recorded with its status
and fate across relay runs, a SIGKILLed relay's window reads as in flight and then unknown
(never silently lost), and `relay trace` shows the signal's way in one place."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alpine.receipts import SigningKey
from tests.kit.faultproxy import slow_proxy
from tests.kit.pipeline import generate, outbox_counts, outbox_rows, relay_env
from tests.support import AlpineServer, cli, free_port, spawn, start_alpine, stop, wait_for


@pytest.fixture
def signing_alpine(pg_url: str, tmp_path: Path) -> Iterator[AlpineServer]:
    """`alpine serve` that signs a receipt for every event it stores."""
    server = start_alpine(
        pg_url, tmp_path, extra_env={"ALPINE_RECEIPT_KEY": SigningKey.generate("k1")}
    )
    yield server
    stop(server.process)


def _attempts(env: dict[str, str], *key: str) -> list[dict[str, Any]]:
    shown = cli("relay", "attempts", *key, "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    found: list[dict[str, Any]] = json.loads(shown.stdout)
    return found


def _drained(env: dict[str, str], db: Path) -> bool:
    result = cli("relay", "run", "--once", env=env)
    assert result.returncode == 0, result.stderr
    return outbox_counts(db)[0] == outbox_counts(db)[1]


def test_a_signal_that_needed_three_attempts_shows_exactly_three(
    signing_alpine: AlpineServer, tmp_path: Path
) -> None:
    env = relay_env(signing_alpine, tmp_path, RELAY_POST_TRIES="1", RELAY_RETRY_BASE_SECONDS="0.05")
    db = tmp_path / "signals.db"
    generate(env, 1)
    [row] = outbox_rows(db)
    event_id, signal_id = str(row["event_id"]), str(row["signal_id"])

    down = dict(env, ALPINE_API_URL=f"http://127.0.0.1:{free_port()}")  # nothing listens
    assert cli("relay", "run", "--once", env=down).returncode == 3
    with slow_proxy(signing_alpine.url) as proxy:
        proxy.scripted = [500]  # Alpine fails the next POST, then answers again
        via = dict(env, ALPINE_API_URL=proxy.url)
        wait_for(lambda: _drained(via, db), timeout=60, what="the signal delivered")

    log = _attempts(env, event_id)
    assert [(a["attempt"], a["http_status"], a["error"], a["fate"]) for a in log] == [
        (1, None, "ConnectError", "released"),
        (2, 500, None, "retry later"),
        (3, log[2]["http_status"], None, "delivered"),
    ]
    assert log[2]["http_status"] in (200, 201) and '"created"' in log[2]["answer"]
    assert "scripted failure" in log[1]["answer"]
    assert all(a["relay"] and a["window"] and a["duration_ms"] >= 0 for a in log)
    assert len({a["window"] for a in log}) == 3  # three windows, one POST each
    assert _attempts(env, "--signal", signal_id) == log

    text = cli("relay", "attempts", "--signal", signal_id, env=env).stdout
    assert [line.split()[0] for line in text.splitlines()[1:]] == ["#1", "#2", "#3"]
    trace = cli("relay", "trace", signal_id, env=env)
    assert trace.returncode == 0, trace.stderr
    for expected in ("committed by Argo", "ConnectError", "HTTP 500", "delivered", "feed seq 1"):
        assert expected in trace.stdout, trace.stdout
    traced = json.loads(cli("relay", "trace", event_id, "--json", env=env).stdout)
    [created] = traced["events"]
    assert traced["signal_id"] == signal_id and created["state"] == "delivered"
    assert [a["fate"] for a in created["attempts"]] == ["released", "retry later", "delivered"]
    assert created["receipt"]["receipt"]["seq"] == 1


def _open_windows(db: Path) -> list[list[int]]:
    """The row ids of each window claimed and not settled."""
    with sqlite3.connect(db, timeout=30) as conn:
        return [json.loads(r[0]) for r in conn.execute("SELECT row_ids FROM outbox_windows")]


def test_a_killed_relay_s_window_reads_in_flight_then_unknown(
    alpine: AlpineServer, tmp_path: Path
) -> None:
    env = relay_env(alpine, tmp_path, RELAY_LEASE_SECONDS="60")
    db = tmp_path / "signals.db"
    generate(env, 3)
    with slow_proxy(alpine.url, delay=120) as proxy:  # every POST hangs
        relay = spawn(
            "relay", "run", env=dict(env, ALPINE_API_URL=proxy.url), log=tmp_path / "r1.log"
        )
        try:
            wait_for(
                lambda: proxy.requests > 0 and [len(w) for w in _open_windows(db)] == [3],
                timeout=30,
                what="the window claimed and its POST out",
            )
            relay.kill()
            relay.wait(10)
        finally:
            stop(relay)
        events = [str(r["event_id"]) for r in outbox_rows(db)]
        for event_id in events:  # its lease lasts: the rows still carry the window's token
            assert [a["fate"] for a in _attempts(env, event_id)] == ["in flight"]

        again = spawn("relay", "run", env=env, log=tmp_path / "r2.log")  # same slot
        try:
            wait_for(lambda: outbox_counts(db) == (3, 3), timeout=30, what="delivery")
        finally:
            stop(again)
    for event_id in events:
        log = _attempts(env, event_id)
        assert [a["fate"] for a in log] == ["unknown", "delivered"], log
        assert log[0]["relay"] == log[1]["relay"] and log[0]["window"] != log[1]["window"]
