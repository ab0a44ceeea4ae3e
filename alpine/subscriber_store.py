"""Subscribers and their bearer tokens (the seam to the `subscribers` table)."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, select, update
from sqlalchemy.exc import IntegrityError

from alpine.tables import UtcTimestamp
from alpine.tiers import TIER_NAMES

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")

subscribers = Table(
    "subscribers",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", Text, nullable=False),
    Column("tier", Text, nullable=False),
    Column("token_hash", Text, nullable=False),
    Column("created_at", UtcTimestamp),
    Column("revoked_at", UtcTimestamp),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    name: str
    tier: str
    created_at: datetime | None
    revoked_at: datetime | None


class SubscriberError(ValueError):
    """A subscriber command cannot be done (bad name or tier, duplicate, unknown)."""


class SubscriberStore:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, name: str, tier: str) -> str:
        """Create a subscriber; return its bearer token (shown once, only its hash is kept)."""
        if not _NAME.match(name):
            raise SubscriberError(f"name {name!r}: use letters, digits, _ . @ - (max 64)")
        if tier not in TIER_NAMES:
            raise SubscriberError(f"tier {tier!r}: use one of {', '.join(TIER_NAMES)}")
        token = "sub_" + secrets.token_urlsafe(32)
        values = {"name": name, "tier": tier, "token_hash": token_hash(token)}
        if self._engine.dialect.name == "sqlite":
            values["created_at"] = datetime.now(UTC)  # type: ignore[assignment]
        try:
            with self._engine.begin() as conn:
                conn.execute(subscribers.insert().values(**values))
        except IntegrityError as exc:
            raise SubscriberError(f"a subscriber named {name!r} exists") from exc
        return token

    def list(self) -> list[Subscriber]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(subscribers).order_by(subscribers.c.name)).all()
        return [Subscriber(r.id, r.name, r.tier, r.created_at, r.revoked_at) for r in rows]

    def revoke(self, name: str) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(
                update(subscribers)
                .where(subscribers.c.name == name, subscribers.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC))
            ).rowcount
        if not done:
            raise SubscriberError(f"no active subscriber named {name!r}")

    def authenticate(self, token: str) -> Subscriber | None:
        """The active subscriber holding `token`, else None (revocation takes effect at once)."""
        with self._engine.connect() as conn:
            row = conn.execute(
                select(subscribers).where(
                    subscribers.c.token_hash == token_hash(token),
                    subscribers.c.revoked_at.is_(None),
                )
            ).first()
        return (
            Subscriber(row.id, row.name, row.tier, row.created_at, row.revoked_at) if row else None
        )
