"""Write schema/receipt-vectors.json: receipts signed with a fixed test key, the exact
text each signature covers, and the inputs of the outcome and execution hashes. Both
sides (alpine/receipts.py signs, the relay verifies) are tested against this file.

    python scripts/make_receipt_vectors.py > schema/receipt-vectors.json
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime

from alpine.receipts import (
    SigningKey,
    b64,
    leaf_hash,
    receipt_text,
    root_text,
    update_hash,
)

SEED = bytes(range(1, 33))  # a test key, public on purpose


def main() -> None:
    key = SigningKey.parse(f"test-1:{b64(SEED)}", "vector key")
    outcome = {
        "signal_id": "0123456789abcdef",
        "outcome": "win",
        "exit_price": 180.5,
        "profit_loss_pct": 5.4,
        "closed_at": datetime(2026, 12, 1, 14, 3, 0, 120000, tzinfo=UTC),
    }
    execution = {
        "signal_id": "0123456789abcdef",
        "order_id": "paper-42",
        "executed_at": datetime(2026, 12, 1, 10, 0, 1, tzinfo=UTC),
        "fill_price": 171.3,
    }
    cases = [
        ("a stored signal", "signal.created", "9f" * 32, 41),
        ("its outcome", "signal.outcome", update_hash("signal.outcome", outcome), 57),
        ("its execution", "signal.executed", update_hash("signal.executed", execution), 44),
    ]
    vectors = []
    for name, event, sha256, seq in cases:
        receipt = key.sign(
            {
                "event": event,
                "signal_id": "0123456789abcdef",
                "sha256": sha256,
                "seq": seq,
                "stored_at": "2026-12-01T14:03:00.250000Z",
            }
        )
        vectors.append(
            {"name": name, "receipt": receipt, "signed_text": receipt_text(receipt).decode()}
        )
    batch = key.sign_many(
        [
            {
                "event": "signal.created",
                "signal_id": f"00000000000000{n:02d}",
                "sha256": f"{n:02d}" * 32,
                "seq": 100 + n,
                "stored_at": "2026-12-01T14:03:00.250000Z",
            }
            for n in range(3)
        ]
    )
    doc = {
        "about": "Alpine's receipts: Ed25519 over signed_text (the receipt without sig and"
        " proof, JSON with sorted keys, no spaces, ASCII). sig is base64url without padding."
        " A batch's receipts share one sig over root_text; each one's proof path leads from"
        " its leaf (sha256 of 'leaf|' + its text) to the root (nodes: sha256 of"
        " 'node|' + left + '|' + right, hex; 'L': the sibling is on the left).",
        "key": {"kid": "test-1", "seed": b64(SEED), "public_key": b64(key.public.raw)},
        "update_hashes": [
            {
                "event": "signal.outcome",
                "values": _text(outcome),
                "sha256": update_hash("signal.outcome", outcome),
            },
            {
                "event": "signal.executed",
                "values": _text(execution),
                "sha256": update_hash("signal.executed", execution),
            },
        ],
        "vectors": vectors,
        "batch": {
            "name": "three signals of one batch answer",
            "receipts": batch,
            "leaves": [leaf_hash(receipt_text(r)) for r in batch],
            "root_text": root_text(key.kid, batch[0]["proof"]["root"]).decode(),
        },
    }
    json.dump(doc, sys.stdout, indent=2)
    sys.stdout.write("\n")


def _text(values: dict[str, object]) -> dict[str, object]:
    return {
        k: v.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(v, datetime) else v
        for k, v in values.items()
    }


if __name__ == "__main__":
    main()
