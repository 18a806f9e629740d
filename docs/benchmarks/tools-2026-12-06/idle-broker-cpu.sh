#!/bin/bash
# CPU an idle broker (plain Release build, Redis lease store, pinned to CPU 1) and its Redis use over 20 s with no traffic
# (docs/benchmarks.md, 2026-12-06 late night, "Thread-pool spinning on this machine"). Needs redis-server; build first:
#   dotnet build src/JitBroker.Server -c Release && docs/benchmarks/tools-2026-12-06/idle-broker-cpu.sh
set -eu
root=$(git rev-parse --show-toplevel); dir=$(mktemp -d); port=36999
redis-server --port $port --bind 127.0.0.1 --dir "$dir" --appendonly yes --save "" --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
sleep 1
taskset -c 1 dotnet "$root/src/JitBroker.Server/bin/Release/net10.0/JitBroker.Server.dll" --JitBroker:Profile=embedded \
  --JitBroker:DataDirectory="$dir/data" --JitBroker:Listen:Grpc=127.0.0.1:36001 --JitBroker:Listen:Http=127.0.0.1:36002 \
  --JitBroker:Listen:Admin=127.0.0.1:36003 --JitBroker:Leases:Store=redis --JitBroker:Redis:Endpoint=127.0.0.1:$port \
  --Logging:LogLevel:Default=Warning >"$dir/broker.log" 2>&1 &
broker=$!
sleep 15
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
redis=$(cat "$dir/redis.pid"); b0=$(ticks $broker); r0=$(ticks "$redis")
sleep 20
b1=$(ticks $broker); r1=$(ticks "$redis")
echo "idle 20 s: broker $(( (b1 - b0) * 10 )) ms CPU, redis $(( (r1 - r0) * 10 )) ms CPU"
kill $broker; redis-cli -p $port shutdown nosave >/dev/null 2>&1 || true; rm -rf "$dir"
