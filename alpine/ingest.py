"""Argo's side of the API: ingest one or many signals, outcomes, reconciliation, health."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from alpine.cursor import decode_cursor, encode_cursor
from alpine.errors import StoreUnavailableError
from alpine.guard import IngestGuard
from alpine.json_response import FastJSONResponse
from alpine.metrics import AlpineMetrics
from alpine.openapi import INGEST_RESPONSES, request_body
from alpine.receipt_issuer import ReceiptIssuer, StoredSignal
from alpine.spans import OFF, Kind, Span, Tracing
from alpine.store import InsertResult, InsertStatus, OutcomeStatus, SignalStore
from alpine.timestamps import parse_timestamp
from alpine.validation import OutcomeIn, SignalIn, describe

log = logging.getLogger("alpine.ingest")

SERVICE_NAME = "Alpine Analytics - Argo Sync"
INGEST_PATH = "/api/v1/argo/sync/signal"
INGEST_ALIAS = "/api/v1/external-signals/sync/signal"

_STATUS_CODES = {InsertStatus.CREATED: 201, InsertStatus.DUPLICATE: 200}
_OUTCOME_REFUSALS = {OutcomeStatus.CONFLICT: 409, OutcomeStatus.INVALID: 422}


def _responses(*codes: int, **extra: str) -> dict[int | str, dict[str, Any]]:
    chosen: dict[int | str, dict[str, Any]] = {c: INGEST_RESPONSES[c] for c in codes}
    for code, description in extra.items():
        chosen[int(code.removeprefix("s"))] = {"description": description}
    return chosen


class IngestApi:
    """Route handlers for the ingest side; `register` mounts them on an app."""

    def __init__(
        self,
        store: SignalStore,
        guard: IngestGuard,
        metrics: AlpineMetrics,
        receipts: ReceiptIssuer,
        tracing: Tracing = OFF,
    ) -> None:
        self._tracing = tracing
        self._store = store
        self._guard = guard
        self._metrics = metrics
        self._receipts = receipts

    def register(self, app: FastAPI) -> None:
        for path, name in ((INGEST_PATH, "ingest_signal"), (INGEST_ALIAS, "ingest_signal_alias")):
            app.add_api_route(
                path,
                self.ingest_signal,
                methods=["POST"],
                name=name,
                status_code=201,
                responses=INGEST_RESPONSES,
                openapi_extra=request_body("SignalIn"),
                tags=["ingest"],
            )
        app.add_api_route(
            "/api/v1/argo/sync/signals",
            self.ingest_batch,
            methods=["POST"],
            responses=_responses(401, 413, 422, 429, 503, s200="one result per item, in order"),
            openapi_extra=request_body("SignalBatchIn"),
            tags=["ingest"],
        )
        app.add_api_route(
            "/api/v1/argo/sync/outcome",
            self.ingest_outcome,
            methods=["POST"],
            responses=_responses(
                401,
                409,
                413,
                422,
                429,
                503,
                s200="applied, or the same outcome was already applied",
                s404="unknown signal_id; the sender retries later",
            ),
            openapi_extra=request_body("OutcomeIn"),
            tags=["ingest"],
        )
        app.add_api_route(
            "/api/v1/argo/sync/signals",
            self.list_hashes,
            methods=["GET"],
            responses=_responses(401, 422, 429, 503),
            tags=["ingest"],
        )
        app.add_api_route("/api/v1/argo/sync/health", self.health, methods=["GET"], tags=["ingest"])

    async def ingest_signal(self, request: Request) -> JSONResponse:
        """Store one signal idempotently (see the responses for each outcome)."""
        key_id, body = await self._guard.admit(request)
        signal = self._guard.parse_signal(body)
        if not self._tracing.on:
            return await self._store_signal(signal, key_id, None)
        span = self._ingest_span(signal, key_id, request.headers.get("traceparent"))
        status = 500
        try:
            with self._tracing.current(span):
                response = await self._store_signal(signal, key_id, span)
            status = response.status_code
            return response
        except HTTPException as exc:
            status = exc.status_code
            raise
        finally:
            span.set("http.response.status_code", status)
            span.end()

    def _ingest_span(self, signal: SignalIn, key_id: str, parent: str | None) -> Span:
        """The span of one signal's ingest: a child of the relay's send span."""
        return self._tracing.start(
            "alpine ingest signal",
            parent=parent,
            kind=Kind.SERVER,
            attributes={"alpine.signal_id": signal.signal_id, "alpine.key_id": key_id},
        )

    async def _store_signal(self, signal: SignalIn, key_id: str, span: Span | None) -> JSONResponse:
        traces = {signal.signal_id: span.traceparent} if span is not None else None
        result = await run_in_threadpool(self._store.insert, signal, key_id, traces)
        self._metrics.signals_received.labels(result.status.value).inc()
        if result.late:
            self._metrics.signals_late.inc()
        log.info(
            "signal %s",
            result.status.value,
            extra={"event": "ingest", "signal_id": signal.signal_id, "key_id": key_id},
        )
        if result.status is InsertStatus.CONFLICT:
            raise HTTPException(409, result.detail)
        if result.status is InsertStatus.INVALID:
            raise HTTPException(422, result.detail)
        answer: dict[str, Any] = {
            "status": result.status.value,
            "alpine_signal_id": result.alpine_signal_id,
            "argo_signal_id": signal.signal_id,
        }
        if self._receipts.enabled and result.alpine_signal_id is not None:
            receipts = await run_in_threadpool(
                self._receipts.for_signals,
                [result.alpine_signal_id],
                _known([signal], [result]),
            )
            answer["receipt"] = receipts.get(result.alpine_signal_id)
        return FastJSONResponse(
            answer,
            status_code=_STATUS_CODES[result.status],
            background=self._receipts.after_answer(),
        )

    async def ingest_batch(self, request: Request) -> JSONResponse:
        """Store up to 500 signals; one result per item, in order, each item on its own."""
        key_id, body = await self._guard.admit(request)
        items, parents = self._guard.parse_batch(body)
        valid = [item for item in items if isinstance(item, SignalIn)]
        spans = self._item_spans(items, parents, key_id) if self._tracing.on else {}
        traces = {signal_id: span.traceparent for signal_id, span in spans.items()} or None
        try:
            stored = (
                await run_in_threadpool(self._store.insert_many, valid, key_id, traces)
                if valid
                else []
            )
        except Exception:
            for failed in spans.values():
                failed.set("alpine.status", "error")
                failed.end()
            raise
        self._receipts.stored()
        log.info("batch of %d", len(items), extra={"event": "ingest_batch", "key_id": key_id})
        outcomes = iter(stored)
        results = [
            _item_result(item, None if isinstance(item, str) else next(outcomes)) for item in items
        ]
        for entry in results:
            done = spans.pop(entry.get("argo_signal_id", ""), None)
            if done is not None:
                done.set("alpine.status", entry["status"])
                done.end()
        if self._receipts.enabled:
            accepted = [r.alpine_signal_id for r in stored if r.status in _STATUS_CODES]
            receipts = await run_in_threadpool(
                self._receipts.for_signals,
                [i for i in accepted if i is not None],
                _known(valid, stored),
            )
            for entry in results:
                if entry["status"] in ("created", "duplicate"):
                    entry["receipt"] = receipts.get(entry["alpine_signal_id"])
        # Counted once per result kind rather than once per item: the same totals.
        for status, count in Counter(entry["status"] for entry in results).items():
            self._metrics.signals_received.labels(status).inc(count)
        late = sum(1 for outcome in stored if outcome.late)
        if late:
            self._metrics.signals_late.inc(late)
        return FastJSONResponse({"results": results})

    def _item_spans(
        self, items: list[SignalIn | str], parents: list[str], key_id: str
    ) -> dict[str, Span]:
        """An ingest span per valid item of a batch, each a child of its own send span."""
        spans: dict[str, Span] = {}
        for index, item in enumerate(items):
            if isinstance(item, SignalIn):
                span = self._ingest_span(item, key_id, parents[index] if parents else None)
                span.set("alpine.batch_size", len(items))
                spans[item.signal_id] = span
        return spans

    async def ingest_outcome(self, request: Request) -> JSONResponse:
        """Record the outcome of a stored signal."""
        _, body = await self._guard.admit(request)
        try:
            outcome = OutcomeIn.model_validate_json(body)
        except ValidationError as exc:
            raise HTTPException(422, f"invalid outcome: {describe(exc)}") from exc
        result = await run_in_threadpool(self._store.apply_outcome, outcome)
        if result.status is OutcomeStatus.UNKNOWN_SIGNAL:
            raise HTTPException(404, f"no signal {outcome.signal_id} is stored (yet)")
        if result.status in _OUTCOME_REFUSALS:
            raise HTTPException(_OUTCOME_REFUSALS[result.status], result.detail)
        answer: dict[str, Any] = {
            "status": result.status.value,
            "argo_signal_id": outcome.signal_id,
        }
        if self._receipts.enabled:
            answer["receipt"] = await run_in_threadpool(
                self._receipts.for_update, outcome.signal_id, "outcome"
            )
        return JSONResponse(answer, background=self._receipts.after_answer())

    async def list_hashes(
        self,
        request: Request,
        since: str | None = Query(None, description="RFC 3339 with an offset; inclusive"),
        until: str | None = Query(None, description="RFC 3339 with an offset; exclusive"),
        cursor: str | None = Query(None, description="next_cursor of the previous page"),
        limit: int = Query(500, ge=1, le=1000),
    ) -> JSONResponse:
        """(signal_id, sha256) pairs by signal timestamp, for reconciliation (Argo key)."""
        await self._guard.authenticate(request)
        try:
            start, end = (parse_timestamp(v) if v else None for v in (since, until))
            after = decode_cursor(cursor) if cursor else None
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from exc
        rows = await run_in_threadpool(self._store.hashes, start, end, after, limit)
        last = rows[-1] if len(rows) == limit else None
        return JSONResponse(
            {
                "signals": [
                    {
                        "signal_id": r.signal_id,
                        "sha256": r.sha256,
                        "content_sha256": r.content_sha256,
                        "outcome_sha256": r.outcome_sha256,
                        "execution_sha256": r.execution_sha256,
                        "positions": dict(zip(_KINDS, r.positions, strict=True)),
                        "timestamp": r.timestamp.isoformat(),
                    }
                    for r in rows
                ],
                "next_cursor": encode_cursor(last.timestamp, last.id) if last else None,
            }
        )

    async def health(self) -> JSONResponse:
        """200 while the database answers, 503 otherwise."""
        try:
            await run_in_threadpool(self._store.ping)
        except StoreUnavailableError:
            return JSONResponse(
                {"status": "unhealthy", "service": SERVICE_NAME, "detail": "database unavailable"},
                status_code=503,
            )
        return JSONResponse({"status": "healthy", "service": SERVICE_NAME, "endpoint": INGEST_PATH})


_KINDS = ("signal", "outcome", "execution")


def _known(items: Sequence[SignalIn], results: Sequence[InsertResult]) -> list[StoredSignal]:
    """The receipt facts of the signals the insert created and told the position of."""
    return [
        (result.alpine_signal_id, item.signal_id, item.sha256, *result.stored)
        for item, result in zip(items, results, strict=True)
        if result.stored is not None and result.alpine_signal_id is not None
    ]


def _item_result(item: SignalIn | str, outcome: InsertResult | None) -> dict[str, Any]:
    if isinstance(item, str) or outcome is None:
        return {"status": "invalid", "error": str(item)}
    entry: dict[str, Any] = {
        "status": outcome.status.value,
        "argo_signal_id": item.signal_id,
        "alpine_signal_id": outcome.alpine_signal_id,
    }
    if outcome.detail:
        entry["error"] = outcome.detail
    return entry
