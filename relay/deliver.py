"""One event, one POST to Alpine: sign it, send it, classify the answer.

The only place that knows httpx; its errors become relay.errors here. The
`backoff` decorator wraps just the single HTTP call (a few quick tries for
transient faults); lasting retries are the outbox row's business (relay.loop).
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import backoff
import httpx
from standardwebhooks import Webhook

from relay.errors import (
    DeliveryRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
    UnreachableError,
)
from relay.metrics import RelayMetrics
from relay.store import OutboxRow

log = logging.getLogger(__name__)

ENDPOINTS = {
    "signal.created": "/api/v1/argo/sync/signal",
    "signal.outcome": "/api/v1/argo/sync/outcome",
}
BATCH_ENDPOINT = "/api/v1/argo/sync/signals"
BATCHABLE = "signal.created"
MAX_BATCH = 500
MAX_RETRY_AFTER_SECONDS = 300.0
_PERMANENT = frozenset({400, 409, 413, 422})
_RETRYABLE_4XX = frozenset({404, 408, 425})


class Delivered(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    APPLIED = "applied"


ItemResult = Delivered | PermanentDeliveryError
"""One batch item's fate: stored, or refused for good (conflict or invalid)."""


def default_timeout() -> httpx.Timeout:
    """10 s for the whole answer, 3 s to connect."""
    return httpx.Timeout(10.0, connect=3.0)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float:
    """Seconds to wait from a Retry-After header (seconds or HTTP date), within [1, 300]."""
    if not value:
        return 1.0
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return 1.0
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds:  # NaN
        return 1.0
    return min(max(seconds, 1.0), MAX_RETRY_AFTER_SECONDS)


def classify(response: httpx.Response) -> Delivered:
    """Map Alpine's answer to an outcome, or raise the matching DeliveryError."""
    status = response.status_code
    reason = f"HTTP {status}: {_detail(response)}"
    if 200 <= status < 300:
        body = _json(response)
        if isinstance(body, dict) and body.get("status") == "duplicate":
            return Delivered.DUPLICATE
        return Delivered.CREATED if status == 201 else Delivered.APPLIED
    if status == 429:
        raise RateLimitedError(
            reason, retry_after=parse_retry_after(response.headers.get("Retry-After"))
        )
    if status in (401, 403) or 300 <= status < 400:
        raise DeliveryRejectedError(reason, status=status)
    if status in _PERMANENT:
        raise PermanentDeliveryError(reason, status=status)
    if status >= 500 or status in _RETRYABLE_4XX:
        raise RetryableDeliveryError(reason, status=status)
    raise PermanentDeliveryError(reason, status=status)


def _item_result(item: Any) -> ItemResult:
    status = item.get("status") if isinstance(item, dict) else None
    if status == "created":
        return Delivered.CREATED
    if status == "duplicate":
        return Delivered.DUPLICATE
    error = item.get("error", "") if isinstance(item, dict) else ""
    return PermanentDeliveryError(f"batch item {status}: {error}"[:500])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _detail(response: httpx.Response) -> str:
    body = _json(response)
    if isinstance(body, dict) and "detail" in body:
        return str(body["detail"])[:300]
    return response.text[:300]


class Deliverer:
    """Sends outbox rows to Alpine over an injected httpx.Client."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        api_key: str,
        signing_secrets: Sequence[str] = (),
        metrics: RelayMetrics,
        max_tries: int = 2,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._webhooks = [Webhook(secret) for secret in signing_secrets]
        self._metrics = metrics
        retrying = backoff.on_exception(
            backoff.expo,
            RetryableDeliveryError,
            max_tries=max_tries,
            giveup=lambda exc: isinstance(exc, RateLimitedError),
            jitter=backoff.full_jitter,
            on_backoff=self._on_backoff,
            logger=None,
            factor=0.05,
            max_value=1.0,
        )
        self._send = retrying(self._post_once)
        self._send_batch = retrying(self._post_batch_once)

    def deliver(self, row: OutboxRow) -> Delivered:
        """POST `row` until it is stored or a DeliveryError says why not."""
        return self._send(row)

    def deliver_batch(self, rows: Sequence[OutboxRow]) -> list[ItemResult]:
        """POST `signal.created` rows to the batch endpoint; one result per row, in order.

        Raises a DeliveryError when the request as a whole fails.
        """
        if not rows or len(rows) > MAX_BATCH or any(r.event_type != BATCHABLE for r in rows):
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} {BATCHABLE} rows")
        results: list[ItemResult] = self._send_batch(list(rows))
        return results

    def _post_batch_once(self, rows: list[OutboxRow]) -> list[ItemResult]:
        body = b'{"signals":[' + b",".join(r.payload.encode("utf-8") for r in rows) + b"]}"
        batch_id = (
            "batch_" + hashlib.sha256("|".join(r.event_id for r in rows).encode()).hexdigest()[:32]
        )
        response = self._post(BATCH_ENDPOINT, body, batch_id)
        answer = _json(response)
        items = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(items, list) or len(items) != len(rows):
            raise RetryableDeliveryError("batch answer does not hold one result per item")
        results = [_item_result(item) for item in items]
        for result in results:
            label = result.value if isinstance(result, Delivered) else "rejected"
            self._metrics.deliveries.labels(label).inc()
        return results

    def health(self) -> str:
        """Alpine's health endpoint, as a one-line description (never raises)."""
        try:
            response = self._client.get("/api/v1/argo/sync/health")
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__}: {exc})"
        return f"HTTP {response.status_code} {response.text[:200]}"

    def _headers(self, message_id: str, body: bytes) -> dict[str, str]:
        headers = {"X-API-Key": self._api_key, "Content-Type": "application/json"}
        if self._webhooks:
            now = datetime.now(UTC)
            text = body.decode()
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = " ".join(
                webhook.sign(message_id, now, text) for webhook in self._webhooks
            )
        return headers

    def _post(self, path: str, body: bytes, message_id: str) -> httpx.Response:
        """One POST; transport faults become RetryableDeliveryError, bad answers raise."""
        started = time.perf_counter()
        try:
            headers = self._headers(message_id, body)
            response = self._client.post(path, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            self._record_failure("timeout")
            raise RetryableDeliveryError(f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            self._record_failure("connection_error")
            raise UnreachableError(f"transport: {type(exc).__name__}: {exc}") from exc
        finally:
            self._metrics.delivery_seconds.observe(time.perf_counter() - started)
        if not 200 <= response.status_code < 300:
            self._record_failure(f"http_{response.status_code}")
            classify(response)  # raises the matching DeliveryError
        return response

    def _post_once(self, row: OutboxRow) -> Delivered:
        path = ENDPOINTS.get(row.event_type)
        if path is None:
            raise PermanentDeliveryError(f"unknown event type {row.event_type!r}")
        response = self._post(path, row.payload.encode("utf-8"), row.event_id)
        outcome = classify(response)
        self._metrics.deliveries.labels(outcome.value).inc()
        return outcome

    def _record_failure(self, result: str) -> None:
        self._metrics.deliveries.labels(result).inc()

    def _on_backoff(self, details: Any) -> None:
        log.info(
            "delivery retry",
            extra={"event": "delivery_retry", "tries": details["tries"], "wait": details["wait"]},
        )
