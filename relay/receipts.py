"""Alpine's signed receipts, checked on the relay's side.

Alpine answers every event it accepts with a receipt: the event, the SHA-256 it holds for
it, its feed position, when it was stored, and the id of the Ed25519 key that signed it
(docs/http-api.md, "Receipts"; schema/receipt-vectors.json pins the signed text). The relay
keeps each receipt with the row it settles delivered. When the operator pins Alpine's
public keys (RELAY_ALPINE_RECEIPT_KEYS), an acknowledgment counts as delivery only with a
receipt that verifies with one of them and is for this row's event and content: a missing
or foreign receipt is a misconfiguration (the relay pauses; nothing is marked delivered).

This is the receiving end of a contract between two companies, written from its
specification: it shares no code with Alpine's issuer.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from argo.outbox import EventType, OutboxRow
from relay.errors import ConfigError
from relay.fate import Answer, Reply

SETTING = "RELAY_ALPINE_RECEIPT_KEYS"
VERSION = 1
# The fields of an outcome's or execution's payload its receipt's SHA-256 covers.
UPDATE_FIELDS: dict[str, tuple[str, ...]] = {
    EventType.SIGNAL_OUTCOME: (
        "signal_id",
        "outcome",
        "exit_price",
        "profit_loss_pct",
        "closed_at",
    ),
    EventType.SIGNAL_EXECUTED: ("signal_id", "order_id", "executed_at", "fill_price"),
}


def unb64(text: str) -> bytes:
    """base64url with or without padding."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signed_text(receipt: Mapping[str, Any]) -> bytes:
    """A receipt's text: every field but `sig` and `proof`, sorted keys, compact. Signed
    itself, or (a receipt of a batch, with `proof`) a leaf of the batch's Merkle tree."""
    unsigned = {k: v for k, v in receipt.items() if k not in ("sig", "proof")}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")


class ProofError(ValueError):
    """A batch receipt's path does not lead to the root it names."""


def _node(left: str, right: str) -> str:
    return hashlib.sha256(f"node|{left}|{right}".encode("ascii")).hexdigest()


def covered_text(receipt: Mapping[str, Any]) -> bytes:
    """The bytes `sig` covers: the receipt's text, or for a batch the root its proof's path
    leads to, as `{"kid":…,"root":…,"v":1}`. ValueError when the path leads elsewhere."""
    text = signed_text(receipt)
    proof = receipt.get("proof")
    if proof is None:
        return text
    running = hashlib.sha256(b"leaf|" + text).hexdigest()
    for side, sibling in proof["path"]:
        running = _node(str(sibling), running) if side == "L" else _node(running, str(sibling))
    if running != proof["root"]:
        raise ProofError("its proof does not lead to its root")
    root = {"kid": receipt.get("kid"), "root": running, "v": VERSION}
    return json.dumps(root, sort_keys=True, separators=(",", ":")).encode("ascii")


@functools.lru_cache(maxsize=4096)
def _holds(raw: bytes, sig: str, text: bytes) -> bool:
    """Whether `sig` verifies `text` with `raw` (cached: a batch's receipts share one)."""
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(unb64(sig), text)
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def content_sha256(row: OutboxRow) -> str | None:
    """The SHA-256 Alpine's receipt must name for `row` (None: the payload cannot say)."""
    try:
        payload = json.loads(row.payload)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    if row.event_type == EventType.SIGNAL_CREATED:
        value = payload.get("sha256")
        return value if isinstance(value, str) else None
    names = UPDATE_FIELDS.get(row.event_type)
    if names is None or any(name not in payload for name in names):
        return None
    fields = {name: payload[name] for name in names}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")
    return hashlib.sha256(text).hexdigest()


@dataclass(frozen=True, slots=True)
class ReceiptKeys:
    """Alpine's public receipt keys the relay trusts, by key id."""

    keys: Mapping[str, bytes]

    @classmethod
    def parse(cls, text: str, name: str = SETTING) -> ReceiptKeys:
        """`KEY_ID:BASE64URL` comma-separated, or `@FILE` holding the JSON `alpine keys
        export` prints (and /api/v1/keys serves)."""
        text = text.strip()
        if text.startswith("@"):
            path = Path(text[1:])
            try:
                document = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ConfigError(f"{name}: cannot read keys from {path}: {exc}") from exc
            return cls.from_document(document, f"{name} ({path})")
        keys: dict[str, bytes] = {}
        for part in (p.strip() for p in text.split(",")):
            if part:
                kid, sep, encoded = part.partition(":")
                if not sep or not kid:
                    raise ConfigError(f"{name}: expected KEY_ID:BASE64URL, comma-separated")
                keys[kid] = _raw_key(encoded, f"{name}: key {kid}")
        if not keys:
            raise ConfigError(f"{name}: no key given")
        return cls(keys)

    @classmethod
    def from_document(cls, document: Any, where: str) -> ReceiptKeys:
        """From `{"keys": [{"kid": ..., "public_key": ...}, ...]}`."""
        items = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(items, list) or not items:
            raise ConfigError(f'{where}: no keys (expected {{"keys": [...]}})')
        keys: dict[str, bytes] = {}
        for item in items:
            if not isinstance(item, dict) or item.get("alg", "Ed25519") != "Ed25519":
                raise ConfigError(f"{where}: every key needs kid, public_key and alg Ed25519")
            kid, encoded = item.get("kid"), item.get("public_key")
            if not isinstance(kid, str) or not isinstance(encoded, str):
                raise ConfigError(f"{where}: every key needs kid and public_key")
            keys[kid] = _raw_key(encoded, f"{where}: key {kid}")
        return cls(keys)

    def problem(self, receipt: Mapping[str, Any]) -> str | None:
        """Why `receipt`'s signature does not hold with these keys (None: it holds)."""
        kid = receipt.get("kid")
        raw = self.keys.get(kid) if isinstance(kid, str) else None
        if raw is None:
            known = ", ".join(sorted(self.keys))
            return f"signed with key {kid!r}, which {SETTING} does not list (it lists {known})"
        try:
            text = covered_text(receipt)
        except ProofError as exc:
            return str(exc)
        except (KeyError, TypeError, ValueError):
            return "its proof is malformed"
        if not _holds(raw, str(receipt.get("sig", "")), text):
            return f"its signature does not verify with key {kid!r} of {SETTING}"
        return None


def _raw_key(encoded: str, where: str) -> bytes:
    try:
        raw = unb64(encoded.strip())
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{where} is not base64url") from exc
    if len(raw) != 32:
        raise ConfigError(f"{where} must be 32 bytes (an Ed25519 public key)")
    return raw


def mismatch(receipt: Mapping[str, Any], row: OutboxRow) -> str | None:
    """Why `receipt` is not a receipt for `row`'s event (None: it names it)."""
    if receipt.get("v") != VERSION:
        return f"version {receipt.get('v')!r}, expected {VERSION}"
    if receipt.get("event") != row.event_type or receipt.get("signal_id") != row.signal_id:
        return (
            f"it is for {receipt.get('event')!r} of {receipt.get('signal_id')!r},"
            f" not {row.event_type} of {row.signal_id}"
        )
    if not isinstance(receipt.get("seq"), int) or not isinstance(receipt.get("stored_at"), str):
        return "it has no feed position or time stored"
    return None


def with_receipt(reply: Reply, row: OutboxRow, keys: ReceiptKeys | None) -> Reply:
    """An acknowledgment judged by its receipt: kept (verified when keys are pinned), or
    turned into a pause (missing, foreign or forged receipt) or a dead letter (Alpine
    signed a different content than the row's)."""
    if reply.answer is not Answer.ACKNOWLEDGED:
        return reply
    receipt = reply.receipt
    where = f"Alpine's receipt for {row.event_type} of {row.signal_id}"
    if receipt is None:
        if keys is None:
            return reply
        return Reply(
            Answer.MISCONFIGURED,
            f"Alpine acknowledged {row.event_type} of {row.signal_id} without a receipt, but"
            f" {SETTING} is set (set ALPINE_RECEIPT_KEY on Alpine, or unset {SETTING})",
        )
    problem = mismatch(receipt, row)
    if problem is None and keys is not None:
        problem = keys.problem(receipt)
    if problem is not None:
        return Reply(Answer.MISCONFIGURED, f"{where} is not valid: {problem}"[:300])
    expected = content_sha256(row)
    if expected is not None and receipt.get("sha256") != expected:
        return Reply(
            Answer.REFUSED,
            f"{where} names sha256 {str(receipt.get('sha256'))[:16]}…, the row's content is"
            f" {expected[:16]}…: Alpine holds something else",
        )
    return dataclasses.replace(reply, receipt_verified=keys is not None)
