#!/usr/bin/env bash
# Install tenantmatch with its dev tools into .venv, start a throwaway PostgreSQL for the storage
# tests, then run the checks: ruff, import-linter (the layer rules), mypy, pytest.
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
# a throwaway cluster on loopback (needs root to run initdb as the postgres user).
if [ -z "${TENANTMATCH_TEST_PG_URL:-}" ]; then
    if [ "$(id -u)" = "0" ]; then
        pg_line=$(bash scripts/ci_postgres.sh | grep '^TENANTMATCH_TEST_PG_URL=' | tail -n 1)
        export "${pg_line?}"
    else
        echo "warning: not root and TENANTMATCH_TEST_PG_URL unset: PostgreSQL tests will be skipped" >&2
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
exit "$status"
