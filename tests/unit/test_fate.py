"""The row state machine as tables: each answer's fate, and the per-window decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from argo.outbox import AttemptFate, OutboxRow
from relay.fate import (
    TABLE,
    Answer,
    Fate,
    Reply,
    Rules,
    Sent,
    Try,
    Verdict,
    decide,
    needs_probe,
)
from relay.retry import RetryPolicy

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
RULES = Rules(RetryPolicy(base_seconds=2.0, max_attempts=5, max_age=timedelta(hours=24)))
A = Answer


def row(n: int, attempts: int = 0, first_failed_at: datetime | None = None) -> OutboxRow:
    return OutboxRow(
        id=n,
        event_id=f"evt_{n}",
        event_type="signal.created",
        signal_id=f"{n:016x}",
        payload="{}",
        created_at=NOW - timedelta(days=3),  # old: age never counts from creation
        attempts=attempts,
        first_failed_at=first_failed_at,
    )


def window(*answers: Answer, retry_after: float = 0.0) -> list[Sent]:
    return [
        Sent(row(n), Reply(answer, f"{answer} detail", retry_after))
        for n, answer in enumerate(answers, 1)
    ]


def fates(*answers: Answer, alpine_up: bool | None = None) -> tuple[list[Fate], Verdict]:
    decision = decide(window(*answers), RULES, NOW, lambda c: c, alpine_up)
    by_id: dict[int, Fate] = {}
    s = decision.settlement
    by_id.update((i, Fate.DELIVERED) for i in s.delivered)
    by_id.update((c.row_id, Fate.CHARGED) for c in s.charged)
    by_id.update((d.row_id, Fate.DEAD) for d in s.dead)
    by_id.update((r.row_id, Fate.RELEASED) for r in s.released)
    return [by_id[n] for n in range(1, len(answers) + 1)], decision.verdict


def test_the_table_covers_every_answer() -> None:
    assert set(TABLE) == set(Answer)


D, C, R, X = Fate.DELIVERED, Fate.CHARGED, Fate.RELEASED, Fate.DEAD


@pytest.mark.parametrize(
    ("answers", "expected", "verdict"),
    [
        ((A.ACKNOWLEDGED,) * 3, [D, D, D], Verdict.FLOWING),
        ((A.REFUSED,), [X], Verdict.FLOWING),
        ((A.NOT_YET,), [C], Verdict.FLOWING),
        # A row failing on its own is charged wherever it sits, before or after a success.
        ((A.FAILED, A.ACKNOWLEDGED, A.ACKNOWLEDGED), [C, D, D], Verdict.FLOWING),
        ((A.ACKNOWLEDGED, A.ACKNOWLEDGED, A.FAILED), [D, D, C], Verdict.FLOWING),
        ((A.ACKNOWLEDGED, A.FAILED, A.FAILED, A.FAILED), [D, C, C, C], Verdict.FLOWING),
        # Nothing succeeded: an outage, nobody charged.
        ((A.FAILED,) * 3, [R, R, R], Verdict.OUTAGE),
        ((A.UNAVAILABLE,) * 2, [R, R], Verdict.OUTAGE),
        ((A.FAILED, A.UNAVAILABLE), [R, R], Verdict.OUTAGE),
        # Refused connections next to successes: Alpine came back; never charged.
        ((A.UNAVAILABLE, A.ACKNOWLEDGED), [R, D], Verdict.FLOWING),
        # Not the Alpine we expect: pause, charge nothing, keep what was acknowledged.
        ((A.MISCONFIGURED,) * 2, [R, R], Verdict.PAUSE),
        ((A.ACKNOWLEDGED, A.MISCONFIGURED, A.FAILED), [D, R, R], Verdict.PAUSE),
        ((A.RATE_LIMITED, A.ACKNOWLEDGED), [R, D], Verdict.RATE_LIMITED),
        ((A.NOT_SENT, A.ACKNOWLEDGED), [R, D], Verdict.FLOWING),
        ((A.NOT_SENT,), [R], Verdict.IDLE),
    ],
)
def test_window_decisions(
    answers: tuple[Answer, ...], expected: list[Fate], verdict: Verdict
) -> None:
    assert fates(*answers) == (expected, verdict)


def test_a_lone_failure_is_ambiguous_and_the_probe_decides() -> None:
    assert needs_probe(window(A.FAILED), RULES)
    assert not needs_probe(window(A.FAILED, A.ACKNOWLEDGED), RULES)
    assert not needs_probe(window(A.FAILED, A.FAILED, A.FAILED), RULES)  # that many: an outage
    assert fates(A.FAILED, alpine_up=True) == ([C], Verdict.FLOWING)  # a poison row
    assert fates(A.FAILED, alpine_up=False) == ([R], Verdict.OUTAGE)
    assert fates(A.FAILED, A.UNAVAILABLE, alpine_up=True) == ([R, R], Verdict.OUTAGE)


def test_charging_counts_attempts_and_schedules_the_retry() -> None:
    decision = decide(
        [Sent(row(1, attempts=2), Reply(A.FAILED, "HTTP 500"))], RULES, NOW, lambda c: c, True
    )
    (charge,) = decision.settlement.charged
    assert charge.attempts == 3 and charge.next_attempt_at == NOW + timedelta(seconds=8)
    assert charge.first_failed_at == NOW and charge.error == "HTTP 500"


def test_the_age_limit_counts_from_the_first_failure_not_creation() -> None:
    young = row(1, attempts=1, first_failed_at=NOW - timedelta(hours=1))
    old = row(2, attempts=1, first_failed_at=NOW - timedelta(hours=25))
    sent = [Sent(r, Reply(A.FAILED, "HTTP 500")) for r in (young, old)]
    sent.append(Sent(row(3), Reply(A.ACKNOWLEDGED, "created")))
    decision = decide(sent, RULES, NOW, lambda c: c)
    assert [c.row_id for c in decision.settlement.charged] == [1]
    (dead,) = decision.settlement.dead
    assert dead.row_id == 2 and "gave up after 2 attempts" in dead.error


def test_exhausted_attempts_dead_letter() -> None:
    sent = [Sent(row(1, attempts=4), Reply(A.FAILED, "HTTP 500"))]
    decision = decide(sent, RULES, NOW, lambda c: c, alpine_up=True)
    assert [d.row_id for d in decision.settlement.dead] == [1]


def test_an_outage_never_ages_or_kills_a_row() -> None:
    exhausted = row(1, attempts=4, first_failed_at=NOW - timedelta(hours=30))
    decision = decide([Sent(exhausted, Reply(A.UNAVAILABLE, "refused"))], RULES, NOW, lambda c: c)
    assert decision.verdict is Verdict.OUTAGE
    assert not decision.settlement.dead and not decision.settlement.charged


def test_rate_limit_waits_for_the_longest_retry_after() -> None:
    sent = [
        Sent(row(1), Reply(A.RATE_LIMITED, "429", 3.0)),
        Sent(row(2), Reply(A.RATE_LIMITED, "429", 9.0)),
    ]
    decision = decide(sent, RULES, NOW, lambda c: c)
    assert decision.verdict is Verdict.RATE_LIMITED and decision.retry_after == 9.0


def _tries(*statuses: int | None) -> tuple[Try, ...]:
    return tuple(
        Try(n, NOW, 0.01, status, None if status else "ConnectError", f"answer {n}")
        for n, status in enumerate(statuses, 1)
    )


def test_every_post_becomes_an_attempt_with_the_fate_it_led_to() -> None:
    sent = [
        Sent(row(1), Reply(A.ACKNOWLEDGED, "created", tries=_tries(500, 201))),
        Sent(row(2, attempts=4), Reply(A.FAILED, "HTTP 500", tries=_tries(500))),
        Sent(row(3), Reply(A.NOT_SENT, "stopping")),
    ]
    attempts = decide(sent, RULES, NOW, lambda c: c, alpine_up=True).settlement.attempts
    assert attempts is not None
    assert [(a.row_id, a.post, a.status, a.detail, a.fate) for a in attempts] == [
        (1, 1, 500, "", AttemptFate.RETRIED_AT_ONCE),
        (1, 2, 201, "created", AttemptFate.DELIVERED),
        (2, 1, 500, "HTTP 500", AttemptFate.DEAD),  # its retries ran out
    ]


def test_in_an_outage_a_failed_post_is_released_not_charged() -> None:
    sent = [Sent(row(n), Reply(A.UNAVAILABLE, "down", tries=_tries(None))) for n in (1, 2, 3)]
    attempts = decide(sent, RULES, NOW, lambda c: c).settlement.attempts
    assert attempts is not None
    assert {(a.error, a.fate) for a in attempts} == {("ConnectError", AttemptFate.RELEASED)}
