#!/usr/bin/env bash
# Item 2's side: two alternating pairs of scripts/perf.sh's floor and reuse phases (plain build, c=256, 10 s: one SVID
# per worker, cache off and on), then run.sh's floor-cached and floor servers at c=256 (docs/benchmarks.md, thirteenth
# session; raw output appended to docs/benchmarks/issue22-2026-12-07-s13-grpc-floor.txt).
#   docs/benchmarks/tools-2026-12-07/grpc-floor/pairs-cached.sh OUTDIR
set -euo pipefail
out=$(realpath -m "${1:?usage: pairs-cached.sh OUTDIR}"); mkdir -p "$out"
cd "$(dirname "$0")/../../../.."
for i in 1 2; do
  echo "=== pair $i broker $(date -u +%T)"
  PERF_BUILD=plain scripts/perf.sh --label s13-gf-reuse-p$i --out "$out/r$i" --phases floor,reuse --levels 256 --seconds 10 > "$out/r$i.log" 2>&1
  grep -A4 '^| concurrency' "$out/r$i"/*.md | grep '^| 256'
  grep '^| \*\*floor per' "$out/r$i"/*.md
  echo "=== pair $i grpc-floor $(date -u +%T)"
  GRPC_FLOOR_MODES="floor-cached floor" docs/benchmarks/tools-2026-12-07/grpc-floor/run.sh 10 256 2>&1
done
echo "=== done $(date -u +%T)"
