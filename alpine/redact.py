"""Database locations made safe to print: every password out, everything else kept.

One function for every place a database URL or DSN can reach output (`alpine config
show`). It knows every form a password takes in one:

- a URL's user info, `scheme://user:PASSWORD@host/db` (any scheme, `+driver` included),
- a query parameter, `?password=PASSWORD` or `&password=PASSWORD`,
- a libpq keyword DSN, `host=h password=PASSWORD` or `password='quoted \\' value'`.

A SQLite path or URL has none of these and comes back unchanged. Alpine's copy of
`argo.process.redact` (the two companies share no code; tests/unit/test_redact.py holds
both to one table).
"""

from __future__ import annotations

import re

REDACTED = "<redacted>"

# scheme://user:password@ (or scheme:/user:…, as a click Path collapses "//") — greedy to
# the last "@" before whitespace: a password may hold an unescaped "@", and hiding too
# much is the safe side.
_USER_INFO = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.\-]*:/+[^\s:/?#@]*):\S*@")
# password=… as a query parameter, a keyword of a libpq DSN (quoted or bare), or in any
# `key=password=…` a log line carries; whatever precedes it (db_password= too).
_KEYWORD = re.compile(r"(?P<head>password\s*=\s*)(?:'(?:[^'\\]|\\.)*'?|[^\s&;#]*)", re.IGNORECASE)


def redact_dsn(text: str) -> str:
    """`text` (a URL, a DSN, or a message holding one) with every password replaced."""
    text = _USER_INFO.sub(rf"\g<head>:{REDACTED}@", text)
    return _KEYWORD.sub(rf"\g<head>{REDACTED}", text)
