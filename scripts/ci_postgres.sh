#!/usr/bin/env bash
# Start a throwaway PostgreSQL 15 cluster for the storage tests and print the line
#   TENANTMATCH_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:55432/tenantmatch_test
# on stdout (everything else goes to stderr), e.g.
#   scripts/ci_postgres.sh >> "$GITHUB_ENV"        # GitHub Actions
#   export "$(scripts/ci_postgres.sh)"             # a local shell
# Idempotent: when the cluster is already running it only makes sure the database exists.
# Trust authentication on loopback only: never use this cluster for anything but tests.
set -euo pipefail

PG_VERSION=15
PG_BIN="/usr/lib/postgresql/${PG_VERSION}/bin"
PG_PORT="${TENANTMATCH_PG_PORT:-55432}"
PG_DB=tenantmatch_test
PG_DIR="${TENANTMATCH_PG_DIR:-${TMPDIR:-/tmp}/tenantmatch-pg${PG_VERSION}-${PG_PORT}}"
DATA_DIR="${PG_DIR}/data"
LOG_FILE="${PG_DIR}/server.log"

log() { echo "ci_postgres: $*" >&2; }

as_postgres() {
    if [ "$(id -un)" = postgres ]; then
        "$@"
    elif [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        sudo -u postgres -- "$@"
    fi
}

install_postgres() {
    if [ -x "${PG_BIN}/initdb" ]; then
        return
    fi
    log "PostgreSQL ${PG_VERSION} binaries not found under ${PG_BIN}; installing"
    if [ "$(id -u)" = 0 ]; then
        apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    else
        sudo apt-get update >&2 && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
    fi
    if [ ! -x "${PG_BIN}/initdb" ]; then
        log "apt installed PostgreSQL, but not version ${PG_VERSION} (no ${PG_BIN}/initdb)"
        exit 1
    fi
}

init_cluster() {
    if [ -f "${DATA_DIR}/PG_VERSION" ]; then
        return
    fi
    log "initdb in ${DATA_DIR}"
    mkdir -p "${PG_DIR}"
    chown postgres: "${PG_DIR}" 2>/dev/null || true
    chmod 700 "${PG_DIR}"
    as_postgres "${PG_BIN}/initdb" --pgdata="${DATA_DIR}" --username=postgres \
        --auth-local=trust --auth-host=trust --encoding=UTF8 --locale=C.UTF-8 >&2
}

start_cluster() {
    if as_postgres "${PG_BIN}/pg_ctl" status --pgdata="${DATA_DIR}" >/dev/null 2>&1; then
        log "already running (${DATA_DIR})"
        return
    fi
    log "starting on 127.0.0.1:${PG_PORT}"
    # The socket lives in the data folder so no system directory has to exist or be writable.
    as_postgres "${PG_BIN}/pg_ctl" start --pgdata="${DATA_DIR}" --log="${LOG_FILE}" --wait \
        --options="-c listen_addresses=127.0.0.1 -p ${PG_PORT} -k ${DATA_DIR} -c fsync=off" >&2
}

wait_ready() {
    for _ in $(seq 1 60); do
        if "${PG_BIN}/pg_isready" --host=127.0.0.1 --port="${PG_PORT}" --quiet; then
            return
        fi
        sleep 0.5
    done
    log "server on 127.0.0.1:${PG_PORT} did not become ready; see ${LOG_FILE}"
    exit 1
}

create_database() {
    local psql=("${PG_BIN}/psql" --host=127.0.0.1 --port="${PG_PORT}" --username=postgres
        --no-psqlrc --quiet --tuples-only --no-align)
    local exists
    exists=$("${psql[@]}" --dbname=postgres \
        --command="SELECT 1 FROM pg_database WHERE datname = '${PG_DB}'")
    if [ "${exists}" != 1 ]; then
        log "creating database ${PG_DB}"
        "${psql[@]}" --dbname=postgres --command="CREATE DATABASE ${PG_DB}" >&2
    fi
}

install_postgres
init_cluster
start_cluster
wait_ready
create_database
echo "TENANTMATCH_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/${PG_DB}"
