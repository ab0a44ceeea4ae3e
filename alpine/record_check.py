"""Alpine's published record, as a subscriber checks it: `alpine follow --verify` and
`alpine verify-record`.

Every feed event (a signal, an outcome, an execution) is an entry of one hash chain in
feed order:

    commitment(n) = sha256("argo-alpine-record|v1|" seq "|" kind "|" content "|" nonce)
    hash(n)       = sha256(hash(n-1) "|" commitment(n))          hash(0) = 64 zeros
    sig(m)        = Ed25519 over {"hash","kid","seq","v"} as JSON, sorted keys, compact,
                    on every 32nd entry and the last of each seal (a checkpoint)

`content` is the SHA-256 of what the event states: a signal's verification hash of its
fields, an outcome's or execution's update hash (alpine/canonical.py). The nonce is
random and served only with the event itself, so a tier that may not see an entry (yet)
learns nothing from its commitment, however guessable its prices are.

Each event a tier sees carries `record`: its `hash`, `prev_hash`, `commitment`, `nonce`,
`hidden` (the commitments of the entries between the tier's previous event and this one)
and either its own `kid` and `sig` or, when it is not a checkpoint, `tail` (the
commitments after it up to the next checkpoint) and that `checkpoint` (seq, hash, kid,
sig): one signature covers many entries. A subscriber checks its own entries (content → commitment →
hash → signature) and that they link through the hidden ones; removing, altering or
reordering any past entry breaks the chain at the first event after it.

Like follow.py, this imports only alpine.canonical and cryptography: a subscriber can
copy the three files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from alpine.canonical import UPDATE_FIELDS, update_hash, verification_hash

GENESIS = "0" * 64
VERSION = 1
_UPDATE_EVENTS = {"outcome": "signal.outcome", "execution": "signal.executed"}


def commitment(seq: int, kind: str, content: str, nonce: str) -> str:
    """The entry's commitment to its content, hidden by the nonce."""
    text = f"argo-alpine-record|v{VERSION}|{seq}|{kind}|{content}|{nonce}"
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def link(prev_hash: str, entry_commitment: str) -> str:
    """The entry's hash: the previous entry's hash and this commitment."""
    return hashlib.sha256(f"{prev_hash}|{entry_commitment}".encode("ascii")).hexdigest()


def signed_text(seq: int, entry_hash: str, kid: str) -> bytes:
    """What an entry's signature covers."""
    fields = {"hash": entry_hash, "kid": kid, "seq": seq, "v": VERSION}
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("ascii")


def content_of(item: Mapping[str, Any]) -> str:
    """The SHA-256 of what a served event states (its kind from `event`)."""
    kind = item.get("event", "signal")
    if kind == "signal":
        return verification_hash(item)
    event = _UPDATE_EVENTS[kind]
    return update_hash(event, {name: item[name] for name in UPDATE_FIELDS[event]})


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class RecordKeys:
    """Alpine's public keys by id, from the document /api/v1/keys serves."""

    def __init__(self, keys: Mapping[str, bytes]) -> None:
        self.keys = dict(keys)

    @classmethod
    def from_document(cls, document: Any) -> RecordKeys:
        items = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(items, list) or not items:
            raise ValueError('no keys (expected {"keys": [{"kid": …, "public_key": …}]})')
        keys = {}
        for item in items:
            try:
                raw = _unb64(str(item["public_key"]))
            except (KeyError, TypeError, binascii.Error, ValueError) as exc:
                raise ValueError(f"a key without a readable public_key: {item!r}") from exc
            if len(raw) != 32:
                raise ValueError(f"key {item.get('kid')!r} is not 32 bytes")
            keys[str(item["kid"])] = raw
        return cls(keys)

    def verify(self, seq: int, entry_hash: str, kid: str, sig: str) -> str | None:
        """Why the entry's signature does not hold (None: it holds)."""
        raw = self.keys.get(kid)
        if raw is None:
            return f"signed with key {kid!r}, which is not among Alpine's keys"
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(
                _unb64(sig), signed_text(seq, entry_hash, kid)
            )
        except (InvalidSignature, binascii.Error, ValueError):
            return f"its signature does not verify with key {kid!r}"
        return None


def _signature(seq: int, stated: str, record: Mapping[str, Any]) -> tuple[int, str, str, str]:
    """(seq, hash, kid, sig) of the signature that covers this entry: its own, or its
    checkpoint's, reached from its hash through the `tail` commitments. ValueError when the
    tail does not reach the checkpoint."""
    if record.get("sig"):
        return seq, stated, str(record["kid"]), str(record["sig"])
    tail = [str(c) for c in record["tail"]]
    if "checkpoint" not in record:
        raise ValueError(f"entry {seq + len(tail) + 1} is missing from the record (removed)")
    checkpoint = record["checkpoint"]
    running = stated
    for later in tail:
        running = link(running, later)
    if int(checkpoint["seq"]) != seq + len(tail) or running != checkpoint["hash"]:
        raise ValueError("its tail does not reach the signed checkpoint")
    return int(checkpoint["seq"]), running, str(checkpoint["kid"]), str(checkpoint["sig"])


class RecordBroken(Exception):
    """An entry of the record does not hold; the message names it."""


@dataclass(slots=True)
class ChainCheck:
    """Checks a tier's events in feed order, one at a time, as they arrive or are read.

    `last_seq` / `last_hash`: the tier's previous entry (0 / None before the first: the
    first event is checked on its own, its link from `prev_hash` taken as signed)."""

    keys: RecordKeys
    last_seq: int = 0
    last_hash: str | None = None
    checked: int = 0

    def check(self, item: Mapping[str, Any]) -> None:
        """Raise RecordBroken naming the entry unless `item` holds and links on."""
        seq = int(item["seq"])
        name = f"entry {seq} ({item.get('event', 'signal')} of {item.get('signal_id')})"
        record = item.get("record")
        if not isinstance(record, dict):
            raise RecordBroken(f"{name}: no record (is Alpine's receipt key configured?)")
        try:
            nonce, hidden = str(record["nonce"]), [str(c) for c in record["hidden"]]
            stated, prev_hash = str(record["hash"]), str(record["prev_hash"])
            signed_seq, signed_hash, kid, sig = _signature(seq, stated, record)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordBroken(f"{name}: record incomplete ({exc})") from exc
        try:
            content = content_of(item)
        except (KeyError, TypeError, ValueError) as exc:
            raise RecordBroken(f"{name}: its fields cannot be hashed ({exc})") from exc
        mine = commitment(seq, str(item.get("event", "signal")), content, nonce)
        if mine != record.get("commitment"):
            raise RecordBroken(f"{name}: its content does not match its commitment (altered)")
        if link(prev_hash, mine) != stated:
            raise RecordBroken(f"{name}: its hash does not follow from prev_hash")
        problem = self.keys.verify(signed_seq, signed_hash, kid, sig)
        if problem is not None:
            raise RecordBroken(f"{name}: {problem}")
        if self.last_hash is not None:
            self._links(name, seq, int(item.get("prev_seq", -1)), hidden, prev_hash)
        self.last_seq, self.last_hash = seq, stated
        self.checked += 1

    def _links(self, name: str, seq: int, prev_seq: int, hidden: list[str], prev: str) -> None:
        if prev_seq != self.last_seq or seq <= self.last_seq:
            raise RecordBroken(
                f"{name}: follows entry {prev_seq}, but the previous one held is"
                f" {self.last_seq} (reordered or missing)"
            )
        between = seq - self.last_seq - 1
        if len(hidden) != between:
            raise RecordBroken(
                f"{name}: {between} entries lie between it and entry {self.last_seq}, the"
                f" record shows {len(hidden)} (an entry was removed)"
            )
        running = self.last_hash
        assert running is not None
        for hidden_commitment in hidden:
            running = link(running, hidden_commitment)
        if running != prev:
            raise RecordBroken(
                f"{name}: the chain from entry {self.last_seq} does not reach it"
                " (an entry between was removed, altered or reordered)"
            )
