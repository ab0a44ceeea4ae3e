"""Alpine's receipts end to end, with real processes: the relay keeps one per delivered
event, checks it against the pinned key, pauses on a key it does not know, and
`relay verify` names every entry Alpine deleted, altered or rewrote after signing."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from alpine.receipts import SigningKey, b64
from tests.kit.factories import close_first
from tests.kit.pipeline import drain, generate, outbox_counts, relay_env
from tests.support import AlpineServer, cli, new_api_key, new_signing_secret, start_alpine, stop


def _key(kid: str) -> tuple[str, str]:
    """(ALPINE_RECEIPT_KEY text, the relay's KEY_ID:PUBLIC text)."""
    text = SigningKey.generate(kid)
    return text, f"{kid}:{b64(SigningKey.parse(text, kid).public.raw)}"


@pytest.fixture
def keys() -> dict[str, tuple[str, str]]:
    return {kid: _key(kid) for kid in ("k1", "k2")}


def _start(
    pg_url: str,
    tmp_path: Path,
    key: str,
    retired: str = "",
    *,
    api_keys: list[str] | None = None,
    signing_secret: str | None = None,
    port: int | None = None,
) -> AlpineServer:
    env = {"ALPINE_RECEIPT_KEY": key}
    if retired:
        env["ALPINE_RECEIPT_RETIRED_KEYS"] = retired
    return start_alpine(
        pg_url, tmp_path, extra_env=env, api_keys=api_keys, signing_secret=signing_secret, port=port
    )


@pytest.fixture
def servers() -> Iterator[list[AlpineServer]]:
    started: list[AlpineServer] = []
    yield started
    for server in started:
        stop(server.process)


def _alpine_sql(pg_url: str, sql: str, *params: object) -> None:
    conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as conn:
        conn.execute(sql, params)


def _kept(db: Path) -> list[dict[str, object]]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM outbox_receipts ORDER BY event_id")]


def _verify(env: dict[str, str]) -> tuple[int, dict[str, object]]:
    result = cli("relay", "verify", "--since", "3650d", "--json", env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_receipts_are_kept_checked_and_tampering_in_alpine_is_named(
    pg_url: str, tmp_path: Path, keys: dict[str, tuple[str, str]], servers: list[AlpineServer]
) -> None:
    secret, public = keys["k1"]
    servers.append(_start(pg_url, tmp_path, secret, signing_secret=new_signing_secret()))
    env = relay_env(servers[0], tmp_path, RELAY_ALPINE_RECEIPT_KEYS=public)
    db = tmp_path / "signals.db"
    generate(env, 12)
    drain(env, db, 12)
    closed = close_first(db, 3)
    drain(env, db, 15)

    kept = _kept(db)
    assert len(kept) == 15 and all(row["verified"] == 1 for row in kept)
    assert sorted(str(r["event_type"]) for r in kept).count("signal.outcome") == 3
    shown = cli("relay", "receipts", closed[0], env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count("signature valid") == 2  # its creation and its outcome
    code, report = _verify(env)
    assert code == 0, report
    assert report["receipts"] == {  # type: ignore[comparison-overlap]
        "checked": 15,
        "forged": 0,
        "broken": 0,
        "first": [],
        "ok": True,
        "keys": "pinned",
    }

    with sqlite3.connect(db) as conn:
        untouched = sorted(r[0] for r in conn.execute("SELECT signal_id FROM signals"))
    others = [s for s in untouched if s not in closed]
    deleted, altered, rewritten = others[0], others[1], closed[1]
    _alpine_sql(pg_url, "DELETE FROM signals WHERE signal_id = %s", deleted)
    _alpine_sql(  # one byte of a hashed field
        pg_url,
        "UPDATE signals SET strategy = overlay(strategy placing 'X' from 1 for 1)"
        " WHERE signal_id = %s",
        altered,
    )
    _alpine_sql(
        pg_url,
        "UPDATE signals SET profit_loss_pct = profit_loss_pct + 10 WHERE signal_id = %s",
        rewritten,
    )
    code, report = _verify(env)
    assert code == 1
    receipts = report["receipts"]
    assert isinstance(receipts, dict)
    assert (receipts["checked"], receipts["forged"], receipts["broken"]) == (15, 0, 3)
    lines = "\n".join(receipts["first"])
    assert f"signal.created of {deleted}" in lines and "no longer holds it" in lines
    assert f"signal.created of {altered}" in lines
    assert f"signal.outcome of {rewritten}" in lines
    assert (report["missing"], report["mismatched"]) == (1, 1)

    text = cli("relay", "verify", "--since", "3650d", env=env)
    assert text.returncode == 1 and deleted in text.stdout and rewritten in text.stdout


def test_a_receipt_edited_in_argos_outbox_no_longer_verifies(
    pg_url: str, tmp_path: Path, keys: dict[str, tuple[str, str]], servers: list[AlpineServer]
) -> None:
    secret, public = keys["k1"]
    servers.append(_start(pg_url, tmp_path, secret))
    env = relay_env(servers[0], tmp_path, RELAY_ALPINE_RECEIPT_KEYS=public)
    db = tmp_path / "signals.db"
    generate(env, 4)
    drain(env, db, 4)
    with sqlite3.connect(db) as conn:
        event_id, text = conn.execute("SELECT event_id, receipt FROM outbox_receipts").fetchone()
        receipt = json.loads(text)
        receipt["seq"] += 1  # claim an earlier position than Alpine signed
        conn.execute(
            "UPDATE outbox_receipts SET receipt = ? WHERE event_id = ?",
            (json.dumps(receipt), event_id),
        )
    code, report = _verify(env)
    assert code == 1
    assert report["receipts"]["forged"] == 1  # type: ignore[index]
    assert event_id in report["receipts"]["first"][0]  # type: ignore[index]
    shown = cli("relay", "receipts", event_id, env=env)
    assert shown.returncode == 1 and "signature INVALID" in shown.stdout


def test_a_relay_pinned_to_another_key_pauses_and_marks_nothing_delivered(
    pg_url: str, tmp_path: Path, keys: dict[str, tuple[str, str]], servers: list[AlpineServer]
) -> None:
    servers.append(_start(pg_url, tmp_path, keys["k2"][0]))
    env = relay_env(servers[0], tmp_path, RELAY_ALPINE_RECEIPT_KEYS=keys["k1"][1])
    db = tmp_path / "signals.db"
    generate(env, 3)
    result = cli("relay", "run", "--once", "--deadline-seconds", "5", env=env)
    assert result.returncode == 3 and "stopped early (paused)" in result.stderr
    lines = [line for line in result.stderr.splitlines() if "'k2'" in line]
    assert lines and "RELAY_ALPINE_RECEIPT_KEYS does not list" in lines[0], result.stderr
    assert outbox_counts(db) == (0, 3)
    assert _kept(db) == []


def test_a_relay_pinned_while_alpine_signs_nothing_pauses(
    pg_url: str, tmp_path: Path, keys: dict[str, tuple[str, str]], servers: list[AlpineServer]
) -> None:
    servers.append(start_alpine(pg_url, tmp_path, api_keys=[new_api_key()]))
    env = relay_env(servers[0], tmp_path, RELAY_ALPINE_RECEIPT_KEYS=keys["k1"][1])
    db = tmp_path / "signals.db"
    generate(env, 2)
    result = cli("relay", "run", "--once", "--deadline-seconds", "5", env=env)
    assert result.returncode == 3 and "without a receipt" in result.stderr, result.stderr
    assert outbox_counts(db) == (0, 2)


def test_receipts_from_before_and_after_a_key_rotation_both_verify(
    pg_url: str, tmp_path: Path, keys: dict[str, tuple[str, str]], servers: list[AlpineServer]
) -> None:
    (old_secret, old_public), (new_secret, new_public) = keys["k1"], keys["k2"]
    api_key = new_api_key()
    servers.append(_start(pg_url, tmp_path, old_secret, api_keys=[api_key]))
    port = int(servers[0].url.rsplit(":", 1)[1])
    pinned = f"{old_public},{new_public}"  # the operator pins the next key before rotating
    env = relay_env(servers[0], tmp_path, RELAY_ALPINE_RECEIPT_KEYS=pinned)
    db = tmp_path / "signals.db"
    generate(env, 5)
    drain(env, db, 5)

    stop(servers.pop().process)  # rotate: k2 signs, k1 is retired and still served
    servers.append(
        _start(pg_url, tmp_path, new_secret, retired=old_public, api_keys=[api_key], port=port)
    )
    generate(env, 5, "--seed", "11")
    drain(env, db, 10)
    kids = sorted(json.loads(str(r["receipt"]))["kid"] for r in _kept(db))
    assert kids == ["k1"] * 5 + ["k2"] * 5
    code, report = _verify(env)
    assert code == 0 and report["receipts"]["checked"] == 10  # type: ignore[index]

    with servers[0].client() as client:
        served = {k["kid"]: k["status"] for k in client.get("/api/v1/keys").json()["keys"]}
    assert served == {"k2": "current", "k1": "retired"}
    unpinned = dict(env)
    del unpinned["RELAY_ALPINE_RECEIPT_KEYS"]
    code, report = _verify(unpinned)  # with the keys Alpine serves
    assert code == 0 and report["receipts"]["keys"] == "alpine"  # type: ignore[index]
