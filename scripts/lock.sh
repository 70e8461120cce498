#!/usr/bin/env bash
# Regenerate the lock files from pyproject.toml (run after changing a dependency, commit the result):
#   requirements/run.txt  the runtime and the demo generator: what scripts/run.sh installs
#   requirements/dev.txt  everything the checks need (dev pulls in the dask, demo and postgres
#                         extras): what scripts/test.sh, scripts/wheel_check.sh and CI install
# Both pin every package for CPython 3.11 on x86-64 Linux; `--upgrade` moves the pins to the
# newest releases that pyproject.toml allows.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=${UV:-uv}
if ! command -v "$UV" >/dev/null 2>&1; then
    UV=.venv/bin/uv
    [ -x "$UV" ] || .venv/bin/python -m pip install --quiet uv
fi
compile() {
    "$UV" pip compile pyproject.toml --quiet --python-version 3.11 \
        --python-platform x86_64-manylinux_2_28 --no-emit-package tenantmatch "$@"
}
mkdir -p requirements
compile --extra dev -o requirements/dev.txt
# the same versions as dev.txt, so what the tests ran is what run.sh installs
compile --extra demo --constraint requirements/dev.txt -o requirements/run.txt
