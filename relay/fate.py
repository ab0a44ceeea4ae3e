"""The row state machine: what each answer means for a row and for the relay. Pure.

One table maps every answer of a POST (or of a batch item) to a row fate and to what
it says about Alpine; `decide` applies it to a whole window once all its POSTs have
returned. No clock, threads, metrics or IO here: the caller passes `now`.

    pending ──claim──▶ leased ──POST──▶ answer ──decide──▶ delivered   (acknowledged)
       ▲                  │                        ├──────▶ dead        (refused, or exhausted)
       │                  │                        ├──────▶ charged ──▶ pending (due later)
       └──────────────────┴────────────────────────┴──────▶ released ──▶ pending (uncharged)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from argo.outbox import (
    Attempt,
    AttemptFate,
    Charge,
    DeadLetter,
    OutboxRow,
    Receipt,
    Release,
    Settlement,
)
from relay.retry import Jitter, RetryPolicy


class Answer(StrEnum):
    """What one POST (or one batch item) told us about one row."""

    ACKNOWLEDGED = "acknowledged"  # Alpine's 2xx body: stored, duplicate, applied
    REFUSED = "refused"  # Alpine's own verdict on the content: 400/409/413/422, conflict/invalid
    NOT_YET = "not_yet"  # 404 on an outcome or execution: Alpine does not know the signal yet
    FAILED = "failed"  # 500, a timeout after sending: maybe this row's fault, maybe an outage
    UNAVAILABLE = "unavailable"  # nothing reached Alpine, or it says it is down (502/503/504)
    RATE_LIMITED = "rate_limited"  # 429 with Retry-After
    MISCONFIGURED = "misconfigured"  # 401/403, 3xx, unknown 4xx, not Alpine's body, local error
    NOT_SENT = "not_sent"  # the window stopped before this row's POST (stopping, lease lost)


class Fate(StrEnum):
    """Where a row goes after its window."""

    DELIVERED = "delivered"
    CHARGED = "charged"  # one attempt charged; due again after the row's backoff
    RELEASED = "released"  # handed back uncharged
    DEAD = "dead"


class Verdict(StrEnum):
    """What the window says about the relay as a whole."""

    FLOWING = "flowing"  # Alpine answered as Alpine; carry on
    OUTAGE = "outage"  # Alpine failed for everything: back off as a whole
    PAUSE = "pause"  # not the Alpine we expect (key, URL, proxy): stop and alarm
    RATE_LIMITED = "rate_limited"  # wait for Retry-After
    IDLE = "idle"  # nothing was sent


@dataclass(frozen=True, slots=True)
class Meaning:
    """One line of the table: the row's fate, and whether the answer proves Alpine up."""

    fate: Fate
    proves_alpine_up: bool


TABLE: dict[Answer, Meaning] = {
    Answer.ACKNOWLEDGED: Meaning(Fate.DELIVERED, proves_alpine_up=True),
    Answer.REFUSED: Meaning(Fate.DEAD, proves_alpine_up=True),
    Answer.NOT_YET: Meaning(Fate.CHARGED, proves_alpine_up=True),
    # Charged only when Alpine is known to be up; released in an outage (see decide).
    Answer.FAILED: Meaning(Fate.CHARGED, proves_alpine_up=False),
    Answer.UNAVAILABLE: Meaning(Fate.RELEASED, proves_alpine_up=False),
    Answer.RATE_LIMITED: Meaning(Fate.RELEASED, proves_alpine_up=False),
    Answer.MISCONFIGURED: Meaning(Fate.RELEASED, proves_alpine_up=False),
    Answer.NOT_SENT: Meaning(Fate.RELEASED, proves_alpine_up=False),
}


@dataclass(frozen=True, slots=True)
class Try:
    """One POST as it went: when, how long, Alpine's status or the transport error's class,
    and an excerpt of the answer (or the reason). A reply carries one per POST it took."""

    post: int  # the POST's number in this process: a batch's rows share it
    started_at: datetime
    seconds: float
    status: int | None
    error: str | None
    answer: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One row's answer with the evidence: a one-line reason and, for 429, the wait."""

    answer: Answer
    detail: str
    retry_after: float = 0.0
    status: int = 0  # the HTTP status, when there was one
    receipt: dict[str, Any] | None = None  # Alpine's signed receipt, with an acknowledgment
    receipt_verified: bool = False  # checked against the relay's pinned keys
    tries: tuple[Try, ...] = ()  # every POST this reply took, oldest first


@dataclass(frozen=True, slots=True)
class Sent:
    """A row of the window and the reply its last POST got."""

    row: OutboxRow
    reply: Reply


@dataclass(frozen=True, slots=True)
class Decision:
    """Every row's fate for one window, and the relay-wide verdict."""

    settlement: Settlement
    verdict: Verdict
    reason: str = ""
    retry_after: float = 0.0

    def count(self, fate: Fate) -> int:
        s = self.settlement
        sizes = {
            Fate.DELIVERED: len(s.delivered),
            Fate.CHARGED: len(s.charged),
            Fate.DEAD: len(s.dead),
            Fate.RELEASED: len(s.released),
        }
        return sizes[fate]


@dataclass(frozen=True, slots=True)
class Rules:
    """How a window is judged: the retry policy, and when failures mean an outage."""

    policy: RetryPolicy
    outage_threshold: int = 3


def alpine_answered(window: Sequence[Sent]) -> bool:
    """Whether some answer in the window could only have come from a working Alpine."""
    return any(TABLE[s.reply.answer].proves_alpine_up for s in window)


def needs_probe(window: Sequence[Sent], rules: Rules) -> bool:
    """Whether the window's failures are ambiguous: a few FAILED rows and nothing else
    proving Alpine up. A health probe then tells a poison row from an outage."""
    failed = sum(1 for s in window if s.reply.answer is Answer.FAILED)
    return 0 < failed < rules.outage_threshold and not alpine_answered(window)


def decide(
    window: Sequence[Sent],
    rules: Rules,
    now: datetime,
    jitter: Jitter,
    alpine_up: bool | None = None,
) -> Decision:
    """The fate of every row of a window, decided once after all its POSTs returned.

    `alpine_up` is the health probe's result when `needs_probe` asked for one. A row
    that failed on its own is charged wherever it sat in the window; FAILED rows are
    charged only when something shows Alpine working, otherwise the window is an outage
    and every row goes back uncharged.
    """
    verdict, reason, retry_after = _verdict(window, alpine_up)
    charge_failures = verdict is not Verdict.OUTAGE and verdict is not Verdict.PAUSE
    delivered: list[int] = []
    charged: list[Charge] = []
    dead: list[DeadLetter] = []
    released: list[Release] = []
    receipts: list[Receipt] = []
    attempts: list[Attempt] = []
    for sent in window:
        row, reply = sent.row, sent.reply
        fate = TABLE[reply.answer].fate
        if fate is Fate.CHARGED and not charge_failures:
            fate = Fate.RELEASED
        if fate is Fate.DELIVERED:
            delivered.append(row.id)
            if reply.receipt is not None:
                receipts.append(Receipt(row.id, _text(reply.receipt), reply.receipt_verified))
        elif fate is Fate.DEAD:
            dead.append(DeadLetter(row.id, row.attempts, reply.detail))
        elif fate is Fate.RELEASED:
            released.append(
                Release(row.id, reply.detail if reply.answer is not Answer.NOT_SENT else None)
            )
        else:
            fate = _charge(row, reply, rules.policy, now, jitter, charged, dead)
        attempts.extend(_attempts(row, reply, fate))
    settlement = Settlement(
        tuple(delivered),
        tuple(charged),
        tuple(dead),
        tuple(released),
        tuple(receipts),
        tuple(attempts),
    )
    return Decision(settlement, verdict, reason, retry_after)


_LAST_TRY = {
    Fate.DELIVERED: AttemptFate.DELIVERED,
    Fate.CHARGED: AttemptFate.RETRY_LATER,
    Fate.RELEASED: AttemptFate.RELEASED,
    Fate.DEAD: AttemptFate.DEAD,
}


def _attempts(row: OutboxRow, reply: Reply, fate: Fate) -> list[Attempt]:
    """The attempt log's lines for a row's POSTs: earlier ones were retried at once, the
    last led to the row's fate."""
    last = len(reply.tries) - 1
    return [
        Attempt(
            row.id,
            t.post,
            t.started_at,
            t.seconds,
            t.status,
            t.error,
            t.answer,
            reply.detail if i == last else "",
            _LAST_TRY[fate] if i == last else AttemptFate.RETRIED_AT_ONCE,
        )
        for i, t in enumerate(reply.tries)
    ]


def _text(receipt: dict[str, Any]) -> str:
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"))


def _charge(
    row: OutboxRow,
    reply: Reply,
    policy: RetryPolicy,
    now: datetime,
    jitter: Jitter,
    charged: list[Charge],
    dead: list[DeadLetter],
) -> Fate:
    """Charge one attempt, or dead-letter the row when that exhausts it; which it was."""
    attempts = row.attempts + 1
    first_failed_at = row.first_failed_at or now
    if policy.is_exhausted(attempts, first_failed_at, now):
        dead.append(
            DeadLetter(row.id, attempts, f"gave up after {attempts} attempts: {reply.detail}")
        )
        return Fate.DEAD
    next_at = policy.next_attempt_at(attempts, now, jitter)
    charged.append(Charge(row.id, attempts, next_at, first_failed_at, reply.detail))
    return Fate.CHARGED


def _verdict(window: Sequence[Sent], alpine_up: bool | None) -> tuple[Verdict, str, float]:
    """The relay-wide verdict; a pause outranks an outage, which outranks a rate limit."""
    answers = [s.reply for s in window]
    misconfigured = [r for r in answers if r.answer is Answer.MISCONFIGURED]
    if misconfigured:
        return Verdict.PAUSE, misconfigured[0].detail, 0.0
    failing = [r for r in answers if r.answer in (Answer.FAILED, Answer.UNAVAILABLE)]
    if failing and not alpine_answered(window) and not _only_poison(answers, alpine_up):
        return Verdict.OUTAGE, failing[-1].detail, 0.0
    limited = [r for r in answers if r.answer is Answer.RATE_LIMITED]
    if limited:
        return Verdict.RATE_LIMITED, limited[0].detail, max(r.retry_after for r in limited)
    if all(r.answer is Answer.NOT_SENT for r in answers):
        return Verdict.IDLE, "", 0.0
    return Verdict.FLOWING, "", 0.0


def _only_poison(answers: Sequence[Reply], alpine_up: bool | None) -> bool:
    """FAILED rows alone, and the probe found Alpine healthy: they failed on their own."""
    return bool(alpine_up) and all(
        r.answer in (Answer.FAILED, Answer.NOT_SENT, Answer.RATE_LIMITED) for r in answers
    )
