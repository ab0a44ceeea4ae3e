"""Receipts for what Alpine holds: read the stored facts (hash, feed position, time
stored) of accepted events and sign them (alpine/receipts.py). Without a receipt key
configured, no receipt is issued and nothing is read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, Select, select
from starlette.background import BackgroundTask

from alpine.pg_insert import driver_rows
from alpine.receipts import EVENTS, UPDATE_FIELDS, PublicKey, SigningKey, moment_text, update_hash
from alpine.record import RecordSealer
from alpine.tables import feed_events, signals

_JOINED = feed_events.join(signals, signals.c.id == feed_events.c.signal_row)
# What a signal's receipt states: (row id, signal_id, sha256, seq, stored_at as text).
StoredSignal = tuple[int, str, str, int, str]
# What a signal's receipt states, its time already as moment_text writes it (to_char's
# fields: the same text, without a datetime per row).
_PG_SIGNAL_FACTS = (
    "SELECT s.id, s.signal_id, s.verification_hash, f.seq,"
    """ to_char(f.stored_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
    " FROM feed_events AS f JOIN signals AS s ON s.id = f.signal_row"
    " WHERE f.signal_row = ANY(%(ids)s) AND f.kind = 'signal'"
)


def _signal_facts(ids: list[int]) -> Select[Any]:
    return (
        select(
            signals.c.id,
            signals.c.signal_id,
            signals.c.verification_hash,
            feed_events.c.seq,
            feed_events.c.stored_at,
        )
        .select_from(_JOINED)
        .where(feed_events.c.signal_row.in_(ids), feed_events.c.kind == "signal")
    )


class ReceiptIssuer:
    """Signs receipts with the current key; lists every key receipts verify with."""

    def __init__(
        self,
        engine: Engine,
        key: SigningKey | None,
        retired: Iterable[PublicKey] = (),
        sealer: RecordSealer | None = None,
    ) -> None:
        self._engine = engine
        self._key = key
        self._retired = tuple(retired)
        self._sealer = sealer

    def stored(self) -> None:
        """Poke the sealing thread as soon as a batch is stored: it seals (in PostgreSQL,
        on another core) while this answer's receipts are signed and sent."""
        if self._sealer is not None:
            self._sealer.poke()

    def after_answer(self) -> BackgroundTask | None:
        """Once the answer is sent, poke the sealing thread to seal what was just stored
        into the record (off the sender's latency and beside the next request)."""
        return BackgroundTask(self._sealer.poke) if self._sealer is not None else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def public_keys(self) -> list[PublicKey]:
        """The current key first, then the retired ones (old receipts still verify)."""
        return ([self._key.public] if self._key else []) + list(self._retired)

    def for_signals(
        self, row_ids: Iterable[int], known: Sequence[StoredSignal] = ()
    ) -> dict[int, dict[str, Any]]:
        """A receipt for each stored signal row in `row_ids` and in `known` (row id ->
        receipt), all under one signature. `known`: rows whose stored facts the insert
        answered; the others' are read."""
        if self._key is None:
            return {}
        ids = sorted(set(row_ids) - {k[0] for k in known})
        rows = list(known) + (self._read(ids) if ids else [])
        signed = self._key.sign_signals([(r[1], r[2], int(r[3]), r[4]) for r in rows])
        return {int(r[0]): receipt for r, receipt in zip(rows, signed, strict=True)}

    def _read(self, ids: list[int]) -> list[tuple[Any, ...]]:
        """The receipt facts (StoredSignal) of stored signal rows."""
        if self._engine.dialect.name == "postgresql":
            return driver_rows(self._engine, _PG_SIGNAL_FACTS, {"ids": ids})
        with self._engine.connect() as conn:
            return [
                (r.id, r.signal_id, r.verification_hash, r.seq, moment_text(r.stored_at))
                for r in conn.execute(_signal_facts(ids))
            ]

    def for_update(self, signal_id: str, kind: str) -> dict[str, Any] | None:
        """The receipt of a signal's `outcome` or `execution` as Alpine holds it."""
        if self._key is None:
            return None
        event = EVENTS[kind]
        names = [n for n in UPDATE_FIELDS[event] if n != "signal_id"]
        query = (
            select(feed_events.c.seq, feed_events.c.stored_at, *(signals.c[n] for n in names))
            .select_from(_JOINED)
            .where(signals.c.signal_id == signal_id, feed_events.c.kind == kind)
        )
        with self._engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        values = {"signal_id": signal_id, **{n: getattr(row, n) for n in names}}
        return self._sign(event, signal_id, update_hash(event, values), row.seq, row.stored_at)

    def _sign(
        self, event: str, signal_id: str, sha256: str, seq: int, stored_at: Any
    ) -> dict[str, Any]:
        assert self._key is not None
        return self._key.sign(_fields(event, signal_id, sha256, seq, stored_at))


def _fields(event: str, signal_id: str, sha256: str, seq: int, stored_at: Any) -> dict[str, Any]:
    return {
        "event": event,
        "signal_id": signal_id,
        "sha256": sha256,
        "seq": int(seq),
        "stored_at": moment_text(stored_at),
    }


KEYS_PATH = "/api/v1/keys"


def register_keys(app: FastAPI, receipts: ReceiptIssuer) -> None:
    """GET /api/v1/keys: the public keys receipts verify with (no authentication)."""

    async def keys() -> JSONResponse:
        """Alpine's receipt keys: the current one signs, retired ones still verify."""
        return JSONResponse({"keys": [k.as_json() for k in receipts.public_keys()]})

    app.add_api_route(KEYS_PATH, keys, methods=["GET"], tags=["receipts"])
