import re,sys,glob
# Per wave of the revocation phase: Redis commands per revoked lease and evalsha µs per lease, from the INFO
# commandstats samples revocation-commandstats.sh writes (docs/benchmarks.md, 2026-12-06 late night). Usage:
#   python3 revocation-commandstats.py /tmp/ab/LABEL
# per-wave: windows where hgetall grows (leases revoked); prints calls per lease and evalsha usec per lease
d=sys.argv[1]
files=sorted(glob.glob(d+'/cs.*'),key=lambda f:int(f.split('.')[-1]))
def parse(f):
    r={}
    for l in open(f):
        m=re.match(r'cmdstat_(\S+):calls=(\d+),usec=(\d+)',l)
        if m: r[m[1]]=(int(m[2]),int(m[3]))
    return r
S=[parse(f) for f in files]
# find wave windows: consecutive seconds where xadd grows by >1000
act=[i for i in range(1,len(S)) if S[i].get('xadd',(0,0))[0]-S[i-1].get('xadd',(0,0))[0]>1000 and S[i].get('hgetall',(0,0))[0]-S[i-1].get('hgetall',(0,0))[0]>1000]
waves=[];cur=[]
for i in act:
    if cur and i!=cur[-1]+1: waves.append(cur);cur=[]
    cur.append(i)
if cur: waves.append(cur)
for w in waves:
    a,b=S[w[0]-1],S[w[-1]]
    n=b['hgetall'][0]-a.get('hgetall',(0,0))[0]
    tot=0;calls=0;parts=[]
    for k in sorted(b):
        if k in('info','flushall','evalsha','config|resetstat'): continue
        c=b[k][0]-a.get(k,(0,0))[0]
        if c: calls+=c; parts.append(f'{k} {c/n:.2f}')
    ev=b['evalsha'][1]-a['evalsha'][1]
    print(f'seconds {w[0]}-{w[-1]}: leases {n}, commands/lease {calls/n:.2f} ({", ".join(parts)}); evalsha usec/lease {ev/n:.1f}')
