"""Alpine's published record with real processes: `alpine follow --verify` writes a
recording whose every entry holds, `alpine verify-record` passes it offline, and names the
entry of a recording taken after a signal was altered, an outcome's P&L rewritten, two
entries swapped or a signal deleted in Alpine's database; `relay verify` names them too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from alpine.receipts import SigningKey, b64
from alpine.store import make_engine
from alpine.subscriber_store import SubscriberStore
from tests.kit.factories import close_first
from tests.kit.pipeline import drain, generate, relay_env
from tests.support import AlpineServer, cli, start_alpine, stop

KEY = SigningKey.generate("rec-1")


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> Iterator[tuple[AlpineServer, dict[str, str], str]]:
    text = KEY
    public = f"rec-1:{b64(SigningKey.parse(text, 'k').public.raw)}"
    server = start_alpine(pg_url, tmp_path, extra_env={"ALPINE_RECEIPT_KEY": text})
    engine = make_engine(pg_url)
    token = SubscriberStore(engine).add("recorder", "elite")
    engine.dispose()
    env = relay_env(server, tmp_path, RELAY_ALPINE_RECEIPT_KEYS=public)
    db = tmp_path / "signals.db"
    generate(env, 10)
    drain(env, db, 10)
    close_first(db, 2)
    drain(env, db, 12)
    yield server, env, token
    stop(server.process)


def record(server: AlpineServer, token: str, out: Path) -> list[dict[str, Any]]:
    """A recording as any client takes it: the tier's pages from the start, as served."""
    items: list[dict[str, Any]] = []
    after = "start"
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        while True:
            body = client.get("/api/v1/signals", params={"after": after, "limit": 5}).json()
            items += body["events"]
            after = body["next_cursor"]
            if body["caught_up"]:
                break
    out.write_text("".join(json.dumps(i) + "\n" for i in items))
    return items


def verify_record(server: AlpineServer, path: Path) -> tuple[int, str]:
    keys = f"{server.url}/api/v1/keys"
    result = cli("alpine", "verify-record", str(path), "--keys", keys, env={})
    return result.returncode, result.stdout + result.stderr


def alpine_sql(pg_url: str, *statements: tuple[str, tuple[object, ...]]) -> None:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        for sql, params in statements:
            conn.execute(sql, params)


def positions(pg_url: str) -> dict[tuple[str, str], int]:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        rows = conn.execute(
            "SELECT s.signal_id, e.kind, e.seq FROM feed_events e"
            " JOIN signals s ON s.id = e.signal_row"
        ).fetchall()
    return {(r[0], r[1]): int(r[2]) for r in rows}


def swap(pg_url: str, a: int, b: int) -> None:
    """Swap the signals at positions a and b (neither has an outcome event), in steps the
    (signal_row, kind) uniqueness allows."""
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        rows = dict(conn.execute("SELECT seq, signal_row FROM feed_events").fetchall())
        conn.execute("UPDATE feed_events SET kind = 'outcome' WHERE seq = %s", (a,))
        conn.execute("UPDATE feed_events SET signal_row = %s WHERE seq = %s", (rows[a], b))
        conn.execute(
            "UPDATE feed_events SET signal_row = %s, kind = 'signal' WHERE seq = %s", (rows[b], a)
        )


def test_recordings_verify_and_each_tampering_is_named(
    setup: tuple[AlpineServer, dict[str, str], str], pg_url: str, tmp_path: Path
) -> None:
    server, env, token = setup
    followed = tmp_path / "followed.jsonl"
    result = cli(
        "alpine",
        "follow",
        "--once",
        "--verify",
        "--out",
        str(followed),
        env={"ALPINE_URL": server.url, "ALPINE_SUBSCRIBER_TOKEN": token},
    )
    assert result.returncode == 0, result.stderr
    assert verify_record(server, followed)[0] == 0
    items = record(server, token, tmp_path / "clean.jsonl")
    assert len(items) == 12 and verify_record(server, tmp_path / "clean.jsonl")[0] == 0

    where = positions(pg_url)
    plain = sorted(
        (seq, signal_id)
        for (signal_id, kind), seq in where.items()
        if kind == "signal" and (signal_id, "outcome") not in where
    )
    closed = sorted(signal_id for signal_id, kind in where if kind == "outcome")

    # One byte of a hashed field.
    altered = plain[2][1]
    alpine_sql(
        pg_url,
        (
            "UPDATE signals SET strategy = overlay(strategy placing 'X' from 1 for 1)"
            " WHERE signal_id = %s",
            (altered,),
        ),
    )
    record(server, token, tmp_path / "altered.jsonl")
    code, said = verify_record(server, tmp_path / "altered.jsonl")
    assert code == 5 and f"entry {where[(altered, 'signal')]} (signal of {altered})" in said
    code, report = relay_verify(env)
    assert code == 1 and altered in " ".join(report["receipts"]["first"])
    original = next(i["strategy"] for i in items if i["signal_id"] == altered)
    alpine_sql(
        pg_url, ("UPDATE signals SET strategy = %s WHERE signal_id = %s", (original, altered))
    )

    # An outcome's P&L rewritten.
    rewritten = closed[0]
    alpine_sql(
        pg_url, ("UPDATE signals SET profit_loss_pct = 44.0 WHERE signal_id = %s", (rewritten,))
    )
    record(server, token, tmp_path / "rewritten.jsonl")
    code, said = verify_record(server, tmp_path / "rewritten.jsonl")
    assert code == 5 and f"entry {where[(rewritten, 'outcome')]} (outcome of {rewritten})" in said
    code, report = relay_verify(env)
    assert code == 1 and f"signal.outcome of {rewritten}" in " ".join(report["receipts"]["first"])
    alpine_sql(
        pg_url, ("UPDATE signals SET profit_loss_pct = 1.5 WHERE signal_id = %s", (rewritten,))
    )

    # Two entries swapped.
    (a, first), (b, second) = plain[4], plain[5]
    swap(pg_url, a, b)
    record(server, token, tmp_path / "swapped.jsonl")
    code, said = verify_record(server, tmp_path / "swapped.jsonl")
    assert code == 5 and f"entry {a} " in said
    code, report = relay_verify(env)
    lines = " ".join(report["receipts"]["first"])
    assert code == 1 and first in lines and second in lines and "now stands at" in lines
    swap(pg_url, a, b)

    # A signal deleted.
    deleted = plain[6][1]
    alpine_sql(pg_url, ("DELETE FROM signals WHERE signal_id = %s", (deleted,)))
    record(server, token, tmp_path / "deleted.jsonl")
    code, said = verify_record(server, tmp_path / "deleted.jsonl")
    gone = plain[6][0]
    assert code == 5 and (f"entry {gone} is missing" in said or f"entry {gone + 1} " in said)
    code, report = relay_verify(env)
    assert code == 1 and deleted in " ".join(report["receipts"]["first"])

    # The recording taken before any of it still holds offline.
    assert verify_record(server, tmp_path / "clean.jsonl")[0] == 0
    head = cli(
        "alpine", "record", "head", env={"ALPINE_DATABASE_URL": pg_url, "ALPINE_RECEIPT_KEY": KEY}
    )
    assert head.returncode == 0, head.stderr
    assert json.loads(head.stdout)["seq"] == max(where.values())


def relay_verify(env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    result = cli("relay", "verify", "--since", "3650d", "--json", env=env)
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return result.returncode, report
