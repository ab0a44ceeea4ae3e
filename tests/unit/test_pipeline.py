"""The window pipeline's rules, against scripted phases: claim ahead only behind a full
window, never more than `depth` out, settle in claim order, a trickle stays in-thread."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from argo.outbox import Claim, OutboxRow
from argo.outbox.lease import LeaseTime
from relay.fate import Answer, Reply, Sent
from relay.pipeline import Claimed, Pipeline

BATCH = 3


def _claim(first: int, size: int) -> Claim:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    rows = tuple(
        OutboxRow(n, f"e{n}", "signal.created", f"s{n}", "{}", now, 0, None)
        for n in range(first, first + size)
    )
    return Claim(worker="w", token="t", rows=rows, expires=LeaseTime("boot", 0.0))


class Script:
    """Phases whose claims come from `sizes`, recording what ran where and in which order."""

    batch_size = BATCH

    def __init__(self, sizes: list[int], *, may_claim: bool = True) -> None:
        self._sizes = sizes
        self._next_id = 1
        self._may_claim = may_claim
        self.events: list[str] = []
        self.send_threads: list[str] = []
        self.out = 0
        self.most_out = 0

    def claim_window(self) -> Claimed:
        if not self._sizes:
            self.events.append("claim:none")
            return Claimed(7)
        size = self._sizes.pop(0)
        claim = _claim(self._next_id, size)
        self._next_id += size
        self.events.append(f"claim:{claim.rows[0].id}")
        self.out += 1
        self.most_out = max(self.most_out, self.out)
        return Claimed(7, claim)

    def send_window(self, claim: Claim, stop: threading.Event) -> list[Sent]:
        self.send_threads.append(threading.current_thread().name)
        return [Sent(row, Reply(Answer.ACKNOWLEDGED, "")) for row in claim.rows]

    def settle_window(self, claimed: Claimed, sent: list[Sent]) -> str:
        claim = claimed.claim
        assert claim is not None
        self.events.append(f"settle:{claim.rows[0].id}")
        self.out -= 1
        return f"settled {claim.rows[0].id}"

    def nothing_due(self, version: int) -> str:
        return f"idle {version}"

    def may_claim(self) -> bool:
        return self._may_claim


def _run(script: Script, depth: int, steps: int) -> list[str]:
    pipeline = Pipeline(script, depth)
    stop = threading.Event()
    try:
        return [pipeline.step(stop) for _ in range(steps)]
    finally:
        pipeline.close()


def test_a_partial_window_is_sent_in_the_callers_thread_and_settled_before_the_next_claim() -> None:
    script = Script([1, 2])
    reports = _run(script, depth=2, steps=3)
    assert reports == ["settled 1", "settled 2", "idle 7"]
    assert script.events == ["claim:1", "settle:1", "claim:2", "settle:2", "claim:none"]
    assert script.send_threads == [threading.current_thread().name] * 2


def test_behind_a_full_window_the_next_is_claimed_and_sent_before_it_settles() -> None:
    script = Script([BATCH, BATCH, BATCH, 1])
    reports = _run(script, depth=2, steps=5)
    assert reports == ["settled 1", "settled 4", "settled 7", "settled 10", "idle 7"]
    assert script.events[:3] == ["claim:1", "claim:4", "settle:1"]
    settled = [e for e in script.events if e.startswith("settle")]
    assert settled == ["settle:1", "settle:4", "settle:7", "settle:10"]
    assert script.most_out == 2
    assert all(name.startswith("window") for name in script.send_threads)


def test_never_more_windows_out_than_the_depth() -> None:
    script = Script([BATCH] * 8)
    _run(script, depth=3, steps=8)
    assert script.most_out == 3


def test_depth_one_never_claims_ahead() -> None:
    script = Script([BATCH, BATCH, 1])
    _run(script, depth=1, steps=3)
    assert script.events == ["claim:1", "settle:1", "claim:4", "settle:4", "claim:7", "settle:7"]
    assert script.most_out == 1


def test_no_claim_ahead_while_pacing_says_wait() -> None:
    script = Script([BATCH, BATCH], may_claim=False)
    _run(script, depth=2, steps=1)
    assert script.events == ["claim:1", "settle:1"]


def test_closing_settles_what_is_still_out() -> None:
    script = Script([BATCH, BATCH, BATCH])
    pipeline = Pipeline(script, 2)
    pipeline.step(threading.Event())
    assert pipeline.busy
    pipeline.close()
    assert not pipeline.busy
    assert [e for e in script.events if e.startswith("settle")] == ["settle:1", "settle:4"]
