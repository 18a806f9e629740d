#!/usr/bin/env bash
# Checks the Helm chart (charts/jitbroker).
#  - Where helm is installed: helm lint (defaults and the production example), helm template for both, and the
#    rendered manifests' invariants (security context, key mode, probes), plus kubeconform when present.
#  - Always: the offline checks in tests/JitBroker.Chart.Tests (values vs. schema, well-formedness, manifest
#    invariants read from the templates, and the published server started with the chart's configuration).
# helm is not installable on the project's build machines; there only the offline part runs, and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
chart=charts/jitbroker
example=$chart/examples/production-sentinel-vault.yaml
status=0

if command -v helm >/dev/null 2>&1; then
  echo "== helm $(helm version --short)"
  helm lint --strict "$chart" || status=1
  helm lint --strict "$chart" -f "$example" || status=1
  out=$(mktemp -d); trap 'rm -rf "$out"' EXIT
  helm template jitbroker "$chart" --namespace jitbroker > "$out/defaults.yaml" || status=1
  helm template jitbroker "$chart" --namespace jitbroker -f "$example" > "$out/example.yaml" || status=1
  for f in "$out"/defaults.yaml "$out"/example.yaml; do
    for must in 'runAsNonRoot: true' 'readOnlyRootFilesystem: true' 'allowPrivilegeEscalation: false' '- ALL' \
                'type: RuntimeDefault' 'path: /healthz' 'path: /readyz' 'defaultMode: 0400' 'install -m 0400' \
                'kind: PodDisruptionBudget' 'kind: NetworkPolicy' 'appProtocol: kubernetes.io/h2c'; do
      grep -qF -- "$must" "$f" || { echo "rendered $(basename "$f") lacks: $must"; status=1; }
    done
  done
  # The schema must refuse a single replica unless explicitly allowed.
  if helm template jitbroker "$chart" --set replicaCount=1 >/dev/null 2>&1; then
    echo "schema accepted replicaCount=1"; status=1
  fi
  if command -v kubeconform >/dev/null 2>&1; then
    kubeconform -strict -ignore-missing-schemas -summary "$out"/defaults.yaml "$out"/example.yaml || status=1
  fi
else
  echo "== helm is not installed: helm lint / helm template skipped; running the offline checks only."
fi

# The offline checks need python3-jsonschema (schema validation) and redis-server/redis-sentinel (the server test).
if ! /usr/bin/python3 -c 'import jsonschema' 2>/dev/null || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-jsonschema redis-server redis-sentinel >/dev/null
fi
echo "== tests/JitBroker.Chart.Tests"
dotnet test tests/JitBroker.Chart.Tests -c Release -nologo --logger "console;verbosity=minimal" || status=1

exit $status
