"""The SQL text behind `SignalStore`'s reports and replay reads, in SQLite's dialect.

Each dialect has one `Queries` (PostgreSQL's is `argo.signals.pg_queries.POSTGRES`); the
store runs them with positional parameters and turns the rows into values the same way on
both (`argo.signals.reads`), so only this text differs. A list parameter (signal ids) is one
JSON array on SQLite (`json_each`) and one array on PostgreSQL (`= ANY`). A missing lower
bound is the empty string: every stored timestamp sorts after it.
"""

from __future__ import annotations

from dataclasses import dataclass

from argo.outbox.events import EventType
from argo.reports.reliability import BANDS


@dataclass(frozen=True, slots=True)
class Queries:
    """One dialect's text of each read; the parameters each takes are in brackets."""

    outcome_groups: str  # [since]: counts per (symbol, strategy), in byte order
    outcome_bands: str  # [since]: counts per confidence band (column `band`)
    committed_window: str  # [since, until]: signal_id, sha256, events, delivered, pending
    committed_ids: str  # [ids]: the same for given signals
    closed: str  # [ids]: outcome columns and closed_at (NULL when unknown)
    fills: str  # [ids]: Fill columns of the traded ones
    recorded: str  # [signal_id]: sha256, outcome, exit_price, order_id, fill_price
    signal_ids: str  # []: every stored signal_id


@dataclass(frozen=True, slots=True)
class WriteQueries:
    """One dialect's text of the writes and of the signal reads (positional parameters)."""

    mark: str  # the placeholder: ? or %s
    insert_signal: str  # the 15 values of `signal_params`; touches 0 rows for a known id
    insert_event: str  # event_id, event_type, signal_id, payload, created_at, next_attempt_at,
    # traceparent
    record_outcome: str  # outcome, exit_price, profit_loss_pct, closed_at, signal_id
    record_execution: str  # order_id, fill_price, executed_at, signal_id
    signals_with_ids: str  # [ids]
    notify: str  # run inside each writing transaction that added events ("" for none)


SIGNAL_COLUMNS = (
    "signal_id, symbol, action, entry_price, target_price, stop_price, confidence, strategy, "
    "asset_type, data_source, timestamp, sha256, reasoning, regime, created_at"
)
"""The columns `StoredSignal.from_row` reads, for a SELECT."""
TRADES = (
    "SELECT signal_id, symbol, action, fill_price, executed_at, profit_loss_pct, closed_at"
    " FROM signals WHERE order_id IS NOT NULL ORDER BY id"
)
"""The traded signals (walks idx_signals_executed), for `trade_from_row`; both dialects."""
OPEN_SIGNALS = f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE outcome IS NULL ORDER BY id"
OUTBOX_BACKLOG = (
    "SELECT count(*) AS n, min(created_at) AS oldest FROM sync_outbox"
    " WHERE delivered_at IS NULL AND dead_at IS NULL"
)
"""Undelivered, not-dead outbox events: how many and the oldest one's time; both dialects."""


def write_queries(mark: str, in_ids: str, notify: str) -> WriteQueries:
    """The writes in the dialect whose placeholder is `mark` (`in_ids`: its membership test
    of a list parameter)."""
    return WriteQueries(
        mark=mark,
        insert_signal=f"""
INSERT INTO signals (
    signal_id, symbol, action, entry_price, target_price, stop_price, confidence,
    strategy, asset_type, data_source, timestamp, sha256, created_at, reasoning, regime
) VALUES ({", ".join([mark] * 15)})
ON CONFLICT (signal_id) DO NOTHING
""",
        insert_event=(
            "INSERT INTO sync_outbox"
            " (event_id, event_type, signal_id, payload, created_at, next_attempt_at,"
            " traceparent)"
            f" VALUES ({', '.join([mark] * 7)})"
        ),
        record_outcome=(
            f"UPDATE signals SET outcome = {mark}, exit_price = {mark},"
            f" profit_loss_pct = {mark}, closed_at = {mark}"
            f" WHERE signal_id = {mark} AND outcome IS NULL"
        ),
        record_execution=(
            f"UPDATE signals SET order_id = {mark}, fill_price = {mark}, executed_at = {mark}"
            f" WHERE signal_id = {mark} AND order_id IS NULL"
        ),
        signals_with_ids=f"SELECT {SIGNAL_COLUMNS} FROM signals WHERE signal_id {in_ids}",
        notify=notify,
    )


AGGREGATES = (
    "count(*) AS signals, count(outcome) AS closed,"
    " count(*) FILTER (WHERE outcome = 'win') AS wins,"
    " count(*) FILTER (WHERE outcome = 'loss') AS losses,"
    " count(*) FILTER (WHERE outcome = 'expired') AS expired,"
    " sum(profit_loss_pct) AS profit_loss_pct_sum"
)
"""The counts `argo.reports.stats.Counts.from_row` reads; the same text in both dialects."""

_CREATED = EventType.SIGNAL_CREATED.value


def outcome_groups(mark: str, collate: str = "") -> str:
    """Counts per (symbol, strategy) from `since` (placeholder `mark`), sorted by bytes."""
    return (
        f"SELECT symbol, strategy, {AGGREGATES} FROM signals WHERE timestamp >= {mark}"
        f" GROUP BY symbol, strategy ORDER BY symbol{collate}, strategy{collate}"
    )


def outcome_bands(mark: str) -> str:
    """Counts per confidence band (index into argo.reports.reliability.BANDS) from `since`."""
    cases = " ".join(f"WHEN confidence < {high!r} THEN {i}" for i, (_, high) in enumerate(BANDS))
    return (
        f"SELECT CASE {cases} ELSE {len(BANDS) - 1} END AS band, {AGGREGATES}"
        f" FROM signals WHERE timestamp >= {mark} GROUP BY band"
    )


def committed(where: str, any_of: str) -> str:
    """Each signal with how far its creation got; `any_of` is the dialect's boolean
    aggregate (max on SQLite, bool_or on PostgreSQL). A signal with no creation row left
    was delivered (`relay prune` deletes only delivered rows): `events` is 0, and the
    null row of the outer join counts as neither delivered nor pending."""
    return f"""
SELECT s.signal_id, s.sha256, count(o.id) AS events,
       {any_of}(o.delivered_at IS NOT NULL) AS delivered,
       {any_of}(o.id IS NOT NULL AND o.delivered_at IS NULL AND o.dead_at IS NULL) AS pending
FROM signals AS s
LEFT JOIN sync_outbox AS o ON o.signal_id = s.signal_id AND o.event_type = '{_CREATED}'
WHERE {where}
GROUP BY s.signal_id, s.sha256
"""


def fills(in_ids: str) -> str:
    """The traded signals among the ids (`in_ids`: the dialect's membership test)."""
    return (
        "SELECT signal_id, order_id, symbol, action, fill_price, executed_at FROM signals"
        " WHERE order_id IS NOT NULL AND fill_price IS NOT NULL AND executed_at IS NOT NULL"
        f" AND signal_id {in_ids} ORDER BY id"
    )


_IN_IDS = "IN (SELECT value FROM json_each(?))"

SQLITE = Queries(
    outcome_groups=outcome_groups("?"),
    outcome_bands=outcome_bands("?"),
    committed_window=committed("s.timestamp >= ? AND s.timestamp < ?", "max"),
    committed_ids=committed(f"s.signal_id {_IN_IDS}", "max"),
    # The outcome's own time: the column, or (for outcomes recorded before it existed) the
    # latest outcome event's payload.
    closed=f"""
SELECT s.signal_id, s.outcome, s.exit_price, s.profit_loss_pct,
       coalesce(s.closed_at, (
           SELECT json_extract(e.payload, '$.closed_at') FROM sync_outbox AS e
           WHERE e.signal_id = s.signal_id AND e.event_type = 'signal.outcome'
           ORDER BY e.id DESC LIMIT 1)) AS closed_at
FROM signals AS s WHERE s.outcome IS NOT NULL AND s.signal_id {_IN_IDS} ORDER BY s.id
""",
    fills=fills(_IN_IDS),
    recorded="SELECT sha256, outcome, exit_price, order_id, fill_price FROM signals"
    " WHERE signal_id = ?",
    signal_ids="SELECT signal_id FROM signals",
)
SQLITE_WRITES = write_queries("?", _IN_IDS, notify="")
