#!/bin/bash
# usage: revocation-commandstats.sh LABEL (from the repository; results in /tmp/ab/LABEL)  — revocation phase with a commandstats sampler (1 s)
label=$1; d=/tmp/ab/$label; mkdir -p $d; cd "$(git rev-parse --show-toplevel)"
(scripts/perf.sh --label $label --out /tmp/ab --phases revocation > $d/run.log 2>&1 &)
port=""; for i in $(seq 1 200); do port=$(pgrep -a redis-server | grep -o "127.0.0.1:[0-9]*" | head -1 | cut -d: -f2); [ -n "$port" ] && break; sleep 1; done
sleep 2; t=0
while pgrep -f "perf.sh --label $label" >/dev/null && [ $t -lt 400 ]; do redis-cli -p $port INFO commandstats > $d/cs.$t 2>/dev/null; redis-cli -p $port INFO cpu >> $d/cs.$t 2>/dev/null; sleep 1; t=$((t+1)); done
grep -A4 "^| wave" /tmp/ab/$label.md | tail -2 | cut -d'|' -f2,11-13,17-18
