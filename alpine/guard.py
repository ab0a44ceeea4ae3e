"""The request checks before anything reaches the store: key, rate, size, signature, fields."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from alpine.canonical import verification_hash
from alpine.keyring import KeyRing
from alpine.metrics import AlpineMetrics
from alpine.ratelimit import Limiter
from alpine.settings import AlpineSettings
from alpine.validation import (
    MAX_BATCH,
    MAX_TRACEPARENT_CHARS,
    SignalBatchIn,
    SignalIn,
    describe,
)

log = logging.getLogger("alpine.auth")


class RateLimitedHTTPError(HTTPException):
    """429 with Retry-After."""

    def __init__(self, seconds: int) -> None:
        super().__init__(429, "rate limit exceeded; retry later", {"Retry-After": str(seconds)})


class IngestGuard:
    """Checks an ingest request cheapest first; raises HTTPException with a reason."""

    def __init__(self, settings: AlpineSettings, metrics: AlpineMetrics, limiter: Limiter) -> None:
        self._ring = KeyRing(settings)
        self._limiter = limiter
        self._max_body = settings.max_body_bytes
        self._metrics = metrics

    async def authenticate(self, request: Request) -> str:
        """The id of the presented API key (401 otherwise), within its rate limit (429)."""
        if self._ring.refresh_due():
            await run_in_threadpool(self._ring.refresh)
        raw = request.headers.get("x-api-key")
        key_id = self._ring.keys.identify(raw.encode("latin-1") if raw is not None else None)
        if key_id is None:
            reason = "missing_key" if not raw else "bad_key"
            self._metrics.auth_failures.labels(reason).inc()
            log.warning("rejected API key", extra={"event": "auth_failure", "reason": reason})
            raise HTTPException(401, "missing or invalid X-API-Key")
        if self._limiter.enabled:
            wait = await run_in_threadpool(self._limiter.retry_after, f"ingest:{key_id}")
            if wait is not None:
                raise RateLimitedHTTPError(wait)
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
        verifier = self._ring.verifier
        if verifier is None:
            return
        problem = verifier.verify(body, request.headers)
        if problem is not None:
            self._metrics.auth_failures.labels("bad_signature").inc()
            log.warning(
                "rejected signature",
                extra={"event": "auth_failure", "reason": "bad_signature", "detail": problem},
            )
            raise HTTPException(401, f"bad webhook signature: {problem}")

    async def admit(self, request: Request) -> tuple[str, bytes]:
        """Key id and raw body of a request that passed key, rate, size and signature."""
        key_id = await self.authenticate(request)
        body = await self.read_body(request)
        self.verify_signature(body, request)
        return key_id, body

    def parse_signal(self, body: bytes) -> SignalIn:
        """The validated signal, or 422 naming the bad fields; 400 on a hash mismatch."""
        try:
            signal = SignalIn.model_validate_json(body)
        except ValidationError as exc:
            self._metrics.signals_received.labels("invalid").inc()
            raise HTTPException(422, f"invalid signal: {describe(exc)}") from exc
        if not hash_matches(signal):
            self._metrics.signals_received.labels("hash_mismatch").inc()
            raise HTTPException(400, "sha256 does not match the signal's fields")
        return signal

    def parse_batch(self, body: bytes) -> tuple[list[SignalIn | str], list[str]]:
        """Each item validated on its own: a SignalIn, or the reason it is invalid; and
        the items' `traceparents` (empty when absent or not one per item).

        The whole batch is validated in one pass first (the common, all-valid case);
        only a batch with a bad item is examined item by item.
        """
        try:
            batch = SignalBatchIn.model_validate_json(body)
            items: list[SignalIn | str] = list(batch.signals)
            traces = batch.traceparents or []
        except ValidationError:
            raw_items, traces = _batch_items(body)
            items = [_validate_item(raw) for raw in raw_items]
        checked = [
            "sha256 does not match the signal's fields"
            if isinstance(item, SignalIn) and not hash_matches(item)
            else item
            for item in items
        ]
        return checked, traces if len(traces) == len(items) else []


def hash_matches(signal: SignalIn) -> bool:
    """Whether `sha256` is the hash of the signal's own (validated) fields."""
    return verification_hash(vars(signal)) == signal.sha256  # the field values, undumped


def _batch_items(body: bytes) -> tuple[list[Any], list[str]]:
    """The raw items of a batch that did not validate whole, and its traceparents."""
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise HTTPException(422, "body is not valid JSON") from exc
    if (
        not isinstance(doc, dict)
        or not set(doc) <= {"signals", "traceparents"}
        or not isinstance(doc.get("signals"), list)
    ):
        raise HTTPException(422, 'body must be {"signals": [...]}')
    items: list[Any] = doc["signals"]
    if not 1 <= len(items) <= MAX_BATCH:
        raise HTTPException(422, f"signals must hold 1 to {MAX_BATCH} items, got {len(items)}")
    traces: Any = doc.get("traceparents")
    if not isinstance(traces, list) or not all(
        isinstance(t, str) and len(t) <= MAX_TRACEPARENT_CHARS for t in traces
    ):
        return items, []
    return items, traces


def _validate_item(raw: Any) -> SignalIn | str:
    try:
        return SignalIn.model_validate(raw)
    except ValidationError as exc:
        return describe(exc)
