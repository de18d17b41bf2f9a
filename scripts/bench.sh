#!/usr/bin/env bash
# `make bench`: the benchmark suite (docs/benchmarks.md), unattended.
#
# Installs what it needs when missing (nginx and perf from the
# distribution's packages, oha into .faultline/tools), makes sure PostgreSQL is there
# (scripts/postgres.sh, database faultline_bench), builds the services and
# the bench crate in release mode, then `faultline-bench run` seeds (or
# reuses the cached seed), starts the release services on ports 7800-7810
# (admin 7900-7906), measures, and writes bench/REPORT.md, bench/charts/ and
# bench/results/latest.json. Exits non-zero when a measurement could not be
# taken; a missed goal is reported, not an error.
#
#   FAULTLINE_BENCH_QUICK=1   one short run per figure on a small dataset;
#                             writes to .faultline/bench/quick/ instead
#   FAULTLINE_BENCH_BASE_PORT first port of the block (default 7800); another
#                             block also gets its own databases
#   FAULTLINE_BENCH_SECTIONS=analytics  only the analytics and web-page
#                             sections (no oha or nginx needed), merged into
#                             the saved results
#   FAULTLINE_BENCH_SECTIONS=static-gateway  only the gateway in front of a
#                             static upstream (section 1b), merged likewise
#   FAULTLINE_BENCH_SECTIONS=ingestion  only the uploads (section 2 and the
#                             ingest curve), merged likewise
#   FAULTLINE_BENCH_SECTIONS=queries  only the query goals and the cost of
#                             row level security (sections 3 and 4; oha, no
#                             nginx), merged likewise
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TOOLS="$ROOT/.faultline/tools"
STATE="$ROOT/.faultline/bench"
BASE_PORT="${FAULTLINE_BENCH_BASE_PORT:-7800}"
SECTIONS="${FAULTLINE_BENCH_SECTIONS:-all}"
PG_PORT="${FAULTLINE_PG_PORT:-54329}"
mkdir -p "$TOOLS" "$STATE/pids"
started=$SECONDS

log() { echo "bench: $*" >&2; }

# Processes the run started, by pid file, in case it is interrupted.
cleanup() {
    for pidfile in "$STATE"/pids/*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid="$(cat "$pidfile")"
        kill -TERM "$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
    if [[ "${STARTED_POSTGRES:-0}" == 1 ]]; then
        log "stopping the PostgreSQL cluster this run started"
        "$ROOT/scripts/postgres.sh" stop
    fi
}
trap cleanup EXIT

install_time_file="$TOOLS/install-secs"
record_install() { # seconds
    local before=0
    [[ -f "$install_time_file" ]] && before="$(cat "$install_time_file")"
    echo $((before + $1)) > "$install_time_file"
}

# nginx, oha and perf measure the gateway; sections without it need none
# (the queries need oha alone).
proxy_tools=1
[[ "$SECTIONS" == analytics || "$SECTIONS" == ingestion || "$SECTIONS" == queries ]] && proxy_tools=0

if [[ "$proxy_tools" == 1 && ! -x /usr/sbin/nginx ]]; then
    if [[ "$(id -u)" -ne 0 ]]; then
        log "nginx is missing: sudo apt-get install -y nginx"; exit 1
    fi
    log "installing nginx from the distribution's packages"
    t=$SECONDS
    # Keep the package from starting the system-wide nginx on port 80.
    own_policy=0
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && own_policy=1
    fi
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >&2
    [[ "$own_policy" == 1 ]] && rm -f /usr/sbin/policy-rc.d
    record_install $((SECONDS - t))
fi

if [[ ( "$proxy_tools" == 1 || "$SECTIONS" == queries ) && ! -x "$TOOLS/bin/oha" ]]; then
    log "installing oha into .faultline/tools (once; several minutes)"
    t=$SECONDS
    cargo install --locked --quiet oha --root "$TOOLS"
    record_install $((SECONDS - t))
fi

# The gateway's CPU profile (section 1b) is taken with Debian's perf.
if [[ "$proxy_tools" == 1 ]] && ! perf --version >/dev/null 2>&1; then
    if [[ "$(id -u)" -ne 0 ]]; then
        log "perf is missing: sudo apt-get install -y linux-perf"; exit 1
    fi
    log "installing perf (linux-perf) from the distribution's packages"
    t=$SECONDS
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends linux-perf >&2
    record_install $((SECONDS - t))
fi

if [[ -z "${DATABASE_URL:-}" ]] && ! (exec 3<>"/dev/tcp/127.0.0.1/$PG_PORT") 2>/dev/null; then
    STARTED_POSTGRES=1
fi
eval "$(FAULTLINE_DB_NAME=faultline_bench "$ROOT/scripts/postgres.sh" ensure)"

for port in $(seq "$BASE_PORT" $((BASE_PORT + 13))) $(seq $((BASE_PORT + 100)) $((BASE_PORT + 111))); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "port $port is in use; free ports $BASE_PORT-$((BASE_PORT + 13)) and $((BASE_PORT + 100))-$((BASE_PORT + 111)) or set FAULTLINE_BENCH_BASE_PORT"
        exit 1
    fi
done

log "building release binaries"
cargo build --release --quiet --bins \
    -p api-gateway -p auth-service -p project-service -p failure-service \
    -p analytics-service -p integration-gateway -p web-service -p faultline-bench

out_dir=bench
command="make bench"
if [[ -n "${FAULTLINE_BENCH_QUICK:-}" && "${FAULTLINE_BENCH_QUICK}" != 0 ]]; then
    out_dir="$STATE/quick"
    command="FAULTLINE_BENCH_QUICK=1 make bench"
fi
install_secs=()
[[ -f "$install_time_file" ]] && install_secs=(--install-secs "$(cat "$install_time_file")")

if [[ "$SECTIONS" == analytics || "$SECTIONS" == static-gateway || "$SECTIONS" == ingestion || "$SECTIONS" == queries ]]; then
    "$ROOT/target/release/faultline-bench" "$SECTIONS" \
        --base-port "$BASE_PORT" \
        --results "$out_dir/results/latest.json" \
        --out-dir "$out_dir"
    exit $?
fi

"$ROOT/target/release/faultline-bench" run \
    --base-port "$BASE_PORT" \
    --setup-secs $((SECONDS - started)) \
    "${install_secs[@]}" \
    --command "$command" \
    --out-dir "$out_dir"
