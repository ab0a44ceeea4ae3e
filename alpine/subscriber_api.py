"""The subscriber side: pages and a live stream of the signals a tier may see.

Bearer tokens identify subscribers (401 when missing, unknown or revoked); each
token has its own rate limit (429 + Retry-After).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope, Send

from alpine.feed import Feed, FeedEvent
from alpine.livefeed import LiveFeed, event_text, pages
from alpine.openapi import ERROR_BODY
from alpine.positions import CursorError, Position, parse_cursor, stale_reason
from alpine.ratelimit import Limiter
from alpine.sse import SseStream
from alpine.subscriber_store import Subscriber, SubscriberStore
from alpine.tiers import Tier
from alpine.timestamps import parse_timestamp

_AUTH = {"WWW-Authenticate": 'Bearer realm="alpine"'}
_DOC: dict[int | str, dict[str, Any]] = {
    401: {"description": "no, unknown or revoked bearer token", **ERROR_BODY},
    409: {"description": "the cursor is of another epoch, or beyond the feed", **ERROR_BODY},
    422: {"description": "a query parameter is invalid", **ERROR_BODY},
    429: {"description": "rate limited; see Retry-After", **ERROR_BODY},
}


STREAM_PATH = "/api/v1/signals/stream"
AFTER_MAX = 200  # characters of `after=`, as the documented handler declares
AFTER_TOO_LONG = (  # FastAPI's 422 for it, as alpine/app.py words it
    f"invalid request: query.after: String should have at most {AFTER_MAX} characters"
)

# A stream id of the clock-windowed feed before positions (`start.end.row`): resumed
# after that row's signal, so a stream open across the upgrade carries on.
_LEGACY_EVENT_ID = re.compile(r"\d+\.\d+\.(\d+)")


def encode_page_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"b:{seq}".encode()).decode().rstrip("=")


def decode_page_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, value = text.split(":", 1)
        if kind != "b":
            raise ValueError(kind)
        return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise HTTPException(422, "cursor is not one this API returned") from exc


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
            (STREAM_PATH, self.stream),
        ):
            app.add_api_route(path, handler, methods=["GET"], responses=_DOC, tags=["subscribers"])
        # `stream` documents the route (OpenAPI); `serve_stream`, a plain ASGI callable,
        # answers it: no request/response objects, reader task or queue per stream.
        [route] = [r for r in app.router.routes if getattr(r, "path", None) == STREAM_PATH]
        assert isinstance(route, APIRoute)
        route.app = self.serve_stream

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

        def read() -> tuple[str, list[tuple[FeedEvent, int]]]:
            until = self._feed.frontier(tier, self._feed.head(), datetime.now(UTC))
            found = self._feed.page(
                tier,
                until,
                symbol=symbol.upper() if symbol else None,
                since=since_at,
                before=before,
                limit=limit,
            )
            return self._feed.epoch(), found

        epoch, items = await run_in_threadpool(read)
        next_cursor = encode_page_cursor(items[-1][0].seq) if len(items) == limit else None
        return JSONResponse(
            {
                "signals": [event.item(prev, epoch) for event, prev in items],
                "next_cursor": next_cursor,
            }
        )

    async def _forward(self, request: Request, after: str, limit: int) -> JSONResponse:
        """The tier's events after a feed position, oldest first (`after=`)."""
        _, tier = await self._tier(request)

        def read() -> dict[str, Any]:
            epoch, head = self._feed.epoch(), self._feed.head()
            position = self._position(after, epoch, head)
            until = self._feed.frontier(tier, head, datetime.now(UTC))
            events = self._feed.window(tier, position.seq, until, limit)
            prev = self._feed.previous(tier, position.seq) if events else 0
            items = [e.item(p, epoch, rec) for e, p, rec in self._feed.linked(events, prev)]
            return {
                "events": items,
                "next_cursor": items[-1]["cursor"]
                if items
                else Position(epoch, position.seq).cursor,
                "caught_up": len(items) < limit,
                "epoch": epoch,
            }

        return JSONResponse(await run_in_threadpool(read))

    def _position(self, cursor: str, epoch: str, head: int) -> Position:
        """The position `cursor` names on this feed; 422 or 409 when there is none."""
        try:
            position = parse_cursor(cursor, epoch)
        except CursorError as exc:
            legacy = _LEGACY_EVENT_ID.fullmatch(cursor)
            seq = self._feed.signal_position(int(legacy.group(1))) if legacy else None
            if seq is None:
                raise HTTPException(422, str(exc)) from exc
            position = Position(epoch, seq)
        reason = stale_reason(position, epoch, head)
        if reason is not None:
            raise HTTPException(409, reason)
        return position

    async def subscribed(
        self,
        request: Request,
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
    ) -> JSONResponse:
        """The signals your tier may see, most recently stored first."""
        return await self._page(request, None, None, limit, cursor)

    async def search(
        self,
        request: Request,
        symbol: str | None = Query(None, max_length=21),
        since: str | None = Query(None, description="RFC 3339 with an offset"),
        limit: int = Query(50, ge=1, le=500),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
        after: str | None = Query(
            None,
            max_length=200,
            description="a feed cursor, or `start`: your tier's events after it, oldest"
            " first, with positions (the way to read the whole feed and fill gaps)",
        ),
    ) -> JSONResponse:
        """Newest first, filtered by symbol and signal time; or, with `after=`, every
        event of your tier in feed order after a position."""
        if after is not None:
            if symbol or since or cursor:
                raise HTTPException(
                    422,
                    "after= reads the whole feed in order: use it without symbol, since or cursor",
                )
            return await self._forward(request, after, limit)
        return await self._page(request, symbol, since, limit, cursor)

    async def stream(
        self,
        request: Request,
        after: str | None = Query(
            None, max_length=AFTER_MAX, description="a feed cursor, as Last-Event-ID (which wins)"
        ),
    ) -> StreamingResponse:
        """Server-sent events: each event of your tier as it is released, in feed order.

        Resume with Last-Event-ID (or `after=`): nothing is repeated or skipped, on any
        worker. A cursor of another epoch answers 409. A `: heartbeat` comment keeps
        idle connections open.
        """
        raise NotImplementedError("documentation only: serve_stream answers this route")

    async def serve_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """`GET /api/v1/signals/stream` as a plain ASGI app (see `stream`). Errors before
        the response starts are HTTPExceptions, answered by the app's handlers."""
        request = Request(scope)
        after = request.query_params.get("after")
        if after is not None and len(after) > AFTER_MAX:
            raise HTTPException(422, AFTER_TOO_LONG)
        tier = (await self._tier(request))[1]  # held for the stream's life: no more
        cursor = request.headers.get("last-event-id") or after
        del request
        resume: Position | None = None
        epoch = await run_in_threadpool(self._feed.epoch)
        if cursor:
            head = await run_in_threadpool(self._feed.head)
            resume = await run_in_threadpool(self._position, cursor, epoch, head)
        stream = SseStream(send)
        position = await self._live.subscribe(tier, stream)  # before the first byte: a
        try:  # client that reads pages once the stream answers misses nothing in between
            await stream.start()
            await stream.write(b"retry: 2000\n\n")
            last = position
            if resume is not None:
                last = resume.seq
                async for chunk in self._catch_up(tier, resume.seq, position, epoch):
                    await stream.write(chunk.encode())
                last = max(last, position)
            stream.last = last
            await stream.flush()  # what arrived meanwhile; from now on the feed writes
            await stream.until_closed(receive)
        finally:
            self._live.unsubscribe(tier, stream)
            await stream.close()

    async def _catch_up(self, tier: Tier, after: int, until: int, epoch: str) -> AsyncIterator[str]:
        """The tier's events in (after, until]: what the stream missed, page by page."""
        prev = await run_in_threadpool(self._feed.previous, tier, after)
        reader = pages(self._feed, tier, after, until)
        while (events := await run_in_threadpool(next, reader, None)) is not None:
            linked = await run_in_threadpool(self._feed.linked, events, prev)
            for event, before, record in linked:
                yield event_text(event, before, epoch, record)
            prev = events[-1].seq
