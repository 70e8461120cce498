#!/usr/bin/env bash
# Install tenantmatch into .venv, generate and import the Shanxi demo world into the embedded
# SQLite database, train the ranker, then serve the API and web page. README's first command.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
# The pinned versions of requirements/run.txt (scripts/lock.sh), then tenantmatch itself.
.venv/bin/python -m pip install --quiet -r requirements/run.txt
.venv/bin/python -m pip install --quiet --no-deps -e .

.venv/bin/tenantmatch demo "$@"
# The web page and the /v1 routes need an API key: make one for this demo (shown once).
key=$(.venv/bin/tenantmatch keys create --role admin)
echo "demo API key (admin): $key   — paste it into the web page, or send it as X-API-Key"
exec .venv/bin/tenantmatch serve
