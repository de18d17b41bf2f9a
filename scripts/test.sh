#!/usr/bin/env bash
# `make test`: provisions PostgreSQL like `make run`, then runs every test,
# and checks the published API document against the running platform.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$("$ROOT/scripts/postgres.sh" ensure)"
unset FAULTLINE__DATABASE__HOST FAULTLINE__DATABASE__PORT FAULTLINE__DATABASE__NAME
"$ROOT/scripts/postgres.sh" drop-test-databases
# Shared rate-limit tests run a private redis-server.
if ! command -v redis-server >/dev/null; then
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null
    else
        echo "make test: redis-server is required (apt-get install redis-server)" >&2; exit 1
    fi
fi
# The web dashboard's browser tests drive headless Chromium over WebDriver.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    if [[ "$(id -u)" -eq 0 ]]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
    else
        echo "make test: chromium and chromedriver are required (apt-get install chromium chromium-driver)" >&2; exit 1
    fi
fi
# The manifest tests render the kustomize overlays with kubectl.
"$ROOT/scripts/validate-deploy.sh" kubectl
cargo test --workspace --no-fail-fast "$@"
# The published API document against the running platform (schemathesis).
"$ROOT/scripts/api-contract.sh"
