"""Fault-matrix fixtures. Sizes come from FAULTS_SIZE: unset or `fast` in `make test`;
`full` under `make faults`, which also marks every test here `faults` (and gives it a
longer timeout), so `-m faults` selects exactly the full-size run.

Alpine is a real `alpine serve` at full size and for the scenarios marked
`alpine_process` (they stop, kill or restart it); at the fast size the others, whose
faults are the relay's, the generator's or the network's, get the same app served from
a thread of this process (`tests.kit.alpine.served_alpine`), without the 2 s start."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.invariants import FULL
from tests.kit.alpine import Alpine, served_alpine
from tests.support import new_api_key, new_signing_secret, start_alpine, stop

_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not FULL:
        return
    for item in items:
        if _HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.faults)
            item.add_marker(pytest.mark.timeout(1500))


@pytest.fixture
def alpine(pg_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Alpine]:
    """Alpine with one API key and a signing secret; stopped afterwards."""
    keys, secret = [new_api_key()], new_signing_secret()
    if FULL or request.node.get_closest_marker("alpine_process"):
        server = start_alpine(pg_url, tmp_path, api_keys=keys, signing_secret=secret)
        yield server
        stop(server.process)
    else:
        served = served_alpine(pg_url, api_keys=keys, signing_secret=secret)
        yield served
        served.close()
