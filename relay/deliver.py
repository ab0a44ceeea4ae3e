"""One event, one POST to Alpine: sign it, send it, classify the answer.

The only place that knows httpx; its errors become relay.errors here. The
`backoff` decorator wraps just the single HTTP call (a few quick tries for
transient faults); lasting retries are the outbox row's business (relay.loop).
"""

from __future__ import annotations

import email.utils
import logging
import time
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
)
from relay.metrics import RelayMetrics
from relay.store import OutboxRow

log = logging.getLogger(__name__)

ENDPOINTS = {
    "signal.created": "/api/v1/argo/sync/signal",
    "signal.outcome": "/api/v1/argo/sync/outcome",
}
MAX_RETRY_AFTER_SECONDS = 300.0
_PERMANENT = frozenset({400, 409, 413, 422})
_RETRYABLE_4XX = frozenset({404, 408, 425})


class Delivered(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    APPLIED = "applied"


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
        signing_secret: str | None,
        metrics: RelayMetrics,
        max_tries: int = 2,
    ) -> None:
        self._client = client
        self._api_key = api_key
        self._webhook = Webhook(signing_secret) if signing_secret else None
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

    def deliver(self, row: OutboxRow) -> Delivered:
        """POST `row` until it is stored or a DeliveryError says why not."""
        return self._send(row)

    def health(self) -> str:
        """Alpine's health endpoint, as a one-line description (never raises)."""
        try:
            response = self._client.get("/api/v1/argo/sync/health")
        except httpx.HTTPError as exc:
            return f"unreachable ({type(exc).__name__}: {exc})"
        return f"HTTP {response.status_code} {response.text[:200]}"

    def _headers(self, row: OutboxRow) -> dict[str, str]:
        headers = {"X-API-Key": self._api_key, "Content-Type": "application/json"}
        if self._webhook is not None:
            now = datetime.now(UTC)
            headers["webhook-id"] = row.event_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = self._webhook.sign(row.event_id, now, row.payload)
        return headers

    def _post_once(self, row: OutboxRow) -> Delivered:
        path = ENDPOINTS.get(row.event_type)
        if path is None:
            raise PermanentDeliveryError(f"unknown event type {row.event_type!r}")
        started = time.perf_counter()
        try:
            response = self._client.post(
                path, content=row.payload.encode("utf-8"), headers=self._headers(row)
            )
        except httpx.TimeoutException as exc:
            self._record("timeout", started)
            raise RetryableDeliveryError(f"timeout: {exc!r}") from exc
        except httpx.TransportError as exc:
            self._record("connection_error", started)
            raise RetryableDeliveryError(f"transport: {type(exc).__name__}: {exc}") from exc
        try:
            outcome = classify(response)
        except (RetryableDeliveryError, PermanentDeliveryError, DeliveryRejectedError):
            self._record(f"http_{response.status_code}", started)
            raise
        self._record(outcome.value, started)
        return outcome

    def _record(self, result: str, started: float) -> None:
        self._metrics.delivery_seconds.observe(time.perf_counter() - started)
        self._metrics.deliveries.labels(result).inc()

    def _on_backoff(self, details: Any) -> None:
        log.info(
            "delivery retry",
            extra={"event": "delivery_retry", "tries": details["tries"], "wait": details["wait"]},
        )
