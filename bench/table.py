#!/usr/bin/env python3
"""Prints a results file of hookgate-bench (one JSON line per run) as a Markdown table."""
import json
import sys

rows = [json.loads(line) for line in open(sys.argv[1] if len(sys.argv) > 1 else "bench/results.jsonl")]
print("| scenario | db | inst. | events | done | deliveries/s | publish/s | p50 ms | p90 ms | p99 ms | max ms | gateway CPU % | gateway RSS MiB | duplicates | signatures checked/bad |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    lat = r["latency_ms"]
    print(
        f"| {r['label']} | {r['db']} | {r['instances']} | {r['events']:,} | {'yes' if r['complete'] else 'NO'} "
        f"| {r['deliveries_per_second']:,.0f} | {r['publish_per_second']:,.0f} "
        f"| {lat['p50']:,.1f} | {lat['p90']:,.1f} | {lat['p99']:,.1f} | {lat['max']:,.0f} "
        f"| {' + '.join(str(round(c)) for c in r['gateway_cpu_percent'])} "
        f"| {' + '.join(str(m) for m in r['gateway_rss_mib'])} | {r['duplicates']} "
        f"| {r['signatures_checked']}/{r['signatures_bad']} |"
    )
