#!/usr/bin/env bash
# Every scenario of BENCHMARKS.md except the single-publish variants (bench/run-all.sh
# has them), for a quicker full pass.
set -uo pipefail
cd "$(dirname "$0")/.."
B=target/release/hookgate-bench
OUT=${OUT:-bench/results.jsonl}
run() { echo "== $*"; "$B" --out "$OUT" "$@" 2>&1 | grep -v "slow statement" || echo "(incomplete)"; }
for db in ${DBS:-sqlite postgres}; do
  run --label "1 throughput (batch 100)" --db $db --tenants 1000 --apps 10 --events 200000 --batch 100
  run --label "2 latency" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60
  run --label "3 isolation (refused)" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60 --down refused --down-backlog 100000
  run --label "3 isolation (hang)" --db $db --tenants 1000 --apps 10 --rate 1000 --duration 60 --down hang --down-backlog 100000
  run --label "4 backlog" --db $db --tenants 1000 --apps 10 --events 200000 --batch 100 --scheduled 1000000
done
run --label "5 scale-out (2 instances)" --db postgres --instances 2 --tenants 1000 --apps 10 --events 200000 --batch 100
