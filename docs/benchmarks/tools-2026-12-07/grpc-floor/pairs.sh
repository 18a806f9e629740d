#!/usr/bin/env bash
# Three alternating pairs: scripts/perf.sh's floor and broker phases (plain build, c=256, 10 s), then run.sh's floor
# behind gRPC and transport alone at c=256 (docs/benchmarks.md, thirteenth session; its raw output is kept as
# docs/benchmarks/issue22-2026-12-07-s13-grpc-floor.txt).
#   docs/benchmarks/tools-2026-12-07/grpc-floor/pairs.sh OUTDIR
set -euo pipefail
out=$(realpath -m "${1:?usage: pairs.sh OUTDIR}"); mkdir -p "$out"
cd "$(dirname "$0")/../../../.."
for i in 1 2 3; do
  echo "=== pair $i broker $(date -u +%T)"
  PERF_BUILD=plain scripts/perf.sh --label s13-gf-broker-p$i --out "$out/p$i" --phases floor,broker --levels 256 --seconds 10 > "$out/p$i.log" 2>&1
  grep -A4 '^| concurrency' "$out/p$i"/*.md | sed -n 3p
  grep '^| \*\*floor per' "$out/p$i"/*.md
  grep '^| verify ES256\|^| sign ES256\|^| Redis lease' "$out/p$i"/*.md | head -3
  echo "=== pair $i grpc-floor $(date -u +%T)"
  docs/benchmarks/tools-2026-12-07/grpc-floor/run.sh 10 256 2>&1
done
echo "=== done $(date -u +%T)"
