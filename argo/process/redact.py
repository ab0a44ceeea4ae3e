"""Database locations made safe to print: every password out, everything else kept.

One function for every place a database URL or DSN can reach output, a log or the
journal (`argo|relay config show`, "cannot connect" lines, `argo db upgrade`, and as a
last net every log line and fatal line of `argo` and `relay`). It knows every form a
password takes in one:

- a URL's user info, `scheme://user:PASSWORD@host/db` (any scheme, `+driver` included),
- a query parameter, `?password=PASSWORD` or `&password=PASSWORD`,
- a libpq keyword DSN, `host=h password=PASSWORD` or `password='quoted \\' value'`.

A SQLite path or URL has none of these and comes back unchanged. Alpine keeps its own copy
(`alpine.redact`): the two companies share no code.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

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


def passwords_in(dsn: str) -> list[str]:
    """The passwords `dsn` carries, so a message that echoes one (a driver's error text) can
    be scrubbed of it too."""
    found = [m.group(0)[len(m.group("head")) + 1 : -1] for m in _USER_INFO.finditer(dsn)]
    found += [m.group(0)[len(m.group("head")) :].strip("'") for m in _KEYWORD.finditer(dsn)]
    return [p for raw in found if raw for p in {raw, unquote(raw)}]


def scrubbed(message: str, dsn: str) -> str:
    """`message` redacted, and without any password of `dsn` in whatever form it echoes."""
    for password in sorted(passwords_in(dsn), key=len, reverse=True):
        message = message.replace(password, REDACTED)
    return redact_dsn(message)
