"""One redaction rule for database locations, held to one table on both sides (Argo's
`argo.process.redact` and Alpine's own copy, `alpine.redact`)."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from alpine.redact import redact_dsn as alpine_redact
from argo.process.logsetup import setup_logging
from argo.process.redact import passwords_in, redact_dsn, scrubbed

R = "<redacted>"
TABLE = [
    ("postgresql://argo:pw-1@db:5432/argo", f"postgresql://argo:{R}@db:5432/argo"),
    ("postgresql+psycopg://argo:p%40ss@db/argo", f"postgresql+psycopg://argo:{R}@db/argo"),
    ("postgresql+psycopg:/argo:pw@db/argo", f"postgresql+psycopg:/argo:{R}@db/argo"),  # a Path
    ("postgresql://argo:p@ss@db/argo", f"postgresql://argo:{R}@db/argo"),
    ("postgresql://argo@db/argo?password=pw", f"postgresql://argo@db/argo?password={R}"),
    (
        "postgresql://argo@db/argo?sslmode=require&password=pw&connect_timeout=3",
        f"postgresql://argo@db/argo?sslmode=require&password={R}&connect_timeout=3",
    ),
    ("host=db dbname=argo password=pw user=argo", f"host=db dbname=argo password={R} user=argo"),
    ("host=db password = 'a b\\' c' user=argo", f"host=db password = {R} user=argo"),
    ("PASSWORD=pw host=db", f"PASSWORD={R} host=db"),
    (
        "cannot connect to postgresql://u:pw@db/x now",
        f"cannot connect to postgresql://u:{R}@db/x now",
    ),
    # Nothing to hide: unchanged.
    ("postgresql://argo@db:5432/argo", "postgresql://argo@db:5432/argo"),
    ("postgresql://db:5432/argo", "postgresql://db:5432/argo"),
    ("sqlite:///data/alpine.db", "sqlite:///data/alpine.db"),
    ("/var/lib/argo-alpine/signals.db", "/var/lib/argo-alpine/signals.db"),
    ("data/signals.db", "data/signals.db"),
    ("http://127.0.0.1:9001", "http://127.0.0.1:9001"),
]


@pytest.mark.parametrize("redact", [redact_dsn, alpine_redact], ids=["argo", "alpine"])
@pytest.mark.parametrize(("text", "shown"), TABLE)
def test_every_password_form_is_redacted(
    redact: Callable[[str], str], text: str, shown: str
) -> None:
    assert redact(text) == shown


def test_a_message_that_echoes_a_password_is_scrubbed() -> None:
    dsn = "postgresql://argo:p%40ss-word@db/argo?password=other-one"
    assert set(passwords_in(dsn)) == {"p%40ss-word", "p@ss-word", "other-one"}
    echoed = 'bad option near "p@ss-word" and other-one'
    assert scrubbed(echoed, dsn) == f'bad option near "{R}" and {R}'


def test_log_lines_are_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        setup_logging(0)
        logging.getLogger("t").warning(
            "lost %s", "postgresql://u:pw-9@h/db", extra={"event": "x", "dsn": "password=pw-9"}
        )
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "pw-9" not in err and err.count(R) == 2
