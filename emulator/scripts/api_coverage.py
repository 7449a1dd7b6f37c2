"""API coverage of the IEC emulator, measured by grepping (docs/emulator.md "API coverage").

Usage (from the repository root): python3 emulator/scripts/api_coverage.py [--md|--json] [DIGEST]
DIGEST defaults to ../shared/reference/iec-api.md. For each API of the digest's index (§1.7) plus
the five permission-table-only APIs (Appendix A) it reports the emulator source file whose router
registers the method and path, and the test functions in emulator/tests/*.rs that send that method
to that path (directly, through a path variable, or through a helper function of the same file).
Batch actions (os-start/os-stop/reboot) also require the action key in the test's body.
"""
import re, glob, os, sys, json
ROOT=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args=[a for a in sys.argv[1:] if not a.startswith('--')]
digest=open(args[0] if args else os.path.join(ROOT,'..','shared','reference','iec-api.md')).read()
idx=digest[digest.index('### 1.7 Full API index'):digest.index('## 2. Resource families')]
apis=[]
for line in idx.splitlines():
    m=re.match(r'\| (\d+\.\d+\.\d+) \| (GET|POST|PUT|DELETE) \| (\S+)(?: \(`([^`]+)`\))? \| ([^|]+) \|',line)
    if m: apis.append(dict(sec=m.group(1),method=m.group(2),path=m.group(3),variant=m.group(4),purpose=m.group(5).strip()))
assert len(apis)==90, len(apis)
for meth,path,purpose in [('POST','/v1/cloudservers/{instance_id}/detach-volume','detach volume (permission table only)'),
    ('POST','/v1/cloudservers/{instance_id}/attach-volume','attach volume (permission table only)'),
    ('POST','/v1/cloudvolumes','create volume (permission table only)'),
    ('DELETE','/v1/cloudvolumes/{volume_id}','delete volume (permission table only)'),
    ('POST','/v1/cloudvolumes/{volume_id}/actions/extend','extend volume (permission table only)')]:
    apis.append(dict(sec='A',method=meth,path=path,variant=None,purpose=purpose))
def pat(p):  # route pattern -> regex on test path strings
    segs=p.strip('/').split('/')
    out=[]
    for s in segs:
        out.append(r'[^/?"]+' if s.startswith('{') else re.escape(s))
    return re.compile('^/'+'/'.join(out)+r'(\?.*)?$')
# routes in source
routes={}
for f in glob.glob(ROOT+'/emulator/src/iec/*.rs'):
    src=open(f).read()
    for m in re.finditer(r'\.route\(\s*"([^"]+)",\s*((?:[^()]|\([^()]*\))*)\)',src):
        path,chain=m.group(1),m.group(2)
        for meth in re.findall(r'\b(get|post|put|delete)\(',chain):
            routes[(meth.upper(),re.sub(r'\{[^}]+\}','{}',path))]=os.path.basename(f)
# tests: functions and the calls in them
calls_by_fn={}; body_by_fn={}; is_test={}
for f in sorted(glob.glob(ROOT+'/emulator/tests/*.rs')):
    src=open(f).read()
    fname=os.path.basename(f)
    parts=re.split(r'\n((?:#\[tokio::test\]\s*\n)?(?:async )?fn (\w+))',src)
    # parts: [pre, header, name, body, header, name, body...]
    for i in range(1,len(parts),3):
        header,name,body=parts[i],parts[i+1],parts[i+2]
        key=(fname,name)
        body_by_fn[key]=body; is_test[key]='#[tokio::test]' in header
        vars={}
        for m in re.finditer(r'let (\w+) = (?:format!\()?"(/v1/[^"]*)"',body):
            vars[m.group(1)]=m.group(2)
        found=[]
        callre=re.compile(r'(?:\.(get|post|put|delete)\(|Method::(GET|POST|PUT|DELETE),|\b(get)_ok\(\s*&?\w+,)\s*(?:&?format!\(\s*"([^"]+)"|"([^"]+)"|&?(\w+))',re.S)
        for m in callre.finditer(body):
            meth=(m.group(1) or m.group(2) or m.group(3)).upper()
            path=m.group(4) or m.group(5) or vars.get(m.group(6) or '')
            if path and path.startswith('/v1/'):
                found.append((meth,path))
        calls_by_fn[key]=found
# transitive helpers within a file
def reach(key,seen=None):
    seen=seen or set()
    if key in seen: return []
    seen.add(key)
    out=list(calls_by_fn[key])
    for other in calls_by_fn:
        if other[0]==key[0] and other!=key and not is_test[other] and re.search(r'\b'+other[1]+r'\(',body_by_fn[key]):
            out+=reach(other,seen)
    return out
tests_for={}
for key in calls_by_fn:
    if not is_test[key]: continue
    for meth,path in reach(key):
        tests_for.setdefault((meth,path.split('?')[0] if False else path),set()).add(key)
rows=[]
for a in apis:
    norm=re.sub(r'\{[^}]+\}','{}',a['path'])
    impl=routes.get((a['method'],norm))
    rx=pat(a['path'])
    # prefer the most specific route: a path also matching a longer static route must not count
    tests=set()
    for (meth,path),keys in tests_for.items():
        if meth!=a['method']: continue
        p=path.split('?')[0]
        p2=re.sub(r'\{[^}]*\}','X',p)
        if not rx.match(p2): continue
        # exclude if the path is a static route of another API
        static_other=[b for b in apis if b is not a and b['method']==meth and re.sub(r'\{[^}]+\}','{}',b['path'])!=norm and '{' not in b['path'].split('/')[-1] and pat(b['path']).match(p2) and b['path'].count('{')<a['path'].count('{')]
        if static_other: continue
        if a['variant']:
            keys={k for k in keys if ('"%s"'%a['variant']) in body_by_fn[k]}
        tests|=keys
    rows.append((a,impl,sorted(tests)))
if "--json" in sys.argv:
    print(json.dumps([dict(sec=a['sec'],method=a['method'],path=a['path'],variant=a['variant'],impl=impl,tests=['%s::%s'%(f[:-3],n) for f,n in t]) for a,impl,t in rows],indent=1,ensure_ascii=False))
elif "--md" not in sys.argv:
    for a,impl,t in rows:
        print(a['sec'],a['method'],a['path'],a['variant'] or '', impl, len(t), ', '.join('%s::%s'%(f[:-3],n) for f,n in t)[:150])
if '--md' in sys.argv:
    print('| § | method | path | implemented in | contract tests (file::test) |')
    print('|---|---|---|---|---|')
    for a,impl,t in rows:
        path='`%s`'%a['path'] + (' (`%s`)'%a['variant'] if a['variant'] else '')
        im='`iec/%s`'%impl if impl else '**no** (permission table only; 404 `APIGW.0101`)'
        ts=', '.join('`%s::%s`'%(f[:-3],n) for f,n in t) if t else ('`iec_api_index::every_documented_api_is_routed` (asserts the 404)' if not impl else '—')
        print('| %s | %s | %s | %s | %s |'%(a['sec'],a['method'],path,im,ts))
    n_impl=sum(1 for a,i,t in rows if i); n_t=sum(1 for a,i,t in rows if i and t)
    print(); print('Implemented: %d of %d; with at least one contract test: %d of %d.'%(n_impl,len(rows),n_t,n_impl))
