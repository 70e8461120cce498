#!/usr/bin/env bash
# Use tenantmatch as a new user would (issue 18): build the wheel from the repository's files, check
# that it installs nothing but the `tenantmatch` package at the top of site-packages, install it
# (not editable) into a fresh venv outside the repository, and from a folder outside the
# repository, with TENANTMATCH_HOME in a temporary folder and no --db or --models given, run:
#   tenantmatch --version; demo --no-train (only to write a data-contract folder); import of that
#   folder; train; shortlist --format jsonl; serve + GET /readyz 200 + one shortlist over HTTP
#   with a key from `tenantmatch keys create`.
# Called by scripts/test.sh (so CI runs it); on its own: bash scripts/wheel_check.sh
# Dependencies come from requirements/run.txt (pinned; through uv when there is one, else pip,
# both from their caches after the first run). Everything it makes is removed on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python3}
BUILD_PYTHON=${BUILD_PYTHON:-$repo/.venv/bin/python}
[ -x "$BUILD_PYTHON" ] || BUILD_PYTHON=$PYTHON
ENTERPRISES=${TENANTMATCH_WHEEL_CHECK_ENTERPRISES:-300}

work=$(mktemp -d "${TMPDIR:-/tmp}/tenantmatch-wheel.XXXXXX")
stop_server() {  # the server runs in a session of its own: stop its whole process group
    if [ -s "$work/server.pid" ]; then
        kill -TERM -- "-$(cat "$work/server.pid")" 2>/dev/null || true
        for _ in $(seq 1 60); do
            kill -0 -- "-$(cat "$work/server.pid")" 2>/dev/null || break
            sleep 0.5
        done
        rm -f "$work/server.pid"
    fi
}
cleanup() {
    stop_server
    rm -rf "$work"
}
trap cleanup EXIT

failures=()
step() { echo "== wheel check: $*"; }
fail() {
    echo "wheel check FAILED: $*" >&2
    failures+=("$*")
}
started=$SECONDS

# -- build from the files a clone has (tracked, or new and not ignored), never from build/ leftovers
step "build the wheel"
mkdir -p "$work/src" "$work/dist"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard) |
    while IFS= read -r -d '' file; do
        [ -e "$repo/$file" ] && printf '%s\0' "$file"
    done | (cd "$repo" && xargs -0 cp -P --parents -t "$work/src")
"$BUILD_PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/dist" "$work/src" >&2
wheel=$(ls "$work"/dist/tenantmatch-*.whl)
echo "built $(basename "$wheel") ($(du -k "$wheel" | cut -f1) KiB)"

step "the wheel's top-level names"
if ! "$BUILD_PYTHON" - "$wheel" <<'EOF'
import sys
import zipfile

names = {name.split("/")[0] for name in zipfile.ZipFile(sys.argv[1]).namelist()}
top = sorted(n for n in names if not n.endswith((".dist-info", ".data")))
print(f"top-level names: {top}")
sys.exit(0 if top == ["tenantmatch"] else 1)
EOF
then
    fail "the wheel installs more than 'tenantmatch' at the top of site-packages"
fi

# -- a fresh venv outside the repository: the pinned dependencies, then the wheel without deps
step "install into a fresh venv"
"$PYTHON" -m venv "$work/venv"
venv_python="$work/venv/bin/python"
UV=${UV:-$(command -v uv || echo "$repo/.venv/bin/uv")}
if [ -x "$UV" ]; then
    "$UV" pip install --quiet --python "$venv_python" -r "$repo/requirements/run.txt"
    "$UV" pip install --quiet --python "$venv_python" --no-deps "$wheel"
else
    "$venv_python" -m pip install --quiet -r "$repo/requirements/run.txt"
    "$venv_python" -m pip install --quiet --no-deps "$wheel"
fi
tm="$work/venv/bin/tenantmatch"

# -- as a user: outside the repository, runtime state under TENANTMATCH_HOME only
mkdir -p "$work/cwd" "$work/home"
cd "$work/cwd"
export TENANTMATCH_HOME="$work/home"
unset TENANTMATCH_DB TENANTMATCH_MODELS
export TENANTMATCH_COMPILE_TREES=false

use_it() {
    step "tenantmatch --version"
    "$tm" --version | tee "$work/version.txt"
    grep -q "^tenantmatch [0-9]" "$work/version.txt"

    step "write a data-contract folder ($ENTERPRISES enterprises)"
    "$tm" demo --enterprises "$ENTERPRISES" --no-train --out "$work/world" \
        --db "sqlite:///$work/scratch.db" >/dev/null
    step "tenantmatch import"
    "$tm" import "$work/world" >/dev/null
    step "tenantmatch train"
    "$tm" train >/dev/null
    building=$("$venv_python" -c 'import csv, sys; print(next(csv.DictReader(open(sys.argv[1], encoding="utf-8")))["building_id"])' \
        "$work/world/buildings.csv")
    step "tenantmatch shortlist --building $building --format jsonl"
    "$tm" shortlist --building "$building" --k 5 --format jsonl >"$work/shortlist.jsonl"
    "$venv_python" - "$work/shortlist.jsonl" "$building" <<'EOF'
import json
import sys

lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
assert len(lines) == 1, f"expected one JSON line, got {len(lines)}"
answer = json.loads(lines[0])
items = answer.get("items") or []
assert items, f"the shortlist of {sys.argv[2]} is empty: {answer}"
print(f"{len(items)} items, first {items[0].get('enterprise_id')}")
EOF

    step "tenantmatch serve, /readyz, one shortlist over HTTP"
    key=$("$tm" keys create --role viewer 2>/dev/null | head -n 1)
    port=$("$venv_python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    setsid "$tm" serve --host 127.0.0.1 --port "$port" --workers 1 >"$work/serve.log" 2>&1 &
    echo $! >"$work/server.pid"
    if ! "$venv_python" - "http://127.0.0.1:$port" "$key" "$building" <<'EOF'
import json
import sys
import time
import urllib.error
import urllib.request

base, key, building = sys.argv[1:4]
deadline = time.monotonic() + 180
while True:
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as response:
            if response.status == 200:
                break
    except (urllib.error.URLError, ConnectionError):
        pass
    assert time.monotonic() < deadline, "/readyz did not answer 200 within 180 s"
    time.sleep(0.5)
request = urllib.request.Request(f"{base}/v1/buildings/{building}/shortlist?k=5",
                                 headers={"X-API-Key": key})
with urllib.request.urlopen(request, timeout=60) as response:
    body = json.load(response)
assert response.status == 200 and body.get("items"), body
print(f"/readyz 200; GET /v1/buildings/{building}/shortlist: {len(body['items'])} items")
EOF
    then
        tail -n 30 "$work/serve.log" >&2
        return 1
    fi
    stop_server

    step "runtime state is under TENANTMATCH_HOME, none beside the installed code"
    site=$("$venv_python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    state=$(find "$TENANTMATCH_HOME" -name '*.db' | head -n 1)
    [ -n "$state" ] || { echo "no database under TENANTMATCH_HOME=$TENANTMATCH_HOME" >&2; return 1; }
    stray=$(find "$site" \( -name '*.db' -o -name 'manifest.json' \) | head -n 5)
    [ -z "$stray" ] || { echo "runtime files inside site-packages: $stray" >&2; return 1; }
}

# A subshell with -e, run outside any `if` (where bash would ignore -e): stops at the first failure.
set +e
(set -e; use_it)
status=$?
set -e
stop_server
if [ "$status" -ne 0 ]; then
    fail "using the installed wheel (the step above failed)"
fi

echo "wheel check: $((SECONDS - started)) s"
if [ "${#failures[@]}" -gt 0 ]; then
    printf 'wheel check failed: %s\n' "${failures[@]}" >&2
    exit 1
fi
echo "wheel check passed"
