#!/usr/bin/env bash
# Publishes the broker as the image ships it: the Dockerfile's build stage runs this script, and so do scripts/perf.sh,
# scripts/test.sh and tests/JitBroker.Chart.Tests (through JITBROKER_CHART_TEST_PUBLISH_DIR or by itself), so what they
# start is what the image runs. usage: scripts/publish-server.sh [--in-tree] OUT_DIR
#
# Self-contained and composite ReadyToRun: the .NET runtime, ASP.NET Core and the broker are compiled to native code as
# one version bubble, so the generics the broker instantiates over its own types (async state machines, collections)
# are precompiled too; a framework-dependent ReadyToRun build still JIT-compiled ~2,800 methods before ready.
# Start-up to ready on the project's 2-core VM, alternating cold starts: 737-1,079 ms against 928-1,233 ms for the
# framework-dependent ReadyToRun build the image used before (docs/benchmarks.md, "2026-12-07 (tenth session)").
# The cost: a 169 MB publish output (runtime included) and ~4 minutes of crossgen2 on two cores at build time.
#
# The inputs (the files the Dockerfile copies, without bin/ and obj/) are copied to a scratch directory first: a
# self-contained publish in the working tree leaves its runtime-specific restore in the tree's obj/ (the next plain
# build restores over it) and must not run beside a build of the tree. --in-tree publishes from the working tree all
# the same, for scripts/test.sh right after its Release build of the solution: the libraries the server references are
# built without a runtime identifier, so that build's output is reused and only the server itself is compiled again
# (crossgen2 starts after ~30 s instead of ~2 min of compiling every project on the project's 2-vCPU VM).
set -euo pipefail
in_tree=0
if [ "${1:-}" = --in-tree ]; then in_tree=1; shift; fi
case "${1:-}" in -*|'') echo "usage: publish-server.sh [--in-tree] OUT_DIR" >&2; exit 2 ;; esac
mkdir -p "$1"
out=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)
# The image's architecture (Docker's TARGETARCH) or this machine's.
case "${TARGETARCH:-$(uname -m)}" in arm64|aarch64) rid=linux-arm64 ;; *) rid=linux-x64 ;; esac
if [ "$in_tree" = 1 ]; then
  sources=$root
else
  sources=$(mktemp -d "${TMPDIR:-/tmp}/jitbroker-publish-src-XXXXXX")
  trap 'rm -rf "$sources"' EXIT
  (cd "$root" && tar -c --exclude=bin --exclude=obj global.json Directory.Build.props Directory.Packages.props BannedSymbols.txt \
    .editorconfig protos src) | tar -x -C "$sources"
fi
dotnet publish "$sources/src/JitBroker.Server/JitBroker.Server.csproj" -c Release -o "$out" -r "$rid" \
  --self-contained true -p:PublishReadyToRun=true -p:PublishReadyToRunComposite=true \
  --nologo -v quiet --disable-build-servers
[ -x "$out/JitBroker.Server" ] || { echo "publish-server.sh: no $out/JitBroker.Server after dotnet publish" >&2; exit 1; }
