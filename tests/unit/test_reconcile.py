"""`relay verify`'s buckets, as a table."""

from __future__ import annotations

from argo.signals.inventory import Committed, Delivery
from relay.reconcile import reconcile


def c(signal_id: str, delivery: Delivery = Delivery.DELIVERED, sha: str = "h") -> Committed:
    return Committed(signal_id, sha, delivery)


def test_every_signal_lands_in_one_bucket() -> None:
    argo = {
        "a": c("a"),
        "b": c("b"),  # delivered, not in Alpine: lost
        "d": c("d", Delivery.DEAD),  # its creation is dead: missing in Alpine too
        "p": c("p", Delivery.PENDING),  # on its way
        "m": c("m", sha="h2"),  # altered
        "q": c("q", Delivery.PENDING),  # pending but already stored: matched
    }
    alpine = {"a": "h", "m": "h", "q": "h", "u": "h"}
    result = reconcile(argo, alpine)
    assert sorted(result.matched) == ["a", "q"]
    assert sorted(result.missing) == ["b", "d"]
    assert result.mismatched == ["m"] and result.unknown == ["u"] and result.pending == ["p"]
    assert not result.ok
    report = result.as_dict()
    assert report["missing"] == 2 and report["first"]["missing"] == ["b", "d"]


def test_pending_and_unknown_do_not_fail_it() -> None:
    result = reconcile({"p": c("p", Delivery.PENDING)}, {"u": "h"})
    assert result.ok


def test_causes_keep_the_words_and_drop_what_differs_between_rows() -> None:
    from relay.triage import cause_of

    assert cause_of("batch item invalid: sha256 does not match") == (
        "batch item invalid: sha256 does not match"
    )
    assert cause_of("HTTP 422: price: greater than 0, got -3.5") == cause_of(
        "HTTP 422: price: greater than 0, got 7"
    )
    assert cause_of("gave up after 20 attempts: HTTP 500: x 0123456789abcdef") == (
        "gave up after N attempts: HTTP 500: x <id>"
    )
