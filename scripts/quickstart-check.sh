#!/usr/bin/env bash
# `make quickstart-check`: what a newcomer does in their first five minutes,
# checked end to end, including everything `make check-run` checks.
#
# 1. The README's Quickstart block is exactly what `make run` prints
#    (scripts/demo.sh commands), so the two cannot drift apart.
# 2. `make run` in the background until it is running with its demo; every
#    service healthy and ready (scripts/check-run.sh).
# 3. The README's Quickstart commands, in order, in one shell with
#    `set -euo pipefail`: each must succeed and give what it promises (a
#    token, builds with failures and flaky tests, labelled failure groups,
#    a build id, upload counts).
# 4. `make stop`; everything is down.
# 5. `make run` again: it must be running within FAULTLINE_RERUN_MAX_SECS
#    (30) with nothing new: one demo project, the same builds with the same
#    ids and totals. `make stop` again.
#
# With FAULTLINE_BASE_PORT or FAULTLINE_DB_NAME set, the README's commands
# are run with that port and demo folder instead of the defaults.
set -euo pipefail
# shellcheck source=scripts/check-run.sh
source "$(dirname "${BASH_SOURCE[0]}")/check-run.sh"

DEMO_DIR="$(scripts/demo.sh dir)"
API="http://127.0.0.1:$BASE_PORT/api/v1"
RERUN_MAX_SECS="${FAULTLINE_RERUN_MAX_SECS:-30}"
if [[ "$BASE_PORT" == 7400 ]]; then LOG_BASE="$ROOT/.faultline/quickstart"; else LOG_BASE="$ROOT/.faultline/quickstart-$BASE_PORT"; fi
# Logs, the commands run and their outputs stay here for a look afterwards.
WORK="$LOG_BASE-work"
rm -rf "$WORK"
mkdir -p "$WORK"
failed=0

say() { echo "quickstart-check: $*"; }
problem() { echo "quickstart-check: FAIL $*"; failed=1; }

# The fenced block between the quickstart markers of README.md.
readme_block() {
    awk '/<!-- quickstart:begin -->/ {inside = 1; next}
         /<!-- quickstart:end -->/ {inside = 0}
         inside && /^```/ {fence = !fence; next}
         inside && fence {print}' README.md
}

# What make run prints: the same block for the default port and database.
readme_block > "$WORK/readme.sh"
FAULTLINE_BASE_PORT=7400 FAULTLINE_DB_NAME=faultline scripts/demo.sh commands > "$WORK/printed.sh"
if [[ ! -s "$WORK/readme.sh" ]]; then
    say "FAIL no quickstart block in README.md (<!-- quickstart:begin --> ... <!-- quickstart:end -->)"; exit 1
fi
if diff -u "$WORK/readme.sh" "$WORK/printed.sh" > "$WORK/readme.diff"; then
    say "ok   README.md's Quickstart is what make run prints"
else
    problem "README.md's Quickstart differs from what make run prints (scripts/demo.sh commands):"
    cat "$WORK/readme.diff"
fi

# The README's commands for this platform's port and demo folder.
sed -e "s#127\.0\.0\.1:7400#127.0.0.1:$BASE_PORT#g" -e "s#\.faultline/demo/#$DEMO_DIR/#g" "$WORK/readme.sh" > "$WORK/commands.sh"

# One script running the logical commands (continuation lines joined) in
# order, each one's output kept in $WORK/<n>.out, and the variables they set.
write_runner() {
    local n=0 line command=""
    {
        echo 'set -euo pipefail'
        echo "cd '$ROOT'"
        while IFS= read -r line || [[ -n "$line" ]]; do
            if [[ -z "$command" && ( -z "${line// /}" || "$line" =~ ^[[:space:]]*# ) ]]; then
                continue
            fi
            command+="$line"$'\n'
            [[ "$line" == *\\ ]] && continue
            n=$((n + 1))
            printf 'echo %q\n' "\$ ${command%%$'\n'*}"
            printf '{\n%s} > %q\n' "$command" "$WORK/$n.out"
            printf 'cat %q\n' "$WORK/$n.out"
            printf '%s\n' "$command" > "$WORK/$n.cmd"
            command=""
        done < "$WORK/commands.sh"
        # shellcheck disable=SC2016 # expanded by the runner
        printf 'printf "%%s\\n" "${TOKEN:-}" > %q\n' "$WORK/token"
        # shellcheck disable=SC2016
        printf 'printf "%%s\\n" "${BUILD:-}" > %q\n' "$WORK/build"
    } > "$WORK/runner.sh"
    COMMANDS=$n
}

# The demo as the API shows it: the demo user's projects, and every build
# of the demo project with its id, job and totals.
demo_snapshot() {
    local token
    token="$(curl -fsS "$API/auth/login" -H 'Content-Type: application/json' \
        -d '{"email":"demo@example.com","password":"faultline-demo-password"}' | jq -r .access_token)"
    curl -fsS "$API/projects?limit=100" -H "Authorization: Bearer $token" \
        | jq -c '[.items[] | {slug, id}]'
    curl -fsS "$API/projects/demo/builds?limit=100" -H "Authorization: Bearer $token" \
        | jq -c '.items | sort_by(.external_id)[] | {id, job_name, external_id, status, totals}'
}

start_make_run "$LOG_BASE-1.log"
say "make run: services ready after ${READY_SECONDS}s, running with the demo after ${RUNNING_SECONDS}s"
check_services
if grep -q "^demo: ready" "$LOG_BASE-1.log"; then say "ok   $(grep '^demo: ready' "$LOG_BASE-1.log")"; else problem "make run did not set up the demo"; fi
grep '^demo: ' "$LOG_BASE-1.log" | grep -v '^demo: ready' | sed 's/flt_[A-Za-z0-9]*/flt_.../' || true
swagger_page="$(curl -fsSL "http://127.0.0.1:$BASE_PORT/api/docs" || true)"
if grep -q "Swagger UI     http://127.0.0.1:$BASE_PORT/api/docs" "$LOG_BASE-1.log" && grep -qi swagger <<<"$swagger_page"; then
    say "ok   Swagger UI printed and served"
else
    problem "Swagger UI not printed or not served at http://127.0.0.1:$BASE_PORT/api/docs/"
fi
if [[ "$(stat -c %a "$DEMO_DIR/api-key" 2>/dev/null)" == 600 ]]; then say "ok   $DEMO_DIR/api-key is mode 600"; else problem "$DEMO_DIR/api-key missing or not mode 600"; fi

write_runner
say "running the README's $COMMANDS Quickstart commands"
if bash "$WORK/runner.sh"; then
    for n in $(seq 1 "$COMMANDS"); do
        cmd="$(cat "$WORK/$n.cmd")"
        case "$cmd" in
            TOKEN=*)
                if [[ "$(tr -cd . < "$WORK/token")" == .. ]]; then say "ok   command $n: an access token"; else problem "command $n: no access token"; fi ;;
            BUILD=*)
                if grep -Eqx '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}' "$WORK/build"; then
                    say "ok   command $n: build $(cat "$WORK/build")"
                else
                    problem "command $n: no build id"
                fi ;;
            *"/results"*)
                if jq -e '.tests > 0 and (.tests == .passed + .failures + .errors + .skipped + .flaky)' "$WORK/$n.out" >/dev/null 2>&1; then
                    say "ok   command $n: upload counted $(jq -c '{tests, passed, failures, errors, skipped, flaky}' "$WORK/$n.out")"
                else
                    problem "command $n: the upload returned no counts"
                fi ;;
            *"/failures"*)
                if jq -se 'length > 0 and all(.[]; .label != null and .occurrences > 0)' "$WORK/$n.out" >/dev/null 2>&1; then
                    say "ok   command $n: $(jq -s 'length' "$WORK/$n.out") failure groups listed, labelled"
                else
                    problem "command $n: no labelled failure groups listed"
                fi ;;
            *"/builds "*)
                if jq -se 'length >= 2 and any(.[]; .totals.failures > 0) and any(.[]; .totals.flaky > 0)' "$WORK/$n.out" >/dev/null 2>&1; then
                    say "ok   command $n: $(jq -s 'length' "$WORK/$n.out") builds, with failures and flaky tests"
                else
                    problem "command $n: no builds with failures and flaky tests"
                fi ;;
            *)
                say "ok   command $n" ;;
        esac
    done
else
    problem "a Quickstart command failed (the last one echoed above)"
fi

check_logs "$LOG_BASE-1.log"
demo_snapshot > "$WORK/before"
stop_make_run
say "make stop: everything stopped"

start_make_run "$LOG_BASE-2.log"
say "make run again: services ready after ${READY_SECONDS}s, running after ${RUNNING_SECONDS}s"
if (( RUNNING_SECONDS > RERUN_MAX_SECS )); then problem "the second make run took ${RUNNING_SECONDS}s (more than ${RERUN_MAX_SECS}s)"; fi
if grep -Eq '^demo: (signed up|created|build )' "$LOG_BASE-2.log"; then
    problem "the second make run made demo data again:"; grep '^demo: ' "$LOG_BASE-2.log" | sed 's/flt_[A-Za-z0-9]*/flt_.../'
else
    say "ok   the second make run reused the demo: $(grep '^demo: ready' "$LOG_BASE-2.log" || echo '?')"
fi
check_services
demo_snapshot > "$WORK/after"
if [[ "$(head -n 1 "$WORK/after" | jq '[.[] | select(.slug == "demo")] | length')" == 1 ]]; then
    say "ok   exactly one demo project"
else
    problem "not exactly one demo project: $(head -n 1 "$WORK/after")"
fi
if [[ "$(grep -c '"job_name":"demo-ci"' "$WORK/after")" == 2 ]]; then
    say "ok   two demo builds"
else
    problem "not two demo builds:"; cat "$WORK/after"
fi
if diff -u "$WORK/before" "$WORK/after"; then
    say "ok   the same project and builds (ids and totals) as after the first run"
else
    problem "the project or builds changed between the two runs (diff above)"
fi
stop_make_run

if [[ $failed -eq 0 ]]; then
    say "the README's Quickstart works against make run; a second make run was running in ${RUNNING_SECONDS}s with the same demo"
fi
exit $failed
