#!/bin/bash
# EndTask phase of scripts/perf.sh with Redis's slowlog on (every command over 50 µs), collected and reset once a second
# until the harness's Redis stops; then the per-EndTask summary and the Redis time of the slowest scripts (by SHA, the
# EndTask script is the one with about as many entries as tasks). Not part of the broker; bounded by the harness run.
# usage: endtask-script-time.sh LABEL [OUT_DIR]
set -euo pipefail
label=$1; out=${2:-/tmp/endtask-script-time}; mkdir -p "$out"
root=$(cd "$(dirname "$0")/../../.." && pwd); cd "$root"
rm -f "$out/$label.slow"
PERF_REDIS_ARGS="--slowlog-log-slower-than 50 --slowlog-max-len 100000" \
  scripts/perf.sh --label "$label" --out "$out/$label" --phases broker,endtask --levels 1 --seconds 2 --endtask-tasks 3000 > "$out/$label.log" 2>&1 &
for _ in $(seq 1 300); do sleep 2; grep -aq "running the harness" "$out/$label.log" && break; done
sleep 1
port=$(grep -a -o "redis 127.0.0.1:[0-9]*" "$out/$label.log" | head -1 | cut -d: -f2)
while pgrep -f "redis-server 127.0.0.1:$port" >/dev/null; do
  redis-cli -p "$port" --no-raw SLOWLOG GET 100000 >> "$out/$label.slow" 2>/dev/null || true
  redis-cli -p "$port" SLOWLOG RESET >/dev/null 2>&1 || true
  sleep 1
done
wait
grep -a -A3 "^## EndTask" "$out/$label.log"
python3 "$(dirname "$0")/slowlog-scripts.py" "$out/$label.slow"
