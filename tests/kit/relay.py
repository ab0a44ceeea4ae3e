"""A relay on a real SQLite file or PostgreSQL outbox, with Alpine scripted by
httpx.MockTransport."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from argo.db.postgres import database_url, is_postgres
from argo.outbox.pg_store import HORIZON
from argo.timeutil import to_text
from relay.app import RelayApp, relay_app
from relay.config import RelayConfig
from tests.kit.pgdb import argo_database, argo_rows
from tests.support import new_signing_secret, wait_for

Handler = Callable[[httpx.Request], httpx.Response]
ItemAnswer = Callable[[dict[str, Any]], int]
_ITEM = {201: "created", 200: "duplicate", 409: "conflict", 400: "invalid", 422: "invalid"}


class ScriptedAlpine:
    """Alpine as a function of each item: single POSTs get the status `answer` gives, with
    Alpine's bodies; a batch fails whole on a 5xx/401/403/429 item, else answers per item.
    Records every event id it was sent, and can hold each POST for `delay` seconds."""

    def __init__(self, answer: ItemAnswer, *, delay: float = 0.0, healthy: bool = True) -> None:
        self.answer = answer
        self.delay = delay
        self.healthy = healthy
        self.sent: list[str] = []
        self.paths: list[str] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight_per_event = 0
        self.max_posts_at_once = 0
        # ("start" | "end", "<kind>:<signal_id>") in time order, kind "signal" or "outcome"
        self.timeline: list[tuple[str, str]] = []
        self._posts_now = 0
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/health"):
            status = 200 if self.healthy else 503
            return httpx.Response(status, json={"status": "healthy" if self.healthy else "down"})
        event = request.headers.get("webhook-id", "")
        with self._lock:
            self.sent.append(event)
            self.paths.append(request.url.path)
            self.in_flight[event] = self.in_flight.get(event, 0) + 1
            self.max_in_flight_per_event = max(self.max_in_flight_per_event, self.in_flight[event])
            self._posts_now += 1
            self.max_posts_at_once = max(self.max_posts_at_once, self._posts_now)
            self.timeline.extend(("start", e) for e in _events(request))
        try:
            if self.delay:
                time.sleep(self.delay)
            return self._answer(request)
        finally:
            with self._lock:
                self.in_flight[event] -= 1
                self._posts_now -= 1
                self.timeline.extend(("end", e) for e in _events(request))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        if request.url.path.endswith("/signals"):
            statuses = [self.answer(item) for item in body["signals"]]
            fatal = [s for s in statuses if s >= 500 or s in (401, 403, 429)]
            if fatal:
                return alpine_answer(fatal[0], body["signals"][0])
            results = [_item(s, item) for s, item in zip(statuses, body["signals"], strict=True)]
            return httpx.Response(200, json={"results": results})
        return alpine_answer(self.answer(body), body, outcome=request.url.path.endswith("/outcome"))


def _events(request: httpx.Request) -> list[str]:
    """What a POST carries, as "<kind>:<signal_id>" (a batch holds creations only)."""
    body = json.loads(request.content)
    if request.url.path.endswith("/signals"):
        return [f"signal:{item['signal_id']}" for item in body["signals"]]
    return [f"{request.url.path.rsplit('/', 1)[1]}:{body['signal_id']}"]


def _item(status: int, item: dict[str, Any]) -> dict[str, Any]:
    return {"status": _ITEM[status], "argo_signal_id": item["signal_id"], "error": "scripted"}


def alpine_answer(status: int, item: dict[str, Any], *, outcome: bool = False) -> httpx.Response:
    """The response Alpine gives with `status` for `item`."""
    if 200 <= status < 300:
        name = "applied" if outcome else _ITEM[status]
        body = {"status": name, "argo_signal_id": item["signal_id"], "alpine_signal_id": 1}
        return httpx.Response(status, json=body)
    headers = {"Retry-After": "7"} if status == 429 else None
    return httpx.Response(status, json={"detail": f"scripted {status}"}, headers=headers)


def always(status: int) -> ItemAnswer:
    return lambda item: status


def poisoned(signal_id: str, status: int = 500) -> ItemAnswer:
    """`status` for one signal, 201 for every other."""
    return lambda item: status if item["signal_id"] == signal_id else 201


def relay_config(db: Path, **overrides: Any) -> RelayConfig:
    base = RelayConfig(
        db_path=db,
        alpine_url="http://alpine.test",
        api_key="k" * 20,
        batch_size=50,
        post_tries=1,
        worker_id="w1",
        max_attempts=3,
        rescan_seconds=0.2,
        metrics_port=0,
        signing_secret=new_signing_secret(),
    )
    return dataclasses.replace(base, **overrides)


@contextmanager
def relay_for(db: Path, handler: Handler, **overrides: Any) -> Iterator[RelayApp]:
    """A relay on `db` talking to `handler`; deterministic jitter (the full ceiling).

    On PostgreSQL it first waits until the rows already committed lie below the drain
    horizon: a transaction of another database on the cluster (another test worker's) that
    is in the snapshot but has just left pg_stat_activity holds the horizon back for an
    instant (by design it errs towards waiting), and a test's single `run_once` would then
    find nothing due."""
    if is_postgres(db):
        wait_for(lambda: not _above_horizon(db), timeout=10, what="the drain horizon")
    with relay_app(
        relay_config(db, **overrides),
        transport=httpx.MockTransport(handler),
        jitter=lambda ceiling: ceiling,
    ) as app:
        yield app


def _above_horizon(db: Path) -> int:
    rows = argo_rows(
        str(database_url(db)),
        "SELECT count(*) AS n FROM sync_outbox AS o WHERE o.delivered_at IS NULL"
        f" AND o.dead_at IS NULL AND NOT (o.txid < {HORIZON})",
    )
    return int(rows[0]["n"])


STORES = ["sqlite", "postgresql"]
"""The two outbox stores a relay test can run on (the `db` fixture's params)."""


@contextmanager
def outbox_location(kind: str, tmp_path: Path) -> Iterator[Path]:
    """`ARGO_DB` for a fresh outbox of `kind`: a SQLite file (created on first open) or a
    throwaway PostgreSQL database with Argo's schema, as the Path the settings carry."""
    if kind == "sqlite":
        yield tmp_path / "signals.db"
        return
    with argo_database() as url:
        yield Path(url)


def outbox_rows(db: Path) -> list[dict[str, Any]]:
    """Every outbox row in id order; on PostgreSQL, times as the same text SQLite holds."""
    if is_postgres(db):
        return [
            {k: to_text(v) if isinstance(v, datetime) else v for k, v in row.items()}
            for row in argo_rows(str(database_url(db)))
        ]
    with sqlite3.connect(db, timeout=30) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM sync_outbox ORDER BY id")]


_WRITES = frozenset({"add", "add_many", "record_outcomes", "record_executions"})


class HorizonWaiting:
    """A signal store whose writes return only once PostgreSQL's drain horizon has passed
    the rows they committed (see `relay_for`): a claim right after a write then sees them,
    whatever another test worker's transactions were doing at that instant. On SQLite it
    is the store itself."""

    def __init__(self, store: Any, db: Path) -> None:
        self._store = store
        self._db = db

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._store, name)
        if name not in _WRITES or not is_postgres(self._db):
            return found

        def write(*args: Any, **kwargs: Any) -> Any:
            result = found(*args, **kwargs)
            wait_for(lambda: not _above_horizon(self._db), timeout=10, what="the drain horizon")
            return result

        return write
