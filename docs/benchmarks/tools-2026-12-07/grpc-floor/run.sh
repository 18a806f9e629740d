#!/usr/bin/env bash
# The floor behind gRPC, and the transport alone, on this machine (issue 22 item 1; docs/benchmarks.md, thirteenth session):
#   docs/benchmarks/tools-2026-12-07/grpc-floor/run.sh [SECONDS] [LEVELS...]     (defaults: 10 s; 128 256)
# GRPC_FLOOR_MODES picks the server modes (default "floor empty"; also floor-cached, see Program.cs).
# Builds, starts a private redis-server as scripts/perf.sh does (loopback, AOF everysec, no RDB), then for each server
# mode starts the server, runs the client at each concurrency, stops the server; stops redis.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-10}; shift || true
levels=("$@"); [ ${#levels[@]} -gt 0 ] || levels=(128 256)
dotnet build -c Release -nologo -v q >/dev/null
dll=bin/Release/net10.0/grpc-floor.dll
work=$(mktemp -d -t grpc-floor-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$work" --appendonly yes --appendfsync everysec --save "" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
for _ in $(seq 1 50); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; kill "$(cat "$work/redis.pid")" 2>/dev/null; sleep 0.3; rm -rf "$work"; }
trap cleanup EXIT
echo "$(date -u +%FT%TZ) $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), load average $(cut -d' ' -f1 /proc/loadavg)"
for mode in ${GRPC_FLOOR_MODES:-floor empty}; do
  port=$(free_port)
  dotnet "$dll" server "$port" "127.0.0.1:$redis_port" "$work/dev" "$work/keys" "$mode" & server=$!
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  for c in "${levels[@]}"; do
    printf '%s: ' "$mode"
    # floor-cached: every worker re-presents one SVID, as perf.sh's item 2 workload does.
    GRPC_FLOOR_SVID_PER_WORKER=$([ "$mode" = floor-cached ] && echo 1 || echo 0) \
      dotnet "$dll" client "$port" "$work/dev" "$c" "$seconds" "$server" "$(cat "$work/redis.pid")" | tail -1
    redis-cli -p "$redis_port" flushall >/dev/null
  done
  kill "$server"; wait "$server" 2>/dev/null || true; server=
done
