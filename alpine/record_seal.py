"""One sealing step of the published record (alpine/record.py drives it): the next
committed feed events become chain entries, in one transaction under record_head's row
lock, so sealers of every worker take turns and seal each position once, in order.

PostgreSQL seals in the database (`alpine_record_seal`, schema/alpine/postgresql/0011):
nonces, commitments and the chain's hashes are computed there, and Python only signs the
checkpoints and computes the update hashes of outcomes and executions (their canonical
JSON is Python's). SQLite seals in Python. Both write what alpine/record_check.py checks.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, text, update

from alpine.receipts import SigningKey, b64
from alpine.record_check import commitment, link, signed_text
from alpine.store import content_hash
from alpine.tables import feed_events, record_entries, record_head, signals

SEAL_BATCH = 2000  # entries per transaction
# Entries signed: every CHECKPOINT_EVERY-th position and the last of each seal. The others
# reach the next signed entry through the commitments after them (`tail`, at most
# CHECKPOINT_EVERY - 1): one signature for many events, not one each.
CHECKPOINT_EVERY = 32
_JOINED = feed_events.join(signals, signals.c.id == feed_events.c.signal_row)
_CONTENT = [
    signals.c[name]
    for name in (
        "signal_id",
        "verification_hash",
        "outcome",
        "exit_price",
        "profit_loss_pct",
        "closed_at",
        "order_id",
        "executed_at",
        "fill_price",
    )
]


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    commitment: str
    nonce: str
    hash: str
    kid: str
    sig: str


def seal_batch(engine: Engine, key: SigningKey) -> tuple[int, bool]:
    """Seal up to SEAL_BATCH committed events: (the last sealed position, whether it
    sealed any: there may be more)."""
    with engine.begin() as tx:
        if tx.dialect.name == "postgresql":
            return _seal_in_database(tx, key)
        return _seal_in_python(tx, key)


_LOCK_HEAD = text(
    "SELECT r.seq, f.seq FROM record_head AS r, feed_head AS f"
    " WHERE r.id = 1 AND f.id = 1 FOR UPDATE OF r"
)
_SEAL = text(
    "SELECT entry_seq, entry_hash, sealed FROM alpine_record_seal(CAST(:every AS integer),"
    " CAST(:seqs AS bigint[]), CAST(:contents AS text[]), CAST(:noise AS bytea))"
)
_SIGN = text(
    "UPDATE record_entries AS r SET kid = :kid, sig = s.sig"
    " FROM unnest(CAST(:seqs AS bigint[]), CAST(:sigs AS text[])) AS s (seq, sig)"
    " WHERE r.seq = s.seq"
)


def _seal_in_database(tx: Connection, key: SigningKey) -> tuple[int, bool]:
    # Take record_head's row first: sealers of every worker queue here.
    sealed, head = (int(v) for v in tx.execute(_LOCK_HEAD).one())
    if head <= sealed:
        return sealed, False
    # `head` may be behind events committed while this sealer waited: they are sealed
    # by the next batch, as is any beyond SEAL_BATCH.
    batch = min(head - sealed, SEAL_BATCH)
    updates = tx.execute(
        select(feed_events.c.seq, feed_events.c.kind, *_CONTENT)
        .select_from(_JOINED)
        .where(feed_events.c.seq > sealed, feed_events.c.kind != "signal")
        .order_by(feed_events.c.seq)
        .limit(batch)  # every one the seal's window can hold (it holds `batch` events)
    ).all()
    params = {
        "every": CHECKPOINT_EVERY,
        "seqs": [int(r.seq) for r in updates],
        "contents": [str(content_hash(r.kind, r)) for r in updates],
        "noise": secrets.token_bytes(16 * batch),  # each entry's nonce
    }
    to_sign = tx.execute(_SEAL, params).all()
    if not to_sign:
        return sealed, False
    sigs = [b64(key.private.sign(signed_text(int(s), h, key.kid))) for s, h, _ in to_sign]
    tx.execute(_SIGN, {"kid": key.kid, "seqs": [int(r[0]) for r in to_sign], "sigs": sigs})
    return int(to_sign[-1][0]), True


def _seal_in_python(tx: Connection, key: SigningKey) -> tuple[int, bool]:
    # Take record_head's row first (SQLite: the write lock): sealers queue here.
    tx.execute(update(record_head).where(record_head.c.id == 1).values(seq=record_head.c.seq))
    sealed, prev = tx.execute(select(record_head.c.seq, record_head.c.hash)).one()
    rows = tx.execute(
        select(feed_events.c.seq, feed_events.c.kind, *_CONTENT)
        .select_from(_JOINED)
        .where(feed_events.c.seq > sealed)
        .order_by(feed_events.c.seq)
        .limit(SEAL_BATCH)
    ).all()
    if not rows:
        return int(sealed), False
    entries = []
    for number, row in enumerate(rows, start=1):
        seq = int(row.seq)
        signed = number == len(rows) or seq % CHECKPOINT_EVERY == 0
        entry = _entry(key, seq, row.kind, row, prev, signed)
        entries.append(entry)
        prev = entry.hash
    tx.execute(insert(record_entries), [dataclasses.asdict(e) for e in entries])
    tx.execute(
        update(record_head)
        .where(record_head.c.id == 1)
        .values(seq=entries[-1].seq, hash=entries[-1].hash)
    )
    return entries[-1].seq, True


def _entry(key: SigningKey, seq: int, kind: str, row: Any, prev_hash: str, signed: bool) -> Entry:
    # A signal commits to the hash Alpine checked its fields against at ingest: an
    # edit of its fields, before or after sealing, then shows to every subscriber.
    content = row.verification_hash if kind == "signal" else content_hash(kind, row)
    nonce = secrets.token_hex(16)
    entry_commitment = commitment(seq, kind, str(content), nonce)
    entry_hash = link(prev_hash, entry_commitment)
    if not signed:
        return Entry(seq, entry_commitment, nonce, entry_hash, "", "")
    sig = b64(key.private.sign(signed_text(seq, entry_hash, key.kid)))
    return Entry(seq, entry_commitment, nonce, entry_hash, key.kid, sig)
