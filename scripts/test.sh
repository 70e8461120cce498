#!/usr/bin/env bash
# Install tenantmatch with its dev tools into .venv (the pinned versions of requirements/dev.txt),
# start a throwaway PostgreSQL for the storage tests, then run the checks: ruff, import-linter (the
# layer rules), mypy, pytest, and the wheel check (scripts/wheel_check.sh).
# This is the README's test command; .ci/run calls it unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# The pinned versions of requirements/dev.txt (scripts/lock.sh), then tenantmatch itself.
.venv/bin/python -m pip install --quiet -r requirements/dev.txt
.venv/bin/python -m pip install --quiet --no-deps -e .

# PostgreSQL: the storage suite runs against SQLite and a real server. Reuse a given URL, else start
# a throwaway cluster in a fresh folder on a free loopback port (as root it runs as the postgres
# user, otherwise as you) and stop and remove it when this script exits.
if [ -z "${TENANTMATCH_TEST_PG_URL:-}" ]; then
    TENANTMATCH_PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tenantmatch-pg.XXXXXX")
    TENANTMATCH_PG_PORT=${TENANTMATCH_PG_PORT:-$(.venv/bin/python -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    export TENANTMATCH_PG_DIR TENANTMATCH_PG_PORT
    trap 'bash scripts/ci_postgres.sh stop || true; rm -rf "$TENANTMATCH_PG_DIR"' EXIT
    if pg_line=$(bash scripts/ci_postgres.sh start | grep '^TENANTMATCH_TEST_PG_URL='); then
        export "${pg_line?}"
    elif [ "${CI:-}" = true ]; then
        echo "error: could not start PostgreSQL for the storage tests" >&2
        exit 1
    else
        echo "warning: could not start PostgreSQL: PostgreSQL tests will be skipped" >&2
    fi
fi

echo "== ruff"
.venv/bin/ruff check .
echo "== import-linter (layers)"
.venv/bin/lint-imports
echo "== mypy"
.venv/bin/mypy
echo "== pytest"
set +e
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "pytest collected no tests" >&2
    exit 1
fi
# The wheel as a new user gets it (issue 18): built, installed in a fresh venv, used from outside.
# Skipped when pytest was given a selection (a developer running a few tests).
if [ "$#" -eq 0 ]; then
    echo "== wheel check"
    bash scripts/wheel_check.sh || status=1
fi
exit "$status"
