"""Alpine's side of the published record (alpine/record_check.py says what it is): seal
each feed event into the hash chain, in feed order, and attach each served event's entry.

Sealing runs where the feed is read (`Feed.head`): every reader first seals what has
committed since the last seal, so nothing is served unsealed. Sealers of all worker
processes take turns on record_head's row (a write lock on SQLite), so each position is
sealed once, after its predecessor. Without a receipt key nothing is sealed and events
carry no record. One sealing step is alpine/record_seal.py (in PostgreSQL on PostgreSQL).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Connection, Engine, func, select

from alpine.receipts import SigningKey
from alpine.record_check import GENESIS
from alpine.record_seal import Entry, seal_batch
from alpine.tables import feed_head, record_entries, record_head
from alpine.timestamps import format_timestamp

log = logging.getLogger("alpine.record")


class RecordSealer:
    """Seals feed events into the record with Alpine's receipt key."""

    def __init__(self, engine: Engine, key: SigningKey) -> None:
        self._engine = engine
        self._key = key
        self._poked = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = threading.Lock()
        self._closing = False

    def poke(self) -> None:
        """Have this process's sealing thread seal what has committed (called once a batch
        is stored, after any other ingest answer; returns at once: sealing runs beside the
        request, not in it). Readers seal too, so nothing is served unsealed if the thread
        lags or dies."""
        if self._thread is None:
            with self._started:
                if self._thread is None and not self._closing:
                    self._thread = threading.Thread(
                        target=self._run, name="record-sealer", daemon=True
                    )
                    self._thread.start()
        self._poked.set()

    def close(self) -> None:
        """Stop the sealing thread once what it is sealing is done (readers still seal).
        The thread holds a pooled connection while it seals: close it before disposing
        the engine."""
        with self._started:
            self._closing = True
        self._poked.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._closing:
            self._poked.wait()
            self._poked.clear()
            if not self._closing:
                self.seal_now()

    def seal_now(self) -> None:
        """Seal what has committed; a failure is logged, and the next reader seals."""
        try:
            with self._engine.connect() as conn:
                self.seal(conn)
        except Exception:
            log.exception("sealing the record failed", extra={"event": "record_seal_error"})

    def seal(self, conn: Connection) -> int:
        """Seal every committed event not yet sealed; the last sealed position (the feed's
        head, unless an event was removed behind Alpine's back). `conn` answers the cheap
        "anything to do?" question; sealing takes its own transactions."""
        head, sealed = conn.execute(
            select(feed_head.c.seq, record_head.c.seq)
            .select_from(feed_head.join(record_head, record_head.c.id == feed_head.c.id))
            .where(feed_head.c.id == 1)
        ).one()
        if sealed >= head:
            return int(sealed)
        conn.commit()  # end the read so sealing's commits are visible to it
        while sealed < head:
            sealed, progressed = seal_batch(self._engine, self._key)
            if not progressed:  # the events left were removed behind Alpine's back
                break
        return int(sealed)


def read_entries(conn: Connection, low: int, high: int) -> dict[int, Entry]:
    """The sealed entries at positions low..high, and on to the first signed one."""
    checkpoint = conn.execute(
        select(func.min(record_entries.c.seq)).where(
            record_entries.c.seq >= high, record_entries.c.sig != ""
        )
    ).scalar()
    high = max(high, int(checkpoint or high))
    rows = conn.execute(
        select(record_entries).where(record_entries.c.seq >= low, record_entries.c.seq <= high)
    ).all()
    return {
        int(r.seq): Entry(int(r.seq), r.commitment, r.nonce, r.hash, r.kid, r.sig) for r in rows
    }


def record_of(seq: int, prev_seq: int, entries: dict[int, Entry]) -> dict[str, Any] | None:
    """The `record` of a served event: its entry, the hash before it, and the commitments
    of the entries between the tier's previous event and it (none before the first)."""
    entry = entries.get(seq)
    if entry is None:
        return None
    before = entries.get(seq - 1)
    prev_hash = GENESIS if seq == 1 or before is None else before.hash
    hidden = [entries[s].commitment for s in range(prev_seq + 1, seq) if s in entries]
    record: dict[str, Any] = {
        "hash": entry.hash,
        "prev_hash": prev_hash,
        "commitment": entry.commitment,
        "nonce": entry.nonce,
        "hidden": hidden if prev_seq > 0 else [],
    }
    if entry.sig:
        return record | {"kid": entry.kid, "sig": entry.sig}
    tail: list[str] = []
    position = seq + 1
    while (after := entries.get(position)) is not None:
        tail.append(after.commitment)
        if after.sig:
            checkpoint = {"seq": after.seq, "hash": after.hash, "kid": after.kid, "sig": after.sig}
            return record | {"tail": tail, "checkpoint": checkpoint}
        position += 1
    return record | {"tail": tail}  # an entry after it is gone: its check names the gap


def entry_range(linked: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """The positions whose entries the records of events (seq, prev_seq) in feed order
    need."""
    if not linked:
        return None
    first, prev = linked[0]
    return (prev if prev > 0 else first - 1), linked[-1][0]


HEAD_PATH = "/api/v1/record/head"


def head_entry(engine: Engine, sealer: RecordSealer | None) -> dict[str, Any] | None:
    """The last sealed entry (sealing what has committed first): seq, hash, kid, sig and
    when it was sealed; None when nothing is sealed."""
    with engine.connect() as conn:
        if sealer is not None:
            sealer.seal(conn)
        row = conn.execute(
            select(record_entries)
            .join(record_head, record_head.c.seq == record_entries.c.seq)
            .where(record_head.c.id == 1)
        ).first()
    if row is None:
        return None
    return {
        "v": 1,
        "seq": int(row.seq),
        "hash": row.hash,
        "kid": row.kid,
        "sig": row.sig,
        "sealed_at": format_timestamp(row.sealed_at),
    }


def register_head(app: FastAPI, engine: Engine, sealer: RecordSealer | None) -> None:
    """GET /api/v1/record/head: the chain head to pin elsewhere (no authentication)."""

    async def record_head_route() -> JSONResponse:
        entry = await run_in_threadpool(head_entry, engine, sealer)
        if entry is None:
            detail = "no record: Alpine has no receipt key, or nothing is stored yet"
            return JSONResponse({"detail": detail}, status_code=404)
        return JSONResponse(entry)

    app.add_api_route(
        HEAD_PATH,
        record_head_route,
        methods=["GET"],
        name="record_head",
        tags=["record"],
        summary="The published record's last sealed entry",
        responses={404: {"description": "No record: no receipt key, or nothing stored yet"}},
    )
