#!/bin/bash
# perf record of the harness's redis-server (and its forked AOF-rewrite children) for 15 s during the EndTask phase of
# scripts/perf.sh (broker phase at c=1, then 6,000 EndTasks): docs/benchmarks.md, eleventh session, "Why the EndTask
# script did not get faster". Needs linux-perf. Not part of the broker; bounded by the harness run.
# usage: endtask-redis-profile.sh [OUT_DIR]   then: perf report -i OUT_DIR/redis.data --no-children -g none --sort symbol
set -euo pipefail
out=${1:-/tmp/endtask-redis-profile}; mkdir -p "$out"
root=$(cd "$(dirname "$0")/../../.." && pwd); cd "$root"
PERF_BUILD=plain scripts/perf.sh --label et-prof --out "$out" --phases broker,endtask --levels 1 --seconds 2 --endtask-tasks 6000 > "$out/run.log" 2>&1 &
for _ in $(seq 1 300); do sleep 1; grep -aq "running the harness" "$out/run.log" && break; done
port=$(grep -a -o "redis 127.0.0.1:[0-9]*" "$out/run.log" | head -1 | cut -d: -f2)
sleep 40 # the broker phase and the first EndTasks
perf record -F 2000 -g -p "$(pgrep -f "redis-server 127.0.0.1:$port")" -o "$out/redis.data" -- sleep 15 2>/dev/null
wait
grep -a -A3 "^## EndTask" "$out/run.log"
