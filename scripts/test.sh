#!/usr/bin/env bash
# The whole test suite, as CI runs it: starts the services it needs, then checks
# formatting and lints and runs every test on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/services.sh

ensure_postgres
ensure_moto
ensure_promtool
ensure_chromium
ensure_oidc_provider
ensure_axe
ensure_schemathesis
ensure_client_generator

# A fresh clone gains nothing from incremental caches, which cost a few hundred
# MB per test binary; a developer may set CARGO_INCREMENTAL=1 to keep them.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
cargo test --all-targets --locked

# deploy/ and grafana/ cannot run here (no Docker engine): check them offline.
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
python3 scripts/check_deploy.py target/debug/hookgate

# The OpenAPI document the tests fetched from a running gateway, checked by a real validator.
python3 -c 'import openapi_spec_validator' 2>/dev/null || python3 -m pip install --quiet openapi-spec-validator
python3 -c '
import json, sys
from openapi_spec_validator import validate
validate(json.load(open("target/openapi.json")))
print("target/openapi.json: valid OpenAPI")
'

# A client generated from that document, as a platform would make one: openapi-typescript
# writes its types, tsc checks a program written against them (tests/client/check.ts).
mkdir -p target/client
tests/client/node_modules/.bin/openapi-typescript target/openapi.json -o target/client/hookgate.d.ts
tests/client/node_modules/.bin/tsc -p tests/client
echo "tests/client/check.ts: type-checks against the generated client"

# schemathesis, driven by /openapi.json, against a running gateway on each backend: every
# check, about 90 s each, any finding fails (tests/fuzz/run.py says what it reached).
python3 tests/fuzz/run.py target/debug/hookgate --seconds 90
python3 tests/fuzz/run.py target/debug/hookgate --seconds 90 --postgres "$HOOKGATE_TEST_PG_URL"
