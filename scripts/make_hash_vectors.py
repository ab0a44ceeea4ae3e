"""Regenerate schema/hash-vectors.json from the inputs below (run once, then review the diff).

The expected hashes are the contract: changing one breaks both sides on purpose.
"""

from __future__ import annotations

import json
from pathlib import Path

from argo.signal import canonical_hash, canonical_json

BASE = {
    "symbol": "AAPL",
    "action": "BUY",
    "strategy": "momentum-ma-5-20",
    "timestamp": "2025-11-13T14:30:00Z",
}

CASES: list[tuple[str, dict[str, object]]] = [
    (
        "integers are hashed as floats",
        {
            "signal_id": "0a1b2c3d4e5f6071",
            "entry_price": 171,
            "target_price": 180,
            "stop_price": 165,
            "confidence": 95,
        },
    ),
    (
        "the same prices written as floats give the same hash",
        {
            "signal_id": "0a1b2c3d4e5f6071",
            "entry_price": 171.0,
            "target_price": 180.0,
            "stop_price": 165.0,
            "confidence": 95.0,
        },
    ),
    (
        "0.1 is not exactly representable",
        {
            "signal_id": "1111111111111111",
            "entry_price": 0.2,
            "target_price": 0.3,
            "stop_price": 0.1,
            "confidence": 90.1,
        },
    ),
    (
        "tiny prices use exponent form",
        {
            "signal_id": "2222222222222222",
            "entry_price": 2e-7,
            "target_price": 3e-7,
            "stop_price": 1e-7,
            "confidence": 88.5,
        },
    ),
    (
        "a large price with a binary fraction",
        {
            "signal_id": "3333333333333333",
            "entry_price": 123456789.125,
            "target_price": 123456799.5,
            "stop_price": 123456700.25,
            "confidence": 99.99,
        },
    ),
    (
        "a long decimal rounds to the shortest round-trip form",
        {
            "signal_id": "4444444444444444",
            "entry_price": 1.2345678901234567890123,
            "target_price": 2.5,
            "stop_price": 0.987654321987654321,
            "confidence": 91.23456789012345,
        },
    ),
    (
        "SELL orders target below entry",
        {
            "signal_id": "5555555555555555",
            "action": "SELL",
            "symbol": "TSLA",
            "entry_price": 240.5,
            "target_price": 230.25,
            "stop_price": 245.75,
            "confidence": 92,
        },
    ),
    (
        "crypto pair with a hyphen",
        {
            "signal_id": "6666666666666666",
            "symbol": "BTC-USD",
            "entry_price": 43000.5,
            "target_price": 44500,
            "stop_price": 42250.125,
            "confidence": 97.5,
        },
    ),
    (
        "confidence at the bounds: 0",
        {
            "signal_id": "7777777777777777",
            "entry_price": 10,
            "target_price": 11,
            "stop_price": 9,
            "confidence": 0,
        },
    ),
    (
        "confidence at the bounds: 100",
        {
            "signal_id": "8888888888888888",
            "entry_price": 10,
            "target_price": 11,
            "stop_price": 9,
            "confidence": 100,
        },
    ),
    (
        "timestamp with microseconds and an offset is hashed as sent",
        {
            "signal_id": "9999999999999999",
            "timestamp": "2025-11-13T09:30:00.123456-05:00",
            "entry_price": 50.01,
            "target_price": 51.02,
            "stop_price": 49.5,
            "confidence": 89,
        },
    ),
    (
        "non-ASCII strategy is ASCII-escaped",
        {
            "signal_id": "aaaaaaaaaaaaaaaa",
            "strategy": "mean-reversion-\u00e9t\u00e9",
            "entry_price": 99.99,
            "target_price": 105,
            "stop_price": 97.5,
            "confidence": 93.3,
        },
    ),
    (
        "large magnitudes switch to exponent form at 1e16",
        {
            "signal_id": "bbbbbbbbbbbbbbbb",
            "entry_price": 2e16,
            "target_price": 3e16,
            "stop_price": 1e16,
            "confidence": 50.5,
        },
    ),
    (
        "one third",
        {
            "signal_id": "cccccccccccccccc",
            "entry_price": 1 / 3,
            "target_price": 2 / 3,
            "stop_price": 1 / 6,
            "confidence": 33.333333333333336,
        },
    ),
]


def main() -> None:
    vectors = []
    for name, override in CASES:
        fields = {**BASE, **override}
        vectors.append(
            {
                "name": name,
                "input": fields,
                "canonical": canonical_json(fields),
                "sha256": canonical_hash(fields),
            }
        )
    doc = {
        "description": (
            "Canonical SHA-256 of a signal: JSON of the nine fields signal_id, symbol, action, "
            "entry_price, target_price, stop_price, confidence, strategy, timestamp; keys sorted, "
            "separators ',' and ':', ASCII-escaped, the four numbers as floats in shortest "
            "round-trip form. Both Argo and Alpine test against these vectors."
        ),
        "vectors": vectors,
    }
    path = Path(__file__).resolve().parent.parent / "schema" / "hash-vectors.json"
    text = json.dumps(doc, indent=2, ensure_ascii=True) + "\n"
    # Keep the long decimal as written: a JSON reader must round it to the same float.
    text = text.replace(
        '"entry_price": 1.2345678901234567,', '"entry_price": 1.2345678901234567890123,'
    )
    path.write_text(text, encoding="utf-8")
    print(f"wrote {len(vectors)} vectors to {path}")


if __name__ == "__main__":
    main()
