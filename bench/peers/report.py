#!/usr/bin/env python3
"""Turns bench/run_all.sh's JSON lines into bench/results/<date>.md + PNGs.

usage: report.py RESULTS.jsonl WORKDIR OUT_PREFIX
Figures are taken as measured; the targets section only compares them.
"""
import json, os, subprocess, sys, shutil

jsonl, work, prefix = sys.argv[1:4]
rows = [json.loads(l) for l in open(jsonl) if l.strip().startswith('{')]
KEYS = [k for k in ('rsa', 'ec') if any(r['csr_key'] == k for r in rows)]
KNAME = {'rsa': 'RSA 2048', 'ec': 'EC P-256'}
PEERS = ['vaultca', 'istio', 'cfssl']
PEER_NAME = {'vaultca_vault': 'vaultca, CA in Vault KV (loopback, TLS)', 'vaultca': 'vaultca, CA from files'}
md = []
def cpu_model():
    for l in open('/proc/cpuinfo'):
        if l.startswith('model name'):
            return l.split(':', 1)[1].strip()
load_start = open(os.path.join(work, 'load-start')).read().split()[:3] if os.path.exists(os.path.join(work, 'load-start')) else ['?'] * 3
load_end = open('/proc/loadavg').read().split()[:3]
md += ['# vaultca benchmarks: %s' % os.path.basename(prefix), '',
       'Machine: %d cores (`nproc`), %s. Load average (1/5/15 min) at start %s, at end %s. '
       'The machine is shared with other engineers: every figure includes their load; '
       'server, load generator and peers share the same cores.' % (os.cpu_count(), cpu_model(), '/'.join(load_start), '/'.join(load_end)),
       '',
       'Every peer signs with the same CA key and certificate (one plug-in set per key type, bench/peers/pki.sh), '
       'the same pre-generated istio-agent-shaped CSRs (CSR key type = CA key type, URI SAN), and authenticates '
       'the caller the same way: a TLS client certificate from the mesh CA (mutual TLS on all three). '
       'Latencies are from the loadgen\'s log-bucketed histogram (1/64 resolution).', '']

def sel(**kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]

def one(**kw):
    s = sel(**kw)
    return s[0] if s else None

# Server CPU per request over (sign + verify + echo), two ways: the echo
# server in the closed loop at the same number of clients, and the echo
# server at vaultca's own request rate (its CPU per call falls as its rate
# rises; in a closed loop it runs at several times a CA's rate). Beside
# them, the same ratio for the echo server burning sign + verify of CPU per
# call: a CA with nothing but the primitives on this stack.
COST_TARGET = {1: 1.5}  # clients -> bound; 1.25 elsewhere
def server_us(**kw):
    r = one(**kw)
    return r['server_cpu_ms_per_req'] * 1000 if r else None

def cost_rows(key):
    prim = one(label='primitives', csr_key=key)
    if not prim:
        return None, []
    crypto = prim['sign_us'] + prim['verify_us']
    ratio = lambda cpu, echo: cpu / (crypto + echo) if cpu and echo else None
    out = []
    for r in sel(label='closed', csr_key=key, peer='vaultca'):
        c = r['concurrency']
        cpu = r['server_cpu_ms_per_req'] * 1000
        e1 = server_us(label='closed', csr_key=key, peer='echo', concurrency=c)
        e2 = server_us(label='at_rate-c%d' % c, csr_key=key, peer='echo')
        burn = server_us(label='burn', csr_key=key, peer='echo', concurrency=c)
        out.append(dict(c=c, rps=r['throughput'], cpu=cpu, e1=e1, e2=e2, burn=burn,
                        r1=ratio(cpu, e1), r2=ratio(cpu, e2), rb=ratio(burn, e1),
                        target=COST_TARGET.get(c, 1.25)))
    return prim, out

COST = {key: cost_rows(key) for key in KEYS}

def cost_table(key):
    prim, out = COST[key]
    if not prim:
        return []
    ratio = lambda x: '%.2fx' % x if x is not None else '-'
    us = lambda x: '%.1f' % x if x is not None else '-'
    md = ['### %s: server CPU per request against sign + verify + echo' % KNAME[key], '',
          'sign = the CA key\'s signature, verify = the CSR key\'s verification: `openssl speed` on one thread in this '
          'run, %.1f + %.1f us. echo = the echo server\'s CPU per call, in the closed loop above at the same number of '
          'clients, and in an open loop at vaultca\'s request rate over as many connections (`at_rate`). '
          '"echo + primitives" is the echo server spending %.0f us of CPU on gRPC\'s thread per call before it answers, '
          'in a closed loop at the same clients: a CA whose only work is sign + verify. Its ratio is what the transport '
          'alone takes of the budget at that concurrency.' % (
              prim['sign_us'], prim['verify_us'], round(prim['sign_us'] + prim['verify_us'])), '',
          '| clients | vaultca req/s | vaultca CPU us/req | echo us, same clients | ratio | echo us, vaultca\'s req/s | ratio '
          '| echo + primitives us/req | its ratio (same clients) | target |',
          '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for o in out:
        md.append('| %d | %.0f | %.1f | %s | %s | %s | %s | %s | %s | <= %.2fx |' % (
            o['c'], o['rps'], o['cpu'], us(o['e1']), ratio(o['r1']), us(o['e2']), ratio(o['r2']),
            us(o['burn']), ratio(o['rb']), o['target']))
    md.append('')
    return md

floor = {}
for key in KEYS:
    md += ['## %s CA key: closed loop' % KNAME[key], '',
           '| peer | clients | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | server CPU ms/req | server peak RSS MB |',
           '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for peer in ['raw', 'echo'] + PEERS:
        for r in sel(label='closed', csr_key=key, peer=peer):
            md.append('| %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %d %s | %s | %s |' % (
                peer, r['concurrency'], r['throughput'], r['p50_ms'], r['p90_ms'], r['p99_ms'], r['p999_ms'],
                r['errors'], json.dumps(r['errors_by_code']) if r['errors'] else '',
                '%.3f' % r['server_cpu_ms_per_req'] if 'server_cpu_ms_per_req' in r else '-',
                '%.0f' % (r['server_peak_rss_kb'] / 1024) if 'server_peak_rss_kb' in r else '-'))
    raw = one(label='closed', csr_key=key, peer='raw')
    echo = sel(label='closed', csr_key=key, peer='echo')
    if raw and echo:
        t_crypto = 1.0 / raw['throughput']
        t_rpc = 1.0 / max(r['throughput'] for r in echo)
        floor[key] = 1.0 / (t_crypto + t_rpc)
        md += ['', 'raw=OpenSSL ceiling (CSR verify + sign, no RPC, %d threads); echo = t_rpc (same request/response '
               'sizes over the same gRPC+TLS stack, answer canned). Physical floor = 1/(t_crypto + t_rpc) = '
               '1/(%.1f us + %.1f us) = **%.0f req/s** (t = machine time per request at the best concurrency).' % (
                   raw['concurrency'], t_crypto * 1e6, t_rpc * 1e6, floor[key])]
    md.append('')
    md += cost_table(key)

burst = sel(label='burst')
if burst:
    md += ['## Mass restart: 5,000 requests released within 1 s', '',
           'Open loop, 64 connections, agent-style retries (gRPC retry policy: 5 attempts, 0.1-1 s backoff on '
           'UNAVAILABLE/RESOURCE_EXHAUSTED; cfssl: 64 HTTP workers). Latency is from each request\'s scheduled release.', '',
           '| CA key | peer | last cert issued (ms) | ok | errors | p50 ms | p99 ms | max ms | server CPU ms/req | server peak RSS MB |',
           '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|']
    for r in burst:
        md.append('| %s | %s | %.0f | %d | %d %s | %.1f | %.1f | %.1f | %s | %s |' % (KNAME[r['csr_key']], r['peer'], r['last_done_ms'],
                  r['ok'], r['errors'], json.dumps(r['errors_by_code']) if r['errors'] else '', r['p50_ms'], r['p99_ms'], r['max_ms'],
                  '%.3f' % r['server_cpu_ms_per_req'] if 'server_cpu_ms_per_req' in r else '-',
                  '%.0f' % (r['server_peak_rss_kb'] / 1024) if 'server_peak_rss_kb' in r else '-'))
    md.append('')
cold = sel(label='cold')
if cold:
    md += ['## Cold start: process start to first certificate issued', '',
           'The load generator starts its clock before it starts the server, then retries every 10 ms until a '
           'certificate arrives. Istio and cfssl read the plug-in files; vaultca is measured both ways.', '',
           '| CA key | peer | ms | attempts | RSS after (MB) |', '|---|---|---:|---:|---:|']
    for r in cold:
        md.append('| %s | %s | %s | %d | %.0f |' % (KNAME[r['csr_key']], PEER_NAME.get(r['peer'], r['peer']),
                  '%.0f' % r['cold_start_ms'] if r['ok'] else 'FAILED',
                  r['attempts'], r.get('server_rss_kb', 0) / 1024))
    md.append('')
rot_times = {}
if os.path.exists(os.path.join(work, 'rotation.log')):
    for l in open(os.path.join(work, 'rotation.log')):
        k, t = l.split()
        rot_times.setdefault(k, []).append(int(t))
rot = sel(label='rotation')
for r in rot:
    key = r['csr_key']
    swaps = [(t - r['t0_unix_ns']) / 1e9 for t in rot_times.get(key, [])]
    md += ['## %s CA key: 500 req/s with a CA rotation every 10 s (vaultca)' % KNAME[key], '',
           'New intermediate under the same root, swapped into the cacerts directory as kubelet updates a Secret (..data link renamed; files source, hot reload). '
           'Rotations at t = %s s. Overall: %d ok, %d errors, p50 %.2f ms, p99 %.2f ms, max %.2f ms.' % (
               ', '.join('%.1f' % s for s in swaps), r['ok'], r['errors'], r['p50_ms'], r['p99_ms'], r['max_ms']), '',
           '| t (s) | ok | errors | p50 ms | p99 ms | max ms | |', '|---:|---:|---:|---:|---:|---:|---|']
    for w in r.get('timeline', []):
        mark = '**rotation**' if any(w['t_s'] <= s < w['t_s'] + 1 for s in swaps) else ''
        md.append('| %.0f | %d | %d | %.2f | %.2f | %.2f | %s |' % (w['t_s'], w['n'], w['err'], w['p50_ms'], w['p99_ms'], w['max_ms'], mark))
    md.append('')

# Targets.
md += ['## Targets', '', '| target | measured | met? |', '|---|---|---|']
def best(key, peer):
    s = sel(label='closed', csr_key=key, peer=peer)
    return max((r['throughput'] for r in s), default=0)
for key in KEYS:
    v = best(key, 'vaultca')
    if key in floor:
        md.append('| vaultca >= 80%% of physical floor (%s) | %.0f / %.0f req/s = %.0f%% | %s |' % (
            KNAME[key], v, floor[key], 100 * v / floor[key], 'yes' if v >= 0.8 * floor[key] else '**no**'))
    # A 3x target can be out of physical reach: say so beside the verdict.
    def reach(peer_tput):
        if key in floor and 3 * peer_tput > floor[key]:
            return ' (3x = %.0f req/s is above the physical floor, %.2fx at most)' % (
                3 * peer_tput, floor[key] / peer_tput)
        return ''
    c = best(key, 'cfssl')
    if c:
        md.append('| vaultca >= 3x cfssl (%s) | %.2fx%s | %s |' % (KNAME[key], v / c, reach(c), 'yes' if v >= 3 * c else '**no**'))
    i = best(key, 'istio')
    if i:
        need = 3.0 if key == 'rsa' else 1.0
        md.append('| vaultca %s Istio Go CA (%s) | %.2fx%s | %s |' % ('>= 3x' if key == 'rsa' else 'ahead of', KNAME[key], v / i,
                  reach(i) if key == 'rsa' else '',
                  'yes' if v >= need * i and (key == 'rsa' or v > i) else '**no**'))
    for peer in ('istio', 'cfssl'):
        pairs = [(r['concurrency'], r['p99_ms'], one(label='closed', csr_key=key, peer=peer, concurrency=r['concurrency']))
                 for r in sel(label='closed', csr_key=key, peer='vaultca')]
        pairs = [(c, a, b['p99_ms']) for c, a, b in pairs if b]
        if pairs:
            md.append('| lower p99 than %s at every concurrency (%s) | %s | %s |' % (peer, KNAME[key],
                      ', '.join('c=%d: %.1f vs %.1f ms' % p for p in pairs), 'yes' if all(a < b for _, a, b in pairs) else '**no**'))
    _, out = COST[key]
    for field, how in (('r1', 'echo at the same clients'), ('r2', "echo at vaultca's request rate")):
        got = [o for o in out if o[field] is not None]
        if got:
            md.append('| server CPU/request <= 1.5x (sign + verify + echo) at 1 client, <= 1.25x at 8 and 64; %s (%s) | %s | %s |' % (
                how, KNAME[key], ', '.join('c=%d: %.2fx' % (o['c'], o[field]) for o in got),
                'yes' if all(o[field] <= o['target'] for o in got) else '**no**'))
    got = [o for o in out if o['rb'] is not None]
    if got:
        md.append('| (the floor, not a target) echo + primitives, same ratio at the same clients (%s) | %s | - |' % (
            KNAME[key], ', '.join('c=%d: %.2fx' % (o['c'], o['rb']) for o in got)))
    v1 = one(label='closed', csr_key=key, peer='vaultca', concurrency=1)
    others = [(p, one(label='closed', csr_key=key, peer=p, concurrency=1)) for p in ('istio', 'cfssl')]
    others = [(p, o) for p, o in others if o]
    if v1 and others:
        md.append('| p50 and p99 at 1 client below Istio\'s CA and cfssl (%s) | %s | %s |' % (
            KNAME[key], '; '.join('p50 %.2f vs %s %.2f ms, p99 %.2f vs %.2f ms' % (v1['p50_ms'], p, o['p50_ms'], v1['p99_ms'], o['p99_ms'])
                                  for p, o in others),
            'yes' if all(v1['p50_ms'] < o['p50_ms'] and v1['p99_ms'] < o['p99_ms'] for _, o in others) else '**no**'))
for r in sel(label='burst', csr_key='rsa', peer='vaultca'):
    md.append('| vaultca peak RSS < 50 MB through the RSA burst | %.0f MB | %s |' % (
        r['server_peak_rss_kb'] / 1024, 'yes' if r['server_peak_rss_kb'] < 50 * 1024 else '**no**'))
for r in sel(label='cold', peer='vaultca_vault'):
    md.append('| cold start to first certificate < 300 ms, CA in Vault on loopback (%s) | %s | %s |' % (
        KNAME[r['csr_key']], '%.0f ms' % r['cold_start_ms'] if r['ok'] else 'failed',
        'yes' if r['ok'] and r['cold_start_ms'] < 300 else '**no**'))
for r in rot:
    # Steady p99 = median p99 of the full one-second windows without a swap.
    swaps = [(t - r['t0_unix_ns']) / 1e9 for t in rot_times.get(r['csr_key'], [])]
    wins = [w for w in r.get('timeline', []) if w['n'] > 0]
    at_swap = [w for w in wins if any(w['t_s'] <= x < w['t_s'] + 1 for x in swaps)]
    steady = sorted(w['p99_ms'] for w in wins if w not in at_swap)
    if at_swap and steady:
        base_p99 = steady[len(steady) // 2]
        worst = max(w['p99_ms'] for w in at_swap)
        md.append('| no p99 spike above 2x steady at a CA rotation (%s) | %.2f ms at the swap vs %.2f ms steady (%.1fx) | %s |' % (
            KNAME[r['csr_key']], worst, base_p99, worst / base_p99, 'yes' if worst <= 2 * base_p99 else '**no**'))
loaded = [r for r in rows if r['peer'] == 'vaultca' and r['label'] in ('closed', 'burst', 'rotation') and 'server_peak_rss_kb' in r]
if loaded:
    worst = max(loaded, key=lambda r: r['server_peak_rss_kb'])
    closed_max = max((r['server_peak_rss_kb'] for r in loaded if r['label'] == 'closed'), default=0)
    md.append('| vaultca RSS < 50 MB under load | closed loop max %.0f MB; worst %.0f MB (%s, %s) | %s |' % (
        closed_max / 1024, worst['server_peak_rss_kb'] / 1024, worst['label'], KNAME[worst['csr_key']],
        'yes' if worst['server_peak_rss_kb'] < 50 * 1024 else '**no**'))
b = one(label='burst', csr_key='ec', peer='vaultca')
if b:
    md.append('| 5,000-CSR burst < 2 s, zero errors (EC P-256) | %.0f ms, %d errors | %s |' % (
        b['last_done_ms'], b['errors'], 'yes' if b['last_done_ms'] < 2000 and b['errors'] == 0 else '**no**'))
md.append('')

# Plots.
base = os.path.basename(prefix)
if shutil.which('gnuplot'):
    plots = []
    for key in KEYS:
        dat = os.path.join(work, 'tput-%s.dat' % key)
        with open(dat, 'w') as f:
            for peer in PEERS:
                f.write('# %s\n' % peer)
                for r in sel(label='closed', csr_key=key, peer=peer):
                    f.write('%d %.1f\n' % (r['concurrency'], r['throughput']))
                f.write('\n\n')
        png = '%s-throughput-%s.png' % (prefix, key)
        # The echo server (several times any CA's rate) is left out: on its
        # scale the CAs' lines are flat. The table has its figures.
        lines = ['set terminal png size 800,500', 'set output "%s"' % png, 'set logscale x 2', 'set xlabel "concurrent requests"',
                 'set ylabel "certificates/s"', 'set yrange [0:*]',
                 'set title "Closed-loop throughput, %s CA key"' % KNAME[key], 'set key outside']
        pl = ['"%s" index %d with linespoints title "%s"' % (dat, i, p) for i, p in enumerate(PEERS)]
        if key in floor:
            pl.append('%.1f title "physical floor" dt 2' % floor[key])
        lines.append('plot ' + ', '.join(pl))
        subprocess.run(['gnuplot'], input='\n'.join(lines), text=True)
        plots.append(png)
        for c in (1, 8, 64):
            files = [(p, os.path.join(work, 'cdf-%s-%s-%d.dat' % (key, p, c))) for p in PEERS]
            files = [(p, f) for p, f in files if os.path.exists(f) and os.path.getsize(f)]
            if not files:
                continue
            png = '%s-cdf-%s-c%d.png' % (prefix, key, c)
            lines = ['set terminal png size 800,500', 'set output "%s"' % png, 'set logscale x', 'set xlabel "latency (ms)"',
                     'set ylabel "fraction of requests"', 'set title "Latency CDF, %s CA key, %d concurrent"' % (KNAME[key], c),
                     'set key bottom right', 'plot ' + ', '.join('"%s" using 1:2 with lines title "%s"' % (f, p) for p, f in files)]
            subprocess.run(['gnuplot'], input='\n'.join(lines), text=True)
            plots.append(png)
    md += ['## Plots', ''] + ['![%s](%s)' % (os.path.basename(p), os.path.basename(p)) for p in plots if os.path.exists(p)] + ['']
open(prefix + '.md', 'w').write('\n'.join(md))
