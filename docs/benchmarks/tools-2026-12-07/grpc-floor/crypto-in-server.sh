#!/usr/bin/env bash
# Does the floor's crypto cost the same inside the gRPC floor server as in a tight loop? Same components, same thread
# CPU clock around the same calls; alternating (docs/benchmarks.md, thirteenth session):
#   docs/benchmarks/tools-2026-12-07/grpc-floor/crypto-in-server.sh
set -euo pipefail
cd "$(dirname "$0")"
dotnet build -c Release -nologo -v q >/dev/null
dll=bin/Release/net10.0/grpc-floor.dll
scratch=$(mktemp -d -t grpc-floor-loop-XXXXXX); trap 'rm -rf "$scratch"' EXIT
for round in 1 2; do
  echo "round $round $(date -u +%T)"
  dotnet "$dll" loop "$scratch/dev" "$scratch/keys" 2 8
  GRPC_FLOOR_MODES=floor ./run.sh 10 256 | tail -2
done
dotnet "$dll" loop "$scratch/dev" "$scratch/keys" 64 8
dotnet "$dll" loop "$scratch/dev" "$scratch/keys" 2 8 4096
GRPC_FLOOR_MODES=floor GRPC_FLOOR_TWICE=1 ./run.sh 10 256 | tail -1
