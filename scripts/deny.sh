#!/usr/bin/env bash
# Dependency policy: licences, banned crates and sources (deny.toml).
# Installs cargo-deny with cargo when it is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! cargo deny --version >/dev/null 2>&1; then
    echo "deny: installing cargo-deny (once)"
    cargo install --locked cargo-deny
fi
cargo deny --log-level error check licenses bans sources
