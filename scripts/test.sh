#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts the services it needs, then checks
# formatting and lints and runs every test on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

ensure_postgres
ensure_moto

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked
