#!/usr/bin/env bash
# `make test`: provisions PostgreSQL like `make run`, then runs every test.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
eval "$("$ROOT/scripts/postgres.sh" ensure)"
unset FAULTLINE__DATABASE__HOST FAULTLINE__DATABASE__PORT FAULTLINE__DATABASE__NAME
"$ROOT/scripts/postgres.sh" drop-test-databases
# The manifest tests render the kustomize overlays with kubectl.
"$ROOT/scripts/validate-deploy.sh" kubectl
cargo test --workspace --no-fail-fast "$@"
