"""The subscriber side: pages and a live stream of the signals a tier may see.

Bearer tokens identify subscribers (401 when missing, unknown or revoked); each
token has its own rate limit (429 + Retry-After).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse

from alpine.feed import Feed
from alpine.livefeed import LiveFeed, Subscription, event_text, read_window
from alpine.openapi import ERROR_BODY
from alpine.ratelimit import Limiter
from alpine.subscriber_store import Subscriber, SubscriberStore
from alpine.tiers import Tier
from alpine.timestamps import parse_timestamp

_AUTH = {"WWW-Authenticate": 'Bearer realm="alpine"'}
_DOC: dict[int | str, dict[str, Any]] = {
    401: {"description": "no, unknown or revoked bearer token", **ERROR_BODY},
    422: {"description": "a query parameter is invalid", **ERROR_BODY},
    429: {"description": "rate limited; see Retry-After", **ERROR_BODY},
}


def _moment(micros: int) -> datetime:
    return datetime.fromtimestamp(micros / 1_000_000, UTC)


def encode_page_cursor(row_id: int) -> str:
    return base64.urlsafe_b64encode(f"p:{row_id}".encode()).decode().rstrip("=")


def decode_page_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = text.split(":", 1)
        if kind != "p":
            raise ValueError(kind)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(422, "cursor is not one this API returned") from exc


def parse_event_id(value: str) -> tuple[datetime, datetime, int] | None:
    """`start.end.id` (microseconds, microseconds, row id) from Last-Event-ID."""
    try:
        start, end, row_id = (int(part) for part in value.split("."))
    except ValueError:
        return None
    return _moment(start), _moment(end), row_id


class SubscriberApi:
    """Route handlers for subscribers; `register` mounts them."""

    def __init__(
        self,
        feed: Feed,
        live: LiveFeed,
        subscribers: SubscriberStore,
        tiers: dict[str, Tier],
        limiter: Limiter,
    ) -> None:
        self._feed = feed
        self._live = live
        self._subscribers = subscribers
        self._tiers = tiers
        self._limiter = limiter

    def register(self, app: FastAPI) -> None:
        for path, handler in (
            ("/api/v1/signals/subscribed", self.subscribed),
            ("/api/v1/signals", self.search),
            ("/api/v1/signals/stream", self.stream),
        ):
            app.add_api_route(path, handler, methods=["GET"], responses=_DOC, tags=["subscribers"])

    async def _tier(self, request: Request) -> tuple[Subscriber, Tier]:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise HTTPException(401, "missing bearer token", _AUTH)
        subscriber = await run_in_threadpool(self._subscribers.authenticate, token.strip())
        if subscriber is None:
            raise HTTPException(401, "unknown or revoked bearer token", _AUTH)
        wait = (
            await run_in_threadpool(self._limiter.retry_after, f"sub:{subscriber.id}")
            if self._limiter.enabled
            else None
        )
        if wait is not None:
            raise HTTPException(429, "rate limit exceeded; retry later", {"Retry-After": str(wait)})
        return subscriber, self._tiers[subscriber.tier]

    async def _page(
        self,
        request: Request,
        symbol: str | None,
        since: str | None,
        limit: int,
        cursor: str | None,
    ) -> JSONResponse:
        _, tier = await self._tier(request)
        try:
            since_at = parse_timestamp(since) if since else None
        except ValueError as exc:
            raise HTTPException(422, f"since: {exc}") from exc
        before = decode_page_cursor(cursor) if cursor else None
        items = await run_in_threadpool(
            lambda: self._feed.page(
                tier,
                datetime.now(UTC),
                symbol=symbol.upper() if symbol else None,
                since=since_at,
                before_id=before,
                limit=limit,
            )
        )
        next_cursor = encode_page_cursor(items[-1].id) if len(items) == limit else None
        return JSONResponse({"signals": [i.body for i in items], "next_cursor": next_cursor})

    async def subscribed(
        self,
        request: Request,
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> JSONResponse:
        """The signals your tier may see, most recently received first."""
        return await self._page(request, None, None, limit, cursor)

    async def search(
        self,
        request: Request,
        symbol: str | None = Query(None, max_length=21),
        since: str | None = Query(None, description="RFC 3339 with an offset"),
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> JSONResponse:
        """The same, filtered by symbol and signal time, with cursor pagination."""
        return await self._page(request, symbol, since, limit, cursor)

    async def stream(self, request: Request) -> StreamingResponse:
        """Server-sent events: each signal as it becomes visible to your tier.

        Resume with Last-Event-ID; a `: heartbeat` comment keeps idle connections open.
        """
        _, tier = await self._tier(request)
        resume = parse_event_id(request.headers.get("last-event-id", ""))
        return StreamingResponse(
            self._events(request, tier, resume),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _events(
        self, request: Request, tier: Tier, resume: tuple[datetime, datetime, int] | None
    ) -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        subscription = await self._subscribe(tier, resume)
        try:
            if resume is not None:
                async for chunk in self._catch_up(tier, resume, subscription.position):
                    yield chunk
            while not (subscription.overflowed and subscription.queue.empty()):
                yield (await subscription.queue.get()).text
        finally:
            self._live.unsubscribe(subscription)

    async def _subscribe(
        self, tier: Tier, resume: tuple[datetime, datetime, int] | None
    ) -> Subscription:
        """Join the live feed where it is, or where `resume` ends if that is later."""
        if resume is not None:
            try:
                return await self._live.subscribe(tier, at_least=resume[1])
            except TimeoutError:
                pass  # a position this feed does not reach: continue from its own
        return await self._live.subscribe(tier)

    async def _catch_up(
        self, tier: Tier, resume: tuple[datetime, datetime, int], until: datetime
    ) -> AsyncIterator[str]:
        """The rest of the resumed window, then (its end, `until`]: what the stream missed."""
        start, end, after = resume
        windows = [(start, end, after)] + ([(end, until, 0)] if until > end else [])
        for first, last, above in windows:
            items = await run_in_threadpool(read_window, self._feed, tier, first, last, above)
            for item in items:
                yield event_text(first, last, item)
