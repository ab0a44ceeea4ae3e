"""The relay's side of Alpine's receipts: written from the contract (schema/receipt-vectors.json),
not from Alpine's code, and checked against it; how an acknowledgment is judged by its receipt;
how `relay verify` audits kept receipts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from alpine.receipts import SigningKey
from argo.outbox import EventType, KeptReceipt, OutboxRow
from relay.errors import ConfigError
from relay.fate import Answer, Reply
from relay.receipt_audit import Held, audit
from relay.receipts import ReceiptKeys, content_sha256, signed_text, with_receipt

VECTORS = json.loads((Path(__file__).parents[2] / "schema" / "receipt-vectors.json").read_text())
KEY = VECTORS["key"]
PINNED = ReceiptKeys.parse(f"{KEY['kid']}:{KEY['public_key']}")
SIGNER = SigningKey.parse(f"{KEY['kid']}:{KEY['seed']}", "test key")
NOW = datetime(2026, 12, 1, 14, 3, tzinfo=UTC)


def _row(
    event_type: str, payload: dict[str, Any], signal_id: str = "0123456789abcdef"
) -> OutboxRow:
    return OutboxRow(1, "evt_1", event_type, signal_id, json.dumps(payload), NOW, 0)


def _receipt(event: str, sha256: str, signal_id: str = "0123456789abcdef") -> dict[str, Any]:
    return SIGNER.sign(
        {
            "event": event,
            "signal_id": signal_id,
            "sha256": sha256,
            "seq": 7,
            "stored_at": "2026-12-01T14:03:00.250000Z",
        }
    )


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_every_vector_verifies_and_its_signed_text_is_the_contracts(vector: dict[str, Any]) -> None:
    assert signed_text(vector["receipt"]).decode() == vector["signed_text"]
    assert PINNED.problem(vector["receipt"]) is None
    forged = vector["receipt"] | {"seq": vector["receipt"]["seq"] + 1}
    assert "does not verify" in str(PINNED.problem(forged))


@pytest.mark.parametrize("case", VECTORS["update_hashes"], ids=lambda c: c["event"])
def test_an_update_rows_content_hash_is_the_contracts(case: dict[str, Any]) -> None:
    assert content_sha256(_row(case["event"], case["values"])) == case["sha256"]


def test_keys_parse_from_a_list_or_from_alpines_keys_document(tmp_path: Path) -> None:
    document = {"keys": [{"kid": "k1", "alg": "Ed25519", "public_key": KEY["public_key"]}]}
    path = tmp_path / "keys.json"
    path.write_text(json.dumps(document))
    assert ReceiptKeys.parse(f"@{path}").keys == {"k1": PINNED.keys[KEY["kid"]]}
    for bad in ("", "nokey", f"k1:{KEY['public_key'][:-4]}", "@/nonexistent/keys.json"):
        with pytest.raises(ConfigError, match="RELAY_ALPINE_RECEIPT_KEYS"):
            ReceiptKeys.parse(bad)


def test_an_acknowledgment_with_a_valid_receipt_is_kept_verified() -> None:
    row = _row(EventType.SIGNAL_CREATED, {"sha256": "ab" * 32})
    reply = Reply(Answer.ACKNOWLEDGED, "created", receipt=_receipt(row.event_type, "ab" * 32))
    judged = with_receipt(reply, row, PINNED)
    assert judged.answer is Answer.ACKNOWLEDGED and judged.receipt_verified
    unpinned = with_receipt(reply, row, None)
    assert unpinned.answer is Answer.ACKNOWLEDGED and not unpinned.receipt_verified


def test_missing_foreign_or_forged_receipts_pause_and_other_content_dead_letters() -> None:
    row = _row(EventType.SIGNAL_CREATED, {"sha256": "ab" * 32})
    good = _receipt(row.event_type, "ab" * 32)
    cases = {
        "without a receipt": None,
        "does not list": good | {"kid": "k9"},
        "does not verify": good | {"seq": 8},
        "not signal.created of": _receipt(row.event_type, "ab" * 32, signal_id="fedcba9876543210"),
    }
    for text, receipt in cases.items():
        judged = with_receipt(Reply(Answer.ACKNOWLEDGED, "created", receipt=receipt), row, PINNED)
        assert judged.answer is Answer.MISCONFIGURED and text in judged.detail, (text, judged)
    other = with_receipt(
        Reply(Answer.ACKNOWLEDGED, "created", receipt=_receipt(row.event_type, "cd" * 32)),
        row,
        PINNED,
    )
    assert other.answer is Answer.REFUSED and "Alpine holds something else" in other.detail
    refused = Reply(Answer.REFUSED, "HTTP 422: bad")
    assert with_receipt(refused, row, PINNED) is refused


def _kept(event: str, sha256: str, signal_id: str = "0123456789abcdef") -> KeptReceipt:
    return KeptReceipt(
        f"evt_{event}_{signal_id}", signal_id, event, _receipt(event, sha256, signal_id), True, NOW
    )


def test_the_audit_names_forged_deleted_altered_and_rewritten_entries() -> None:
    a, b, c, d = "a" * 16, "b" * 16, "c" * 16, "d" * 16
    receipts = [
        _kept(EventType.SIGNAL_CREATED, "11" * 32, a),
        _kept(EventType.SIGNAL_OUTCOME, "22" * 32, a),
        _kept(EventType.SIGNAL_CREATED, "33" * 32, b),  # deleted in Alpine
        _kept(EventType.SIGNAL_CREATED, "44" * 32, c),  # altered in Alpine
        _kept(EventType.SIGNAL_EXECUTED, "55" * 32, d),  # execution rewritten
    ]
    forged = _kept(EventType.SIGNAL_CREATED, "66" * 32, d)
    forged = KeptReceipt(
        forged.event_id, d, forged.event_type, forged.receipt | {"sha256": "77" * 32}, True, NOW
    )
    alpine = {
        a: Held("11" * 32, outcome_sha256="22" * 32),
        c: Held("edited:" + "44" * 32),
        d: Held("66" * 32, execution_sha256="88" * 32),
    }
    result = audit([*receipts, forged], PINNED, alpine)
    assert result.checked == 6 and not result.ok
    assert [f.signal_id for f in result.forged] == [d]
    assert [(f.event_type, f.signal_id) for f in result.broken] == [
        (EventType.SIGNAL_CREATED, b),
        (EventType.SIGNAL_CREATED, c),
        (EventType.SIGNAL_EXECUTED, d),
    ]
    assert "no longer holds it" in result.broken[0].reason
    assert audit(receipts[:2], PINNED, alpine).ok


def test_the_relay_checks_a_batchs_receipts_by_their_proofs() -> None:
    receipts = VECTORS["batch"]["receipts"]
    assert all(PINNED.problem(r) is None for r in receipts)
    assert "does not lead to its root" in str(PINNED.problem(receipts[0] | {"seq": 1}))
    forged_root = receipts[0] | {"proof": {"root": "00" * 32, "path": []}}
    assert "does not lead to its root" in str(PINNED.problem(forged_root))
    assert "malformed" in str(PINNED.problem(receipts[0] | {"proof": {"path": [["L"]]}}))
