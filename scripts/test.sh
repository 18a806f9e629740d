#!/usr/bin/env bash
# Runs every test suite of JitBroker on a fresh machine: installs what the tests need (Debian packages
# included), builds once, runs each suite, prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s  (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# --- build once, in the background while the packages below install (the build needs none of them) ---
mkdir -p "$root/artifacts"; build_log="$root/artifacts/build.log"
log "building, in the background (log: $build_log)"
setsid dotnet build JitBroker.sln -c Release -nologo -v quiet >"$build_log" 2>&1 &
build_pid=$!
publish_pid=; waiting_pid=
stop_background() { for pid in $build_pid $publish_pid $waiting_pid; do kill -- "-$pid" 2>/dev/null; done; }
trap stop_background EXIT

# --- system packages: a real independent gRPC peer (C-core python3-grpcio) and protoc for its stubs ---
need_pkgs=()
/usr/bin/python3 -c 'import grpc, google.protobuf' 2>/dev/null || need_pkgs+=(python3-grpcio python3-protobuf)
command -v protoc >/dev/null 2>&1 || need_pkgs+=(protobuf-compiler)
# The Debian redis-server package starts a system service on port 6379; our tests never use it.
# Real Redis for the lease ledger's tests: the suites start and stop their own redis-server/redis-sentinel
# processes on loopback ports, so nothing here is left running.
command -v redis-server >/dev/null 2>&1 || need_pkgs+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || need_pkgs+=(redis-sentinel)
# redis-cli joins the Redis Cluster the cluster tests start (Debian ships it in redis-tools).
command -v redis-cli >/dev/null 2>&1 || need_pkgs+=(redis-tools)
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || need_pkgs+=(python3-cryptography)
# A relying party independent of the broker for the OAuth door's tokens (interop/oauth_verify.py): PyJWT.
/usr/bin/python3 -c 'import jwt' 2>/dev/null || need_pkgs+=(python3-jwt)
# The Helm chart's values.schema.json is checked with an independent JSON Schema implementation.
/usr/bin/python3 -c 'import jsonschema' 2>/dev/null || need_pkgs+=(python3-jsonschema)
# The second independent gRPC peer (npm's @grpc/grpc-js) and the OAuth door's strict client (npm's oauth4webapi), run by node.
command -v node >/dev/null 2>&1 || need_pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || need_pkgs+=(npm)
# The web console's browser tests drive Debian's chromium headless through chromium-driver (Selenium WebDriver).
[ -x /usr/bin/chromium ] || need_pkgs+=(chromium)
[ -x /usr/bin/chromedriver ] || need_pkgs+=(chromium-driver)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "installing ${need_pkgs[*]}"
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq || { echo "apt-get update failed"; exit 1; }
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_pkgs[@]}" >/dev/null || { echo "apt-get install failed"; exit 1; }
fi
log "npm ci (tests/interop-node: @grpc/grpc-js, @grpc/proto-loader, oauth4webapi, @modelcontextprotocol/sdk, oidc-provider at the committed lock file)"
(cd tests/interop-node && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci failed"; echo "0 passed, 1 failed"; exit 1; }
export JITBROKER_TEST_PYTHON=/usr/bin/python3   # Debian's python, which sees python3-grpcio (not a pyenv shim)

log "waiting for the build"
wait "$build_pid"; build_rc=$?
grep -E "error|Warn|Error" "$build_log" | grep -v " 0 Error"
if [ "$build_rc" -ne 0 ]; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi

# --- the server as the image ships it (scripts/publish-server.sh: minutes of crossgen2), published from the tree just
# built, in the background; tests/JitBroker.Chart.Tests starts it. Niced, but on the project's 2-vCPU VM that hardly helps
# (the two vCPUs contend below the guest's scheduler; SCHED_IDLE did no better), so only the short suites and the ones
# that mostly wait on Redis run beside it (below); the suites that time the broker run after it.
publish_dir=$(mktemp -d "${TMPDIR:-/tmp}/jitbroker-published-XXXXXX")
publish_log="$root/artifacts/publish-server.log"
log "publishing the server as the image does, in the background (log: $publish_log)"
setsid nice -n 15 scripts/publish-server.sh --in-tree "$publish_dir" >"$publish_log" 2>&1 &
publish_pid=$!
trap 'stop_background; rm -rf "$publish_dir"' EXIT

# --- run each suite ---
passed=0; failed=0; skipped=0
results="$root/artifacts/test-results"; rm -rf "$results"; mkdir -p "$results"

# run_suite NAME: runs tests/NAME/NAME.csproj; writes its log, a short report (NAME.report) and "passed failed skipped"
# (NAME.counts). A suite that ends without a summary, or exits non-zero with none failed, counts as one failure.
run_suite() {
  local name=$1 out="$results/$1.log" report="$results/$1.report" rc line p f k
  timeout 900 dotnet test "tests/$name/$name.csproj" -c Release --no-build -nologo --blame-hang-timeout 5min \
      --logger "console;verbosity=minimal" >"$out" 2>&1
  rc=$?
  grep -E "^(Passed|Failed)!|^\s+Failed |error" "$out" | head -40 >"$report"
  line=$(grep -E "(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+" "$out" | tail -1)
  if [ -z "$line" ]; then
    { echo "  $name produced no test summary (rc=$rc); see $out"; tail -20 "$out"; } >>"$report"
    echo "0 1 0" >"$results/$name.counts"; return
  fi
  f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$line"); p=$(sed -E 's/.*Passed: +([0-9]+),.*/\1/' <<<"$line")
  k=$(sed -E 's/.*Skipped: +([0-9]+),.*/\1/' <<<"$line")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
  echo "$p $f $k" >"$results/$name.counts"
}
# tally_suite NAME: prints the suite's report and adds its counts (a suite that left no counts is one failure).
tally_suite() {
  local p=0 f=1 k=0
  cat "$results/$1.report" 2>/dev/null
  if [ -s "$results/$1.counts" ]; then read -r p f k <"$results/$1.counts"; else echo "  $1 left no result"; fi
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
}
run_here() { log "$1"; run_suite "$1"; tally_suite "$1"; }

# The suites whose time is mostly spent waiting on real Redis (cluster failovers and reshards, sentinel promotion:
# Leases ~75 s of CPU in ~180 s, Redis ~20 s in ~55 s on the project's 2-vCPU VM) run in the background, one after
# the other, while the short CPU-bound suites, the rest of the publish and the chart suite use the CPU they leave.
# Their bounds are seconds wide (a lease revoked within 2 x node timeout + claim timeout + 3 s); the suites that time
# the broker itself (Ha, Server, Console) run only after them, alone.
waiting_suites=(JitBroker.Leases.Tests JitBroker.Redis.Tests)
log "in the background: ${waiting_suites[*]}"
export results; export -f run_suite   # its own session (as the publish), so an early exit stops its test hosts and servers too
setsid bash -c 'for name in "$@"; do run_suite "$name"; done' waiting-suites "${waiting_suites[@]}" &
waiting_pid=$!

timed_suites=(JitBroker.Ha.Tests JitBroker.Server.Tests JitBroker.Console.Tests)
later=(JitBroker.Chart.Tests "${waiting_suites[@]}" "${timed_suites[@]}")
for proj in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  [[ " ${later[*]} " == *" $name "* ]] || run_here "$name"
done

log "waiting for the background publish"
if ! wait "$publish_pid"; then echo "scripts/publish-server.sh failed (JitBroker.Chart.Tests will fail); see $publish_log"; tail -20 "$publish_log"; fi
export JITBROKER_CHART_TEST_PUBLISH_DIR="$publish_dir"
run_here JitBroker.Chart.Tests

log "waiting for the background suites"
wait "$waiting_pid"
for name in "${waiting_suites[@]}"; do echo "-- $name"; tally_suite "$name"; done

for name in "${timed_suites[@]}"; do run_here "$name"; done

# --- the shipped example policy set, through the operator's own tool ---
log "jitctl policy test examples/policies"
policy_out="$results/policy-examples.log"
dotnet src/JitBroker.Cli/bin/Release/net10.0/jitctl.dll policy test examples/policies >"$policy_out" 2>&1
policy_rc=$?
grep -E "^FAIL" "$policy_out" | head -20
line=$(grep -E "^[0-9]+ passed, [0-9]+ failed" "$policy_out" | tail -1)
echo "  ${line:-no summary (rc=$policy_rc)}"
if [ -n "$line" ]; then
  passed=$((passed + $(cut -d' ' -f1 <<<"$line"))); failed=$((failed + $(cut -d' ' -f3 <<<"$line")))
fi
if [ "$policy_rc" -ne 0 ] && { [ -z "$line" ] || [ "$(cut -d' ' -f3 <<<"$line")" -eq 0 ]; }; then failed=$((failed + 1)); fi

echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
