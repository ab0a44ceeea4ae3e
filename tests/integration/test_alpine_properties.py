"""Property: no input generated from schema/signal.schema.json gets a 5xx from a real
`alpine serve` on PostgreSQL, alone or as a batch item.

The strategy is read from the schema file itself (patterns, bounds, enums), then some
examples are repaired (price order, sha256) so that they reach the database, and
some carry a timestamp drawn from the RFC 3339 pattern with any year and offset.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alpine.canonical import verification_hash
from tests.support import ROOT, AlpineServer, start_alpine, stop

SCHEMA = json.loads((ROOT / "schema" / "signal.schema.json").read_text())
EXAMPLES = 120


def field_strategy(spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of one property as the schema describes it."""
    if "enum" in spec:
        return st.sampled_from(spec["enum"])
    kinds = spec["type"] if isinstance(spec["type"], list) else [spec["type"]]
    options: list[st.SearchStrategy[Any]] = []
    if "null" in kinds:
        options.append(st.none())
    if "number" in kinds:
        low = spec.get("exclusiveMinimum", spec.get("minimum"))
        options.append(
            st.floats(
                min_value=low,
                max_value=spec.get("maximum"),
                exclude_min="exclusiveMinimum" in spec,
                allow_nan=False,
                allow_infinity=False,
            )
        )
    if "string" in kinds:
        limit = spec.get("maxLength", 2000)
        text = (
            st.from_regex(spec["pattern"], fullmatch=True)
            if "pattern" in spec
            else st.text(max_size=min(limit, 200))
        )
        options.append(text.filter(lambda s: len(s) <= limit))
    return st.one_of(options)


def signal_strategy() -> st.SearchStrategy[dict[str, Any]]:
    props = SCHEMA["properties"]
    required = {name: field_strategy(props[name]) for name in SCHEMA["required"]}
    optional = {name: field_strategy(spec) for name, spec in props.items() if name not in required}
    return st.fixed_dictionaries(required, optional=optional)


def ordered(signal: dict[str, Any]) -> dict[str, Any]:
    """The same signal with its three prices in the order its action needs."""
    low, mid, high = sorted((signal["entry_price"], signal["target_price"], signal["stop_price"]))
    target, stop_ = (high, low) if signal["action"] == "BUY" else (low, high)
    return {**signal, "entry_price": mid, "target_price": target, "stop_price": stop_}


@st.composite
def payloads(draw: st.DrawFn) -> dict[str, Any]:
    signal = draw(signal_strategy())
    if draw(st.integers(0, 3)):  # mostly repaired, so that many examples reach the database
        signal = ordered(signal)
    if draw(st.integers(0, 3)):
        signal["sha256"] = verification_hash(signal)
    return signal


@pytest.fixture(scope="module")
def alpine(module_pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AlpineServer]:
    server = start_alpine(
        module_pg_url, tmp_path_factory.mktemp("props"), extra_env={"ALPINE_RATE_LIMIT": "0"}
    )
    yield server
    stop(server.process)


def test_no_schema_input_gets_a_5xx(alpine: AlpineServer) -> None:
    seen: dict[str, int] = {}
    with httpx.Client(base_url=alpine.url, timeout=10, headers={"X-API-Key": alpine.api_key}) as c:

        @given(batch=st.lists(payloads(), min_size=1, max_size=3))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
        def exercise(batch: list[dict[str, Any]]) -> None:
            one = c.post("/api/v1/argo/sync/signal", json=batch[0])
            many = c.post("/api/v1/argo/sync/signals", json={"signals": batch})
            for answer in (one, many):
                assert answer.status_code < 500, (answer.status_code, answer.text, batch)
                assert answer.headers["content-type"].startswith("application/json")
            assert many.status_code == 200 and len(many.json()["results"]) == len(batch)
            for outcome in [str(one.status_code)] + [r["status"] for r in many.json()["results"]]:
                seen[outcome] = seen.get(outcome, 0) + 1

        exercise()
    print(f"\nanswers over {EXAMPLES} examples: {seen}")
    # The examples reached storage, the duplicate check, the hash check and the rules.
    assert {"201", "400", "422", "created", "duplicate", "invalid"} <= set(seen)
