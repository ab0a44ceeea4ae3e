#!/usr/bin/env bash
# Make sure the PostgreSQL used by the tests answers; start the local cluster if it is
# installed and down. Exit 1 with one line saying what to do otherwise.
set -euo pipefail
PYTHON=${PYTHON:-python3}
URL=${ALPINE_TEST_DATABASE_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

reachable() {
    "$PYTHON" - "$URL" <<'PY' >/dev/null 2>&1
import sys
import psycopg
from sqlalchemy.engine import make_url
url = make_url(sys.argv[1]).set(drivername="postgresql")
psycopg.connect(url.render_as_string(hide_password=False), connect_timeout=3).close()
PY
}

reachable && exit 0

if [ -z "${ALPINE_TEST_DATABASE_URL:-}" ] && command -v pg_ctlcluster >/dev/null 2>&1; then
    for version in $(ls /etc/postgresql 2>/dev/null); do
        echo "starting local PostgreSQL $version/main" >&2
        pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    done
    for _ in $(seq 1 60); do
        reachable && exit 0
        sleep 0.5
    done
fi

echo "PostgreSQL is not reachable at $URL: start it, or set ALPINE_TEST_DATABASE_URL=postgresql+psycopg://USER@HOST:PORT/DB" >&2
exit 1
