"""Alpine's ASGI app: the ingest API, metrics, and the error answers they share.

The execution endpoint (alpine/executions.py) shares the ingest guard. Order of checks on
ingest, cheapest first and nothing stored on any failure:
API key (401) → rate limit (429) → body size (413) → signature over the raw bytes
(401) → fields (422) → hash (400) → idempotent insert (201 / 200 / 409, or 503).
"""

from __future__ import annotations

import gc
import logging
import os
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from alpine import __version__
from alpine.errors import StoreUnavailableError
from alpine.execution_store import ExecutionStore
from alpine.executions import ExecutionApi
from alpine.feed import Feed
from alpine.guard import IngestGuard
from alpine.ingest import SERVICE_NAME, IngestApi
from alpine.livefeed import LiveFeed
from alpine.metrics import AlpineMetrics, RequestTimer
from alpine.openapi import document_schemas
from alpine.rate_store import make_limiter
from alpine.receipt_issuer import ReceiptIssuer, register_keys
from alpine.record import RecordSealer, register_head
from alpine.settings import AlpineSettings
from alpine.settings_load import settings_from_env
from alpine.store import SignalStore, make_engine
from alpine.subscriber_api import SubscriberApi
from alpine.subscriber_store import SubscriberStore
from alpine.tiers import load_tiers
from alpine.tracing import configure as configure_tracing
from alpine.webapp import mount_webapp

log = logging.getLogger("alpine")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """Any other exception: JSON with an id that is also in the log, never plain text."""
    error_id = "err_" + secrets.token_hex(8)
    log.error(
        "unexpected error %s on %s %s",
        error_id,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"event": "unexpected_error", "error_id": error_id},
    )
    return JSONResponse(
        {"detail": f"internal error; quote {error_id} when reporting it", "error_id": error_id},
        status_code=500,
    )


def create_app(settings: AlpineSettings, store: SignalStore | None = None) -> FastAPI:
    """The Alpine ASGI app; `store` defaults to one on settings.database_url."""
    store = store or SignalStore(make_engine(settings.database_url), settings.late_after_seconds)
    metrics = AlpineMetrics()
    metrics.watch(store.engine)
    app = FastAPI(title=SERVICE_NAME, version=__version__)
    app.state.store = store
    app.add_middleware(RequestTimer, metrics=metrics)
    app.add_exception_handler(StoreUnavailableError, _store_unavailable)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(Exception, _unexpected)
    guard = IngestGuard(
        settings, metrics, make_limiter(store.engine, settings.rate_limit, settings.rate_burst)
    )
    sealer = RecordSealer(store.engine, settings.receipt_key) if settings.receipt_key else None
    app.state.sealer = sealer  # None without a receipt key; close() it before disposing
    receipts = ReceiptIssuer(
        store.engine, settings.receipt_key, settings.receipt_retired_keys, sealer
    )
    tracing = configure_tracing("alpine", os.environ)  # OFF unless OTEL_* ask for OTLP
    IngestApi(store, guard, metrics, receipts, tracing).register(app)
    ExecutionApi(ExecutionStore(store.engine), guard, metrics, receipts).register(app)
    register_keys(app, receipts)
    register_head(app, store.engine, sealer)
    feed, tiers = Feed(store.engine, sealer), load_tiers(settings.tiers_file)
    postgres = store.engine.dialect.name == "postgresql"
    SubscriberApi(
        feed,
        LiveFeed(
            feed,
            tiers,
            store.engine.url if postgres else None,
            settings.stream_heartbeat_seconds,
            tracing=tracing,
        ),
        SubscriberStore(store.engine),
        tiers,
        make_limiter(store.engine, settings.subscriber_rate, settings.subscriber_burst),
    ).register(app)

    async def prometheus_metrics() -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", prometheus_metrics, methods=["GET"], include_in_schema=False)
    mount_webapp(app)
    document_schemas(app)
    return app


def app_from_env() -> FastAPI:
    """The app of one `alpine serve --workers N` worker, from the environment."""
    logging.basicConfig(level=logging.WARNING, format=LOG_FORMAT)
    return freeze_startup(create_app(settings_from_env()))


def freeze_startup(app: FastAPI) -> FastAPI:
    """Exempt everything built so far from garbage collection.

    The modules and the app are ~100k objects that live for ever; a full collection
    scanned them all and paused every live stream for 100-150 ms at 1,000 streams.
    """
    gc.collect()
    gc.freeze()
    return app
