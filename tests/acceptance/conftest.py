"""Acceptance fixtures: a real, signed Alpine on a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import AlpineServer, new_api_key, new_signing_secret, start_alpine, stop


@pytest.fixture
def alpine(pg_url: str, tmp_path: Path) -> Iterator[AlpineServer]:
    """`alpine serve` with one API key and a signing secret; stopped afterwards."""
    server = start_alpine(
        pg_url, tmp_path, api_keys=[new_api_key()], signing_secret=new_signing_secret()
    )
    yield server
    stop(server.process)
