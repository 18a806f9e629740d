#!/usr/bin/env bash
# JitBroker in one command, on embedded defaults (no servers to install): start the broker, let an agent
# get a task credential, verify it as a tool would, end the task, see it inactive, see a denial's reason.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

grpc_addr="${JITBROKER_DEMO_GRPC:-127.0.0.1:50061}"
http_addr="${JITBROKER_DEMO_HTTP:-127.0.0.1:8061}"
data_dir="$(mktemp -d /tmp/jitbroker-demo.XXXXXX)"
broker_log="$data_dir/broker.log"
export JITBROKER__DATADIRECTORY="$data_dir" JITBROKER__LISTEN__GRPC="$grpc_addr" JITBROKER__LISTEN__HTTP="$http_addr"
export JITCTL_BROKER="http://$grpc_addr"

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

step "Every step above is on the tamper-evident audit record (hash-chained, checkpoints signed with the separate audit key)"
jitctl audit tail "$data_dir/audit.jsonl" -n 6 | sed 's/^/  /' | cut -c1-150
jitctl audit verify "$data_dir/audit.jsonl" --jwks "http://$http_addr/.well-known/audit-jwks.json" | sed 's/^/  /'

bold "✔ demo complete"
