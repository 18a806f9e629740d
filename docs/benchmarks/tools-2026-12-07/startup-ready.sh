#!/bin/bash
# Start-up to ready of the published broker, build variants side by side. Each variant is the `dotnet publish` flags beside
# `-c Release -r linux-x64 -p:PublishReadyToRun=true`; the Dockerfile's (scripts/publish-server.sh) are `--self-contained true
# -p:PublishReadyToRunComposite=true` since 2026-12-07 07:00 UTC, `--self-contained false -p:UseAppHost=false` before. The committed tree (git archive HEAD) is published into
# a scratch copy per variant, so the working tree's bin/ and obj/ are never touched (a self-contained publish there
# breaks later framework-dependent builds). A loopback redis-server is started and stopped here. Starts alternate between
# the variants; each line: ms from process start to the first 200 from /readyz (polled every 5 ms) and the process's
# CPU ms at that moment. Not part of the broker.
# usage: startup-ready.sh RUNS VARIANT... with VARIANT = name=flags, e.g.
#   startup-ready.sh 6 'dockerfile=--self-contained false -p:UseAppHost=false' \
#     'rdg=--self-contained false -p:UseAppHost=false -p:EnableRequestDelegateGenerator=true' \
#     'composite=--self-contained true -p:PublishReadyToRunComposite=true'
# PRE (environment) prefixes the broker's command line, e.g. PRE="perf record -g -o /tmp/start.data --" with
# DOTNET_PerfMapEnabled=1 exported, to profile a start (the perf map then lists what was JIT-compiled).
set -euo pipefail
runs=$1; shift
root=$(cd "$(dirname "$0")/../../.." && pwd)
work=$(mktemp -d /tmp/startup-ready-XXXXXX)
port=$((47000 + RANDOM % 1000))
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$work" --daemonize yes --pidfile "$work/redis.pid" >/dev/null
trap 'kill "$(cat "$work/redis.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT
names=()
for variant in "$@"; do
  name=${variant%%=*}; flags=${variant#*=}
  mkdir -p "$work/src-$name"
  git -C "$root" archive HEAD | tar -x -C "$work/src-$name"
  # shellcheck disable=SC2086
  dotnet publish "$work/src-$name/src/JitBroker.Server/JitBroker.Server.csproj" -c Release -o "$work/pub-$name" -r linux-x64 \
    -p:PublishReadyToRun=true $flags --nologo -v quiet --disable-build-servers >/dev/null
  names+=("$name")
done
mkdir -p "$work/data"
for run in $(seq 1 "$runs"); do
  for name in "${names[@]}"; do
    pub="$work/pub-$name"
    if [ -x "$pub/JitBroker.Server" ]; then cmd=("$pub/JitBroker.Server"); else cmd=(dotnet "$pub/JitBroker.Server.dll"); fi
    t0=$(date +%s%N)
    # shellcheck disable=SC2086
    (cd "$pub" && exec ${PRE:-} "${cmd[@]}" --JitBroker:Profile=embedded --JitBroker:DataDirectory="$work/data" \
      --JitBroker:Listen:Grpc=127.0.0.1:$((port + 1)) --JitBroker:Listen:Http=127.0.0.1:$((port + 2)) --JitBroker:Listen:Admin=127.0.0.1:$((port + 3)) \
      --JitBroker:Leases:Store=redis --JitBroker:Redis:Endpoint=127.0.0.1:$port --Logging:LogLevel:Default=Warning \
      --JitBroker:Audit:FsyncPolicy=Always --JitBroker:Audit:Path="$work/data/audit.jsonl" > "$work/broker.log" 2>&1) &
    pid=$!
    until curl -s -o /dev/null --fail "http://127.0.0.1:$((port + 2))/readyz"; do
      kill -0 "$pid" 2>/dev/null || { echo "$name: the broker exited; see its log:"; cat "$work/broker.log"; exit 1; }
      sleep 0.005
    done
    t1=$(date +%s%N)
    cpu=$(awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$pid/stat")
    echo "run $run $name: ready $(( (t1 - t0) / 1000000 )) ms, CPU $cpu ms"
    kill "$pid"; wait "$pid" 2>/dev/null || true
  done
done
