"""`GET /api/v1/me`: whose bearer token this is and what its tier sees (for the web app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from alpine.openapi import ERROR_BODY
from alpine.subscriber_store import SubscriberStore
from alpine.tiers import Tier

_AUTH = {"WWW-Authenticate": 'Bearer realm="alpine"'}
_DOC: dict[int | str, dict[str, Any]] = {
    401: {"description": "no, unknown or revoked bearer token", **ERROR_BODY},
}


class TierOut(BaseModel):
    name: str
    asset_types: list[str]
    min_confidence: float
    delay_seconds: float
    fields: list[str]


class MeOut(BaseModel):
    subscriber: str
    tier: TierOut


class MeApi:
    """The caller's subscriber name and tier rules; `register` mounts the route."""

    def __init__(self, subscribers: SubscriberStore, tiers: Mapping[str, Tier]) -> None:
        self._subscribers = subscribers
        self._tiers = tiers

    def register(self, app: FastAPI) -> None:
        app.add_api_route(
            "/api/v1/me",
            self.me,
            methods=["GET"],
            response_model=MeOut,
            responses=_DOC,
            tags=["subscribers"],
        )

    async def me(self, request: Request) -> MeOut:
        """Your subscriber name and your tier: what you see, how late, with which fields."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "missing bearer token", _AUTH)
        subscriber = await run_in_threadpool(self._subscribers.authenticate, token.strip())
        if subscriber is None:
            raise HTTPException(401, "unknown or revoked bearer token", _AUTH)
        tier = self._tiers[subscriber.tier]
        return MeOut(
            subscriber=subscriber.name,
            tier=TierOut(
                name=tier.name,
                asset_types=sorted(tier.asset_types),
                min_confidence=tier.min_confidence,
                delay_seconds=tier.delay.total_seconds(),
                fields=sorted(tier.fields),
            ),
        )
