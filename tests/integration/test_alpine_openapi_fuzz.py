"""schemathesis against Alpine's own OpenAPI schema: no 5xx, no undocumented answer.

Alpine's HTTP behaviour, in-process: schemathesis calls `create_app` (the settings
`alpine serve` would read) through its ASGI client, on a throwaway PostgreSQL database."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.kit.alpine import InProcessAlpine, in_process_alpine

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed_alpine(module_pg_url: str) -> Iterator[InProcessAlpine]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        server = in_process_alpine(module_pg_url, monkeypatch)
        yield server
        server.close()


def operations(server: InProcessAlpine) -> list[object]:
    schema = schemathesis.openapi.from_asgi("/openapi.json", server.app)
    return [result.ok() for result in schema.get_all_operations()]


def fuzz(operation: Any, mode: GenerationMode, api_key: str, calls: dict[str, int]) -> None:
    """Run up to 40 generated requests of `mode` against one operation, with and without a key."""
    label = f"{operation.label} {mode.value}"

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def exercise(case: Any) -> None:
        for headers in ({"X-API-Key": api_key}, {}):
            case.call_and_validate(headers=headers, checks=CHECKS)
            calls[label] = calls.get(label, 0) + 1

    try:
        exercise()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE  # nothing to break on a parameterless GET


def test_every_operation_answers_without_5xx_and_as_documented(
    fuzzed_alpine: InProcessAlpine,
) -> None:
    ops = operations(fuzzed_alpine)
    assert len(ops) >= 6
    calls: dict[str, int] = {}
    for operation, mode in itertools.product(ops, list(GenerationMode)):
        fuzz(operation, mode, fuzzed_alpine.api_key, calls)
    print(f"\nschemathesis calls per operation: {calls}")
    assert all(count >= 2 for count in calls.values())
    assert all(f"{op.label} positive" in calls for op in ops)  # type: ignore[attr-defined]
    assert sum("negative" in label for label in calls) >= 7  # every operation with inputs
