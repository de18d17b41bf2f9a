#!/usr/bin/env bash
# `make run`: the whole platform on this machine, in the foreground.
#
# Makes sure PostgreSQL is there (scripts/postgres.sh), makes a self-signed
# development certificate for the gateway's HTTPS listener if there is none,
# builds the services, starts all seven, waits until every one is ready, makes sure the demo exists (scripts/demo.sh;
# `--no-demo` or FAULTLINE_DEMO=0 leaves it out), prints the gateway URLs
# and the quickstart commands, and stops everything (the private cluster
# too) on Ctrl-C, SIGTERM or `make stop`.
#
# Each service logs to .faultline/logs/<service>.log at the level
# FAULTLINE_LOG names (default info; any tracing filter, e.g.
# `info,failure_service=debug`); the terminal gets only warnings, errors and
# anything a service prints outside its log (a panic), so the quickstart
# banner stays the last thing on screen.
#
#   scripts/run.sh [--no-demo]   start
#   scripts/run.sh stop          stop what a run on this FAULTLINE_BASE_PORT started
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
BASE_PORT="${FAULTLINE_BASE_PORT:-7400}"
# Pid files; a run on another FAULTLINE_BASE_PORT keeps its own, so
# stopping one never stops the other.
if [[ "$BASE_PORT" == 7400 ]]; then
    RUN="$ROOT/.faultline/run"
    MAIN_PID="$ROOT/.faultline/make-run.pid"
    LOGS="$ROOT/.faultline/logs"
else
    RUN="$ROOT/.faultline/run-$BASE_PORT"
    MAIN_PID="$ROOT/.faultline/make-run-$BASE_PORT.pid"
    LOGS="$ROOT/.faultline/logs-$BASE_PORT"
fi
LOG_LEVEL="${FAULTLINE_LOG:-info}"
DEMO="${FAULTLINE_DEMO:-1}"
case "${1:-}" in
    ""|stop) ;;
    --no-demo) DEMO=0 ;;
    *) echo "usage: $0 [--no-demo] | stop" >&2; exit 2 ;;
esac
# The gateway's HTTPS port, beside its plain HTTP one (base + 0).
TLS_PORT=$((BASE_PORT + 43))
TLS_DIR="$ROOT/.faultline/tls"
# name:binary:offset
SERVICES=(
    "auth:auth-service:1"
    "project:project-service:2"
    "failure:failure-service:3"
    "analytics:analytics-service:4"
    "integration:integration-gateway:5"
    "web:web-service:6"
    "gateway:api-gateway:0"
)

stop_all() {
    local pids=()
    for pidfile in "$RUN"/*.pid; do
        [[ -f "$pidfile" ]] || continue
        local pid
        pid="$(cat "$pidfile")"
        if kill -0 "$pid" 2>/dev/null; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        rm -f "$pidfile"
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
    done
    if [[ -z "${DATABASE_URL:-}" ]]; then
        "$ROOT/scripts/postgres.sh" stop
    fi
}

if [[ "${1:-}" == "stop" ]]; then
    # Read once: the run removes its pid file as it stops (and `kill -0 0`
    # would ask about our own process group).
    main_pid="$(cat "$MAIN_PID" 2>/dev/null || true)"
    if [[ "$main_pid" =~ ^[0-9]+$ ]] && kill -0 "$main_pid" 2>/dev/null; then
        kill -TERM "$main_pid"
        for _ in $(seq 1 200); do kill -0 "$main_pid" 2>/dev/null || break; sleep 0.2; done
    fi
    stop_all
    rm -f "$MAIN_PID"
    echo "faultline: stopped"
    exit 0
fi

# curl waits for readiness; the demo and the quickstart commands use jq too.
missing=()
command -v curl >/dev/null || missing+=(curl)
if [[ "$DEMO" != 0 ]] && ! command -v jq >/dev/null; then missing+=(jq); fi
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    else
        echo "faultline: ${missing[*]} required (apt-get install ${missing[*]})" >&2; exit 1
    fi
fi

# A self-signed certificate for localhost and 127.0.0.1, made once and kept
# in .faultline/tls (delete the directory for a new one). Development only.
ensure_dev_certificate() {
    if [[ -s "$TLS_DIR/cert.pem" && -s "$TLS_DIR/key.pem" ]]; then
        return
    fi
    if ! command -v openssl >/dev/null; then
        if [[ "$(id -u)" -eq 0 ]]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null
        else
            echo "faultline: openssl is required for the development certificate (apt-get install openssl)" >&2; exit 1
        fi
    fi
    mkdir -p "$TLS_DIR"
    # A leaf certificate (not a CA), so clients that check certificates
    # properly accept it once told to trust it (curl --cacert).
    cat > "$TLS_DIR/openssl.cnf" <<'CNF'
[req]
distinguished_name = dn
x509_extensions = leaf
prompt = no
[dn]
CN = localhost
O = Faultline development
[leaf]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
CNF
    (
        umask 077
        openssl req -x509 -config "$TLS_DIR/openssl.cnf" -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
            -nodes -days 825 -keyout "$TLS_DIR/key.pem" -out "$TLS_DIR/cert.pem" 2>/dev/null
    ) || { echo "faultline: could not make the development certificate in $TLS_DIR" >&2; exit 1; }
    chmod 644 "$TLS_DIR/cert.pem"
    rm -f "$TLS_DIR/openssl.cnf"
    echo "faultline: made a self-signed development certificate in .faultline/tls"
}

eval "$("$ROOT/scripts/postgres.sh" ensure)"
ensure_dev_certificate
unset FAULTLINE_TEST_ADMIN_URL

echo "faultline: building services"
cargo build --workspace --bins --quiet

mkdir -p "$RUN" "$LOGS"
echo $$ > "$MAIN_PID"

# The whole output goes to the service's log file; the terminal gets what is
# not an info/debug/trace event (plain or JSON format), prefixed.
log_to_file() {
    local name="$1" file="$LOGS/$1.log"
    [[ -f "$file" ]] && mv -f "$file" "$file.1"
    tee "$file" \
        | grep --line-buffered -Ev '^[^ ]+ +(TRACE|DEBUG|INFO) |"level":"(TRACE|DEBUG|INFO)"' \
        | sed -u "s/^/[$name] /"
}
trap 'echo "faultline: stopping"; stop_all; rm -f "$MAIN_PID"; exit 0' INT TERM

source "$(dirname "${BASH_SOURCE[0]}")/lib/service-links.sh"
mapfile -t LINKS < <(service_links $((BASE_PORT + 1)) $((BASE_PORT + 2)) $((BASE_PORT + 3)) \
    $((BASE_PORT + 4)) $((BASE_PORT + 5)) $((BASE_PORT + 6)) "$BASE_PORT")
for entry in "${SERVICES[@]}"; do
    IFS=: read -r name binary offset <<<"$entry"
    port=$((BASE_PORT + offset))
    admin_port=$((BASE_PORT + 100 + offset))
    # Only the gateway is reached from outside: it also speaks HTTPS.
    tls=()
    if [[ "$name" == gateway ]]; then
        tls=(
            FAULTLINE__SERVER__TLS__ENABLED=true
            FAULTLINE__SERVER__TLS__PORT="$TLS_PORT"
            FAULTLINE__SERVER__TLS__CERT_PATH="$TLS_DIR/cert.pem"
            FAULTLINE__SERVER__TLS__KEY_PATH="$TLS_DIR/key.pem"
        )
    fi
    # Services find each other on the ports of this block.
    env "${tls[@]}" "${LINKS[@]}" \
    FAULTLINE__SERVER__PORT="$port" \
    FAULTLINE__SERVER__ADMIN_PORT="$admin_port" \
    FAULTLINE__DATABASE__MIGRATE_ON_START=true \
    FAULTLINE__TELEMETRY__LOG_FILTER="$LOG_LEVEL" \
        "$TARGET_DIR/debug/$binary" serve > >(log_to_file "$name") 2>&1 &
    echo $! > "$RUN/$name.pid"
done

deadline=$((SECONDS + ${FAULTLINE_READY_TIMEOUT:-120}))
for entry in "${SERVICES[@]}"; do
    IFS=: read -r name binary offset <<<"$entry"
    admin_port=$((BASE_PORT + 100 + offset))
    until curl -fs -o /dev/null "http://127.0.0.1:$admin_port/readyz"; do
        if ! kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
            echo "faultline: $name exited during startup" >&2; stop_all; exit 1
        fi
        if (( SECONDS > deadline )); then
            echo "faultline: $name is not ready after ${FAULTLINE_READY_TIMEOUT:-120}s" >&2; stop_all; exit 1
        fi
        sleep 0.3
    done
    echo "faultline: $name ready on 127.0.0.1:$((BASE_PORT + offset)) (log: ${LOGS#"$ROOT/"}/$name.log)"
done

echo "faultline: all 7 services ready"
demo_ready=0
if [[ "$DEMO" != 0 ]]; then
    if FAULTLINE_BASE_PORT="$BASE_PORT" "$ROOT/scripts/demo.sh" ensure; then
        demo_ready=1
    else
        echo "faultline: the demo could not be set up (above); the platform runs without it" >&2
    fi
fi

cat <<BANNER

  dashboard      http://127.0.0.1:${BASE_PORT}/ (sign in as the demo user)
  gateway        http://127.0.0.1:${BASE_PORT}
  gateway HTTPS  https://127.0.0.1:${TLS_PORT} (self-signed: curl --cacert .faultline/tls/cert.pem, or -k)
  Swagger UI     http://127.0.0.1:${BASE_PORT}/api/docs
  metrics        http://127.0.0.1:$((BASE_PORT + 100))/metrics (admin ports ${BASE_PORT}+100..+106)
BANNER
if [[ "$demo_ready" == 1 ]]; then
    FAULTLINE_BASE_PORT="$BASE_PORT" "$ROOT/scripts/demo.sh" banner
fi
if [[ "$BASE_PORT" == 7400 ]]; then stop_hint="make stop"; else stop_hint="FAULTLINE_BASE_PORT=$BASE_PORT make stop"; fi
echo "faultline: running; stop with Ctrl-C or \`$stop_hint\`"

while true; do
    for entry in "${SERVICES[@]}"; do
        IFS=: read -r name _ _ <<<"$entry"
        if [[ -f "$RUN/$name.pid" ]] && ! kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null; then
            echo "faultline: $name stopped unexpectedly; stopping the platform" >&2
            stop_all; rm -f "$MAIN_PID"; exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
