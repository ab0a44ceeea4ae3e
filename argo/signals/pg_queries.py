"""The SQL text behind `SignalStore`'s reports and replay reads on PostgreSQL: the same
reads as `argo.signals.queries.SQLITE`, in this dialect (see there)."""

from __future__ import annotations

from argo.signals.queries import (
    Queries,
    committed,
    fills,
    outcome_bands,
    outcome_groups,
    write_queries,
)

_ANY_ID = "= ANY(%s)"

POSTGRES = Queries(
    # Byte order, as SQLite sorts text: the figures list the same way on both.
    outcome_groups=outcome_groups("%s", collate=' COLLATE "C"'),
    outcome_bands=outcome_bands("%s"),
    committed_window=committed("s.timestamp >= %s AND s.timestamp < %s", "bool_or"),
    committed_ids=committed(f"s.signal_id {_ANY_ID}", "bool_or"),
    # closed_at existed from this schema's first version: no fallback on event payloads.
    closed="SELECT signal_id, outcome, exit_price, profit_loss_pct, closed_at FROM signals"
    f" WHERE outcome IS NOT NULL AND signal_id {_ANY_ID} ORDER BY id",
    fills=fills(_ANY_ID),
    recorded="SELECT sha256, outcome, exit_price, order_id, fill_price FROM signals"
    " WHERE signal_id = %s",
    signal_ids="SELECT signal_id FROM signals",
)
# The NOTIFY is sent inside the writing transaction, so PostgreSQL delivers it only on
# commit (never for a rollback); a hint, the relays still poll. Its one parameter: CHANNEL.
POSTGRES_WRITES = write_queries("%s", _ANY_ID, notify="SELECT pg_notify(%s, '')")
