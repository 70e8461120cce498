#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the storage tests, on any Debian/Ubuntu, as root or not.
#   scripts/ci_postgres.sh [start]   start it (initdb first if needed) and print the line
#       TENANTMATCH_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:55432/tenantmatch_test
#     on stdout (everything else goes to stderr), e.g.
#       scripts/ci_postgres.sh >> "$GITHUB_ENV"        # GitHub Actions
#       export "$(scripts/ci_postgres.sh)"             # a local shell
#     Idempotent: when the cluster is already running it only makes sure the database exists.
#   scripts/ci_postgres.sh stop      stop it (scripts/test.sh does this on exit)
# The server's binaries: TENANTMATCH_PG_BIN, else the newest /usr/lib/postgresql/*/bin, else
# `pg_config --bindir`; when none has initdb, apt installs the distribution's postgresql.
# Root runs initdb and pg_ctl as the user postgres (PostgreSQL refuses to run as root); any
# other user runs them as itself, with the cluster in a folder of its own (TENANTMATCH_PG_DIR).
# Trust authentication on loopback only: never use this cluster for anything but tests.
set -euo pipefail

PG_PORT="${TENANTMATCH_PG_PORT:-55432}"
PG_DB=tenantmatch_test
PG_DIR="${TENANTMATCH_PG_DIR:-${TMPDIR:-/tmp}/tenantmatch-pg-$(id -un)-${PG_PORT}}"
DATA_DIR="${PG_DIR}/data"
LOG_FILE="${PG_DIR}/server.log"

log() { echo "ci_postgres: $*" >&2; }

find_bin() {
    local candidate
    if [ -n "${TENANTMATCH_PG_BIN:-}" ]; then
        echo "${TENANTMATCH_PG_BIN}"
        return
    fi
    # The highest major version first (sort -V: 9.6 < 10 < 15 < 17).
    for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -rV); do
        if [ -x "${candidate}/initdb" ]; then
            echo "${candidate}"
            return
        fi
    done
    if command -v pg_config >/dev/null 2>&1; then
        candidate=$(pg_config --bindir)
        if [ -x "${candidate}/initdb" ]; then
            echo "${candidate}"
            return
        fi
    fi
}

as_root() {
    if [ "$(id -u)" = 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        log "PostgreSQL is not installed and '$*' needs root; install the postgresql package"
        exit 1
    fi
}

install_postgres() {
    log "no PostgreSQL server binaries found (TENANTMATCH_PG_BIN, /usr/lib/postgresql/*/bin, pg_config); installing"
    as_root apt-get update >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y postgresql >&2
}

# Root hands the cluster to the postgres user; anyone else keeps it.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

init_cluster() {
    if [ -f "${DATA_DIR}/PG_VERSION" ]; then
        return
    fi
    log "initdb in ${DATA_DIR} ($("${PG_BIN}/initdb" --version))"
    mkdir -p "${PG_DIR}"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "${PG_DIR}"
    fi
    chmod 700 "${PG_DIR}"
    as_owner "${PG_BIN}/initdb" --pgdata="${DATA_DIR}" --username=postgres \
        --auth-local=trust --auth-host=trust --encoding=UTF8 --locale=C.UTF-8 >&2
}

running() {
    as_owner "${PG_BIN}/pg_ctl" status --pgdata="${DATA_DIR}" >/dev/null 2>&1
}

start_cluster() {
    if running; then
        log "already running (${DATA_DIR})"
        return
    fi
    log "starting on 127.0.0.1:${PG_PORT}"
    # The socket lives in the data folder so no system directory has to exist or be writable.
    as_owner "${PG_BIN}/pg_ctl" start --pgdata="${DATA_DIR}" --log="${LOG_FILE}" --wait \
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

stop_cluster() {
    if [ -f "${DATA_DIR}/PG_VERSION" ] && running; then
        log "stopping the cluster in ${DATA_DIR}"
        as_owner "${PG_BIN}/pg_ctl" stop --pgdata="${DATA_DIR}" --mode=fast --wait >&2
    fi
}

PG_BIN=$(find_bin)
case "${1:-start}" in
    start)
        if [ -z "${PG_BIN}" ]; then
            install_postgres
            PG_BIN=$(find_bin)
            if [ -z "${PG_BIN}" ]; then
                log "apt installed postgresql, but no initdb was found under /usr/lib/postgresql/*/bin"
                exit 1
            fi
        fi
        init_cluster
        start_cluster
        wait_ready
        create_database
        echo "TENANTMATCH_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:${PG_PORT}/${PG_DB}"
        ;;
    stop)
        if [ -n "${PG_BIN}" ]; then
            stop_cluster
        fi
        ;;
    *)
        log "usage: $0 [start|stop]"
        exit 2
        ;;
esac
