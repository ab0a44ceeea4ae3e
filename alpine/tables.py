"""SQLAlchemy Core description of Alpine's tables (the DDL itself lives in schema/alpine/)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator, TypeEngine


class UtcTimestamp(TypeDecorator[datetime]):
    """timestamptz on PostgreSQL; ISO-8601 `Z` text on SQLite. Always aware UTC in Python."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(Text())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None or dialect.name != "sqlite":
            return value
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)


metadata = MetaData()

signals = Table(
    "signals",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("signal_id", Text, nullable=False, unique=True),
    Column("verification_hash", Text, nullable=False, unique=True),
    Column("symbol", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("entry_price", Float, nullable=False),
    Column("target_price", Float, nullable=False),
    Column("stop_price", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("strategy", Text, nullable=False),
    Column("asset_type", Text, nullable=False),
    Column("data_source", Text, nullable=False),
    Column("timestamp", UtcTimestamp, nullable=False),
    Column("reasoning", Text),
    Column("regime", Text),
    Column("outcome", Text),
    Column("exit_price", Float),
    Column("profit_loss_pct", Float),
    Column("closed_at", UtcTimestamp),
    # the signal.executed event: the broker's order id, fill price and time (all or none)
    Column("order_id", Text),
    Column("executed_at", UtcTimestamp),
    Column("fill_price", Float),
    Column("api_key_id", Text, nullable=False),
    Column("received_at", UtcTimestamp),
    # received more than late_after_seconds after its timestamp (decided at ingest)
    Column("late", Boolean, nullable=False, default=False),
    # the W3C trace context of the ingest span that stored it (OTEL_* tracing on)
    Column("ingest_traceparent", Text),
)

# The feed (schema/alpine/*/..._feed.sql): one event per stored signal, outcome and
# execution, at positions 1, 2, 3, ... in commit order; the positions are taken from
# feed_head by triggers, never by Python code.
feed_events = Table(
    "feed_events",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("signal_row", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("kind", Text, nullable=False),  # signal | outcome | execution
    Column("stored_at", UtcTimestamp, nullable=False),
)

feed_head = Table(
    "feed_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("epoch", Text, nullable=False),  # a random token; a new one means history changed
)

# The published record (schema/alpine/*/..._record.sql): a signed hash-chain entry for each
# feed event, sealed in feed order by alpine/record.py.
record_head = Table(
    "record_head",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
    Column("hash", Text, nullable=False),
)

record_entries = Table(
    "record_entries",
    metadata,
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("commitment", Text, nullable=False),
    Column("nonce", Text, nullable=False),
    Column("hash", Text, nullable=False),
    Column("kid", Text, nullable=False),
    Column("sig", Text, nullable=False),
    Column("sealed_at", UtcTimestamp, nullable=False),
)
