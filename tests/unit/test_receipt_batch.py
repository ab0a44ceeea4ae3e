"""The batch answer's fast paths give the receipts the slow, obvious code gives:
`signal_text` is `receipt_text`, `merkle` is the pairwise tree with the odd node carried
up, and `sign_signals` is `sign_many`."""

from __future__ import annotations

import hashlib

import pytest

from alpine.receipts import (
    SigningKey,
    fold,
    leaf_hash,
    merkle,
    node_hash,
    receipt_text,
    signal_text,
)

KEY = SigningKey.parse(SigningKey.generate("k-1"), "test")


def reference_merkle(leaves: list[str]) -> tuple[str, list[list[list[str]]]]:
    """The tree as the receipts' docstring states it, one leaf's path at a time."""
    paths: list[list[list[str]]] = [[] for _ in leaves]
    level = [(h, [i]) for i, h in enumerate(leaves)]
    while len(level) > 1:
        above = []
        for j in range(0, len(level) - 1, 2):
            (left, under_left), (right, under_right) = level[j], level[j + 1]
            for i in under_left:
                paths[i].append(["R", right])
            for i in under_right:
                paths[i].append(["L", left])
            above.append((node_hash(left, right), under_left + under_right))
        if len(level) % 2:
            above.append(level[-1])
        level = above
    return level[0][0], paths


@pytest.mark.parametrize("count", [*range(1, 18), 31, 32, 33, 500])
def test_merkle_is_the_pairwise_tree(count: int) -> None:
    leaves = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(count)]
    root, paths = merkle(leaves)
    assert (root, paths) == reference_merkle(leaves)
    assert all(fold(leaf, path) == root for leaf, path in zip(leaves, paths, strict=True))


@pytest.mark.parametrize(
    ("kid", "signal_id", "stored_at"),
    [
        ("k-1", "0123456789abcdef", "2026-12-01T14:03:00.250000Z"),
        ('odd"kid\\', "id with é and \u2028", "2026-12-01T14:03:00.000000Z"),
    ],
)
def test_signal_text_is_receipt_text(kid: str, signal_id: str, stored_at: str) -> None:
    fields = {
        "v": 1,
        "event": "signal.created",
        "signal_id": signal_id,
        "sha256": "ab" * 32,
        "seq": 12345678901,
        "stored_at": stored_at,
        "kid": kid,
    }
    assert signal_text(kid, signal_id, "ab" * 32, 12345678901, stored_at) == receipt_text(fields)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 500])
def test_sign_signals_is_sign_many(count: int) -> None:
    stored = [
        (f"{n:016x}", f"{n:064x}", 100 + n, "2026-12-01T14:03:00.250000Z") for n in range(count)
    ]
    fields = [
        {"event": "signal.created", "signal_id": s, "sha256": h, "seq": q, "stored_at": t}
        for s, h, q, t in stored
    ]
    receipts = KEY.sign_signals(stored)
    assert receipts == KEY.sign_many(fields)
    assert all(KEY.public.verify(r) for r in receipts)
    assert [leaf_hash(receipt_text(r)) for r in receipts] == [
        leaf_hash(signal_text(KEY.kid, *facts)) for facts in stored
    ]
