"""What each of Alpine's answers, and each httpx exception, means for a row (pure tables,
plus the Deliverer on MockTransport: signing, retries with the same event id, deadline)."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime

import httpx
import pytest
from standardwebhooks import Webhook

from argo.outbox import OutboxRow
from relay.classify import (
    EXCEPTIONS,
    batch_falls_back,
    from_batch_response,
    from_exception,
    from_response,
    parse_retry_after,
)
from relay.deliver import Deliverer
from relay.fate import Answer, Reply
from relay.metrics import RelayMetrics
from tests.support import new_signing_secret

SIGNAL = "0123456789abcdef"
ROW = OutboxRow(
    id=1,
    event_id="evt_1",
    event_type="signal.created",
    signal_id=SIGNAL,
    payload=json.dumps({"signal_id": SIGNAL}),
    created_at=datetime(2026, 11, 22, tzinfo=UTC),
    attempts=0,
)
OUTCOME_ROW = OutboxRow(2, "evt_2", "signal.outcome", SIGNAL, "{}", ROW.created_at, 0)
ACK = {"status": "created", "argo_signal_id": SIGNAL, "alpine_signal_id": 7}
ALPINE_ERROR = {"detail": "what Alpine says"}


def _response(
    status: int, body: object = None, text: str | None = None, **headers: str
) -> httpx.Response:
    if text is not None:
        return httpx.Response(status, text=text, headers=headers)
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("row", "response", "answer"),
    [
        (ROW, _response(201, ACK), Answer.ACKNOWLEDGED),
        (ROW, _response(200, ACK | {"status": "duplicate"}), Answer.ACKNOWLEDGED),
        (
            OUTCOME_ROW,
            _response(200, {"status": "applied", "argo_signal_id": SIGNAL}),
            Answer.ACKNOWLEDGED,
        ),
        (
            OUTCOME_ROW,
            _response(200, {"status": "already_applied", "argo_signal_id": SIGNAL}),
            Answer.ACKNOWLEDGED,
        ),
        # A 2xx that is not Alpine's acknowledgment of this very row: not delivered.
        (ROW, _response(200, text="<html>maintenance</html>"), Answer.MISCONFIGURED),
        (ROW, _response(202, {}), Answer.MISCONFIGURED),
        (ROW, _response(201, ACK | {"argo_signal_id": "ffffffffffffffff"}), Answer.MISCONFIGURED),
        (
            ROW,
            _response(200, {"status": "applied", "argo_signal_id": SIGNAL}),
            Answer.MISCONFIGURED,
        ),
        (ROW, _response(204, text=""), Answer.MISCONFIGURED),
        # Redirects and unknown 4xx: not the Alpine we expect.
        (ROW, _response(302, text="", location="https://elsewhere/"), Answer.MISCONFIGURED),
        (ROW, _response(301, text=""), Answer.MISCONFIGURED),
        (ROW, _response(401, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(403, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(404, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(404, text="<html>not found</html>"), Answer.MISCONFIGURED),
        (ROW, _response(405, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(410, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(415, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(421, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(418, ALPINE_ERROR), Answer.MISCONFIGURED),
        (ROW, _response(501, ALPINE_ERROR), Answer.MISCONFIGURED),
        # Alpine's own verdicts on the content: dead letters.
        (ROW, _response(400, ALPINE_ERROR), Answer.REFUSED),
        (ROW, _response(409, ALPINE_ERROR), Answer.REFUSED),
        (ROW, _response(413, ALPINE_ERROR), Answer.REFUSED),
        (ROW, _response(422, ALPINE_ERROR), Answer.REFUSED),
        # ... but only with Alpine's JSON detail: a proxy's 413 page is a misconfiguration.
        (ROW, _response(413, text="<html>too large</html>"), Answer.MISCONFIGURED),
        (ROW, _response(422, {"error": "not alpine"}), Answer.MISCONFIGURED),
        # An outcome whose signal Alpine does not hold (yet).
        (OUTCOME_ROW, _response(404, ALPINE_ERROR), Answer.NOT_YET),
        (OUTCOME_ROW, _response(404, text="nope"), Answer.MISCONFIGURED),
        # Failures that may be the row's or everybody's.
        (ROW, _response(500, ALPINE_ERROR), Answer.FAILED),
        (ROW, _response(500, text="boom"), Answer.FAILED),
        (ROW, _response(408, text=""), Answer.FAILED),
        (ROW, _response(507, text=""), Answer.FAILED),
        (ROW, _response(502, text="bad gateway"), Answer.UNAVAILABLE),
        (ROW, _response(503, ALPINE_ERROR), Answer.UNAVAILABLE),
        (ROW, _response(504, text=""), Answer.UNAVAILABLE),
        (ROW, _response(429, ALPINE_ERROR, **{"Retry-After": "7"}), Answer.RATE_LIMITED),
    ],
)
def test_each_answer_maps_to_one_reply(
    row: OutboxRow, response: httpx.Response, answer: Answer
) -> None:
    reply = from_response(response, row)
    assert reply.answer is answer, reply.detail
    assert reply.detail


def test_every_status_code_gets_a_reply() -> None:
    for status in range(200, 600):
        assert isinstance(from_response(_response(status, ALPINE_ERROR), ROW), Reply)


def test_a_misconfiguration_says_what_to_check() -> None:
    assert "ARGO_API_KEY" in from_response(_response(401, ALPINE_ERROR), ROW).detail
    assert "ALPINE_API_URL" in from_response(_response(200, text="<html>"), ROW).detail


def test_rate_limit_carries_retry_after() -> None:
    reply = from_response(_response(429, ALPINE_ERROR, **{"Retry-After": "7"}), ROW)
    assert reply.retry_after == 7.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [(None, 1.0), ("5", 5.0), ("0", 1.0), ("100000", 300.0), ("soon", 1.0), ("nan", 1.0)],
)
def test_retry_after(header: str | None, seconds: float) -> None:
    assert parse_retry_after(header) == seconds


def test_retry_after_http_date() -> None:
    now = datetime(2026, 11, 22, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Sun, 22 Nov 2026 12:00:30 GMT", now) == 30.0


def _httpx_exception_classes() -> set[type[Exception]]:
    return {
        cls
        for _, cls in inspect.getmembers(httpx, inspect.isclass)
        if issubclass(cls, Exception) and cls.__module__.startswith("httpx")
    }


def test_every_httpx_exception_class_is_in_the_table() -> None:
    """A class added by a new httpx fails here until it is placed in relay.classify."""
    missing = _httpx_exception_classes() - set(EXCEPTIONS)
    assert not missing, (
        f"map these in relay.classify.EXCEPTIONS: {sorted(c.__name__ for c in missing)}"
    )


@pytest.mark.parametrize(
    ("exc", "answer"),
    [
        (httpx.ConnectError("refused"), Answer.UNAVAILABLE),
        (httpx.ConnectTimeout("slow connect"), Answer.UNAVAILABLE),
        (httpx.PoolTimeout("pool"), Answer.UNAVAILABLE),
        (httpx.ReadError("reset"), Answer.UNAVAILABLE),
        (httpx.RemoteProtocolError("server disconnected"), Answer.UNAVAILABLE),
        (httpx.ReadTimeout("slow answer"), Answer.FAILED),
        (httpx.UnsupportedProtocol("ftp://"), Answer.MISCONFIGURED),
        (httpx.LocalProtocolError("bad header"), Answer.MISCONFIGURED),
        (httpx.InvalidURL("no"), Answer.MISCONFIGURED),
        (RuntimeError("a bug"), Answer.MISCONFIGURED),
    ],
)
def test_exceptions_map_to_the_most_specific_reply(exc: Exception, answer: Answer) -> None:
    assert from_exception(exc).answer is answer


def test_batch_items_are_judged_one_by_one() -> None:
    other = OutboxRow(3, "evt_3", "signal.created", "fedcba9876543210", "{}", ROW.created_at, 0)
    third = OutboxRow(4, "evt_4", "signal.created", "aaaaaaaaaaaaaaaa", "{}", ROW.created_at, 0)
    body = {
        "results": [
            ACK,
            {
                "status": "conflict",
                "argo_signal_id": other.signal_id,
                "error": "differs: reasoning",
            },
            {"status": "created", "argo_signal_id": "not-this-one"},
        ]
    }
    replies = from_batch_response(_response(200, body), [ROW, other, third])
    assert [r.answer for r in replies] == [
        Answer.ACKNOWLEDGED,
        Answer.REFUSED,
        Answer.MISCONFIGURED,
    ]


@pytest.mark.parametrize(
    ("response", "answer", "falls_back"),
    [
        (_response(200, {"results": []}), Answer.MISCONFIGURED, False),
        (_response(200, text="<html>"), Answer.MISCONFIGURED, False),
        (_response(500, ALPINE_ERROR), Answer.FAILED, True),
        (_response(422, ALPINE_ERROR), Answer.REFUSED, True),
        (_response(404, ALPINE_ERROR), Answer.MISCONFIGURED, True),
        (_response(401, ALPINE_ERROR), Answer.MISCONFIGURED, False),
        (_response(503, ALPINE_ERROR), Answer.UNAVAILABLE, False),
        (_response(429, ALPINE_ERROR), Answer.RATE_LIMITED, False),
    ],
)
def test_a_batch_that_fails_whole(
    response: httpx.Response, answer: Answer, falls_back: bool
) -> None:
    (reply,) = from_batch_response(response, [ROW])
    assert reply.answer is answer
    assert batch_falls_back(reply) is falls_back


def _deliverer(
    handler: httpx.MockTransport, secret: str | None = None, **kwargs: float
) -> Deliverer:
    client = httpx.Client(transport=handler, base_url="http://alpine.test")
    return Deliverer(
        client,
        api_key="k" * 20,
        signing_secrets=[secret] if secret else [],
        metrics=RelayMetrics(),
        max_tries=2,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_timeout_is_retried_with_the_same_event_id() -> None:
    seen: list[str] = []

    def slow(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["webhook-id"])
        raise httpx.ReadTimeout("slow", request=request)

    reply = _deliverer(httpx.MockTransport(slow), new_signing_secret()).send(ROW)
    assert reply.answer is Answer.FAILED and "ReadTimeout" in reply.detail
    assert seen == ["evt_1", "evt_1"]


def test_nothing_raises_out_of_a_send() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise ValueError("a bug in a transport")

    assert _deliverer(httpx.MockTransport(broken)).send(ROW).answer is Answer.MISCONFIGURED


def test_request_is_signed_over_the_exact_body() -> None:
    secret = new_signing_secret()

    def check(request: httpx.Request) -> httpx.Response:
        Webhook(secret).verify(request.content, dict(request.headers), json_parse=False)
        assert request.headers["x-api-key"] == "k" * 20
        assert request.content == ROW.payload.encode()
        return httpx.Response(201, json=ACK)

    assert _deliverer(httpx.MockTransport(check), secret).send(ROW).answer is Answer.ACKNOWLEDGED


def test_health_is_healthy_only_with_alpines_body() -> None:
    def healthy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "healthy", "service": "x"})

    def proxy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, text="<html>ok</html>")

    assert _deliverer(httpx.MockTransport(healthy)).health()[0] is True
    assert _deliverer(httpx.MockTransport(proxy)).health()[0] is False


def test_each_post_of_a_send_is_recorded_with_what_came_back() -> None:
    answers = iter([_response(500, ALPINE_ERROR), _response(201, ACK)])
    reply = _deliverer(httpx.MockTransport(lambda request: next(answers))).send(ROW)
    assert reply.answer is Answer.ACKNOWLEDGED
    assert [(t.status, t.error) for t in reply.tries] == [(500, None), (201, None)]
    assert "what Alpine says" in reply.tries[0].answer and '"created"' in reply.tries[1].answer
    assert reply.tries[0].post != reply.tries[1].post
    assert all(t.seconds >= 0 for t in reply.tries)

    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    failed = _deliverer(httpx.MockTransport(refused)).send(ROW)
    assert [(t.status, t.error) for t in failed.tries] == [(None, "ConnectError")] * 2


def test_the_rows_of_a_batch_share_its_post() -> None:
    second = OutboxRow(3, "evt_3", "signal.created", "fedcba9876543210", "{}", ROW.created_at, 0)

    def batch(request: httpx.Request) -> httpx.Response:
        items = [ACK, ACK | {"argo_signal_id": second.signal_id, "status": "duplicate"}]
        return httpx.Response(200, json={"results": items})

    replies = _deliverer(httpx.MockTransport(batch)).send_batch([ROW, second])
    assert [len(r.tries) for r in replies] == [1, 1]
    assert replies[0].tries == replies[1].tries and replies[0].tries[0].status == 200
