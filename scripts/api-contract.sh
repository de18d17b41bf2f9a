#!/usr/bin/env bash
# The API contract check `make test` runs: the whole platform is started on
# free ports against a fresh database, two tenants are seeded through the
# API (each a fresh user with a project holding one object of every kind a
# path names, scripts/api-contract-seed.py), and schemathesis (in a
# virtualenv of its own, .faultline/venv-contract) tests every operation of
# the gateway's published document (`/api/openapi.json`) in every phase
# with every check, as tenant A's owner with tenant B as its peer, plus the
# checks of scripts/api-contract-hooks.py (tenant isolation, `Location` on
# every 201). Any failure fails the script.
#
#   scripts/api-contract.sh
#
# The database server is the one FAULTLINE_TEST_ADMIN_URL or DATABASE_URL
# names (an admin connection), else the private cluster of
# scripts/postgres.sh. The database is named faultline_contract_<random>
# (not faultline_test_*, which parallel test runs drop) and dropped at the
# end; the services' logs stay in .faultline/api-contract/ until the next run.
#
# The run is bounded (FAULTLINE_CONTRACT_EXAMPLES examples per operation,
# default 30, a fixed seed), paced under the projects' plan, and takes
# about two minutes on two cores once the services are built.
# Arguments are passed to `st run` (e.g. `--continue-on-failure`).
# docs/gateway.md explains what is configured and why.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# Not .faultline/venv: checkov, which make validate-deploy installs there,
# pins versions of packages schemathesis needs too.
VENV="$ROOT/.faultline/venv-contract"
SCHEMATHESIS_VERSION="4.32.5"
SEED="${FAULTLINE_CONTRACT_SEED:-20240613}"
EXAMPLES="${FAULTLINE_CONTRACT_EXAMPLES:-30}"
LOGS="$ROOT/.faultline/api-contract"

log() { echo "api-contract: $*"; }
fail() { echo "api-contract: $*" >&2; exit 1; }

# --- schemathesis, in a virtualenv of its own, installed once ------------
ensure_schemathesis() {
    if [[ -x "$VENV/bin/st" ]] && [[ "$("$VENV/bin/st" --version 2>/dev/null)" == *" $SCHEMATHESIS_VERSION" ]]; then
        return
    fi
    if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
        if [[ "$(id -u)" -eq 0 ]]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >/dev/null
        else
            fail "python3 with venv support is required (apt-get install python3 python3-venv)"
        fi
    fi
    log "installing schemathesis $SCHEMATHESIS_VERSION into .faultline/venv-contract"
    [[ -x "$VENV/bin/pip" ]] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
}

ensure_schemathesis
if ! command -v curl >/dev/null; then
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
    else
        fail "curl is required (apt-get install curl)"
    fi
fi

# --- the database ---------------------------------------------------------
admin_url() {
    if [[ -n "${FAULTLINE_TEST_ADMIN_URL:-}" ]]; then
        echo "$FAULTLINE_TEST_ADMIN_URL"
    elif [[ -n "${DATABASE_URL:-}" ]]; then
        echo "$DATABASE_URL"
    else
        eval "$("$ROOT/scripts/postgres.sh" ensure)"
        echo "$FAULTLINE_TEST_ADMIN_URL"
    fi
}

ADMIN_URL="$(admin_url)"
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
DB_NAME="faultline_contract_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
DB_HOST="$(psql "$ADMIN_URL" -Atc "SELECT coalesce(inet_server_addr()::text, current_setting('unix_socket_directories'))" | cut -d, -f1 | sed -E 's#/(32|128)$##')"
DB_PORT="$(psql "$ADMIN_URL" -Atc "SELECT current_setting('port')")"

PIDS=()
cleanup() {
    local status=$?
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" >/dev/null 2>&1 || true
    [[ $status -eq 0 ]] || echo "api-contract: the services' logs are in $LOGS" >&2
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

psql "$ADMIN_URL" -q -c "CREATE DATABASE \"$DB_NAME\"" >/dev/null
psql "$ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "\\connect $DB_NAME" -f "$ROOT/migrations/bootstrap.sql" >/dev/null
for svc in auth project failure analytics integration; do
    for role in "${svc}_owner" "${svc}_app"; do
        # The development passwords every local run and test uses.
        psql "$ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "ALTER ROLE \"$role\" PASSWORD 'faultline-dev-$role'" >/dev/null
    done
done

log "building the services"
cargo build --workspace --bins --quiet

# --- the platform, on free ports -----------------------------------------
read -r -a PORTS <<<"$(python3 - <<'PY'
import socket
sockets = [socket.socket() for _ in range(12)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
)"
# name:binary:index (the service's port is PORTS[index], its admin port PORTS[index + 6])
SERVICES=(
    "auth:auth-service:1"
    "project:project-service:2"
    "failure:failure-service:3"
    "analytics:analytics-service:4"
    "integration:integration-gateway:5"
    "gateway:api-gateway:0"
)
GATEWAY="http://127.0.0.1:${PORTS[0]}"
source "$(dirname "${BASH_SOURCE[0]}")/lib/service-links.sh"
mapfile -t LINKS < <(service_links "${PORTS[1]}" "${PORTS[2]}" "${PORTS[3]}" "${PORTS[4]}" "${PORTS[5]}")
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log "$LOGS"/routes.toml
for entry in "${SERVICES[@]}"; do
    IFS=: read -r name binary index <<<"$entry"
    own=()
    if [[ "$name" == gateway ]]; then
        # Limits high enough that the run is never throttled: it sends
        # thousands of requests a minute as one user to one project, which
        # the defaults (600 a minute per principal) would refuse with 429,
        # leaving the operations behind the limiter untested. The project's
        # own limit comes from its plan (set to enterprise below, 6,000
        # request units a minute); the route table is the built-in one with
        # every route weighing one unit (uploads weigh 10) and uploads not
        # counted against the plan's upload rate (100 at once), so the
        # run's couple of hundred uploads in a few seconds fit in that plan
        # too. Callers without credentials (sign-ups, log-ins) get the same
        # room per address and together.
        sed -E -e 's/^rate_cost = [0-9]+$/rate_cost = 1/' -e '/^upload = true$/d' \
            "$ROOT/deploy/config/routes.toml" > "$LOGS/routes.toml"
        own=(
            FAULTLINE__SERVICE__ROUTES_FILE="$LOGS/routes.toml"
            FAULTLINE__SERVICE__PRINCIPAL_RATE_PER_MINUTE=1000000
            FAULTLINE__SERVICE__PRINCIPAL_BURST=100000
            FAULTLINE__SERVICE__ANONYMOUS_RATE_PER_MINUTE=1000000
            FAULTLINE__SERVICE__ANONYMOUS_BURST=100000
            FAULTLINE__SERVICE__ANONYMOUS_GLOBAL_RATE_PER_MINUTE=1000000
            FAULTLINE__SERVICE__ANONYMOUS_GLOBAL_BURST=100000
        )
    elif [[ "$name" == auth ]]; then
        # The run's sign-ins with wrong passwords for its own account would
        # otherwise lock that account (429 `auth.throttled`).
        own=(FAULTLINE__SERVICE__THROTTLE_MAX_FAILURES=1000000)
    fi
    env "${own[@]}" "${LINKS[@]}" \
    FAULTLINE__DATABASE__HOST="$DB_HOST" \
    FAULTLINE__DATABASE__PORT="$DB_PORT" \
    FAULTLINE__DATABASE__NAME="$DB_NAME" \
    FAULTLINE__DATABASE__MIGRATE_ON_START=true \
    FAULTLINE__SERVER__PORT="${PORTS[$index]}" \
    FAULTLINE__SERVER__ADMIN_PORT="${PORTS[$((index + 6))]}" \
        "$TARGET_DIR/debug/$binary" serve > "$LOGS/$name.log" 2>&1 &
    PIDS+=($!)
done

deadline=$((SECONDS + 120))
for i in "${!SERVICES[@]}"; do
    IFS=: read -r name _ index <<<"${SERVICES[$i]}"
    until curl -fs -o /dev/null "http://127.0.0.1:${PORTS[$((index + 6))]}/readyz"; do
        kill -0 "${PIDS[$i]}" 2>/dev/null || { tail -n 30 "$LOGS/$name.log" >&2; fail "$name exited during startup"; }
        (( SECONDS < deadline )) || fail "$name is not ready after 120 s"
        sleep 0.3
    done
done
log "platform ready at $GATEWAY (database $DB_NAME)"

# --- two tenants, through the API ----------------------------------------
# Each a fresh user with a project holding one object of every kind a path
# names (scripts/api-contract-seed.py). Schemathesis acts as tenant A; B is
# its peer for the object-level authorization checks, and the hooks'
# `tenant_isolation` check replays each tenant's ids under the other's
# project.
export FAULTLINE_CONTRACT_ADMIN_URL="$ADMIN_URL" FAULTLINE_CONTRACT_DATABASE="$DB_NAME"
"$VENV/bin/python" "$ROOT/scripts/api-contract-seed.py" "$GATEWAY" tenant-a "$LOGS/tenant-a.json"
"$VENV/bin/python" "$ROOT/scripts/api-contract-seed.py" "$GATEWAY" tenant-b "$LOGS/tenant-b.json"
# A field of a seeded tenant: `tenant a token`, `tenant b objects 'builds/{build}'`.
tenant() {
    python3 -c 'import functools, json, sys; print(functools.reduce(lambda d, k: d[k], sys.argv[2:], json.load(open(sys.argv[1]))))' \
        "$LOGS/tenant-$1.json" "${@:2}"
}
TOKEN="$(tenant a token)"
json() { python3 -c 'import json, sys; print(json.dumps(dict(zip(sys.argv[1::2], sys.argv[2::2]))))' "$@"; }
export FAULTLINE_CONTRACT_PROJECT FAULTLINE_CONTRACT_DOOMED_PROJECT FAULTLINE_CONTRACT_BUILD \
    FAULTLINE_CONTRACT_HOOKS="$ROOT/scripts/api-contract-hooks.py" \
    FAULTLINE_CONTRACT_WFC="$LOGS/auth.json" FAULTLINE_CONTRACT_GATEWAY="$GATEWAY" \
    FAULTLINE_CONTRACT_TENANTS="$LOGS/tenant-a.json:$LOGS/tenant-b.json"
FAULTLINE_CONTRACT_PROJECT="$(tenant a objects 'projects/{project}')"
FAULTLINE_CONTRACT_BUILD="$(tenant a objects 'builds/{build}')"
FAULTLINE_CONTRACT_DOOMED_PROJECT="$(curl -fsS -X POST "$GATEWAY/api/v1/projects" -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary "$(json slug contract-doomed name contract-doomed)" \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')" || fail "POST /projects failed"
# The two identities schemathesis knows (Web Fuzzing Commons format).
python3 - "$LOGS/tenant-a.json" "$LOGS/tenant-b.json" > "$LOGS/auth.json" <<'PY'
import json, sys
tenants = [json.load(open(path)) for path in sys.argv[1:]]
print(json.dumps({"auth": [
    {"name": t["name"], "fixedHeaders": [{"name": "Authorization", "value": f"Bearer {t['token']}"}]}
    for t in tenants
]}))
PY
log "seeded tenant-a (project $FAULTLINE_CONTRACT_PROJECT, build $FAULTLINE_CONTRACT_BUILD) and tenant-b"

# --- schemathesis ---------------------------------------------------------
# Excluded: the routes that end the run's own session (log-out, log-out
# everywhere) or change its password (which ends every other session);
# every request after them would be a 401.
started=$SECONDS
# Paced under the enterprise plan's 6,000 request units a minute (plus its
# burst of 1,000): on a quiet machine the run's 6,100 cases take well under
# a minute and would otherwise outrun the plan. The pace leaves half the
# plan to the requests the hooks send besides the cases (the tenant
# isolation check replays each object-naming case with the other tenant's
# ids and credentials), which schemathesis does not pace: at 4,500 a
# minute a fast run was answered 429 74 times. The pace is per second, not
# per minute: schemathesis counts a sliding window, and "3000/m" let a run
# that was slow for a while send the rest of its minute in one burst past
# the plan's (a run at that pace was answered 429 14 times).
"$VENV/bin/st" --config-file "$ROOT/scripts/api-contract.toml" run "$GATEWAY/api/openapi.json" \
    --rate-limit 50/s \
    --checks all \
    --seed "$SEED" \
    --max-examples "$EXAMPLES" \
    --exclude-path /api/v1/auth/logout \
    --exclude-path /api/v1/auth/logout-all \
    --exclude-path /api/v1/me/password \
    --no-color \
    "$@"
log "schemathesis passed in $((SECONDS - started)) s"

# Not throttled: a 429 would have left an operation untested while passing
# (it is a declared answer). The gateway counts every answer it gave.
throttled="$(curl -fsS "http://127.0.0.1:${PORTS[6]}/metrics" \
    | awk '/^http_server_request_duration_seconds_count\{/ && /status="429"/ { n += $NF } END { print n + 0 }')"
if [[ "$throttled" != 0 ]]; then
    fail "$throttled requests were answered 429: raise the limits the platform starts with above"
fi
