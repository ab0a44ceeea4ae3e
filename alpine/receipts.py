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
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
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
    "moment_text",
    "parse_retired",
    "receipt_text",
    "unb64",
    "update_hash",
]

VERSION = 1
EVENTS = {"signal": "signal.created", "outcome": "signal.outcome", "execution": "signal.executed"}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def receipt_text(fields: Mapping[str, Any]) -> bytes:
    """The signed bytes: every field but `sig`, sorted keys, compact, ASCII."""
    unsigned = {k: v for k, v in fields.items() if k != "sig"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode("ascii")


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
            Ed25519PublicKey.from_public_bytes(self.raw).verify(
                unb64(str(receipt["sig"])), receipt_text(receipt)
            )
        except (InvalidSignature, KeyError, ValueError, binascii.Error):
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
