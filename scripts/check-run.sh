#!/usr/bin/env bash
# Checks `make run` the way a newcomer uses it: start it in the background,
# wait for its banner, check every service's /readyz and /healthz, the
# gateway's HTTPS listener (HSTS on HTTPS, none on HTTP), that the terminal
# shows no request logs (they are in .faultline/logs), then `make stop`
# and make sure everything, the private cluster included, is down.
#
# scripts/quickstart-check.sh sources this file for the same steps.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE_PORT="${FAULTLINE_BASE_PORT:-7400}"
TLS_PORT=$((BASE_PORT + 43))
mkdir -p "$ROOT/.faultline"
RUN_PID=""

# start_make_run LOG [make run arguments]: starts `make run` in its own
# session and waits until it is running (services ready, demo set up unless
# left out). Sets RUN_PID and READY_SECONDS (start to "all 7 services
# ready") and RUNNING_SECONDS (start to "running", demo included).
start_make_run() {
    local log="$1" started=$SECONDS
    shift
    setsid make run "$@" > "$log" 2>&1 < /dev/null &
    RUN_PID=$!
    trap 'make -s stop >/dev/null 2>&1 || true' EXIT
    READY_SECONDS=""
    for _ in $(seq 1 1200); do
        if [[ -z "$READY_SECONDS" ]] && grep -q "all 7 services ready" "$log"; then
            READY_SECONDS=$((SECONDS - started))
        fi
        grep -q "^faultline: running" "$log" && break
        if ! kill -0 "$RUN_PID" 2>/dev/null; then
            echo "check-run: make run exited early:"; tail -n 50 "$log"; exit 1
        fi
        sleep 0.5
    done
    grep -q "^faultline: running" "$log" || { echo "check-run: not ready in time"; tail -n 50 "$log"; exit 1; }
    RUNNING_SECONDS=$((SECONDS - started))
    export READY_SECONDS RUNNING_SECONDS
}

# Every service's health, readiness and metrics, and the gateway's HTTPS.
# Sets failed=1 on any problem.
check_services() {
    local offset url https_url headers metrics
    for offset in 0 1 2 3 4 5 6; do
        for url in "http://127.0.0.1:$((BASE_PORT + offset))/readyz" \
                   "http://127.0.0.1:$((BASE_PORT + offset))/healthz" \
                   "http://127.0.0.1:$((BASE_PORT + 100 + offset))/readyz"; do
            if curl -fsS -o /dev/null "$url"; then echo "check-run: ok   $url"; else echo "check-run: FAIL $url"; failed=1; fi
        done
        # Read whole before grep: `curl | grep -q` fails under pipefail
        # whenever grep stops reading before curl has written everything.
        metrics="$(curl -fsS "http://127.0.0.1:$((BASE_PORT + 100 + offset))/metrics" || true)"
        if grep -q http_server_request_duration_seconds <<<"$metrics"; then
            echo "check-run: ok   metrics on admin port $((BASE_PORT + 100 + offset))"
        else
            echo "check-run: FAIL metrics on admin port $((BASE_PORT + 100 + offset))"; failed=1
        fi
    done

    # The gateway's HTTPS listener, with the self-signed development certificate.
    https_url="https://127.0.0.1:$TLS_PORT/healthz"
    if headers="$(curl --cacert .faultline/tls/cert.pem -fsS -D - -o /dev/null "$https_url")"; then
        echo "check-run: ok   $https_url"
        if grep -qi '^strict-transport-security: max-age=63072000; includeSubDomains' <<<"$headers"; then
            echo "check-run: ok   HSTS on $https_url"
        else
            echo "check-run: FAIL no HSTS on $https_url"; failed=1
        fi
    else
        echo "check-run: FAIL $https_url"; failed=1
    fi
    headers="$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$BASE_PORT/healthz" || true)"
    if grep -qi '^strict-transport-security' <<<"$headers"; then
        echo "check-run: FAIL HSTS on the gateway's plain HTTP listener"; failed=1
    fi
    check_dashboard
}

# The dashboard at the gateway's `/`: its sign-in page, and (with the demo)
# the demo user signing in there and seeing the demo project.
check_dashboard() {
    local base="http://127.0.0.1:$BASE_PORT" jar page csrf code projects
    jar="$(mktemp)"
    page="$(curl -fsS -c "$jar" "$base/sign-in" || true)"
    if grep -q 'action="/sign-in"' <<<"$page"; then
        echo "check-run: ok   the dashboard's sign-in page at $base/sign-in"
    else
        echo "check-run: FAIL no dashboard sign-in page at $base/sign-in"; failed=1; rm -f "$jar"; return
    fi
    if [[ "${FAULTLINE_DEMO:-1}" != 0 ]]; then
        csrf="$(grep -o 'name="csrf" value="[^"]*"' <<<"$page" | head -n 1 | sed 's/.*value="//; s/"$//')"
        code="$(curl -sS -b "$jar" -c "$jar" -o /dev/null -w '%{http_code}' \
            --data-urlencode "csrf=$csrf" --data-urlencode "email=demo@example.com" \
            --data-urlencode "password=faultline-demo-password" "$base/sign-in" || true)"
        projects="$(curl -fsS -b "$jar" "$base/" || true)"
        if [[ "$code" == 303 ]] && grep -q 'href="/p/' <<<"$projects"; then
            echo "check-run: ok   the demo user signs in on the dashboard and sees the demo project"
        else
            echo "check-run: FAIL the demo user could not sign in on the dashboard (HTTP $code)"; failed=1
        fi
    fi
    rm -f "$jar"
}

# The terminal shows the platform, not every request: per-request logs are
# in .faultline/logs/<service>.log, plain text; the terminal (LOG) has no
# info lines, no colour codes, and nothing after the banner's last line.
# Sets failed=1 otherwise.
check_logs() {
    local log="$1" logs name
    if [[ "$BASE_PORT" == 7400 ]]; then logs="$ROOT/.faultline/logs"; else logs="$ROOT/.faultline/logs-$BASE_PORT"; fi
    if grep -Eq '^\[[a-z]+\] [^ ]+ +INFO ' "$log"; then
        echo "check-run: FAIL info log lines on make run's terminal:"; grep -E '^\[[a-z]+\] [^ ]+ +INFO ' "$log" | head -n 3; failed=1
    else
        echo "check-run: ok   no request logs on make run's terminal"
    fi
    if grep -q $'\e\\[' "$log"; then echo "check-run: FAIL colour codes on make run's terminal"; failed=1; fi
    if [[ "$(tail -n 1 "$log")" == "faultline: running"* ]]; then
        echo "check-run: ok   the banner is the last thing on make run's terminal"
    else
        echo "check-run: FAIL output after the banner: $(tail -n 1 "$log")"; failed=1
    fi
    for name in auth project failure analytics integration web gateway; do
        if [[ -s "$logs/$name.log" ]] && grep -Eq '^[^ ]+ +INFO ' "$logs/$name.log" && ! grep -q $'\e\\[' "$logs/$name.log"; then
            echo "check-run: ok   ${logs#"$ROOT/"}/$name.log has the service's plain-text log"
        else
            echo "check-run: FAIL ${logs#"$ROOT/"}/$name.log is missing, empty or coloured"; failed=1
        fi
    done
    if grep -Eq 'INFO .*(/api/v1/|/v1/)' "$logs/gateway.log"; then
        echo "check-run: ok   the gateway's request log is in its log file"
    else
        echo "check-run: FAIL no request lines in ${logs#"$ROOT/"}/gateway.log"; failed=1
    fi
}

# `make stop`, then make sure make run, the services and (without
# DATABASE_URL) the private cluster are down. Sets failed=1 otherwise.
stop_make_run() {
    make -s stop
    trap - EXIT
    for _ in $(seq 1 100); do kill -0 "$RUN_PID" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$RUN_PID" 2>/dev/null; then echo "check-run: FAIL make run still running after make stop"; failed=1; fi
    if curl -fsS -o /dev/null "http://127.0.0.1:$((BASE_PORT + 100))/healthz" 2>/dev/null; then
        echo "check-run: FAIL the gateway still answers after make stop"; failed=1
    fi
    if [[ -z "${DATABASE_URL:-}" ]] && pg_isready -q -h 127.0.0.1 -p "${FAULTLINE_PG_PORT:-54329}"; then
        echo "check-run: FAIL the private cluster is still up after make stop"; failed=1
    fi
}

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    failed=0
    if [[ "$BASE_PORT" == 7400 ]]; then log="$ROOT/.faultline/make-run.log"; else log="$ROOT/.faultline/make-run-$BASE_PORT.log"; fi
    start_make_run "$log"
    check_services
    check_logs "$log"
    stop_make_run
    [[ $failed -eq 0 ]] && echo "check-run: make run brought all 7 services to ready and make stop stopped everything"
    exit $failed
fi
