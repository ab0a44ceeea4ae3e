"""Fault-matrix fixtures. Sizes come from FAULTS_SIZE: unset or `fast` in `make test`;
`full` under `make faults`, which also marks every test here `faults` (and gives it a
longer timeout), so `-m faults` selects exactly the full-size run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.invariants import FULL
from tests.support import AlpineServer, new_api_key, new_signing_secret, start_alpine, stop

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        return
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.timeout(1500))


@pytest.fixture
def alpine(pg_url: str, tmp_path: Path) -> Iterator[AlpineServer]:
    """`alpine serve` with one API key and a signing secret; stopped afterwards."""
    server = start_alpine(
        pg_url, tmp_path, api_keys=[new_api_key()], signing_secret=new_signing_secret()
    )
    yield server
    stop(server.process)
