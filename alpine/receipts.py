"""Alpine's signed receipts: proof, kept by the sender, that Alpine stored an event.

For every event Alpine accepts (a signal, an outcome, an execution; stored or already
held alike) its answer carries a receipt: which event, the SHA-256 of what Alpine
holds for it, its feed position, when it was stored, and the id of the Ed25519 key
that signed it. The signature covers the receipt's *text*: its fields other than
`sig`, as JSON with sorted keys, no spaces, ASCII escapes (schema/receipt-vectors.json
pins it, so any Ed25519 implementation can check one by hand).

The SHA-256 of a signal is its verification_hash; of an outcome or an execution, the
SHA-256 of the same kind of text over the fields that event recorded, times as
RFC 3339 UTC with microseconds and `Z` (`update_hash`).

An answer with several receipts (the batch endpoint) is signed once: each receipt's text
is a leaf of a Merkle tree, `sig` covers the root's text `{"kid":…,"root":…,"v":1}`,
and each receipt carries `proof`: the root and the path from its leaf to it
(`leaf = sha256("leaf|" + text)`, `node = sha256("node|" + left + "|" + right)`, hex;
each path step `["L", hash]` when the sibling is on the left, `["R", hash]` on the
right). One signature per batch instead of one per event.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from alpine.canonical import UPDATE_FIELDS, moment_text, update_hash
from alpine.errors import ConfigError

__all__ = [
    "EVENTS",
    "UPDATE_FIELDS",
    "PublicKey",
    "SigningKey",
    "b64",
    "fold",
    "leaf_hash",
    "merkle",
    "moment_text",
    "parse_retired",
    "receipt_text",
    "root_text",
    "signal_text",
    "unb64",
    "update_hash",
]

VERSION = 1
# json's own C string encoder: the exact escaping receipt_text's json.dumps writes.
_quote: Any = json.encoder.encode_basestring_ascii
EVENTS = {"signal": "signal.created", "outcome": "signal.outcome", "execution": "signal.executed"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def receipt_text(fields: Mapping[str, Any]) -> bytes:
    """The receipt's text: every field but `sig` and `proof`, sorted keys, compact, ASCII
    (signed itself, or a leaf of its batch's tree)."""
    unsigned = {k: v for k, v in fields.items() if k not in ("sig", "proof")}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")


def signal_text(kid: str, signal_id: str, sha256: str, seq: int, stored_at: str) -> bytes:
    """`receipt_text` of a `signal.created` receipt, written directly (its keys are
    fixed): the same bytes, in a fraction of the time."""
    return (
        f'{{"event":"signal.created","kid":{_quote(kid)},"seq":{int(seq)},'
        f'"sha256":{_quote(sha256)},"signal_id":{_quote(signal_id)},'
        f'"stored_at":{_quote(stored_at)},"v":{VERSION}}}'
    ).encode("ascii")


def leaf_hash(text: bytes) -> str:
    return hashlib.sha256(b"leaf|" + text).hexdigest()


def node_hash(left: str, right: str) -> str:
    return hashlib.sha256(f"node|{left}|{right}".encode("ascii")).hexdigest()


def root_text(kid: str, root: str) -> bytes:
    """What a batch's signature covers."""
    fields = {"kid": kid, "root": root, "v": VERSION}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def merkle(leaves: list[str]) -> tuple[str, list[list[list[str]]]]:
    """The root over `leaves` and each leaf's path to it (an odd last node goes up as is).

    Level by level: the node over leaf i at level k is node i >> k, its sibling the node
    (i >> k) ^ 1. A step names its sibling, so the leaves under a node share its step
    (one list object, read-only: the paths are only serialised)."""
    levels: list[list[str]] = [leaves]
    steps: list[list[list[str] | None]] = []
    while len(levels[-1]) > 1:
        level = levels[-1]
        last = len(level) - 1
        steps.append(
            [
                (["L", level[j - 1]] if j % 2 else ["R", level[j + 1]])
                if j % 2 or j < last
                else None
                for j in range(len(level))
            ]
        )
        above = [node_hash(level[j], level[j + 1]) for j in range(0, last, 2)]
        if len(level) % 2:
            above.append(level[-1])
        levels.append(above)
    paths = [
        [step for k, at in enumerate(steps) if (step := at[i >> k]) is not None]
        for i in range(len(leaves))
    ]
    return levels[-1][0], paths


def fold(leaf: str, path: list[list[str]]) -> str:
    """The root a leaf's path leads to."""
    running = leaf
    for side, sibling in path:
        running = node_hash(sibling, running) if side == "L" else node_hash(running, sibling)
    return running


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A key receipts may be checked with; `current` signs new receipts."""

    kid: str
    raw: bytes  # 32 bytes
    current: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": "Ed25519",
            "public_key": b64(self.raw),
            "status": "current" if self.current else "retired",
        }

    def verify(self, receipt: Mapping[str, Any]) -> bool:
        try:
            text = receipt_text(receipt)
            proof = receipt.get("proof")
            if proof is not None:
                root = fold(leaf_hash(text), proof["path"])
                if root != proof["root"]:
                    return False
                text = root_text(str(receipt["kid"]), root)
            Ed25519PublicKey.from_public_bytes(self.raw).verify(unb64(str(receipt["sig"])), text)
        except (InvalidSignature, KeyError, TypeError, ValueError, binascii.Error):
            return False
        return True


@dataclass(frozen=True, slots=True)
class SigningKey:
    """Alpine's current receipt key: `kid:base64url(32-byte seed)`."""

    kid: str
    private: Ed25519PrivateKey

    @classmethod
    def parse(cls, text: str, name: str) -> SigningKey:
        kid, raw = _split(text, name)
        try:
            return cls(kid, Ed25519PrivateKey.from_private_bytes(raw))
        except ValueError as exc:
            raise ConfigError(f"{name}: the key must be 32 bytes, base64url") from exc

    @classmethod
    def generate(cls, kid: str) -> str:
        """A new key's text (for `alpine keys new`)."""
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return f"{kid}:{b64(seed)}"

    @property
    def public(self) -> PublicKey:
        raw = self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return PublicKey(self.kid, raw, current=True)

    def sign(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """`fields` with `v`, `kid` and `sig` added."""
        receipt = {"v": VERSION, **fields, "kid": self.kid}
        receipt["sig"] = b64(self.private.sign(receipt_text(receipt)))
        return receipt

    def sign_many(self, many: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Receipts for several events with one signature (a Merkle tree); one alone is
        signed as `sign` does."""
        if len(many) < 2:
            return [self.sign(fields) for fields in many]
        receipts = [{"v": VERSION, **fields, "kid": self.kid} for fields in many]
        return self._sign_tree(receipts, [receipt_text(r) for r in receipts])

    def sign_signals(self, stored: Sequence[tuple[str, str, int, str]]) -> list[dict[str, Any]]:
        """`sign_many` for stored signals: (signal_id, sha256, seq, stored_at text) each,
        the receipts of `signal.created`. The same receipts, with each leaf's text written
        directly (`signal_text`) rather than through a dict and json: the batch answer's
        cost."""
        receipts = [
            {
                "v": VERSION,
                "event": "signal.created",
                "signal_id": signal_id,
                "sha256": sha256,
                "seq": seq,
                "stored_at": stored_at,
                "kid": self.kid,
            }
            for signal_id, sha256, seq, stored_at in stored
        ]
        if len(receipts) < 2:
            return [self.sign(r) for r in receipts]
        texts = [signal_text(self.kid, *facts) for facts in stored]
        return self._sign_tree(receipts, texts)

    def _sign_tree(
        self, receipts: list[dict[str, Any]], texts: list[bytes]
    ) -> list[dict[str, Any]]:
        root, paths = merkle([leaf_hash(text) for text in texts])
        sig = b64(self.private.sign(root_text(self.kid, root)))
        for receipt, path in zip(receipts, paths, strict=True):
            receipt["sig"] = sig
            receipt["proof"] = {"root": root, "path": path}
        return receipts


def parse_retired(text: str, name: str) -> list[PublicKey]:
    """Retired public keys, `kid:base64url(32 bytes)` separated by commas."""
    keys = []
    for part in (p.strip() for p in text.split(",")):
        if part:
            kid, raw = _split(part, name)
            if len(raw) != 32:
                raise ConfigError(f"{name}: key {kid} must be 32 bytes, base64url")
            keys.append(PublicKey(kid, raw, current=False))
    return keys


def _split(text: str, name: str) -> tuple[str, bytes]:
    kid, sep, encoded = text.strip().partition(":")
    if not sep or not kid or not kid.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(f"{name}: expected KEY_ID:BASE64URL (letters, digits, - and _ in the id)")
    try:
        return kid, unb64(encoded)
    except (binascii.Error, ValueError) as exc:
        raise ConfigError(f"{name}: key {kid} is not base64url") from exc
