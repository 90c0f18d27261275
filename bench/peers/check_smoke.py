#!/usr/bin/env python3
"""Fails bench/run_all.sh's smoke run (BENCH_SMOKE=1) unless every peer ran.

usage: check_smoke.py RESULTS.jsonl REPORT.md "KEYS" "SCENARIOS" "PEERS" BURST ROTATION_LOG "COLD_PEERS"

The smoke run exists so the benchmark cannot rot between real runs: a peer
that no longer starts, a loadgen flag that changed meaning, a report that no
longer renders all show up here as a failed test. Figures are not judged
(toy sizes on a shared machine); completeness and correctness are:
  closed    raw, echo and every peer at every concurrency: requests served, 0 errors;
            `openssl speed` measured the primitives; the echo server served
            vaultca's request rate at every concurrency, and served while
            burning the primitives' CPU per call
  burst     every peer served all BURST requests (RESOURCE_EXHAUSTED retried)
  cold      every cold-start peer (the peers, and vaultca with its CA in
            Vault when Vault could be built) issued its first certificate
  rotation  vaultca: requests served through the rotations, 0 errors, and
            the rotations were made (ROTATION_LOG)
  report    the Markdown report exists and has the physical-floor line and
            the per-request cost table for each key type
"""
import json
import sys

jsonl, report, keys, scenarios, peers, burst_count, rotation_log, cold_peers = sys.argv[1:9]
keys, scenarios, peers, cold_peers = keys.split(), scenarios.split(), peers.split(), cold_peers.split()
rows = [json.loads(l) for l in open(jsonl) if l.strip().startswith('{')]
problems = []


def rows_for(**kw):
    return [r for r in rows if all(r.get(k) == v for k, v in kw.items())]


def served(what, rs, want_ok=None):
    if not rs:
        problems.append('%s: no result' % what)
        return
    for r in rs:
        ok = r['ok'] if isinstance(r['ok'], int) and not isinstance(r['ok'], bool) else int(r['ok'])
        if ok <= 0 or r.get('errors', 0) != 0 or (want_ok is not None and ok != want_ok):
            problems.append('%s (concurrency %s): ok=%s errors=%s %s' % (
                what, r.get('concurrency', '-'), r['ok'], r.get('errors'), r.get('errors_by_code', '')))


for key in keys:
    if 'closed' in scenarios:
        for peer in ['raw', 'echo'] + peers:
            served('%s closed %s' % (key, peer), rows_for(label='closed', csr_key=key, peer=peer))
        prims = rows_for(label='primitives', csr_key=key)
        if not prims or not all(r['sign_us'] > 0 and r['verify_us'] > 0 for r in prims):
            problems.append('%s primitives: no `openssl speed` figures' % key)
        for c in sorted({r['concurrency'] for r in rows_for(label='closed', csr_key=key, peer='vaultca')}):
            served('%s echo at vaultca\'s rate, %d clients' % (key, c),
                   rows_for(label='at_rate-c%d' % c, csr_key=key, peer='echo'))
        served('%s echo burning the primitives\' CPU' % key, rows_for(label='burn', csr_key=key, peer='echo'))
    if 'burst' in scenarios:
        for peer in peers:
            served('%s burst %s' % (key, peer), rows_for(label='burst', csr_key=key, peer=peer), int(burst_count))
    if 'cold' in scenarios:
        for peer in cold_peers:
            served('%s cold %s' % (key, peer), rows_for(label='cold', csr_key=key, peer=peer))
    if 'rotation' in scenarios:
        served('%s rotation vaultca' % key, rows_for(label='rotation', csr_key=key, peer='vaultca'))
        try:
            made = [int(l.split()[1]) for l in open(rotation_log) if l.split()[:1] == [key]]
        except (OSError, IndexError, ValueError):
            made = []
        runs = rows_for(label='rotation', csr_key=key, peer='vaultca')
        if not any(r['t0_unix_ns'] <= t <= r['t0_unix_ns'] + r['seconds'] * 1e9
                   for r in runs for t in made):
            problems.append('%s rotation: no CA rotation happened under load' % key)

try:
    text = open(report).read()
    if 'closed' in scenarios and text.count('Physical floor') != len(keys):
        problems.append('report: expected one physical-floor line per key type')
    if 'closed' in scenarios and text.count('server CPU per request against sign + verify + echo') != len(keys):
        problems.append('report: expected one per-request cost table per key type')
except OSError as e:
    problems.append('report: %s' % e)

for p in problems:
    print('bench smoke: FAIL %s' % p)
print('bench smoke: %d results checked, %d problems' % (len(rows), len(problems)))
sys.exit(1 if problems else 0)
