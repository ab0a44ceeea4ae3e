"""Alpine's ASGI app: the ingest API, metrics, and the error answers they share.

Order of checks on ingest, cheapest first and nothing stored on any failure:
API key (401) → rate limit (429) → body size (413) → signature over the raw bytes
(401) → fields (422) → hash (400) → idempotent insert (201 / 200 / 409, or 503).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from alpine import __version__
from alpine.errors import StoreUnavailableError
from alpine.feed import Feed
from alpine.guard import IngestGuard
from alpine.ingest import SERVICE_NAME, IngestApi
from alpine.metrics import AlpineMetrics, RequestTimer
from alpine.openapi import document_schemas
from alpine.ratelimit import RateLimiter
from alpine.settings import AlpineSettings
from alpine.store import SignalStore, make_engine
from alpine.subscriber_api import SubscriberApi
from alpine.subscriber_store import SubscriberStore
from alpine.tiers import load_tiers
from alpine.webapp import mount_webapp

log = logging.getLogger("alpine")


async def _store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    log.error("database unavailable: %s", exc, extra={"event": "store_unavailable"})
    return JSONResponse(
        {"detail": "database unavailable; retry later"},
        status_code=503,
        headers={"Retry-After": "1"},
    )


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's own 422 (query parameters) with a readable string `detail`, as everywhere."""
    assert isinstance(exc, RequestValidationError)
    parts = [
        f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
        for error in exc.errors()
    ]
    return JSONResponse({"detail": "invalid request: " + "; ".join(parts[:10])}, status_code=422)


def create_app(settings: AlpineSettings, store: SignalStore | None = None) -> FastAPI:
    """The Alpine ASGI app; `store` defaults to one on settings.database_url."""
    store = store or SignalStore(make_engine(settings.database_url))
    metrics = AlpineMetrics()
    app = FastAPI(title=SERVICE_NAME, version=__version__)
    app.state.store = store
    app.add_middleware(RequestTimer, metrics=metrics)
    app.add_exception_handler(StoreUnavailableError, _store_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    IngestApi(store, IngestGuard(settings, metrics), metrics).register(app)
    SubscriberApi(
        Feed(store.engine),
        SubscriberStore(store.engine),
        load_tiers(settings.tiers_file),
        RateLimiter(settings.subscriber_rate, settings.subscriber_burst),
        settings.stream_heartbeat_seconds,
    ).register(app)

    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False)
    mount_webapp(app)
    document_schemas(app)
    return app
