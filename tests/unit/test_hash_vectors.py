"""Both sides compute the canonical hash exactly as schema/hash-vectors.json pins it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alpine.canonical import verification_hash
from argo.signal import canonical_hash, canonical_json
from tests.support import ROOT

VECTORS: list[dict[str, Any]] = json.loads(
    (ROOT / "schema" / "hash-vectors.json").read_text(encoding="utf-8")
)["vectors"]


def test_there_are_enough_vectors_with_awkward_floats() -> None:
    assert len(VECTORS) >= 12
    text = (ROOT / "schema" / "hash-vectors.json").read_text(encoding="utf-8")
    for literal in ("0.1", "1e-07", "123456789.125", "1.2345678901234567890123"):
        assert literal in text


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_argo_matches_vector(vector: dict[str, Any]) -> None:
    assert canonical_json(vector["input"]) == vector["canonical"]
    assert canonical_hash(vector["input"]) == vector["sha256"]


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_alpine_matches_vector(vector: dict[str, Any]) -> None:
    assert verification_hash(vector["input"]) == vector["sha256"]


def test_canonical_form_written_out_by_hand() -> None:
    fields = {
        "signal_id": "0a1b2c3d4e5f6071",
        "symbol": "AAPL",
        "action": "BUY",
        "entry_price": 171,
        "target_price": 180,
        "stop_price": 165,
        "confidence": 95,
        "strategy": "s",
        "timestamp": "2025-11-13T14:30:00Z",
        "reasoning": "not hashed",
    }
    assert canonical_json(fields) == (
        '{"action":"BUY","confidence":95.0,"entry_price":171.0,"signal_id":"0a1b2c3d4e5f6071",'
        '"stop_price":165.0,"strategy":"s","symbol":"AAPL","target_price":180.0,'
        '"timestamp":"2025-11-13T14:30:00Z"}'
    )


def test_integer_and_float_senders_agree() -> None:
    as_int, as_float = VECTORS[0], VECTORS[1]
    assert as_int["input"]["entry_price"] == 171 and isinstance(as_int["input"]["entry_price"], int)
    assert as_int["sha256"] == as_float["sha256"]
