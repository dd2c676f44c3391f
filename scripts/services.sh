#!/usr/bin/env bash
# Installs (when missing) and starts the services the test suite needs, on loopback only.
# Sourced by scripts/test.sh; exports the URLs the tests read.

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -c "$*"; else sudo -u postgres sh -c "$*"; fi
}

# PostgreSQL: Debian's package and its default cluster, a `hookgate` role that may create
# databases (each test makes its own), leftovers of earlier runs dropped.
ensure_postgres() {
  if [ -n "${HOOKGATE_TEST_PG_URL:-}" ]; then
    echo "using PostgreSQL at HOOKGATE_TEST_PG_URL"
    return
  fi
  if ! command -v pg_ctlcluster >/dev/null 2>&1; then
    echo "installing PostgreSQL"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
  local version name port status
  read -r version name port status _ < <(pg_lsclusters -h | head -n 1)
  if [ -z "${version:-}" ]; then
    version=$(ls /usr/lib/postgresql | sort -n | tail -n 1)
    as_root pg_createcluster "$version" main >/dev/null
    read -r version name port status _ < <(pg_lsclusters -h | head -n 1)
  fi
  if [ "$status" != "online" ]; then
    as_root pg_ctlcluster "$version" "$name" start
  fi
  as_postgres "psql -p $port -qtAc \"SELECT 1 FROM pg_roles WHERE rolname = 'hookgate'\"" | grep -q 1 ||
    as_postgres "psql -p $port -qc \"CREATE ROLE hookgate LOGIN CREATEDB PASSWORD 'hookgate'\""
  for db in $(as_postgres "psql -p $port -qtAc \"SELECT datname FROM pg_database WHERE datname LIKE 'hg_test_%'\""); do
    as_postgres "psql -p $port -qc 'DROP DATABASE IF EXISTS \"$db\"'" >/dev/null
  done
  export HOOKGATE_TEST_PG_URL="postgres://hookgate:hookgate@127.0.0.1:$port/postgres"
  echo "PostgreSQL $version ($name) on 127.0.0.1:$port"
}

# moto's server, an SQS-compatible emulator from PyPI. Each SQS test starts its own on a
# free loopback port; here we only make sure it is installed, and give the AWS SDK the
# dummy credentials and region the emulator accepts.
ensure_moto() {
  local scripts
  scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
  find_moto() { command -v moto_server 2>/dev/null || { [ -x "$scripts/moto_server" ] && echo "$scripts/moto_server"; }; }
  if [ -z "$(find_moto)" ]; then
    echo "installing moto[server]"
    python3 -m pip install --quiet 'moto[server]'
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
    hash -r
  fi
  HOOKGATE_TEST_MOTO=$(find_moto) || true
  if [ -z "$HOOKGATE_TEST_MOTO" ]; then
    echo "moto_server not found after installing moto[server]" >&2
    return 1
  fi
  export HOOKGATE_TEST_MOTO
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  echo "moto_server at $HOOKGATE_TEST_MOTO"
}

# promtool, to check /metrics with Prometheus' own linter: Debian's prometheus package.
ensure_promtool() {
  if ! command -v promtool >/dev/null 2>&1; then
    echo "installing prometheus (for promtool)"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends prometheus >/dev/null
  fi
  echo "$(promtool --version 2>&1 | head -n 1)"
}

# Debian's Chromium and its WebDriver, for the portal's browser tests (tests/browser).
ensure_chromium() {
  if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
  fi
  echo "$(chromium --version 2>/dev/null | head -n 1); $(chromedriver --version 2>/dev/null | head -n 1)"
}

# axe-core, which the browser tests inject into every page they check.
ensure_axe() {
  ensure_node
  if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
    echo "installing axe-core (npm ci in tests/browser)"
    npm ci --prefix tests/browser --no-audit --no-fund --loglevel=error >/dev/null
  fi
  echo "axe-core $(node -p 'require("./tests/browser/node_modules/axe-core/package.json").version')"
}

ensure_node() {
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "installing nodejs and npm"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
}

# A real OAuth 2.0 authorization server for the OAuth tests: the npm package oidc-provider
# (tests/oidc, pinned by its package-lock.json), run by Node.js. Each test starts its own
# on a free loopback port; here we install Node.js when missing and the package.
ensure_oidc_provider() {
  ensure_node
  if [ ! -d tests/oidc/node_modules/oidc-provider ]; then
    echo "installing oidc-provider (npm ci in tests/oidc)"
    npm ci --prefix tests/oidc --no-audit --no-fund --loglevel=error >/dev/null
  fi
  echo "node $(node --version); oidc-provider $(node -p 'require("./tests/oidc/node_modules/oidc-provider/package.json").version')"
}

# schemathesis (PyPI, pinned in tests/fuzz/requirements.txt), the property-based fuzzer
# driven by /openapi.json, in a virtualenv of its own under tests/fuzz/.venv.
ensure_schemathesis() {
  local venv=tests/fuzz/.venv
  if ! "$venv/bin/schemathesis" --version >/dev/null 2>&1; then
    echo "installing schemathesis (tests/fuzz/requirements.txt)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/fuzz/requirements.txt
  fi
  export HOOKGATE_SCHEMATHESIS="$PWD/$venv/bin/schemathesis"
  echo "$("$HOOKGATE_SCHEMATHESIS" --version)"
}

# openapi-typescript and tsc (npm, pinned in tests/client/package-lock.json): a client
# generated from /openapi.json, and a program written against it, type-checked.
ensure_client_generator() {
  ensure_node
  if [ ! -x tests/client/node_modules/.bin/openapi-typescript ]; then
    echo "installing openapi-typescript and typescript (npm ci in tests/client)"
    npm ci --prefix tests/client --no-audit --no-fund --loglevel=error >/dev/null
  fi
  echo "openapi-typescript $(node -p 'require("./tests/client/node_modules/openapi-typescript/package.json").version')"
}
