#!/bin/bash
# Redis's own time per script (INFO commandstats usec_per_call of EVALSHA) for the Lua shapes in this folder, on a private
# redis-server with ten lease-like hashes (19 fields, ~400 bytes each). docs/benchmarks.md, eleventh session. Not part of
# the broker; loopback only, bounded (20,000 calls per script). usage: run.sh [PORT]
set -euo pipefail
port=${1:-63999}; dir=$(mktemp -d); here=$(cd "$(dirname "$0")" && pwd)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --daemonize yes --dir "$dir" --pidfile "$dir/r.pid" --logfile "$dir/r.log"
trap 'kill "$(cat "$dir/r.pid")" 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
for i in $(seq 0 9); do
  redis-cli -p "$port" HSET "lease:{$i}" t "task-$(printf %020d "$i")" a "spiffe://dev.local/agent/abcdefghijkl" e 1765100000000 \
    d 1765100000000 s 0 k jwt h abcdefghijklmnopqrstuvwxyz hm "$(printf 'm%.0s' $(seq 1 43))" au https://tools.example/abcdefghij \
    ac read to "git.clone,git.fetch" r repo:acme/app i 1765099000000 ru rule-abcdefghij f "$(printf 'f%.0s' $(seq 1 32))" \
    af "spiffe_id,spiffe://dev.local/agent/x,iss,https://x" in "12:abcdefghijkl3:key5:value" ow team-abcdef n 0 >/dev/null
done
for rep in 1 2 3; do
  for s in s0 s1 s2 s3 s4 s6 s5; do
    sha=$(redis-cli -p "$port" SCRIPT LOAD "$(cat "$here/$s.lua")")
    redis-cli -p "$port" CONFIG RESETSTAT >/dev/null
    redis-benchmark -p "$port" -n 20000 -c 1 -q EVALSHA "$sha" 0 >/dev/null 2>&1
    echo "$rep $s $(head -1 "$here/$s.lua" | cut -c1-70): $(redis-cli -p "$port" INFO commandstats | grep -o 'cmdstat_evalsha:[^,]*,[^,]*,usec_per_call=[0-9.]*' | grep -o 'usec_per_call=[0-9.]*')"
  done
done
