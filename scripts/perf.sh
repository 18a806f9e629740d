#!/usr/bin/env bash
# Issue 10's performance harness in one command: builds Release, starts a private redis-server on a free
# loopback port (temp dir, AOF everysec as docs/redis.md recommends), runs tests/JitBroker.PerfHarness
# (floor, broker process at concurrency 1/8/32/128 with audit fsync Always and Interval, EndTask of 10 leases,
# revocation lag for 100k expiring leases, start-up time and RSS vs active leases), stops redis.
# Results: docs/benchmarks/perf.{json,md} and docs/benchmarks/perf-latency.svg. Extra arguments go to the
# harness (e.g. --label quick --seconds 3 --phases floor,broker). PERF_WAIT_QUIET=<seconds> first waits up to
# that long for the machine's 1-minute load average to fall below 1 (other work on the box skews every number).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

command -v redis-server >/dev/null 2>&1 || { echo "redis-server is required (apt-get install redis-server)"; exit 2; }

echo "== building (Release)"
dotnet build src/JitBroker.Server/JitBroker.Server.csproj -c Release -nologo -v quiet | grep -E " error |rror\(s\)" || true
dotnet build tests/JitBroker.PerfHarness/JitBroker.PerfHarness.csproj -c Release -nologo -v quiet | grep -E " error |rror\(s\)" || true
broker_dll="$root/src/JitBroker.Server/bin/Release/net10.0/JitBroker.Server.dll"
harness_dll="$root/tests/JitBroker.PerfHarness/bin/Release/net10.0/JitBroker.PerfHarness.dll"
[ -f "$broker_dll" ] && [ -f "$harness_dll" ] || { echo "build failed"; exit 1; }

work=$(mktemp -d -t jitbroker-perf-redis-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$port" --dir "$work" --appendonly yes --appendfsync everysec --save "" \
  --daemonize yes --pidfile "$work/redis.pid" --logfile "$work/redis.log"
stop_redis() {
  if [ -f "$work/redis.pid" ]; then kill "$(cat "$work/redis.pid")" 2>/dev/null || true; sleep 0.5; fi
  rm -rf "$work"
}
trap stop_redis EXIT
for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

if [ "${PERF_WAIT_QUIET:-0}" -gt 0 ]; then
  echo "== waiting up to ${PERF_WAIT_QUIET}s for a quiet machine (load average < 1)"
  for _ in $(seq 1 "$PERF_WAIT_QUIET"); do
    awk '{ exit !($1 < 1.0) }' /proc/loadavg && break
    sleep 1
  done
  echo "   load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

echo "== running the harness (redis 127.0.0.1:$port)"
dotnet "$harness_dll" --dedicated-redis --redis "127.0.0.1:$port" --broker-dll "$broker_dll" --out "$root/docs/benchmarks" "$@"
