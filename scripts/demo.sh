#!/usr/bin/env bash
# JitBroker in one command, on embedded defaults (no servers to install): start the broker, let an agent
# get a task credential, verify it as a tool would, end the task, see it inactive, see a denial's reason, then the
# OAuth door and an MCP server guarded by ToolGuard.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

grpc_addr="${JITBROKER_DEMO_GRPC:-127.0.0.1:50061}"
http_addr="${JITBROKER_DEMO_HTTP:-127.0.0.1:8061}"
data_dir="$(mktemp -d /tmp/jitbroker-demo.XXXXXX)"
broker_log="$data_dir/broker.log"
export JITBROKER__DATADIRECTORY="$data_dir" JITBROKER__LISTEN__GRPC="$grpc_addr" JITBROKER__LISTEN__HTTP="$http_addr"
export JITCTL_BROKER="http://$grpc_addr"
# For the MCP chapter: the sample policy plus a rule for the tickets MCP server (audience = its own URL), and the
# server's workload identity as the resource server that may introspect and report uses for that audience.
mcp_addr="${JITBROKER_DEMO_MCP:-127.0.0.1:8062}"
mcp_url="http://$mcp_addr/mcp"
mcp_tool=spiffe://dev.jitbroker.local/tools/tickets
mkdir -p "$data_dir/policies"
cp src/JitBroker.Server/policies/sample.yaml "$data_dir/policies/"
cat >"$data_dir/policies/60-mcp-tickets.yaml" <<YAML
version: 1
rules:
  - id: support-bot-mcp-tickets
    description: The support bot may use the tickets MCP server's tools.
    effect: allow
    owner: support-lead@example.com
    principals: { spiffe_ids: ["spiffe://dev.jitbroker.local/agents/support-bot"] }
    actions: ["tickets.read", "tickets.update"]
    tools: ["tickets.get", "tickets.comment", "tickets.close"]
    resources: ["tickets/*"]
    credential: { kind: jwt, audiences: ["$mcp_url"], max_ttl: 10m }
YAML
export JITBROKER__POLICY__PATH="$data_dir/policies"
export JITBROKER__INTROSPECTION__RESOURCESERVERS__0="$mcp_tool"
export JITBROKER__TOOLS__RESOURCESERVERS__0__IDENTITY="$mcp_tool" JITBROKER__TOOLS__RESOURCESERVERS__0__AUDIENCES__0="$mcp_url"

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }
step() { bold "▶ $*"; }
jitctl() { dotnet "$root/src/JitBroker.Cli/bin/Release/net10.0/jitctl.dll" "$@"; }
json_field() { /usr/bin/env python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

step "Building the broker and jitctl (Release)"
dotnet build src/JitBroker.Server -c Release -nologo -v quiet >/dev/null
dotnet build src/JitBroker.Cli -c Release -nologo -v quiet >/dev/null

step "Starting the broker on embedded defaults (gRPC h2c $grpc_addr, HTTP $http_addr, data $data_dir)"
dotnet src/JitBroker.Server/bin/Release/net10.0/JitBroker.Server.dll >"$broker_log" 2>&1 &
broker_pid=$!
cleanup() { kill "$broker_pid" 2>/dev/null || true; wait "$broker_pid" 2>/dev/null || true; rm -rf "$data_dir"; }
trap cleanup EXIT
for _ in $(seq 1 100); do
  curl -fsS "http://$http_addr/healthz" >/dev/null 2>&1 && break
  kill -0 "$broker_pid" 2>/dev/null || { cat "$broker_log"; echo "broker exited"; exit 1; }
  sleep 0.2
done
curl -fsS "http://$http_addr/healthz" >/dev/null || { cat "$broker_log"; echo "broker did not become healthy"; exit 1; }
grep -E "IN MEMORY|EMBEDDED PROFILE" "$broker_log" | sed 's/^/  broker says: /' | cut -c1-160 || true

step "The agent proves what it is: a JWT-SVID from the local dev trust domain (DEV ONLY)"
agent=spiffe://dev.jitbroker.local/agents/support-bot
svid=$(jitctl dev-svid --spiffe-id "$agent" 2>/dev/null)
echo "  agent: $agent"
echo "  svid:  ${svid:0:40}… (5 min)"
# DEV ONLY: JITCTL_IDENTITY carries a bearer token in the environment (visible in /proc/<pid>/environ to this
# user and root); outside a throwaway demo use JITCTL_IDENTITY_FILE or --identity-command (README, "jitctl").
export JITCTL_IDENTITY="$svid"

step "The agent declares its task and asks for a credential: tickets.create on zendesk, ticket 42"
response=$(jitctl request --task demo-task-1 --action tickets.create --purpose "Open a ticket for the customer's outage" \
  --audience https://tickets.internal.example --tool zendesk --tool github --resource tickets/42 --ttl 120 --json)
lease=$(json_field "['leaseId']" <<<"$response")
credential=$(json_field "['credential']['token']" <<<"$response")
echo "  lease:      $lease"
echo "  expires:    $(json_field "['expiresAt']" <<<"$response")  (granted TTL $(json_field "['grantedTtl']" <<<"$response"))"
echo "  granted:    tools=$(json_field "['scope']['tools']" <<<"$response") (github was asked for, not allowed: dropped), resources=$(json_field "['scope']['resources']" <<<"$response")"
echo "  rules:      $(json_field "['ruleIds']" <<<"$response")"
echo "  credential: ${credential:0:40}…"

step "The tool verifies the credential offline against the broker's JWKS"
jitctl verify --jwks "http://$http_addr/.well-known/jwks.json" --audience https://tickets.internal.example --credential - <<<"$credential" | sed 's/^/  /'

step "Introspection (RFC 7662 style) while the task runs"
jitctl introspect --credential - <<<"$credential" | sed 's/^/  /'

step "The task ends: EndTask revokes its leases now"
jitctl end-task --task demo-task-1 | sed 's/^/  /'

step "Introspection after EndTask"
if jitctl introspect --credential - <<<"$credential" | sed 's/^/  /'; then echo "  UNEXPECTED: still active"; exit 1; fi
echo "  (exit code 1: inactive, as expected)"

step "A request policy forbids: tickets.delete (new task, so a fresh SVID: a token is bound to its first task)"
export JITCTL_IDENTITY=$(jitctl dev-svid --spiffe-id "$agent" 2>/dev/null)
set +e
jitctl request --task demo-task-2 --action tickets.delete --audience https://tickets.internal.example --resource tickets/42 2>&1 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
set -e
[ "$rc" -eq 4 ] || { echo "  UNEXPECTED exit code $rc (want 4: permission denied)"; exit 1; }
echo "  (exit code 4: permission denied)"

step "The OAuth door (docs/oauth.md): the same agent, as an MCP client using workload identity federation would"
issuer="http://$http_addr"
echo "  metadata: $(curl -fsS "$issuer/.well-known/oauth-authorization-server" | json_field "['grant_types_supported']")"
door_svid=$(jitctl dev-svid --spiffe-id "$agent" --audience "$issuer" 2>/dev/null)  # RFC 7523: addressed to the issuer
token_response=$(curl -sS "$issuer/oauth2/token" \
  --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer --data-urlencode assertion="$door_svid" \
  --data-urlencode resource=https://tickets.internal.example --data-urlencode scope="tickets.read tool:zendesk" \
  --data-urlencode 'authorization_details=[{"type":"jitbroker_task","task_id":"demo-task-3","purpose":"Read ticket 42 for the customer","resources":["tickets/42"],"ttl_seconds":120}]')
access_token=$(json_field "['access_token']" <<<"$token_response") || { echo "  UNEXPECTED: $token_response"; exit 1; }
echo "  token_type=$(json_field "['token_type']" <<<"$token_response") expires_in=$(json_field "['expires_in']" <<<"$token_response") scope=\"$(json_field "['scope']" <<<"$token_response")\" task_id=$(json_field "['task_id']" <<<"$token_response")"
jitctl verify --jwks "$issuer/.well-known/jwks.json" --audience https://tickets.internal.example --credential - <<<"$access_token" | sed 's/^/  /'
echo "  RFC 7009 revocation by the agent (its own workload identity as client_assertion):"
curl -sS -o /dev/null -w '  HTTP %{http_code}\n' "$issuer/oauth2/revoke" \
  --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
  --data-urlencode client_assertion="$(jitctl dev-svid --spiffe-id "$agent" --audience "$issuer" 2>/dev/null)" --data-urlencode token="$access_token"
if jitctl introspect --credential - <<<"$access_token" >/dev/null; then echo "  UNEXPECTED: still active after revocation"; exit 1; fi
echo "  introspection: inactive"

step "An MCP server guarded by JitBroker.ToolGuard (examples/mcp-tickets, docs/toolguard.md): three tools, one granted"
dotnet build examples/mcp-tickets -c Release -nologo -v quiet >/dev/null
mcp_svid_file="$data_dir/mcp-tickets.svid"   # the server's own workload identity; a SPIFFE helper would keep it fresh
jitctl dev-svid --spiffe-id "$mcp_tool" --audience "$issuer" 2>/dev/null >"$mcp_svid_file"
dotnet examples/mcp-tickets/bin/Release/net10.0/McpTickets.dll --urls "http://$mcp_addr" --ToolGuard:Issuer "$issuer" \
  --ToolGuard:AllowInsecureHttpForLoopback true --Tickets:WorkloadTokenFile "$mcp_svid_file" --Logging:LogLevel:Default Warning \
  >"$data_dir/mcp-tickets.log" 2>&1 &
mcp_pid=$!
trap 'kill "$mcp_pid" 2>/dev/null || true; wait "$mcp_pid" 2>/dev/null || true; cleanup' EXIT
for _ in $(seq 1 100); do curl -fsS "http://$mcp_addr/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://$mcp_addr/healthz" >/dev/null || { cat "$data_dir/mcp-tickets.log"; echo "mcp-tickets did not start"; exit 1; }
# One JSON-RPC call over streamable HTTP (stateless: no session); prints the HTTP status, then the JSON-RPC message.
mcp() {
  local out; out=$(curl -sS -D "$data_dir/mcp.headers" -o "$data_dir/mcp.body" -w '%{http_code}' "$mcp_url" -H 'content-type: application/json' \
    -H 'accept: application/json, text/event-stream' -H 'mcp-protocol-version: 2025-06-18' ${2:+-H "authorization: Bearer $2"} -d "$1")
  echo "$out"
}
mcp_message() { /usr/bin/env python3 -c "import sys,json; t=open(sys.argv[1]).read(); d=[l[5:] for l in t.splitlines() if l.startswith('data:')]; print(json.dumps(json.loads(d[-1] if d else t)$1))" "$data_dir/mcp.body"; }
challenge() { grep -i '^www-authenticate' "$data_dir/mcp.headers" | head -1 | tr -d '\r' | cut -c1-170; }
list='{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}'
call() { printf '{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"%s","arguments":{"id":"42"}}}' "$1"; }
echo "  no token:        HTTP $(mcp "$list")  $(challenge)"
echo "  metadata:        $(curl -fsS "http://$mcp_addr/.well-known/oauth-protected-resource/mcp" | json_field "['authorization_servers']") is the authorization server"
mcp_token=$(curl -sS "$issuer/oauth2/token" --data-urlencode grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer \
  --data-urlencode assertion="$(jitctl dev-svid --spiffe-id "$agent" --audience "$issuer" 2>/dev/null)" --data-urlencode resource="$mcp_url" \
  --data-urlencode scope="tickets.read tool:tickets.get" \
  --data-urlencode 'authorization_details=[{"type":"jitbroker_task","task_id":"demo-task-4","purpose":"Read ticket 42 for the customer","resources":["tickets/42"]}]' \
  | json_field "['access_token']") || { echo "  UNEXPECTED: no token"; exit 1; }
echo "  token for the task demo-task-4: scope \"tickets.read tool:tickets.get\", audience $mcp_url"
status=$(mcp "$list" "$mcp_token"); tools=$(mcp_message "['result']['tools']" | python3 -c "import json,sys; print([t['name'] for t in json.load(sys.stdin)])")
echo "  tools/list:      HTTP $status  $tools"
[ "$tools" = "['tickets.get']" ] || { echo "  UNEXPECTED: more than the granted tool"; exit 1; }
status=$(mcp "$(call tickets.get)" "$mcp_token")
echo "  tickets.get:     HTTP $status  $(mcp_message "['result']['content'][0]['text']")"
[ "$status" = 200 ] || exit 1
status=$(mcp "$(call tickets.close)" "$mcp_token")
echo "  tickets.close:   HTTP $status  $(challenge)"
[ "$status" = 403 ] || { echo "  UNEXPECTED: an ungranted tool was not refused"; exit 1; }
JITCTL_IDENTITY=$(jitctl dev-svid --spiffe-id "$agent" 2>/dev/null) jitctl end-task --task demo-task-4 | sed 's/^/  /'
ended=$(date +%s%N)
while status=$(mcp "$(call tickets.get)" "$mcp_token"); [ "$status" = 200 ]; do
  [ $(( ($(date +%s%N) - ended) / 1000000 )) -lt 3000 ] || { echo "  UNEXPECTED: still accepted 3 s after EndTask"; exit 1; }
  sleep 0.02
done
echo "  tickets.get:     HTTP $status $(( ($(date +%s%N) - ended) / 1000000 )) ms after EndTask  $(challenge)"
sleep 1.5 # the server sends its use reports every second
# Known gap (issue 19, reported): ToolGuard's allowed uses and its authentication-time refusals are rejected by the
# broker (use_report_rejected below) until UseRecorder sends no reason for allowed uses and a tool for every use.
echo "  jitctl audit trace --task demo-task-4:"
jitctl audit trace "$data_dir/audit.jsonl" --task demo-task-4 | sed 's/^/    /' | cut -c1-170

step "Every step above is on the tamper-evident audit record (hash-chained, checkpoints signed with the separate audit key)"
jitctl audit tail "$data_dir/audit.jsonl" -n 6 | sed 's/^/  /' | cut -c1-150
jitctl audit verify "$data_dir/audit.jsonl" --jwks "http://$http_addr/.well-known/audit-jwks.json" | sed 's/^/  /'

bold "✔ demo complete"
