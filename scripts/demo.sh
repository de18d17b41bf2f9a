#!/usr/bin/env bash
# The demo `make run` sets up once its services are ready, through the
# public gateway API as a user and a CI job would:
#
#   scripts/demo.sh ensure     make sure the demo exists (idempotent)
#   scripts/demo.sh commands   print the quickstart commands for this platform
#   scripts/demo.sh banner     the demo's part of make run's banner
#   scripts/demo.sh dir        print the folder that keeps the demo's API key
#
# The demo is a user with well-known credentials (the platform listens on
# 127.0.0.1 only; FAULTLINE_DEMO=0 leaves it out), a project `demo` it owns,
# a member API key for that project, and two builds of job `demo-ci` made of
# real Maven Surefire reports from services/failure/tests/fixtures/junit:
# the first with failures and errors, the second with two tests still
# failing and two that passed on a rerun (flaky). Each build's reports go
# up as CI sends them, with the `faultline` command (make run builds it):
# one request per build.
#
# The API shows a key once, so it is kept in .faultline/demo/api-key (mode
# 600; .faultline/demo-<database> for another FAULTLINE_DB_NAME). Every run
# checks through the API that the user, the project and the key still work
# and recreates what is missing (a wiped database gets a new demo). Builds
# have fixed external ids and uploads Idempotency-Keys (the command's), and
# a finished build is never uploaded to again, so running it twice adds
# nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASE_PORT="${FAULTLINE_BASE_PORT:-7400}"
DB_NAME="${FAULTLINE_DB_NAME:-faultline}"
GATEWAY="http://127.0.0.1:$BASE_PORT"
FAULTLINE_CLI="${CARGO_TARGET_DIR:-$ROOT/target}/debug/faultline"
API="$GATEWAY/api/v1"

DEMO_EMAIL="demo@example.com"
DEMO_PASSWORD="faultline-demo-password"
DEMO_DISPLAY_NAME="Demo User"
PROJECT="demo"
JOB="demo-ci"
KEY_NAME="demo-ci"
FIXTURES="services/failure/tests/fixtures/junit/action-junit-report"
# external id | build number | reports, in upload order
BUILDS=(
    "demo-1|1|tests__utils__target__surefire-reports__TEST-action.surefire.report.calc.AllOkTest.xml tests__utils__target__surefire-reports__TEST-action.surefire.report.calc.CalcUtilsTest.xml tests__utils__target__surefire-reports__TEST-action.surefire.report.calc.StringUtilsTest.xml tests__email__target__surefire-reports__TEST-action.surefire.report.email.EmailAddressTest.xml"
    "demo-2|2|tests__utils__target__surefire-reports__TEST-action.surefire.report.calc.AllOkTest.xml tests__utils__target__surefire-reports__TEST-action.surefire.report.calc.CalcUtilsTest.xml maven_surefire_flaky__surefire-report.xml junit_flaky_failure__mixed_flaky_and_passed.xml"
)

demo_dir() {
    if [[ "$DB_NAME" == faultline ]]; then
        echo ".faultline/demo"
    else
        echo ".faultline/demo-$DB_NAME"
    fi
}
DEMO_DIR="$(demo_dir)"
KEY_FILE="$DEMO_DIR/api-key"

log() { echo "demo: $*"; }
fail() { echo "demo: $*" >&2; exit 1; }

WORK="$(umask 077 && mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
HEADERS="$WORK/response-headers"
# Authorization headers live in files (mode 600), read by curl with -H @file:
# not on a command line, and still there when a call is retried.
USER_AUTH="$WORK/user-auth"
KEY_AUTH="$WORK/key-auth"

# call METHOD PATH [curl args...]: sets STATUS and BODY; never fails. A 429
# (the free plan allows bursts of 60 request units; an upload weighs 10) is
# retried after the Retry-After the gateway sends. Request bodies must be
# files or strings, not pipes, so that a retry can send them again.
call() {
    local method="$1" path="$2" out wait attempt
    shift 2
    for attempt in $(seq 1 30); do
        if ! out="$(curl -sS -X "$method" -D "$HEADERS" -w '\n%{http_code}' "$API$path" "$@" 2>&1)"; then
            STATUS=000
            BODY="$out"
            return 0
        fi
        STATUS="${out##*$'\n'}"
        BODY="${out%$'\n'*}"
        [[ "$STATUS" == 429 && $attempt -lt 30 ]] || return 0
        wait="$(tr -d '\r' < "$HEADERS" | awk -F': *' 'tolower($1) == "retry-after" {print $2}')"
        sleep "${wait:-1}"
    done
}

# The request units left to the project (the RateLimit header's r) after
# the last call.
rate_remaining() {
    tr -d '\r' < "$HEADERS" | awk -F': *' 'tolower($1) == "ratelimit" {print $2}' | sed -nE 's/.*r=([0-9]+).*/\1/p'
}

# bearer FILE SECRET
bearer() { (umask 077 && printf 'Authorization: Bearer %s\n' "$2" > "$1"); }

expect() {
    local what="$1"
    shift
    local code
    for code in "$@"; do [[ "$STATUS" == "$code" ]] && return 0; done
    fail "$what: HTTP $STATUS $BODY"
}

log_in() {
    call POST /auth/login -H 'Content-Type: application/json' \
        --data-binary "$(jq -n --arg e "$DEMO_EMAIL" --arg p "$DEMO_PASSWORD" '{email: $e, password: $p}')"
}

ensure_user() {
    log_in
    if [[ "$STATUS" == 401 ]]; then
        call POST /auth/signup -H 'Content-Type: application/json' \
            --data-binary "$(jq -n --arg e "$DEMO_EMAIL" --arg p "$DEMO_PASSWORD" --arg n "$DEMO_DISPLAY_NAME" \
                '{email: $e, password: $p, display_name: $n}')"
        if [[ "$STATUS" == 409 ]]; then
            fail "$DEMO_EMAIL exists with another password; change it back to the demo password or run with FAULTLINE_DEMO=0"
        fi
        expect "signing up $DEMO_EMAIL" 201
        log "signed up $DEMO_EMAIL"
        log_in
    fi
    expect "logging in as $DEMO_EMAIL" 200
    bearer "$USER_AUTH" "$(jq -r .access_token <<<"$BODY")"
}

# Found in the user's project list rather than by its path: a path lookup
# of a project that does not exist yet would leave a "no such project" in
# the gateway's access cache until its next change-feed poll.
ensure_project() {
    call GET "/projects?limit=100" -H @"$USER_AUTH"
    expect "listing projects" 200
    PROJECT_ID="$(jq -r --arg slug "$PROJECT" '.items[] | select(.slug == $slug) | .id' <<<"$BODY")"
    if [[ -z "$PROJECT_ID" ]]; then
        call POST /projects -H @"$USER_AUTH" -H 'Content-Type: application/json' \
            -H "Idempotency-Key: demo-project-$PROJECT" \
            -d "{\"slug\":\"$PROJECT\",\"name\":\"Demo\",\"description\":\"Made by make run from real JUnit reports\"}"
        if [[ "$STATUS" == 409 ]]; then
            fail "the slug '$PROJECT' belongs to a project $DEMO_EMAIL is not a member of: $BODY"
        fi
        expect "creating project $PROJECT" 201 200
        PROJECT_ID="$(jq -r .id <<<"$BODY")"
        log "created project $PROJECT"
    fi
}

key_works() {
    [[ -s "$KEY_FILE" ]] || return 1
    bearer "$KEY_AUTH" "$(cat "$KEY_FILE")"
    call GET "/projects/$PROJECT/builds?limit=1" -H @"$KEY_AUTH"
    [[ "$STATUS" == 200 ]]
}

ensure_api_key() {
    if key_works; then
        return 0
    fi
    local expires
    expires="$(date -u -d '+364 days' +%Y-%m-%dT%H:%M:%SZ)"
    call POST "/projects/$PROJECT/api-keys" -H @"$USER_AUTH" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$KEY_NAME\",\"role\":\"member\",\"expires_at\":\"$expires\"}"
    expect "creating an API key" 201
    local key id
    key="$(jq -r .key <<<"$BODY")"
    id="$(jq -r .id <<<"$BODY")"
    mkdir -p "$DEMO_DIR"
    (umask 077 && printf '%s\n' "$key" > "$KEY_FILE.tmp")
    mv "$KEY_FILE.tmp" "$KEY_FILE"
    bearer "$KEY_AUTH" "$key"
    log "created API key $key for project $PROJECT (shown once; kept in $KEY_FILE)"
    # Keys made by earlier runs whose secret is lost are revoked.
    call GET "/projects/$PROJECT/api-keys?limit=100" -H @"$USER_AUTH"
    expect "listing API keys" 200
    local old
    for old in $(jq -r --arg name "$KEY_NAME" --arg id "$id" \
        '.items[] | select(.name == $name and .revoked_at == null and .id != $id) | .id' <<<"$BODY"); do
        call DELETE "/projects/$PROJECT/api-keys/$old" -H @"$USER_AUTH"
        expect "revoking an old demo API key" 204 200
    done
}

ensure_build() {
    local external_id="$1" number="$2" reports="$3" status report
    call POST "/projects/$PROJECT/builds" -H @"$KEY_AUTH" -H 'Content-Type: application/json' \
        -d "{\"job_name\":\"$JOB\",\"external_id\":\"$external_id\",\"number\":$number,\"branch\":\"main\"}"
    expect "creating build $external_id" 201 200
    status="$(jq -r .status <<<"$BODY")"
    if [[ "$status" == running ]]; then
        local files=() summary
        for report in $reports; do files+=("$FIXTURES/$report"); done
        summary="$(FAULTLINE_URL="$GATEWAY" FAULTLINE_API_KEY="$(cat "$KEY_FILE")" FAULTLINE_PROJECT="$PROJECT" \
            "$FAULTLINE_CLI" upload --job "$JOB" --build "$external_id" --number "$number" --branch main \
            --json "${files[@]}")" || fail "uploading the reports of build $external_id (above)"
        log "build $external_id: $(jq -r '"\(.files) reports uploaded in \(.requests) request(s), marked \(.status)"' <<<"$summary")"
    fi
}

ensure() {
    command -v jq >/dev/null || fail "jq is required (apt-get install jq)"
    [[ -x "$FAULTLINE_CLI" ]] || fail "$FAULTLINE_CLI is missing: cargo build -p faultline-cli"
    ensure_user
    ensure_project
    ensure_api_key
    local entry external_id number reports
    for entry in "${BUILDS[@]}"; do
        IFS='|' read -r external_id number reports <<<"$entry"
        ensure_build "$external_id" "$number" "$reports"
    done
    call GET "/projects/$PROJECT/builds?job=$JOB" -H @"$USER_AUTH"
    expect "listing builds" 200
    # Leave the project enough of its rate budget for the Quickstart's
    # commands right away (they weigh 12 units; the plan refills 5 a second).
    local remaining
    remaining="$(rate_remaining)"
    if [[ -n "$remaining" ]] && (( remaining < 30 )); then
        sleep $(( (30 - remaining + 4) / 5 ))
    fi
    log "ready: user $DEMO_EMAIL, project $PROJECT ($PROJECT_ID), builds of $JOB:"
    jq -r '.items | sort_by(.external_id)[] | .totals as $t
        | "demo:   \(.external_id) \(.status): \($t.tests) tests, \($t.failures) failed, \($t.errors) errors, \($t.skipped) skipped, \($t.flaky) flaky"' <<<"$BODY"
}

# The commands README.md's Quickstart shows, for this platform's port and
# demo folder (scripts/quickstart-check.sh compares the two).
commands() {
    cat <<COMMANDS
# 1. Log in as the demo user; keep the access token (valid 10 minutes)
TOKEN=\$(curl -fsS $API/auth/login -H 'Content-Type: application/json' \\
  -d '{"email":"$DEMO_EMAIL","password":"$DEMO_PASSWORD"}' | jq -r .access_token)

# 2. The demo project's builds (totals, flaky tests included, verdict), then the problems behind
#    their failures: failure groups (API v2), each labelled with a confidence, latest seen first
curl -fsS $API/projects/$PROJECT/builds -H "Authorization: Bearer \$TOKEN" \\
  | jq '.items[] | {job_name, external_id, status, totals, verdict: .verdict.outcome}'
curl -fsS "$GATEWAY/api/v2/projects/$PROJECT/failures?limit=10" -H "Authorization: Bearer \$TOKEN" \\
  | jq '.items[] | {"label": .label, confidence, occurrences, tests: .affected_tests, message: .latest_sample.message}'

# 3. Upload another report as CI does, with the project's API key: make (or find) a build, then send it a report
BUILD=\$(curl -fsS $API/projects/$PROJECT/builds -H "Authorization: Bearer \$(cat $KEY_FILE)" \\
  -H 'Content-Type: application/json' -d '{"job_name":"quickstart","external_id":"quickstart-1"}' | jq -r .id)
curl -fsS $API/projects/$PROJECT/builds/\$BUILD/results -H "Authorization: Bearer \$(cat $KEY_FILE)" \\
  -H 'Content-Type: application/xml' -H 'Idempotency-Key: quickstart-1' \\
  --data-binary @services/failure/tests/fixtures/junit/dorny-test-reporter/jest-junit.xml | jq .
COMMANDS
}

banner() {
    cat <<BANNER
  demo user      $DEMO_EMAIL / $DEMO_PASSWORD (project $PROJECT)
  demo API key   in $KEY_FILE

Try it, from $ROOT (README.md, Quickstart):

$(commands)

BANNER
}

case "${1:-ensure}" in
    ensure) ensure ;;
    commands) commands ;;
    banner) banner ;;
    dir) echo "$DEMO_DIR" ;;
    *) echo "usage: $0 ensure|commands|banner|dir" >&2; exit 2 ;;
esac
