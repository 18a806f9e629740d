# Append + sync latency of a 700-byte line, 2,000 writes per variant, on the disk of the current directory (docs/benchmarks.md,
# 2026-12-06 late night: "Its fsync is fast"). Usage: python3 fsync-probe.py [directory]
import os, time, sys
D = sys.argv[1] if len(sys.argv) > 1 else "."
N=2000
rec=b'x'*700+b'\n'
def run(name, pre, sync):
    p=f'{D}/{name}.bin'
    if os.path.exists(p): os.remove(p)
    fd=os.open(p, os.O_CREAT|os.O_WRONLY)
    if pre=='zero':
        os.write(fd, b'\0'*(N*len(rec)+4096)); os.fsync(fd); os.lseek(fd,0,0)
    elif pre=='falloc':
        os.posix_fallocate(fd,0,N*len(rec)+4096); os.fsync(fd)
    lat=[]
    for i in range(N):
        t=time.perf_counter(); os.write(fd,rec); sync(fd); lat.append(time.perf_counter()-t)
    os.close(fd)
    lat.sort()
    print(f'{name:28s} p50 {lat[N//2]*1e6:7.0f} us  p90 {lat[N*9//10]*1e6:7.0f}  p99 {lat[N*99//100]*1e6:7.0f}  max {lat[-1]*1e6:7.0f}')
for r in range(2):
    run('append_fsync',None,os.fsync)
    run('append_fdatasync',None,os.fdatasync)
    run('falloc_fdatasync','falloc',os.fdatasync)
    run('zero_fdatasync','zero',os.fdatasync)
    run('zero_fsync','zero',os.fsync)
for name in ("append_fsync","append_fdatasync","falloc_fdatasync","zero_fdatasync","zero_fsync"): os.remove(f"{D}/{name}.bin")
