"""Alpine's canonical text: the direct writer gives exactly what `json.dumps` gives (the
contract's definition) for any values, and refuses exactly what it refuses."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from alpine.canonical import HASHED_FIELDS, canonical_text

_TEXTS = st.text(alphabet=st.characters(codec=None), max_size=30)
_NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
)


def _reference(signal: dict[str, Any]) -> str:
    """ARCHITECTURE.md's definition, spelled out with json.dumps."""
    numeric = {"entry_price", "target_price", "stop_price", "confidence"}
    fields = {n: float(signal[n]) if n in numeric else signal[n] for n in HASHED_FIELDS}
    return json.dumps(
        fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


@settings(max_examples=400, deadline=None)
@given(
    texts=st.lists(_TEXTS, min_size=5, max_size=5),
    numbers=st.lists(_NUMBERS, min_size=4, max_size=4),
)
def test_the_direct_text_is_json_dumps(texts: list[str], numbers: list[float]) -> None:
    signal_id, symbol, action, strategy, timestamp = texts
    entry, target, stop, confidence = numbers
    signal = {
        "signal_id": signal_id,
        "symbol": symbol,
        "action": action,
        "entry_price": entry,
        "target_price": target,
        "stop_price": stop,
        "confidence": confidence,
        "strategy": strategy,
        "timestamp": timestamp,
    }
    if all(math.isfinite(float(n)) for n in numbers):
        assert canonical_text(signal) == _reference(signal)
        return
    for text in (canonical_text, _reference):
        try:
            text(signal)
        except ValueError:
            continue
        raise AssertionError(f"{text.__name__} accepted a non-finite number")


def test_a_value_of_another_type_takes_the_general_path() -> None:
    signal: dict[str, Any] = dict.fromkeys(HASHED_FIELDS, "x") | {
        "entry_price": 1,
        "target_price": 2,
        "stop_price": 0.5,
        "confidence": 90,
        "symbol": None,
    }
    assert canonical_text(signal) == _reference(signal)
