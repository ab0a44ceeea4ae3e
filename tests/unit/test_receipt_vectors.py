"""Alpine's receipts against schema/receipt-vectors.json: the same key signs the same
text to the same signature (Ed25519 is deterministic), the update hashes match, a
changed field fails, and OpenSSL (another Ed25519 implementation) agrees."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from alpine.receipts import (
    PublicKey,
    SigningKey,
    fold,
    leaf_hash,
    receipt_text,
    root_text,
    unb64,
    update_hash,
)
from tests.support import ROOT

VECTORS: dict[str, Any] = json.loads((ROOT / "schema" / "receipt-vectors.json").read_text())
KEY = SigningKey.parse(f"{VECTORS['key']['kid']}:{VECTORS['key']['seed']}", "vectors")
PUBLIC = PublicKey(VECTORS["key"]["kid"], unb64(VECTORS["key"]["public_key"]), current=True)


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: v["name"])
def test_alpine_signs_each_vector_exactly(vector: dict[str, Any]) -> None:
    receipt = vector["receipt"]
    fields = {k: v for k, v in receipt.items() if k not in ("v", "kid", "sig")}
    assert KEY.sign(fields) == receipt
    assert receipt_text(receipt).decode() == vector["signed_text"]
    assert PUBLIC.verify(receipt)
    assert not PUBLIC.verify({**receipt, "seq": receipt["seq"] + 1})
    assert not PUBLIC.verify({**receipt, "sha256": "0" * 64})


@pytest.mark.parametrize("case", VECTORS["update_hashes"], ids=lambda c: c["event"])
def test_update_hashes(case: dict[str, Any]) -> None:
    values = {
        k: datetime.fromisoformat(v.replace("Z", "+00:00")) if k.endswith("_at") else v
        for k, v in case["values"].items()
    }
    assert update_hash(case["event"], values) == case["sha256"]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_openssl_verifies_a_receipt_by_hand(tmp_path: Path) -> None:
    vector = VECTORS["vectors"][0]
    # An Ed25519 public key as PEM: the fixed SubjectPublicKeyInfo prefix + the 32 bytes.
    der = bytes.fromhex("302a300506032b6570032100") + unb64(VECTORS["key"]["public_key"])
    (tmp_path / "pub.der").write_bytes(der)
    (tmp_path / "text").write_text(vector["signed_text"])
    (tmp_path / "sig").write_bytes(unb64(vector["receipt"]["sig"]))
    command = [
        "openssl",
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "pub.der",
        "-keyform",
        "DER",
        "-rawin",
        "-in",
        "text",
        "-sigfile",
        "sig",
    ]
    good = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert good.returncode == 0 and "Verified Successfully" in good.stdout, good.stderr
    (tmp_path / "text").write_text(vector["signed_text"].replace('"seq":41', '"seq":42'))
    bad = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert bad.returncode != 0


BATCH: dict[str, Any] = VECTORS["batch"]


def test_a_batch_is_signed_once_and_each_receipt_proves_its_place() -> None:
    receipts = BATCH["receipts"]
    fields = [
        {k: v for k, v in r.items() if k not in ("v", "kid", "sig", "proof")} for r in receipts
    ]
    assert KEY.sign_many(fields) == receipts
    assert len({r["sig"] for r in receipts}) == 1
    assert [leaf_hash(receipt_text(r)) for r in receipts] == BATCH["leaves"]
    root = receipts[0]["proof"]["root"]
    pairs = zip(BATCH["leaves"], receipts, strict=True)
    assert all(fold(leaf, r["proof"]["path"]) == root for leaf, r in pairs)
    assert root_text(KEY.kid, root).decode() == BATCH["root_text"]
    assert all(PUBLIC.verify(r) for r in receipts)
    assert not PUBLIC.verify({**receipts[1], "seq": receipts[1]["seq"] + 1})
    swapped = {**receipts[0], "proof": receipts[1]["proof"]}
    assert not PUBLIC.verify(swapped)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl on this machine")
def test_openssl_verifies_a_batch_root_by_hand(tmp_path: Path) -> None:
    der = bytes.fromhex("302a300506032b6570032100") + unb64(VECTORS["key"]["public_key"])
    (tmp_path / "pub.der").write_bytes(der)
    (tmp_path / "text").write_text(BATCH["root_text"])
    (tmp_path / "sig").write_bytes(unb64(BATCH["receipts"][0]["sig"]))
    command = (
        "openssl pkeyutl -verify -pubin -inkey pub.der -keyform DER -rawin -in text -sigfile sig"
    )
    good = subprocess.run(
        command.split(), cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert good.returncode == 0 and "Verified Successfully" in good.stdout, good.stderr
