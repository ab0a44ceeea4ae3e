"""Argo's Signal: deterministic identity, validation, payload shape."""

from __future__ import annotations

import json
import math

import pytest

from argo.signal import Action, derive_signal_id
from tests.support import ROOT, signal_payload


def test_signal_id_is_deterministic_and_16_hex() -> None:
    first = derive_signal_id("AAPL", "BUY", "2026-01-01T00:00:00.000000Z", "s")
    again = derive_signal_id("AAPL", "BUY", "2026-01-01T00:00:00.000000Z", "s")
    other = derive_signal_id("AAPL", "SELL", "2026-01-01T00:00:00.000000Z", "s")
    assert first == again != other
    assert len(first) == 16 and all(c in "0123456789abcdef" for c in first)


@pytest.mark.parametrize(
    "overrides",
    [
        {"entry_price": math.nan},
        {"entry_price": math.inf},
        {"stop_price": -1.0},
        {"stop_price": 200.0},  # BUY with stop above entry
        {"action": Action.SELL},  # SELL with BUY-ordered prices
        {"confidence": 150.0},
        {"confidence": math.nan},
    ],
)
def test_invalid_signals_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        signal_payload(**overrides)


def test_payload_matches_the_json_schema_keys() -> None:
    schema = json.loads((ROOT / "schema" / "signal.schema.json").read_text())
    payload = signal_payload()
    assert set(schema["required"]) <= set(payload)
    assert set(payload) <= set(schema["properties"])
