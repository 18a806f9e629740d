"""Redis time of EVALSHA calls in a `redis-cli --no-raw SLOWLOG GET` dump, by script SHA (the four with most time)."""
import collections
import re
import sys

text = open(sys.argv[1], errors="replace").read()
entries = re.split(r"\n\s*\d+\) 1\) \(integer\) \d+\n", "\n" + text)
by_sha = collections.defaultdict(list)
for entry in entries:
    m = re.search(r'3\) \(integer\) (\d+)\s*\n\s*4\)\s+1\) "EVALSHA"\s*\n\s*2\) "([0-9a-f]{40})"', entry)
    if m:
        by_sha[m.group(2)[:8]].append(int(m.group(1)))
for sha, micros in sorted(by_sha.items(), key=lambda kv: -sum(kv[1]))[:4]:
    micros.sort()
    n = len(micros)
    print(f"  EVALSHA {sha}: n={n} p50={micros[n // 2]} p90={micros[n * 9 // 10]} p99={micros[n * 99 // 100]} µs (slowlog entries over 50 µs)")
