#!/bin/bash
# Revocation phase with Redis aof_rewrite_in_progress and the XADD count sampled (~every 1.3 s; it disturbs the run):
# docs/benchmarks.md, 2026-12-06 late night. Usage: revocation-aof-sampler.sh LABEL (output in /tmp/ab/LABEL/persist.txt)
label=$1; d=/tmp/ab/$label; mkdir -p $d; cd "$(git rev-parse --show-toplevel)"
(scripts/perf.sh --label $label --out /tmp/ab --phases revocation > $d/run.log 2>&1 &)
port=""; for i in $(seq 1 200); do port=$(pgrep -a redis-server | grep -o "127.0.0.1:[0-9]*" | head -1 | cut -d: -f2); [ -n "$port" ] && break; sleep 1; done
sleep 2; t=0
while pgrep -f "perf.sh --label $label" >/dev/null && [ $t -lt 2000 ]; do
  x=$(redis-cli -p $port INFO commandstats 2>/dev/null | grep -o "cmdstat_xadd:calls=[0-9]*" | cut -d= -f2)
  r=$(redis-cli -p $port INFO persistence 2>/dev/null | grep -E "aof_rewrite_in_progress|aof_rewrites:" | tr -d '\r' | tr '\n' ' ')
  echo "$(date +%s.%N | cut -c1-14) xadd=${x:-0} $r" >> $d/persist.txt; sleep 0.2; t=$((t+1)); done
