#!/usr/bin/env python3
"""Where an open-loop level's slow answers come from (docs/benchmarks.md, 2026-12-06, third session). Not a test.

  python3 issue22-2026-12-06-openloop-episodes.py sample OUT SECONDS   # beside scripts/perf.sh: every 100 ms, the CPU ticks
                                                                       # of the broker, the harness and redis-server, and /proc/stat
  python3 issue22-2026-12-06-openloop-episodes.py join TIMELINE OUT    # per half second of a level (--openloop-timeline file):
                                                                       # answers over 5 ms, the slowest, and what the machine did
"""
import glob, sys, time
from collections import defaultdict


def find():
    found = {}
    for proc in glob.glob('/proc/[0-9]*'):
        try:
            argv = open(proc + '/cmdline', 'rb').read().split(b'\0')
        except OSError:
            continue
        line = b' '.join(argv).decode(errors='ignore')
        if len(argv) > 1 and argv[0] == b'dotnet' and argv[1].endswith(b'published/JitBroker.Server.dll'):
            found['broker'] = proc
        elif 'redis-server' in line:
            found['redis'] = proc
        elif 'PerfHarness.dll' in line:
            found['harness'] = proc
    return found


def sample(out_path, seconds):
    with open(out_path, 'w') as out:
        started, procs, looked = time.time(), {}, 0.0
        while time.time() - started < seconds:
            if time.time() - looked > 2:
                procs, looked = find(), time.time()
            ticks = []
            for name in ('broker', 'harness', 'redis'):
                try:
                    stat = open(procs[name] + '/stat').read()
                    fields = stat[stat.rindex(')') + 2:].split()
                    ticks.append(int(fields[11]) + int(fields[12]))
                except (KeyError, OSError):
                    ticks.append(-1)
            cpu = open('/proc/stat').readline().split()[1:9]
            out.write(f"{time.time():.3f} {' '.join(map(str, ticks))} {' '.join(cpu)}\n")
            out.flush()
            time.sleep(0.1)


def join(timeline_path, samples_path):
    rows = [line.strip().split(',') for line in open(timeline_path)]
    start = float(rows[0][0])
    windows = defaultdict(list)
    for at, ms in rows[1:]:
        windows[int(float(at) * 2)].append(float(ms))
    samples = []
    for line in open(samples_path):
        f = line.split()
        samples.append((float(f[0]), list(map(int, f[1:4])), list(map(int, f[4:12]))))
    print('s from start | answers > 5 ms | slowest ms | broker, harness, redis cores | idle, iowait cores')
    for key in sorted(windows):
        a, b = start + key / 2, start + key / 2 + 0.5
        inside = [s for s in samples if a <= s[0] <= b]
        if len(inside) < 2:
            continue
        (t0, p0, c0), (t1, p1, c1) = inside[0], inside[-1]
        procs = [(y - x) / 100 / (t1 - t0) for x, y in zip(p0, p1)]
        d = [y - x for x, y in zip(c0, c1)]
        total = sum(d) or 1
        lat = windows[key]
        print(f"{key / 2:5.1f} | {sum(1 for x in lat if x > 5):4d} of {len(lat):4d} | {max(lat):6.1f} | "
              f"{procs[0]:.2f}, {procs[1]:.2f}, {procs[2]:.2f} | {d[3] / total * 2:.2f}, {d[4] / total * 2:.2f}")


if __name__ == '__main__':
    if sys.argv[1] == 'sample':
        sample(sys.argv[2], float(sys.argv[3]))
    else:
        join(sys.argv[2], sys.argv[3])
