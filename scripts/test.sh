#!/usr/bin/env bash
# Runs every test suite of JitBroker on a fresh machine: installs what the tests need (Debian packages
# included), builds once, runs each suite, prints "N passed, N failed" and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

log() { printf '\n== %s  (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }

# --- the server as the image ships it (scripts/publish-server.sh, minutes of crossgen2), published in the background while
# the rest is installed and built; the script works on its own copy of the sources. tests/JitBroker.Chart.Tests starts it.
publish_dir=$(mktemp -d "${TMPDIR:-/tmp}/jitbroker-published-XXXXXX")
publish_log="$root/artifacts/publish-server.log"; mkdir -p "$root/artifacts"
log "publishing the server as the image does, in the background (log: $publish_log)"
# Niced, but on the project's 2-vCPU VM that hardly helps (the two vCPUs contend below the guest's scheduler; SCHED_IDLE
# did no better): from a fresh clone the build took 7:53 beside it instead of 3:14, and the first suite started after
# 8:55 instead of ~3:30. Waiting for it before the suites keeps it from slowing a suite's timed steps.
setsid nice -n 15 scripts/publish-server.sh "$publish_dir" >"$publish_log" 2>&1 &
publish_pid=$!
trap 'kill -- "-$publish_pid" 2>/dev/null; rm -rf "$publish_dir"' EXIT

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

# --- build once ---
log "building"
dotnet build JitBroker.sln -c Release -nologo -v quiet 2>&1 | grep -E "error|Warn|Error" | grep -v " 0 Error" ; build_rc=${PIPESTATUS[0]}
if [ "$build_rc" -ne 0 ]; then echo "build failed"; echo "0 passed, 1 failed"; exit 1; fi

log "waiting for the background publish"
if ! wait "$publish_pid"; then echo "scripts/publish-server.sh failed (JitBroker.Chart.Tests will fail); see $publish_log"; tail -20 "$publish_log"; fi
export JITBROKER_CHART_TEST_PUBLISH_DIR="$publish_dir"

# --- run each suite ---
passed=0; failed=0; skipped=0; suites_failed=0
results="$root/artifacts/test-results"; rm -rf "$results"; mkdir -p "$results"
for proj in tests/*.Tests/*.Tests.csproj; do
  name=$(basename "$proj" .csproj)
  log "$name"
  out="$results/$name.log"
  timeout 900 dotnet test "$proj" -c Release --no-build -nologo --blame-hang-timeout 5min \
      --logger "console;verbosity=minimal" >"$out" 2>&1
  rc=$?
  grep -E "^(Passed|Failed)!|^\s+Failed |error" "$out" | head -40
  line=$(grep -E "(Passed|Failed)! +- Failed: +[0-9]+, Passed: +[0-9]+" "$out" | tail -1)
  if [ -z "$line" ]; then
    echo "  $name produced no test summary (rc=$rc); see $out"; tail -20 "$out"
    failed=$((failed + 1)); suites_failed=$((suites_failed + 1)); continue
  fi
  f=$(sed -E 's/.*Failed: +([0-9]+),.*/\1/' <<<"$line"); p=$(sed -E 's/.*Passed: +([0-9]+),.*/\1/' <<<"$line")
  k=$(sed -E 's/.*Skipped: +([0-9]+),.*/\1/' <<<"$line")
  passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + k))
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); suites_failed=$((suites_failed + 1)); fi
done

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
