"""Relay-wide pacing: consecutive setbacks grow the wait; a window that was already out
when another one's setback was taken does not count as the next setback."""

from __future__ import annotations

from relay.fate import Verdict
from relay.pacing import Pacing, RelayState


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_consecutive_pauses_double_the_wait() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    assert pacing.note(Verdict.PAUSE, "401", 0.0, since=pacing.setbacks) is not None
    assert pacing.wait_seconds() == 5.0
    clock.now += 5.0
    change = pacing.note(Verdict.PAUSE, "401", 0.0, since=pacing.setbacks)
    assert change is not None and change.wait_seconds == 10.0
    assert pacing.wait_seconds() == 10.0


def test_a_window_out_during_a_pause_is_the_same_pause() -> None:
    clock = Clock()
    pacing = Pacing(clock)
    both_claimed_at = pacing.setbacks
    first = pacing.note(Verdict.PAUSE, "401", 0.0, since=both_claimed_at)
    second = pacing.note(Verdict.PAUSE, "401", 0.0, since=both_claimed_at)
    assert first is not None and first.state is RelayState.PAUSED
    assert second is None  # not logged twice
    assert pacing.wait_seconds() == 5.0  # not 10: one setback
    assert pacing.setbacks == 1


def test_a_window_out_during_an_outage_does_not_grow_the_backoff() -> None:
    clock = Clock()
    pacing = Pacing(clock, jitter=lambda ceiling: ceiling)
    claimed_at = pacing.setbacks
    pacing.note(Verdict.OUTAGE, "503", 0.0, since=claimed_at)
    pacing.note(Verdict.OUTAGE, "503", 0.0, since=claimed_at)
    assert pacing.wait_seconds() == 0.5
    clock.now += 0.5
    pacing.note(Verdict.OUTAGE, "503", 0.0, since=pacing.setbacks)
    assert pacing.wait_seconds() == 1.0


def test_delivery_from_any_window_resumes() -> None:
    pacing = Pacing(Clock())
    claimed_at = pacing.setbacks
    pacing.note(Verdict.PAUSE, "401", 0.0, since=claimed_at)
    change = pacing.note(Verdict.FLOWING, "", 0.0, since=claimed_at)
    assert change is not None and change.state is RelayState.RUNNING
