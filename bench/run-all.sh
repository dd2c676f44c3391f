#!/usr/bin/env bash
# Runs every scenario of BENCHMARKS.md on this machine, appending one JSON line per run
# to bench/results.jsonl. Loopback only; every run is bounded. Needs PostgreSQL running
# (scripts/services.sh's ensure_postgres) for the postgres runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bins
B=target/release/hookgate-bench
OUT=${OUT:-bench/results.jsonl}
# A run that fails (not every delivery arrived in time) is recorded as incomplete and
# the next one still runs.
run() { echo "== $*"; "$B" --out "$OUT" "$@" 2>&1 | grep -v "slow statement" || echo "(incomplete)"; }

# 1. Throughput: 1,000 tenants, 10 apps, 200,000 events, receiver always 200.
for db in sqlite postgres; do
  run --label "1 throughput (batch 100)" --db $db --tenants 1000 --apps 10 --events 200000 --batch 100
  run --label "1 throughput (single)" --db $db --tenants 1000 --apps 10 --events 50000 --batch 1 --concurrency 64
done
# 2. Latency at load: 1,000 events/s for 60 s.
for db in sqlite postgres; do
  run --label "2 latency" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60
done
# 3. Isolation: one app down (refused, then hanging) with 100,000 deliveries in retry.
for db in sqlite postgres; do
  run --label "3 isolation (refused)" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60 --down refused --down-backlog 100000
  run --label "3 isolation (hang)" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60 --down hang --down-backlog 100000
done
# 4. Backlog: 1,000,000 scheduled deliveries, then the throughput run.
for db in sqlite postgres; do
  run --label "4 backlog" --db $db --tenants 1000 --apps 10 --events 200000 --batch 100 --scheduled 1000000
done
# 5. Scale-out: two instances on one PostgreSQL (the 1-instance figure is scenario 1's).
run --label "5 scale-out (2 instances)" --db postgres --instances 2 --tenants 1000 --apps 10 --events 200000 --batch 100
