#!/usr/bin/env bash
# Where a test run's time goes: each named suite alone, its wall and CPU time (/usr/bin/time around dotnet test) and its
# slowest tests (from a trx log). Run after a Release build (scripts/test.sh or dotnet build -c Release).
# usage: docs/benchmarks/tools-2026-12-07/suite-times.sh JitBroker.Leases.Tests [JitBroker.Ha.Tests ...]
# The fourteenth session's table in docs/benchmarks.md came from: suite-times.sh JitBroker.Ha.Tests JitBroker.Leases.Tests
# JitBroker.Server.Tests JitBroker.Console.Tests JitBroker.Redis.Tests
set -euo pipefail
cd "$(dirname "$0")/../../.."
[ $# -gt 0 ] || { echo "usage: $0 SUITE..." >&2; exit 2; }
out=$(mktemp -d "${TMPDIR:-/tmp}/suite-times-XXXXXX")
for suite in "$@"; do
  proj="tests/$suite/$suite.csproj"
  [ -f "$proj" ] || { echo "no $proj" >&2; exit 2; }
  /usr/bin/time -f "$suite: %e s wall, %U s user, %S s sys" -o "$out/$suite.time" \
    dotnet test "$proj" -c Release --no-build -nologo --logger "trx;LogFileName=$out/$suite.trx" >"$out/$suite.log" 2>&1 || true
  cat "$out/$suite.time"
  /usr/bin/python3 - "$out/$suite.trx" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = '{http://microsoft.com/schemas/VisualStudio/TeamTest/2010}'
rows = []
for r in ET.parse(sys.argv[1]).getroot().iter(ns + 'UnitTestResult'):
    h, m, s = (r.get('duration') or '0:0:0').split(':')
    rows.append((int(h) * 3600 + int(m) * 60 + float(s), r.get('outcome'), r.get('testName')))
rows.sort(reverse=True)
print(f"  {len(rows)} tests, {sum(r[0] for r in rows):.1f} s in tests; slowest:")
for secs, outcome, name in rows[:8]:
    print(f"  {secs:7.1f} s  {outcome:7}  {name[:140]}")
PY
done
echo "logs and trx files: $out"
