"""Charges each `perf script` sample to the first named library or .NET assembly from the leaf up (docs/benchmarks.md,
2026-12-06 afternoon: "The broker's CPU at concurrency 256"). Usage, with the broker started with
--broker-env DOTNET_PerfMapEnabled=1 --broker-env DOTNET_EnableWriteXorExecute=0:
    perf record -F 999 -e cpu-clock -g -p <broker pid> -o prof.data -- sleep 20
    perf script -i prof.data | python3 perf-by-library.py            # shares by library/assembly
    perf script -i prof.data | python3 perf-by-library.py incl A B    # samples whose stack contains A, B, ...
"""
import sys, re, collections
mode = sys.argv[1] if len(sys.argv)>1 else 'asm'
pats = sys.argv[2:]
samples=[]; cur=None
for line in sys.stdin:
    line=line.rstrip('\n')
    if not line.strip():
        if cur is not None: samples.append(cur); cur=None
        continue
    if not line.startswith('\t') and not line.startswith(' '):
        cur={'thread':line.split(' ')[0:3],'frames':[]}; continue
    if cur is not None: cur['frames'].append(line.strip())
if cur: samples.append(cur)
n=len(samples)
asmre=re.compile(r'\[([A-Za-z0-9_.]+)\]\s')
def bucket(fr):
    for f in fr:
        m=asmre.search(f)
        if m and not f.split(' ',1)[1].startswith('[unknown]'):
            a=m.group(1)
            if a.startswith('System.Private.CoreLib') : return 'CoreLib:'+ (re.search(r'\] ([A-Za-z0-9_.`]+)::',f) or re.search(r'(.)',f)).group(1).split('`')[0].rsplit('.',1)[0]
            return a
        if '(/' in f:
            lib=f.rsplit('(',1)[1].rstrip(')')
            if 'perf-' in lib: continue
            return lib.rsplit('/',1)[-1]
    return 'unknown'
c=collections.Counter()
if mode=='asm':
    for s in samples: c[bucket(s['frames'])]+=1
elif mode=='incl':
    for s in samples:
        txt='\n'.join(s['frames'])
        for p in pats:
            if p in txt: c[p]+=1
elif mode=='thread':
    for s in samples: c[s['thread'][0]+' '+s['thread'][1]]+=1
for k,v in c.most_common(45): print(f'{v:6d} {100*v/n:5.1f}% {k}')
print(n,'samples')
