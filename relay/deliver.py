"""POSTs to Alpine: sign, send within a deadline, and turn what came back into Replies.

The only place that talks HTTP. Nothing raises out of it: every answer and every
exception becomes a relay.fate.Reply (see relay.classify). The `backoff` decorator
wraps one POST for a few quick tries on transient faults (same event id, so Alpine
dedupes); lasting retries are the outbox row's business (relay.fate).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import backoff
import httpx
from standardwebhooks import Webhook

from argo.outbox import EventType, OutboxRow, steady_seconds
from argo.process.crashpoints import crash_point
from argo.process.spans import OFF, Kind, Span, Tracing
from argo.timeutil import utc_now
from relay.classify import from_batch_response, from_exception, from_response, json_body
from relay.deadline import under_deadline
from relay.errors import ConfigError, ListingError
from relay.fate import Answer, Reply, Try
from relay.metrics import RelayMetrics
from relay.receipt_audit import Held
from relay.receipts import ReceiptKeys, with_receipt

log = logging.getLogger(__name__)

ENDPOINTS: dict[str, str] = {
    EventType.SIGNAL_CREATED: "/api/v1/argo/sync/signal",
    EventType.SIGNAL_OUTCOME: "/api/v1/argo/sync/outcome",
    EventType.SIGNAL_EXECUTED: "/api/v1/argo/sync/execution",
}
BATCH_ENDPOINT = "/api/v1/argo/sync/signals"
HEALTH_ENDPOINT = "/api/v1/argo/sync/health"
LISTING_ENDPOINT = "/api/v1/argo/sync/signals"
KEYS_ENDPOINT = "/api/v1/keys"
BATCHABLE = EventType.SIGNAL_CREATED
MAX_BATCH = 500
_ENCODING = frozenset({"content-encoding", "content-length", "transfer-encoding"})
_TRANSIENT = frozenset({Answer.FAILED, Answer.UNAVAILABLE})
EXCERPT_BYTES = 300
_POSTS = itertools.count(1)  # numbers POSTs: unique within a window (next() is atomic)


class DeadlineExceeded(httpx.ReadTimeout):
    """The whole POST (connect, send, every chunk of the answer) took longer than allowed."""


def default_timeout(seconds: float = 10.0, connect: float = 3.0) -> httpx.Timeout:
    """`seconds` per read or write, `connect` to connect."""
    return httpx.Timeout(seconds, connect=connect)


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
        deadline_seconds: float = 15.0,
        receipt_keys: ReceiptKeys | None = None,
        tracing: Tracing = OFF,
        relay_id: str = "",
    ) -> None:
        self._client = client
        self._tracing = tracing
        self._relay_id = relay_id
        self._receipt_keys = receipt_keys
        self._api_key = api_key
        self._webhooks = [Webhook(secret) for secret in signing_secrets]
        self._secrets = list(signing_secrets)
        self._metrics = metrics
        self._deadline = deadline_seconds
        retrying = backoff.on_predicate(
            backoff.expo,
            predicate=self._transient,
            max_tries=max_tries,
            jitter=backoff.full_jitter,
            on_backoff=self._on_backoff,
            logger=None,
            factor=0.05,
            max_value=1.0,
        )
        self._send = retrying(self._send_once)
        self._send_batch = retrying(self._send_batch_once)

    def use_credentials(self, api_key: str, signing_secrets: Sequence[str]) -> bool:
        """Switch to a rotated key or signing secret; whether anything changed."""
        webhooks = [Webhook(secret) for secret in signing_secrets]
        changed = api_key != self._api_key or list(signing_secrets) != self._secrets
        self._api_key, self._webhooks, self._secrets = api_key, webhooks, list(signing_secrets)
        return changed

    def send(self, row: OutboxRow) -> Reply:
        """POST one row; its reply, carrying every POST it took (never raises). Tracing
        on, inside a send span that is a child of the row's `traceparent` and whose own
        goes to Alpine in the header."""
        tries: list[Try] = []
        if not self._tracing.on:
            reply: Reply = self._send(row, tries)
            return replace(reply, tries=tuple(tries))
        span = self._send_span(row)
        with self._tracing.current(span):
            reply = self._send(row, tries)
            _ended(span, row, reply, len(tries))
        return replace(reply, tries=tuple(tries))

    def send_batch(self, rows: Sequence[OutboxRow]) -> list[Reply]:
        """POST `signal.created` rows to the batch endpoint; one reply per row, in order,
        each carrying the batch POSTs it took. Tracing on, each row in a send span of its
        own, named to Alpine in the body's `traceparents` (one per item: each signal's
        ingest joins its own trace)."""
        if not rows or len(rows) > MAX_BATCH or any(r.event_type != BATCHABLE for r in rows):
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} {BATCHABLE} rows")
        tries: list[Try] = []
        if not self._tracing.on:
            replies: list[Reply] = self._send_batch(list(rows), tries, None)
            return [replace(r, tries=tuple(tries)) for r in replies]
        spans = [self._send_span(row) for row in rows]
        replies = self._send_batch(list(rows), tries, [span.traceparent for span in spans])
        for span, row, reply in zip(spans, rows, replies, strict=True):
            span.set("relay.batch_size", len(rows))
            with self._tracing.current(span):
                _ended(span, row, reply, len(tries))
        return [replace(r, tries=tuple(tries)) for r in replies]

    def _send_span(self, row: OutboxRow) -> Span:
        return self._tracing.start(
            f"relay send {row.event_type}",
            parent=row.traceparent,
            kind=Kind.CLIENT,
            attributes={
                "relay.event_id": row.event_id,
                "relay.event_type": row.event_type,
                "relay.signal_id": row.signal_id,
                "relay.id": self._relay_id,
                "relay.attempt": row.attempts + 1,
            },
        )

    def health(self) -> tuple[bool, str]:
        """Whether Alpine's health endpoint answers as a healthy Alpine, and what it said."""
        try:
            response = self._client.get(HEALTH_ENDPOINT)
        except Exception as exc:
            return False, f"unreachable ({type(exc).__name__}: {exc})"
        body = json_body(response)
        healthy = (
            response.status_code == 200
            and isinstance(body, dict)
            and body.get("status") == "healthy"
        )
        return healthy, f"HTTP {response.status_code} {response.text[:200]}"

    def listing(
        self, since: datetime, until: datetime, cursor: str | None
    ) -> tuple[dict[str, Held], str | None]:
        """One page of Alpine's reconciliation list: what it holds for each signal (the
        hashes of its fields, outcome and execution now) and the next cursor.

        Raises ListingError when Alpine does not answer the page.
        """
        params = {"since": _rfc3339(since), "until": _rfc3339(until), "limit": "1000"}
        if cursor:
            params["cursor"] = cursor
        body = self._get_json(LISTING_ENDPOINT, params, "the reconciliation list")
        held = {
            item["signal_id"]: Held(
                _held_hash(item),
                item.get("outcome_sha256"),
                item.get("execution_sha256"),
                item.get("positions"),
            )
            for item in body.get("signals", [])
        }
        return held, body.get("next_cursor")

    def receipt_keys(self) -> ReceiptKeys:
        """The public keys Alpine serves (GET /api/v1/keys). ListingError when it serves
        none or cannot be read."""
        body = self._get_json(KEYS_ENDPOINT, {}, "its receipt keys")
        try:
            return ReceiptKeys.from_document(body, f"Alpine's {KEYS_ENDPOINT}")
        except ConfigError as exc:
            raise ListingError(str(exc)) from exc

    def _get_json(self, path: str, params: dict[str, str], what: str) -> dict[str, Any]:
        try:
            response = self._client.get(path, params=params, headers={"X-API-Key": self._api_key})
        except httpx.HTTPError as exc:
            raise ListingError(f"Alpine unreachable: {type(exc).__name__}: {exc}") from exc
        body = json_body(response)
        if response.status_code != 200 or not isinstance(body, dict):
            raise ListingError(f"{what}: HTTP {response.status_code}: {response.text[:200]}")
        return body

    def _send_once(self, row: OutboxRow, tries: list[Try]) -> Reply:
        path = ENDPOINTS.get(row.event_type)
        if path is None:
            return Reply(Answer.MISCONFIGURED, f"no endpoint for event type {row.event_type!r}")
        outcome = self._post(path, row.payload.encode("utf-8"), row.event_id, tries)
        if isinstance(outcome, Reply):
            self._count(outcome)
            return outcome
        reply = with_receipt(from_response(outcome, row), row, self._receipt_keys)
        self._count(reply)
        return reply

    def _send_batch_once(
        self, rows: list[OutboxRow], tries: list[Try], traces: list[str] | None
    ) -> list[Reply]:
        body = b'{"signals":[' + b",".join(r.payload.encode("utf-8") for r in rows) + b"]"
        if traces is not None:
            body += b',"traceparents":' + json.dumps(traces, separators=(",", ":")).encode()
        body += b"}"
        batch_id = (
            "batch_" + hashlib.sha256("|".join(r.event_id for r in rows).encode()).hexdigest()[:32]
        )
        outcome = self._post(BATCH_ENDPOINT, body, batch_id, tries)
        if isinstance(outcome, Reply):
            replies = [outcome] * len(rows)
        else:
            replies = [
                with_receipt(reply, row, self._receipt_keys)
                for reply, row in zip(from_batch_response(outcome, rows), rows, strict=True)
            ]
        for reply in replies:
            self._count(reply)
        return replies

    @staticmethod
    def _transient(result: Reply | list[Reply]) -> bool:
        """Worth a quick second try: a transport fault or 5xx (for a batch, they come whole)."""
        first = result[0] if isinstance(result, list) else result
        return first.answer in _TRANSIENT

    def _headers(self, message_id: str, body: bytes) -> dict[str, str]:
        headers = {"X-API-Key": self._api_key, "Content-Type": "application/json"}
        if self._tracing.on:
            traceparent = self._tracing.current_traceparent()
            if traceparent:
                headers["traceparent"] = traceparent
        if self._webhooks:
            now = datetime.now(UTC)
            text = body.decode()
            headers["webhook-id"] = message_id
            headers["webhook-timestamp"] = str(int(now.timestamp()))
            headers["webhook-signature"] = " ".join(
                webhook.sign(message_id, now, text) for webhook in self._webhooks
            )
        return headers

    def _post(
        self, path: str, body: bytes, message_id: str, tries: list[Try]
    ) -> httpx.Response | Reply:
        """One POST read to the end within the deadline; the response, or the Reply for
        the exception that stopped it. Appends the POST to `tries`."""
        post, started_at, started = next(_POSTS), utc_now(), steady_seconds()
        outcome: httpx.Response | Reply
        try:
            with under_deadline(self._deadline):
                outcome = self._exchange(path, body, message_id, started)
            status, error, answer = outcome.status_code, None, _excerpt(outcome)
        except Exception as exc:
            outcome = from_exception(exc)
            status, error, answer = None, type(exc).__name__, outcome.detail
        seconds = steady_seconds() - started
        tries.append(Try(post, started_at, seconds, status, error, answer))
        self._metrics.delivery_seconds.observe(seconds)
        return outcome

    def _exchange(self, path: str, body: bytes, message_id: str, started: float) -> httpx.Response:
        """Send, then read the answer to its end. Every socket operation honours the
        deadline (relay/deadline.py, with the relay's transport); the check between
        chunks covers a client built on another transport."""
        request = self._client.build_request(
            "POST", path, content=body, headers=self._headers(message_id, body)
        )
        streamed = self._client.send(request, stream=True)
        crash_point("after_send")
        try:
            chunks = []
            for chunk in streamed.iter_bytes():
                chunks.append(chunk)
                if steady_seconds() - started > self._deadline:
                    raise DeadlineExceeded(f"answer not complete within {self._deadline} s")
        finally:
            streamed.close()
        headers = [(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _ENCODING]
        return httpx.Response(
            streamed.status_code, headers=headers, content=b"".join(chunks), request=request
        )

    def _count(self, reply: Reply) -> None:
        self._metrics.deliveries.labels(_result_label(reply)).inc()

    def _on_backoff(self, details: Any) -> None:
        log.info(
            "delivery retry",
            extra={"event": "delivery_retry", "tries": details["tries"], "wait": details["wait"]},
        )


_LABELS = {
    Answer.FAILED: "timeout",
    Answer.UNAVAILABLE: "connection_error",
    Answer.MISCONFIGURED: "client_error",
}


def _result_label(reply: Reply) -> str:
    """The `result` label: Alpine's status word, `http_NNN`, or the kind of transport fault."""
    if reply.answer is Answer.ACKNOWLEDGED:
        return reply.detail
    if reply.status:
        return f"http_{reply.status}"
    return _LABELS.get(reply.answer, reply.answer.value)


def _excerpt(response: httpx.Response) -> str:
    """The start of Alpine's answer, for the attempt log (the log caps it)."""
    return response.content[:EXCERPT_BYTES].decode("utf-8", errors="replace")


def _ended(span: Span, row: OutboxRow, reply: Reply, posts: int) -> None:
    """End a send span with what its `posts` POSTs came to (a DEBUG line while it is
    current)."""
    log.debug(
        "sent %s: %s",
        row.event_id,
        reply.answer.value,
        extra={"event": "sent", "event_id": row.event_id, "answer": reply.answer.value},
    )
    span.set("relay.answer", reply.answer.value)
    span.set("relay.detail", reply.detail[:200])
    span.set("relay.posts", posts)
    if reply.status:
        span.set("http.response.status_code", reply.status)
    span.end()


def _held_hash(item: dict[str, Any]) -> str:
    """The signal's hash as Alpine holds it: the one stored at ingest when its fields still
    hash to it, else both (matching nothing: the record was edited behind Alpine's back)."""
    stored, content = str(item["sha256"]), item.get("content_sha256")
    if content is None or content == stored:
        return stored
    return f"edited:{stored}:{content}"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
