#!/usr/bin/env bash
# Issue 10's performance harness in one command: builds Release, starts a private redis-server on a free
# loopback port (temp dir, AOF everysec as docs/redis.md recommends), runs tests/JitBroker.PerfHarness
# (floor, broker process at concurrency 1/8/32/128/256 with audit fsync Always and Interval and every SVID verified as
# in the floor (verified-token cache off), EndTask of 10 leases,
# one re-presented SVID per worker with the verified-token cache off and on, the floor behind gRPC (the floor's three
# operations and nothing else, served on the broker's transport by a process of their own; cache off, then on), open loop at fixed arrival rates of
# 10/25/50/75/90 % of the broker's max with the floor's issuance driven the same way in process, revocation lag for
# 100k expiring leases in two waves (cold broker, then warm), start-up time and RSS vs active leases for the plain build
# and the published one), stops redis. The broker measured is the one published as the Dockerfile publishes it
# (scripts/publish-server.sh: self-contained, composite ReadyToRun). The machine's speed drifts within a run: the floor
# is measured again after the broker phases and the ratios use the faster floor, and the pairs phase alternates short floor and broker windows (--pairs N,
# --pair-seconds S, --pair-concurrency C; --pair-workload reused for item 2's cached SVIDs) and reports the median
# ratio of adjacent pairs.
# Results: docs/benchmarks/perf.{json,md} and the charts perf-latency.svg (by concurrency), perf-openloop.svg
# (latency vs offered load, broker and floor) and perf-revocation-lag.svg (lag over time). Extra arguments go to the
# harness (e.g. --label quick --seconds 3 --phases floor,broker; --out DIR writes elsewhere). On 2+ cores the
# openloop phase pins the broker and the harness + redis to separate cores (--pin; PERF_PIN=0 turns it off);
# --openloop-audit Interval runs that phase with audit FsyncPolicy=Interval (default Always) to see what fsync adds;
# --openloop-warmup S sends S seconds at each level's rate before measuring it; --openloop-timeline PREFIX writes
# PREFIX-RATE.csv per level (each answered arrival: when it was due, its latency) to see when the slow answers came.
# PERF_REDIS_ARGS adds redis-server arguments to every server started (e.g. "--auto-aof-rewrite-percentage 0" to see
# what the AOF rewrites' fork costs the other processes on a small box).
# PERF_WAIT_QUIET=<seconds> first waits up to that long for the machine's 1-minute load average to fall below 1
# (other work on the box skews every number).
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

# PERF_CLUSTER=1: instead of one server, a Redis Cluster of 3 primaries (no replicas, the same AOF settings) created
# with redis-cli --cluster create; the ledger is split into 16 buckets (--buckets N to change). Phases broker,
# interval and revocation only. Redis CPU is then the sum over the three primaries.
work=$(mktemp -d -t jitbroker-perf-redis-XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# A cluster node also listens on port + 10000 (cluster bus): pick a port ≤ 55535 whose bus port is free too.
free_cluster_port() {
  python3 -c '
import random, socket
for _ in range(200):
    p = random.randint(20000, 55000)
    try:
        a = socket.socket(); a.bind(("127.0.0.1", p)); b = socket.socket(); b.bind(("127.0.0.1", p + 10000))
        a.close(); b.close(); print(p); break
    except OSError:
        pass'
}
start_redis() { # port dir [extra args…]
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync everysec --save "" \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" ${PERF_REDIS_ARGS:-}
  for _ in $(seq 1 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
}
stop_redis() {
  for pidfile in "$work"/*/redis.pid; do
    [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
  done
  sleep 0.5
  rm -rf "$work"
}
trap stop_redis EXIT
if [ "${PERF_CLUSTER:-0}" = 1 ]; then
  command -v redis-cli >/dev/null 2>&1 || { echo "redis-cli is required (apt-get install redis-tools)"; exit 2; }
  nodes=()
  for i in 1 2 3; do
    port=$(free_cluster_port)
    start_redis "$port" "$work/node$i" --cluster-enabled yes --cluster-config-file "$work/node$i/nodes.conf" --cluster-node-timeout 5000
    nodes+=("127.0.0.1:$port")
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$work/cluster-create.log" 2>&1 \
    || { cat "$work/cluster-create.log"; exit 1; }
  for _ in $(seq 1 100); do
    redis-cli -p "${nodes[0]##*:}" cluster info | grep -q "cluster_state:ok" && break; sleep 0.1
  done
  redis_args=(--redis-cluster "$(IFS=,; echo "${nodes[*]}")")
  echo "== Redis Cluster: ${nodes[*]}"
else
  port=$(free_port)
  start_redis "$port" "$work/node1"
  redis_args=(--redis "127.0.0.1:$port")
fi

if [ "${PERF_WAIT_QUIET:-0}" -gt 0 ]; then
  echo "== waiting up to ${PERF_WAIT_QUIET}s for a quiet machine (load average < 1)"
  for _ in $(seq 1 "$PERF_WAIT_QUIET"); do
    awk '{ exit !($1 < 1.0) }' /proc/loadavg && break
    sleep 1
  done
  echo "   load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
fi

pin_args=()
if [ "${PERF_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  pin_args=(--pin)
fi

# Every phase measures the broker as the image ships it: published by scripts/publish-server.sh, the script the Dockerfile
# runs (self-contained, composite ReadyToRun for this machine's architecture). The startup phase also starts the plain build
# beside it. PERF_BUILD=plain measures the plain build everywhere instead (how runs before 2026-12-04 were made).
# PERF_BUILD=plain skips the publish (a few minutes of crossgen2), for quick A/B runs of a change to the broker's code.
if [ "${PERF_BUILD:-published}" = plain ]; then
  measured_args=(--broker-dll "$broker_dll")
else
  echo "== publishing as the Dockerfile does (scripts/publish-server.sh: self-contained, composite ReadyToRun)"
  scripts/publish-server.sh "$work/published" | grep -E " error |rror\(s\)" || true
  [ -x "$work/published/JitBroker.Server" ] || { echo "publish failed"; exit 1; }
  measured_args=(--broker-dll "$work/published/JitBroker.Server.dll" --plain-broker-dll "$broker_dll")
fi

echo "== running the harness (${redis_args[*]} ${pin_args[*]})"
dotnet "$harness_dll" --dedicated-redis "${redis_args[@]}" "${measured_args[@]}" --out "$root/docs/benchmarks" "${pin_args[@]}" "$@"
