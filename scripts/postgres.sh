#!/usr/bin/env bash
# Makes sure a PostgreSQL is there for `make run` / `make test`, bootstrapped
# for Faultline, and prints `export` lines describing it.
#
#   scripts/postgres.sh ensure   install (if missing, as root) + start the private cluster
#   scripts/postgres.sh stop     stop the private cluster
#
# With DATABASE_URL set, that server is used instead (it must accept an admin
# connection); otherwise a private cluster lives in .faultline/postgres on
# port ${FAULTLINE_PG_PORT:-54329}, owned by the `postgres` system user when
# run as root (the server refuses to run as root).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="$ROOT/.faultline/postgres"
DATA="$STATE/data"
PORT="${FAULTLINE_PG_PORT:-54329}"
DB_NAME="${FAULTLINE_DB_NAME:-faultline}"
SERVICES=(auth project failure analytics integration web)
# Idempotent bootstrap re-runs would print a NOTICE per existing object.
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"

log() { echo "postgres: $*" >&2; }

pg_bin_dir() {
    if [[ -n "${PG_BIN_DIR:-}" ]]; then echo "$PG_BIN_DIR"; return 0; fi
    local dir
    dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
    [[ -n "$dir" && -x "$dir/pg_ctl" ]] && echo "$dir"
}

install_postgres() {
    if [[ -n "$(pg_bin_dir || true)" ]] && command -v psql >/dev/null; then return 0; fi
    if [[ "$(id -u)" -ne 0 ]]; then
        log "PostgreSQL server binaries are missing. Install them with:"
        log "  sudo apt-get install -y postgresql postgresql-contrib"
        exit 1
    fi
    log "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2
}

# Runs a server tool as the cluster's owner.
as_owner() {
    if [[ "$(id -u)" -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_private_cluster() {
    local bin
    bin="$(pg_bin_dir)"
    mkdir -p "$STATE"
    if [[ ! -f "$DATA/PG_VERSION" ]]; then
        log "creating a private cluster in $DATA"
        mkdir -p "$DATA" "$STATE/run"
        head -c 24 /dev/urandom | base64 | tr -d '/+=' > "$STATE/superuser-password"
        chmod 600 "$STATE/superuser-password"
        if [[ "$(id -u)" -eq 0 ]]; then
            chown -R postgres:postgres "$STATE"
        fi
        as_owner "$bin/initdb" -D "$DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
            --auth-local=trust --auth-host=scram-sha-256 \
            --pwfile="$STATE/superuser-password" >/dev/null
        # shared_buffers: a 1,000,000-testcase upload's working set (its
        # month's result indexes, the project's tests and groups) outgrew
        # 256 MB and was read back from the OS cache page by page (the
        # benchmark: 27.4 s with 256 MB, 24.0 s with 2 GB).
        cat >> "$DATA/postgresql.conf" <<CONF
# Faultline private development/test cluster
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$STATE/run'
max_connections = 300
shared_buffers = 2GB
fsync = off
synchronous_commit = off
full_page_writes = off
CONF
    fi
    if ! as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
        log "starting the private cluster on port $PORT"
        as_owner "$bin/pg_ctl" -D "$DATA" -l "$STATE/server.log" -w -t 60 start >/dev/null
    fi
    local password
    password="$(cat "$STATE/superuser-password")"
    ADMIN_URL="postgres://postgres:${password}@127.0.0.1:${PORT}/postgres"
    DB_HOST=127.0.0.1
    DB_PORT=$PORT
}

ensure() {
    install_postgres
    if [[ -n "${DATABASE_URL:-}" ]]; then
        ADMIN_URL="$DATABASE_URL"
        DB_HOST="$(psql "$ADMIN_URL" -Atc "SELECT coalesce(inet_server_addr()::text, current_setting('unix_socket_directories'))" | cut -d, -f1 | sed -E 's#/(32|128)$##')"
        DB_PORT="$(psql "$ADMIN_URL" -Atc "SELECT current_setting('port')")"
    else
        start_private_cluster
    fi
    mkdir -p "$ROOT/.faultline/postgres"
    printf '%s\n' "$ADMIN_URL" > "$ROOT/.faultline/postgres/admin-url"
    chmod 600 "$ROOT/.faultline/postgres/admin-url"

    if ! psql "$ADMIN_URL" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'" | grep -q 1; then
        psql "$ADMIN_URL" -q -c "CREATE DATABASE \"$DB_NAME\"" >&2
    fi
    # `\connect DB` keeps host, port, user and password of the admin URL.
    psql "$ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "\\connect $DB_NAME" -f "$ROOT/migrations/bootstrap.sql" >/dev/null
    for svc in "${SERVICES[@]}"; do
        for role in "${svc}_owner" "${svc}_app"; do
            # Development passwords only; production sets its own (docs/configuration.md).
            psql "$ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "ALTER ROLE \"$role\" PASSWORD 'faultline-dev-$role'" >/dev/null
        done
    done
    echo "export FAULTLINE_TEST_ADMIN_URL='$ADMIN_URL'"
    echo "export FAULTLINE__DATABASE__HOST='$DB_HOST'"
    echo "export FAULTLINE__DATABASE__PORT='$DB_PORT'"
    echo "export FAULTLINE__DATABASE__NAME='$DB_NAME'"
}

stop() {
    if [[ -f "$DATA/PG_VERSION" ]]; then
        local bin
        bin="$(pg_bin_dir)"
        if as_owner "$bin/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
            log "stopping the private cluster"
            as_owner "$bin/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
        fi
    fi
}

drop_test_databases() {
    local url
    url="$(cat "$ROOT/.faultline/postgres/admin-url")"
    psql "$url" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'faultline\_test\_%'" | while read -r name; do
        [[ -n "$name" ]] && psql "$url" -q -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
    done
}

case "${1:-ensure}" in
    ensure) ensure ;;
    stop) stop ;;
    drop-test-databases) drop_test_databases ;;
    *) echo "usage: $0 ensure|stop|drop-test-databases" >&2; exit 2 ;;
esac
