#!/usr/bin/env bash
# A/B of two vaultca-server binaries in one run: the same CSRs, client
# certificate and closed-loop load against each, in alternating rounds
# (A B, then B A, ...) so drift of the machine hits both alike. Prints, per
# key type and concurrency, the median over rounds of the server's CPU per
# request, the throughput and the client's p50/p99, and writes every
# loadgen line to build/bench-ab/<stamp>.jsonl.
#
#   bench/ab.sh BINARY_A BINARY_B            (labels: a, b)
#
# The same binary twice with a setting changed on one side:
#   AB_YAML_B='limits: {inline_when_non_blocking: false}' bench/ab.sh BIN BIN
#
# Environment: AB_ROUNDS (default 4), AB_DURATION (default 6s),
# AB_CLIENTS (default "1 8 64"), AB_KEYS (default "rsa ec"), AB_YAML_A and
# AB_YAML_B (YAML lines appended to that side's config).
# The load generator is built with bazel -c opt from this tree.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
[[ $# -eq 2 && -x "$1" && -x "$2" ]] || { echo "usage: $0 BINARY_A BINARY_B" >&2; exit 2; }
BINS=("$1" "$2")
LABELS=(a b)
EXTRA=("${AB_YAML_A:-}" "${AB_YAML_B:-}")
ROUNDS="${AB_ROUNDS:-4}"
DUR="${AB_DURATION:-6s}"
CLIENTS="${AB_CLIENTS:-1 8 64}"
KEYS="${AB_KEYS:-rsa ec}"
WORK="$ROOT/build/bench-ab"
STAMP="$(date -u +%Y-%m-%dT%H%M)"
JSONL="$WORK/$STAMP.jsonl"
mkdir -p "$WORK"
: >"$JSONL"
SPID=""
trap '[[ -n "$SPID" ]] && kill "$SPID" 2>/dev/null' EXIT

(cd "$ROOT" && bazel build -c opt //bench/loadgen:loadgen) >"$WORK/bazel.log" 2>&1 ||
  { tail -30 "$WORK/bazel.log"; exit 1; }
LOADGEN="$(cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)/bench/loadgen/loadgen"

wait_port() {
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

port=27000
for key in $KEYS; do
  dir="$WORK/pki-$key"
  rm -rf "$dir"
  bash "$HERE/peers/pki.sh" "$dir" "$key" >/dev/null 2>&1 || { echo "pki.sh failed"; exit 1; }
  for ((round = 0; round < ROUNDS; round++)); do
    order=(0 1)
    ((round % 2 == 1)) && order=(1 0)
    for i in "${order[@]}"; do
      port=$((port + 1))
      rm -rf "$dir/serving"
      cat >"$dir/ab.yaml" <<YAML
listen: {grpc: "127.0.0.1:$port", http: ""}
ca: {source: files, files: {dir: "$dir/cacerts"}}
log_level: warning
auth: {client_certificate: true}
serving: {cert_dir: "$dir/serving"}
${EXTRA[$i]}
YAML
      "${BINS[$i]}" --config="$dir/ab.yaml" >>"$WORK/server.log" 2>&1 &
      SPID=$!
      wait_port "$port" || { echo "server ${LABELS[$i]} did not start"; exit 1; }
      for c in $CLIENTS; do
        "$LOADGEN" --peer="${LABELS[$i]}" --csr_key="$key" --root="$dir/root.pem" \
          --client_cert="$dir/client-chain.pem" --client_key="$dir/client-key.pem" \
          --address="127.0.0.1:$port" --server_pid="$SPID" --label="ab-$key-r$round" \
          --concurrency="$c" --duration="$DUR" >>"$JSONL" || { echo "loadgen failed"; exit 1; }
      done
      kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
    done
  done
done

python3 - "$JSONL" <<'PY'
import json, statistics, sys
from collections import defaultdict
runs = defaultdict(list)
for line in open(sys.argv[1]):
    r = json.loads(line)
    key = r["label"].split("-")[1]
    runs[(key, r["concurrency"], r["peer"])].append(r)
print(f"{'key':4} {'clients':>7} | {'cpu ms/req a':>12} {'b':>7} {'b/a':>6} | "
      f"{'req/s a':>8} {'b':>8} | {'p50 a':>7} {'b':>7} | {'p99 a':>7} {'b':>7} | errors a/b")
for key, c in sorted({(k, c) for k, c, _ in runs}, key=lambda x: (x[0], x[1])):
    a, b = runs[(key, c, "a")], runs[(key, c, "b")]
    med = lambda rs, f: statistics.median(r.get(f, 0) for r in rs)
    ca, cb = med(a, "server_cpu_ms_per_req"), med(b, "server_cpu_ms_per_req")
    print(f"{key:4} {c:>7} | {ca:>12.3f} {cb:>7.3f} {cb / ca if ca else 0:>6.3f} | "
          f"{med(a, 'throughput'):>8.0f} {med(b, 'throughput'):>8.0f} | "
          f"{med(a, 'p50_ms'):>7.3f} {med(b, 'p50_ms'):>7.3f} | "
          f"{med(a, 'p99_ms'):>7.3f} {med(b, 'p99_ms'):>7.3f} | "
          f"{sum(r['errors'] for r in a)}/{sum(r['errors'] for r in b)}")
print(f"rounds: {len(a)} per binary, alternating; lines in {sys.argv[1]}")
PY
