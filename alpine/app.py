"""Alpine's HTTP API: ingest (Argo's side), health and metrics.

Order of checks on ingest, cheapest first and nothing stored on any failure:
API key (401) → body size (413) → signature over the raw bytes (401) →
fields (422) → hash (400) → idempotent insert (201 / 200 / 409, or 503).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError

from alpine import __version__
from alpine.auth import ApiKeys, SignatureVerifier
from alpine.canonical import verification_hash
from alpine.errors import StoreUnavailableError
from alpine.metrics import AlpineMetrics, RequestTimer
from alpine.settings import AlpineSettings
from alpine.store import InsertStatus, SignalStore, make_engine
from alpine.validation import SignalIn, describe

log = logging.getLogger("alpine")

SERVICE_NAME = "Alpine Analytics - Argo Sync"
INGEST_PATH = "/api/v1/argo/sync/signal"
INGEST_ALIAS = "/api/v1/external-signals/sync/signal"

_STATUS_CODES = {InsertStatus.CREATED: 201, InsertStatus.DUPLICATE: 200, InsertStatus.CONFLICT: 409}
_ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_INGEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SignalIn"}}},
    },
}
_INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "identical signal already stored (`status: duplicate`)"},
    201: {"description": "created"},
    400: {"description": "sha256 does not match the fields", **_ERROR},
    401: {"description": "API key or signature missing or wrong", **_ERROR},
    409: {"description": "same signal_id or sha256 stored with other content", **_ERROR},
    413: {"description": "body larger than ALPINE_MAX_BODY_BYTES", **_ERROR},
    422: {"description": "body is not JSON or a field is invalid", **_ERROR},
    503: {"description": "database unavailable; retry", **_ERROR},
}


class IngestGuard:
    """The request checks before a signal may reach the store."""

    def __init__(self, settings: AlpineSettings, metrics: AlpineMetrics) -> None:
        self._keys = ApiKeys.of(settings.api_keys)
        self._verifier = (
            SignatureVerifier(settings.signing_secret) if settings.signing_secret else None
        )
        self._max_body = settings.max_body_bytes
        self._metrics = metrics

    def authenticate(self, request: Request) -> str:
        """The id of the presented API key, or 401."""
        raw = request.headers.get("x-api-key")
        key_id = self._keys.identify(raw.encode("latin-1") if raw is not None else None)
        if key_id is None:
            reason = "missing_key" if not raw else "bad_key"
            self._metrics.auth_failures.labels(reason).inc()
            raise HTTPException(401, "missing or invalid X-API-Key")
        return key_id

    async def read_body(self, request: Request) -> bytes:
        """The raw body, or 413 as soon as it exceeds the cap (declared or streamed)."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_body:
            raise HTTPException(413, f"body larger than {self._max_body} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self._max_body:
                raise HTTPException(413, f"body larger than {self._max_body} bytes")
        return bytes(body)

    def verify_signature(self, body: bytes, request: Request) -> None:
        """401 unless the Standard Webhooks signature is good (when a secret is set)."""
        if self._verifier is None:
            return
        problem = self._verifier.verify(body, request.headers)
        if problem is not None:
            self._metrics.auth_failures.labels("bad_signature").inc()
            raise HTTPException(401, f"bad webhook signature: {problem}")

    def parse(self, body: bytes) -> SignalIn:
        """The validated signal, or 422 naming the bad fields; 400 on a hash mismatch."""
        try:
            signal = SignalIn.model_validate_json(body)
        except ValidationError as exc:
            self._metrics.signals_received.labels("invalid").inc()
            raise HTTPException(422, f"invalid signal: {describe(exc)}") from exc
        expected = verification_hash(signal.model_dump())
        if expected != signal.sha256:
            self._metrics.signals_received.labels("hash_mismatch").inc()
            raise HTTPException(400, "sha256 does not match the signal's fields")
        return signal


def create_app(settings: AlpineSettings, store: SignalStore | None = None) -> FastAPI:
    """The Alpine ASGI app; `store` defaults to one on settings.database_url."""
    store = store or SignalStore(make_engine(settings.database_url))
    metrics = AlpineMetrics()
    guard = IngestGuard(settings, metrics)
    app = FastAPI(title=SERVICE_NAME, version=__version__)
    app.state.store = store
    app.state.metrics = metrics
    app.add_middleware(RequestTimer, metrics=metrics)

    @app.exception_handler(StoreUnavailableError)
    async def _unavailable(request: Request, exc: StoreUnavailableError) -> JSONResponse:
        log.error("database unavailable: %s", exc, extra={"event": "store_unavailable"})
        return JSONResponse({"detail": "database unavailable; retry later"}, status_code=503)

    async def ingest_signal(request: Request) -> JSONResponse:
        """Store one signal idempotently (see the responses for each outcome)."""
        key_id = guard.authenticate(request)
        body = await guard.read_body(request)
        guard.verify_signature(body, request)
        signal = guard.parse(body)
        result = await run_in_threadpool(store.insert, signal, key_id)
        metrics.signals_received.labels(result.status.value).inc()
        if result.status is InsertStatus.CONFLICT:
            raise HTTPException(409, result.detail)
        return JSONResponse(
            {
                "status": result.status.value,
                "alpine_signal_id": result.alpine_signal_id,
                "argo_signal_id": signal.signal_id,
            },
            status_code=_STATUS_CODES[result.status],
        )

    for path, name in ((INGEST_PATH, "ingest_signal"), (INGEST_ALIAS, "ingest_signal_alias")):
        app.add_api_route(
            path,
            ingest_signal,
            methods=["POST"],
            name=name,
            status_code=201,
            responses=_INGEST_RESPONSES,
            openapi_extra=_INGEST_DOC,
            tags=["ingest"],
        )

    @app.get("/api/v1/argo/sync/health", tags=["ingest"])
    async def health() -> JSONResponse:
        """200 while the database answers, 503 otherwise."""
        try:
            await run_in_threadpool(store.ping)
        except StoreUnavailableError:
            return JSONResponse(
                {"status": "unhealthy", "service": SERVICE_NAME, "detail": "database unavailable"},
                status_code=503,
            )
        return JSONResponse({"status": "healthy", "service": SERVICE_NAME, "endpoint": INGEST_PATH})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    _document_schemas(app)
    return app


def _document_schemas(app: FastAPI) -> None:
    """Add SignalIn and Error to the OpenAPI components (the ingest body is read raw)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["SignalIn"] = SignalIn.model_json_schema(
                ref_template="#/components/schemas/{model}"
            )
            components["Error"] = {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
