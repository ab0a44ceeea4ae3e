"""Response classification and error translation at the httpx seam (MockTransport)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from relay.deliver import Delivered, Deliverer, classify, parse_retry_after
from relay.errors import (
    DeliveryRejectedError,
    PermanentDeliveryError,
    RateLimitedError,
    RetryableDeliveryError,
    UnreachableError,
)
from relay.metrics import RelayMetrics
from relay.store import OutboxRow
from tests.support import new_signing_secret

ROW = OutboxRow(
    id=1,
    event_id="evt_1",
    event_type="signal.created",
    signal_id="0123456789abcdef",
    payload='{"signal_id":"0123456789abcdef"}',
    created_at=datetime(2026, 11, 22, tzinfo=UTC),
    attempts=0,
)


def _response(
    status: int, body: object = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    return httpx.Response(
        status, json=body if body is not None else {"detail": "x"}, headers=headers
    )


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (201, {"status": "created"}, Delivered.CREATED),
        (200, {"status": "duplicate"}, Delivered.DUPLICATE),
        (200, {"status": "applied"}, Delivered.APPLIED),
        (202, {}, Delivered.APPLIED),
    ],
)
def test_success_statuses(status: int, body: object, expected: Delivered) -> None:
    assert classify(_response(status, body)) is expected


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, PermanentDeliveryError),
        (409, PermanentDeliveryError),
        (413, PermanentDeliveryError),
        (422, PermanentDeliveryError),
        (410, PermanentDeliveryError),
        (401, DeliveryRejectedError),
        (403, DeliveryRejectedError),
        (301, DeliveryRejectedError),
        (307, DeliveryRejectedError),
        (429, RateLimitedError),
        (404, RetryableDeliveryError),
        (408, RetryableDeliveryError),
        (500, RetryableDeliveryError),
        (502, RetryableDeliveryError),
        (503, RetryableDeliveryError),
        (504, RetryableDeliveryError),
    ],
)
def test_failure_statuses(status: int, error: type[Exception]) -> None:
    with pytest.raises(error) as caught:
        classify(_response(status))
    assert type(caught.value) is error


def test_every_status_is_classified() -> None:
    for status in range(200, 600):
        try:
            classify(_response(status))
        except (RetryableDeliveryError, PermanentDeliveryError, DeliveryRejectedError):
            pass


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 1.0), ("7", 7.0), ("0", 1.0), ("99999", 300.0), ("soon", 1.0), ("nan", 1.0)],
)
def test_retry_after(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 22 Nov 2026 12:00:30 GMT", now) == 30.0


def _deliverer(handler: httpx.MockTransport, secret: str | None = None) -> Deliverer:
    client = httpx.Client(transport=handler, base_url="http://alpine.test")
    return Deliverer(
        client,
        api_key="k" * 20,
        signing_secrets=[secret] if secret else [],
        metrics=RelayMetrics(),
        max_tries=2,
    )


def test_transport_errors_become_retryable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(UnreachableError, match="transport"):
        _deliverer(httpx.MockTransport(refuse)).deliver(ROW)
    assert issubclass(UnreachableError, RetryableDeliveryError)


def test_timeouts_become_retryable_and_keep_the_event_id() -> None:
    seen: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["webhook-id"])
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(RetryableDeliveryError, match="timeout"):
        _deliverer(httpx.MockTransport(slow), new_signing_secret()).deliver(ROW)
    assert seen == ["evt_1", "evt_1"]


def test_request_is_signed_over_the_exact_body() -> None:
    secret = new_signing_secret()
    captured: dict[str, object] = {}

    def check(request: httpx.Request) -> httpx.Response:
        captured["headers"] = dict(request.headers)
        Webhook(secret).verify(request.content, dict(request.headers), json_parse=False)
        assert request.headers["x-api-key"] == "k" * 20
        assert request.content == ROW.payload.encode()
        return httpx.Response(201, json={"status": "created"})

    assert _deliverer(httpx.MockTransport(check), secret).deliver(ROW) is Delivered.CREATED
    assert json.loads(ROW.payload)["signal_id"] == "0123456789abcdef"
