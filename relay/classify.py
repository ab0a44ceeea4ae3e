"""What Alpine's answer (or the lack of one) means for a row: HTTP and httpx → Reply.

Only Alpine's acknowledgment is delivery: a 2xx whose JSON body carries one of the
documented statuses and `argo_signal_id` equal to the row's signal. Only Alpine's own
JSON verdicts dead-letter. Everything that does not look like the Alpine we expect
pauses the relay (see relay.fate.TABLE for what each answer does).
"""

from __future__ import annotations

import email.utils
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import httpx

from argo.outbox import EventType, OutboxRow
from relay.fate import Answer, Reply

MAX_RETRY_AFTER_SECONDS = 300.0
ACKNOWLEDGING: dict[str, frozenset[str]] = {
    EventType.SIGNAL_CREATED: frozenset({"created", "duplicate"}),
    EventType.SIGNAL_OUTCOME: frozenset({"applied", "already_applied"}),
    EventType.SIGNAL_EXECUTED: frozenset({"applied", "already_applied"}),
}
# A 404 from Alpine on these means "no such signal yet": retried later, like an outcome.
WAITS_FOR_SIGNAL = frozenset({EventType.SIGNAL_OUTCOME, EventType.SIGNAL_EXECUTED})
_VERDICTS = frozenset({400, 409, 413, 422})
_UNAVAILABLE = frozenset({502, 503, 504})
_FAILED_4XX = frozenset({408, 425})
_REFUSED_ITEMS = frozenset({"conflict", "invalid"})

# Every exception class httpx defines, most specific first in each branch; a test checks
# that this table names them all, so a new httpx class fails it until it is placed here.
EXCEPTIONS: dict[type[Exception], Answer] = {
    # Nothing reached Alpine, or the connection broke: never the row's fault.
    httpx.ConnectTimeout: Answer.UNAVAILABLE,
    httpx.PoolTimeout: Answer.UNAVAILABLE,
    httpx.ConnectError: Answer.UNAVAILABLE,
    httpx.WriteTimeout: Answer.UNAVAILABLE,
    httpx.WriteError: Answer.UNAVAILABLE,
    httpx.ReadError: Answer.UNAVAILABLE,
    httpx.CloseError: Answer.UNAVAILABLE,
    httpx.RemoteProtocolError: Answer.UNAVAILABLE,
    httpx.ProxyError: Answer.UNAVAILABLE,
    httpx.NetworkError: Answer.UNAVAILABLE,
    # Sent, no answer in time: indeterminate; the retry carries the same event id.
    httpx.ReadTimeout: Answer.FAILED,
    httpx.TimeoutException: Answer.FAILED,
    # Our side or a middlebox is wrong: fix the configuration.
    httpx.LocalProtocolError: Answer.MISCONFIGURED,
    httpx.ProtocolError: Answer.MISCONFIGURED,
    httpx.UnsupportedProtocol: Answer.MISCONFIGURED,
    httpx.TransportError: Answer.MISCONFIGURED,
    httpx.DecodingError: Answer.MISCONFIGURED,
    httpx.TooManyRedirects: Answer.MISCONFIGURED,
    httpx.RequestError: Answer.MISCONFIGURED,
    httpx.HTTPStatusError: Answer.MISCONFIGURED,
    httpx.HTTPError: Answer.MISCONFIGURED,
    httpx.InvalidURL: Answer.MISCONFIGURED,
    httpx.CookieConflict: Answer.MISCONFIGURED,
    httpx.StreamConsumed: Answer.MISCONFIGURED,
    httpx.StreamClosed: Answer.MISCONFIGURED,
    httpx.ResponseNotRead: Answer.MISCONFIGURED,
    httpx.RequestNotRead: Answer.MISCONFIGURED,
    httpx.StreamError: Answer.MISCONFIGURED,
}


def from_exception(exc: BaseException) -> Reply:
    """The reply for an exception raised while sending (any exception: none escapes)."""
    for cls in type(exc).__mro__:
        if cls in EXCEPTIONS:
            return Reply(EXCEPTIONS[cls], f"{cls.__name__}: {exc}"[:300])
    return Reply(Answer.MISCONFIGURED, f"unexpected {type(exc).__name__}: {exc}"[:300])


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


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def alpine_detail(body: Any) -> str | None:
    """Alpine's error `detail` when the body is Alpine's JSON error, else None."""
    detail = body.get("detail") if isinstance(body, dict) else None
    return detail if isinstance(detail, str) else None


def _snippet(response: httpx.Response) -> str:
    return " ".join(response.text[:200].split()) or "(empty body)"


def from_response(response: httpx.Response, row: OutboxRow) -> Reply:
    """The reply for Alpine's answer to one row's single POST."""
    status = response.status_code
    body = json_body(response)
    detail = alpine_detail(body)
    if 200 <= status < 300:
        return acknowledgment(body, row, f"HTTP {status}")
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        return Reply(Answer.RATE_LIMITED, f"HTTP 429: {detail or _snippet(response)}", wait, 429)
    return from_error_status(status, detail, _snippet(response), row.event_type)


def from_error_status(status: int, detail: str | None, snippet: str, event_type: str) -> Reply:
    """The reply for a non-2xx, non-429 status; `detail` is Alpine's, when it sent one."""
    text = f"HTTP {status}: {detail if detail is not None else snippet}"[:300]
    if status in _VERDICTS and detail is not None:
        return Reply(Answer.REFUSED, text, status=status)
    if status == 404 and detail is not None and event_type in WAITS_FOR_SIGNAL:
        return Reply(Answer.NOT_YET, text, status=status)
    if status in _UNAVAILABLE:
        return Reply(Answer.UNAVAILABLE, text, status=status)
    if status in _FAILED_4XX or (status >= 500 and status != 501):
        return Reply(Answer.FAILED, text, status=status)
    return Reply(Answer.MISCONFIGURED, _misconfigured(status, text), status=status)


def _misconfigured(status: int, text: str) -> str:
    if status in (401, 403):
        return f"{text} (check ARGO_API_KEY against ALPINE_API_KEYS and ALPINE_SIGNING_SECRET)"
    return f"{text} (not an answer Alpine gives: check ALPINE_API_URL and any proxy)"


def acknowledgment(body: Any, row: OutboxRow, where: str) -> Reply:
    """ACKNOWLEDGED when `body` is Alpine's acknowledgment of `row`, else MISCONFIGURED."""
    status = body.get("status") if isinstance(body, dict) else None
    expected = ACKNOWLEDGING.get(row.event_type, frozenset())
    if status in expected and body.get("argo_signal_id") == row.signal_id:
        receipt = body.get("receipt")
        return Reply(
            Answer.ACKNOWLEDGED,
            str(status),
            receipt=receipt if isinstance(receipt, dict) else None,
        )
    if status in _REFUSED_ITEMS:
        error = body.get("error") or body.get("detail") or ""
        return Reply(Answer.REFUSED, f"{where} item {status}: {error}"[:300])
    shown = repr(body)[:120] if body is not None else "a body that is not JSON"
    return Reply(
        Answer.MISCONFIGURED,
        f"{where} with {shown} is not Alpine's acknowledgment of {row.signal_id}"
        " (check ALPINE_API_URL and any proxy)",
    )


def batch_falls_back(whole: Reply) -> bool:
    """Whether a batch that failed as a whole is worth sending again one row per POST:
    a row may have broken it (500, a verdict on the whole body), or this Alpine has no
    batch endpoint (404, 405). Never for an outage, a rate limit or a credential fault."""
    return whole.answer in (Answer.FAILED, Answer.REFUSED) or whole.status in (404, 405)


def from_batch_response(response: httpx.Response, rows: Sequence[OutboxRow]) -> list[Reply]:
    """One reply per row for a batch POST (the same reply for all when it failed whole)."""
    status = response.status_code
    body = json_body(response)
    if status == 429:
        wait = parse_retry_after(response.headers.get("Retry-After"))
        reply = Reply(Answer.RATE_LIMITED, f"HTTP 429: {alpine_detail(body)}", wait, 429)
        return [reply] * len(rows)
    if not 200 <= status < 300:
        whole = from_error_status(status, alpine_detail(body), _snippet(response), "batch")
        return [whole] * len(rows)
    items = body.get("results") if isinstance(body, dict) else None
    if not isinstance(items, list) or len(items) != len(rows):
        whole = Reply(
            Answer.MISCONFIGURED,
            f"HTTP {status} batch answer without one result per item"
            " (check ALPINE_API_URL and any proxy)",
        )
        return [whole] * len(rows)
    return [acknowledgment(item, row, "batch") for item, row in zip(items, rows, strict=True)]
