"""`POST /api/v1/argo/sync/execution`: Argo traded a stored signal (`signal.executed`).

Checked like every ingest request (alpine/guard.py: API key, rate limit, body size,
signature over the raw bytes), then the fields, then recorded once:

    200 applied · 200 already_applied (the same execution again) · 404 unknown signal
    (the sender retries later, as for outcomes) · 409 a different execution (another
    order_id, price or time) is recorded · 422 invalid fields
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import cached_property
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from alpine.execution_store import Execution, ExecutionStatus, ExecutionStore
from alpine.guard import IngestGuard
from alpine.metrics import AlpineMetrics
from alpine.openapi import INGEST_RESPONSES
from alpine.receipt_issuer import ReceiptIssuer
from alpine.timestamps import parse_timestamp
from alpine.validation import describe

log = logging.getLogger("alpine.ingest")

EXECUTION_PATH = "/api/v1/argo/sync/execution"
ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,63}$"
_REFUSALS = {ExecutionStatus.CONFLICT: 409, ExecutionStatus.INVALID: 422}


class ExecutionIn(BaseModel):
    """A traded signal's fill (`signal.executed` event)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    signal_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")]
    order_id: Annotated[str, StringConstraints(max_length=64, pattern=ORDER_ID_PATTERN)]
    executed_at: Annotated[str, StringConstraints(max_length=40)]
    fill_price: Annotated[float, Field(gt=0, allow_inf_nan=False)]

    @field_validator("executed_at")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        parse_timestamp(value)
        return value

    @cached_property
    def executed_moment(self) -> datetime:
        return parse_timestamp(self.executed_at)

    def execution(self) -> Execution:
        return Execution(self.signal_id, self.order_id, self.executed_moment, self.fill_price)


def _responses() -> dict[int | str, dict[str, Any]]:
    chosen: dict[int | str, dict[str, Any]] = {
        code: INGEST_RESPONSES[code] for code in (401, 413, 422, 429, 503)
    }
    chosen[200] = {"description": "applied, or the same execution was already applied"}
    chosen[404] = {"description": "unknown signal_id; the sender retries later"}
    chosen[409] = {"description": "a different execution is recorded for this signal"}
    return chosen


def _request_body() -> dict[str, Any]:
    schema = ExecutionIn.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        }
    }


class ExecutionApi:
    """The execution endpoint; `register` mounts it on an app."""

    def __init__(
        self,
        store: ExecutionStore,
        guard: IngestGuard,
        metrics: AlpineMetrics,
        receipts: ReceiptIssuer,
    ) -> None:
        self._store = store
        self._guard = guard
        self._received = metrics.executions_received
        self._receipts = receipts

    def register(self, app: FastAPI) -> None:
        app.add_api_route(
            EXECUTION_PATH,
            self.ingest_execution,
            methods=["POST"],
            responses=_responses(),
            openapi_extra=_request_body(),
            tags=["ingest"],
        )

    async def ingest_execution(self, request: Request) -> JSONResponse:
        """Record that Argo traded a stored signal (its order id and fill)."""
        key_id, body = await self._guard.admit(request)
        try:
            execution = ExecutionIn.model_validate_json(body)
        except ValidationError as exc:
            self._received.labels(ExecutionStatus.INVALID.value).inc()
            raise HTTPException(422, f"invalid execution: {describe(exc)}") from exc
        result = await run_in_threadpool(self._store.apply, execution.execution())
        self._received.labels(result.status.value).inc()
        log.info(
            "execution %s",
            result.status.value,
            extra={"event": "ingest_execution", "signal_id": execution.signal_id, "key_id": key_id},
        )
        if result.status is ExecutionStatus.UNKNOWN_SIGNAL:
            raise HTTPException(404, f"no signal {execution.signal_id} is stored (yet)")
        if result.status in _REFUSALS:
            raise HTTPException(_REFUSALS[result.status], result.detail)
        answer: dict[str, Any] = {
            "status": result.status.value,
            "argo_signal_id": execution.signal_id,
            "order_id": execution.order_id,
        }
        if self._receipts.enabled:
            answer["receipt"] = await run_in_threadpool(
                self._receipts.for_update, execution.signal_id, "execution"
            )
        return JSONResponse(answer, background=self._receipts.after_answer())
