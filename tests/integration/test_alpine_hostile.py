"""Hostile input: every request gets its documented 4xx, never a 5xx, and stores nothing.

One Alpine app (in-process: `create_app` behind an in-process client, the settings
`alpine serve` would read) on a throwaway PostgreSQL database serves the whole table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url
from standardwebhooks import Webhook

from tests.kit.alpine import Alpine, InProcessAlpine, in_process_alpine
from tests.kit.pgdb import count_signals
from tests.support import new_api_key, new_signing_secret, signal_payload

PATH = "/api/v1/argo/sync/signal"
BATCH = "/api/v1/argo/sync/signals"
BASE = json.dumps(signal_payload())
MIB = 1024 * 1024


@dataclass(frozen=True)
class Attack:
    """One hostile request: a body, and how to (mis)sign and send it."""

    body: bytes
    expected: int
    key: str | None = "good"
    sign: bool = True
    sign_offset: timedelta = timedelta(0)
    signature: str | None = None
    tamper: Callable[[bytes], bytes] | None = None
    method: str = "POST"
    path: str = PATH
    chunked: bool = False
    extra_headers: dict[str, str] = field(default_factory=dict)


def field_text(name: str, literal: str) -> bytes:
    """The base payload with one field's JSON value replaced by `literal` verbatim."""
    doc = json.loads(BASE)
    doc[name] = "__PLACEHOLDER__"
    return json.dumps(doc).replace('"__PLACEHOLDER__"', literal).encode()


def field_value(name: str, value: object) -> bytes:
    return json.dumps({**json.loads(BASE), name: value}).encode()


ATTACKS: dict[str, Attack] = {
    "missing key": Attack(BASE.encode(), 401, key=None),
    "wrong key": Attack(BASE.encode(), 401, key=new_api_key()),
    "empty key": Attack(BASE.encode(), 401, key=""),
    "non-ASCII key": Attack(
        BASE.encode(),
        401,
        key="cl\u00e9-\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9\u00e9",
    ),
    "missing signature": Attack(BASE.encode(), 401, sign=False),
    "bad signature": Attack(
        BASE.encode(), 401, signature="v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    ),
    "malformed signature": Attack(BASE.encode(), 401, signature="nonsense"),
    "stale signature (6 min)": Attack(BASE.encode(), 401, sign_offset=timedelta(minutes=-6)),
    "future signature (6 min)": Attack(BASE.encode(), 401, sign_offset=timedelta(minutes=6)),
    "body changed after signing": Attack(
        BASE.encode(), 401, tamper=lambda b: b.replace(b"171.25", b"171.26")
    ),
    "hash mismatch": Attack(field_value("sha256", "0" * 64), 400),
    "NaN price": Attack(field_text("entry_price", "NaN"), 422),
    "Infinity price": Attack(field_text("entry_price", "Infinity"), 422),
    "1e400 price": Attack(field_text("entry_price", "1e400"), 422),
    "negative price": Attack(field_value("stop_price", -165.0), 422),
    "zero price": Attack(field_value("stop_price", 0), 422),
    "string price": Attack(field_value("entry_price", "171.25"), 422),
    "boolean price": Attack(field_value("entry_price", True), 422),
    "BUY with stop above entry": Attack(field_value("stop_price", 175.0), 422),
    "BUY with target below entry": Attack(field_value("target_price", 170.0), 422),
    "confidence 150": Attack(field_value("confidence", 150), 422),
    "confidence -1": Attack(field_value("confidence", -1), 422),
    "unknown action": Attack(field_value("action", "HOLD"), 422),
    "10 KB symbol": Attack(field_value("symbol", "A" * 10_240), 422),
    "lowercase symbol": Attack(field_value("symbol", "aapl"), 422),
    "NUL in reasoning": Attack(field_value("reasoning", "a\u0000b"), 422),
    "NUL in strategy": Attack(field_value("strategy", "a\u0000b"), 422),
    "lone surrogate": Attack(field_text("reasoning", '"\\ud800 alone"'), 422),
    "5000-digit number": Attack(field_text("entry_price", "1" * 5000), 422),
    "truncated JSON": Attack(BASE.encode()[:-7], 422),
    "200k nested brackets": Attack(b"[" * 200_000 + b"]" * 200_000, 422),
    "16 MiB body": Attack(b"{" + b" " * (16 * MIB) + b"}", 413),
    "16 MiB chunked body": Attack(b"{" + b" " * (16 * MIB) + b"}", 413, chunked=True),
    "JSON array instead of object": Attack(f"[{BASE}]".encode(), 422),
    "SQL metacharacters in strategy": Attack(
        field_value("strategy", "x'; DROP TABLE signals; --"), 422
    ),
    "naive timestamp": Attack(field_value("timestamp", "2026-11-22T10:00:00"), 422),
    "unknown field": Attack(field_value("leverage", 100), 422),
    "missing field": Attack(
        json.dumps({k: v for k, v in json.loads(BASE).items() if k != "stop_price"}).encode(), 422
    ),
    "empty body": Attack(b"", 422),
    "not JSON at all": Attack(b"symbol=AAPL&action=BUY", 422),
    "GET on the ingest path": Attack(b"", 405, method="GET"),
    "batch of 501": Attack(
        json.dumps({"signals": [json.loads(BASE)] * 501}).encode(), 422, path=BATCH
    ),
    "batch that is not an object": Attack(b"[]", 422, path=BATCH),
}


@pytest.fixture(scope="module")
def alpine(module_pg_url: str) -> Iterator[InProcessAlpine]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        server = in_process_alpine(
            module_pg_url,
            monkeypatch,
            api_keys=[new_api_key()],
            signing_secret=new_signing_secret(),
        )
        yield server
        server.close()


def send(server: Alpine, attack: Attack) -> httpx.Response:
    headers = {"Content-Type": "application/json", **attack.extra_headers}
    if attack.key is not None:
        headers["X-API-Key"] = server.api_key if attack.key == "good" else attack.key
    if attack.sign and server.signing_secret:
        at = datetime.now(UTC) + attack.sign_offset
        headers["webhook-id"] = "evt_hostile"
        headers["webhook-timestamp"] = str(int(at.timestamp()))
        headers["webhook-signature"] = attack.signature or Webhook(server.signing_secret).sign(
            "evt_hostile", at, attack.body.decode("utf-8", "surrogateescape")
        )
    body = attack.tamper(attack.body) if attack.tamper else attack.body
    content: bytes | Iterator[bytes] = body
    if attack.chunked:
        content = (body[i : i + MIB] for i in range(0, len(body), MIB))
    encoded = {k: v.encode("utf-8") if not v.isascii() else v for k, v in headers.items()}
    with server.client() as client:
        return client.request(attack.method, attack.path, content=content, headers=encoded)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(ATTACKS))
def test_hostile_request_is_refused_with_its_documented_status(
    alpine: Alpine, module_pg_url: str, name: str
) -> None:
    attack = ATTACKS[name]
    try:
        response = send(alpine, attack)
    except httpx.RemoteProtocolError:
        # An oversize upload may be cut off by the server after its 413; that is a refusal.
        assert attack.expected == 413
        response = None
    if response is not None:
        assert response.status_code == attack.expected, f"{name}: {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/json")
        detail = response.json()["detail"]
        assert isinstance(detail, str) and detail
    assert count_signals(module_pg_url) == 0
    with alpine.client() as client:  # Alpine still serves
        assert client.get("/api/v1/argo/sync/health").status_code == 200


def test_the_table_covers_the_issue_list() -> None:
    assert len(ATTACKS) >= 30


def test_sql_metacharacters_in_free_text_are_stored_verbatim(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = in_process_alpine(pg_url, monkeypatch)
    try:
        nasty = "Robert'); DROP TABLE signals; -- \" \\ % _"
        payload = signal_payload(reasoning=nasty)
        with server.client() as client:
            response = client.post(PATH, json=payload, headers={"X-API-Key": server.api_key})
        assert response.status_code == 201, response.text
        conninfo = (
            make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        with psycopg.connect(conninfo) as conn:
            row = conn.execute("SELECT reasoning FROM signals").fetchone()
        assert row == (nasty,)
    finally:
        server.close()
