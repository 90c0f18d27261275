#!/usr/bin/env bash
# Where a request's server CPU goes: runs vaultca-server (bazel -c opt, files
# source, client-certificate auth) under the closed-loop load generator at
# each concurrency and key type while `perf record` samples the server with
# DWARF call stacks, then attributes the samples to the parts of a request
# (bench/profile_report.py) and scales them by the CPU per request the load
# generator measured in the same run.
#
#   bench/profile.sh [BINARY]     (default: bazel -c opt //server:vaultca-server)
#
# Environment: PROF_DURATION (default 8s), PROF_CLIENTS (default "1 8 64"),
# PROF_KEYS (default "rsa ec"), PROF_FREQ (samples/s, default 999),
# PROF_YAML (YAML lines appended to the server's config).
# Writes bench/results/profile-<stamp>.md; the raw perf.data files stay in
# build/bench-profile/ for `perf report -i`.
# Needs perf (Debian's linux-perf) and kernel.perf_event_paranoid <= 2.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
DUR="${PROF_DURATION:-8s}"
CLIENTS="${PROF_CLIENTS:-1 8 64}"
KEYS="${PROF_KEYS:-rsa ec}"
FREQ="${PROF_FREQ:-999}"
WORK="$ROOT/build/bench-profile"
STAMP="$(date -u +%Y-%m-%dT%H%M)"
OUT="$HERE/results/profile-$STAMP.md"
mkdir -p "$WORK"
command -v perf >/dev/null || { echo "perf missing: apt-get install linux-perf" >&2; exit 1; }
SPID=""
trap '[[ -n "$SPID" ]] && kill "$SPID" 2>/dev/null' EXIT

(cd "$ROOT" && bazel build -c opt //bench/loadgen:loadgen //server:vaultca-server) >"$WORK/bazel.log" 2>&1 ||
  { tail -30 "$WORK/bazel.log"; exit 1; }
BIN="$(cd "$ROOT" && bazel info -c opt bazel-bin 2>/dev/null)"
LOADGEN="$BIN/bench/loadgen/loadgen"
SERVER="${1:-$BIN/server/vaultca-server}"

wait_port() {
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}

{
  echo "# vaultca-server CPU profile, $STAMP"
  echo
  echo "$(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(openssl version)."
  echo "Closed loop for $DUR per row, perf at $FREQ Hz with DWARF stacks; parts as in bench/profile_report.py."
  echo "Load average at start: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
} >"$OUT"

port=28000
for key in $KEYS; do
  dir="$WORK/pki-$key"
  rm -rf "$dir"
  bash "$HERE/peers/pki.sh" "$dir" "$key" >/dev/null 2>&1 || { echo "pki.sh failed"; exit 1; }
  for c in $CLIENTS; do
    port=$((port + 1))
    rm -rf "$dir/serving"
    cat >"$dir/profile.yaml" <<YAML
listen: {grpc: "127.0.0.1:$port", http: ""}
ca: {source: files, files: {dir: "$dir/cacerts"}}
log_level: warning
auth: {client_certificate: true}
serving: {cert_dir: "$dir/serving"}
${PROF_YAML:-}
YAML
    "$SERVER" --config="$dir/profile.yaml" >>"$WORK/server.log" 2>&1 &
    SPID=$!
    wait_port "$port" || { echo "server did not start"; exit 1; }
    data="$WORK/perf-$key-c$c.data"
    # Sampling covers the load generator's 1 s warm-up too: the same
    # requests, so the shares are the same; the CPU per request that scales
    # them is measured after the warm-up.
    perf record -q -F "$FREQ" --call-graph dwarf,16384 -p "$SPID" -o "$data" >/dev/null 2>&1 &
    ppid=$!
    sleep 0.5
    line="$("$LOADGEN" --peer=vaultca --csr_key="$key" --root="$dir/root.pem" \
      --client_cert="$dir/client-chain.pem" --client_key="$dir/client-key.pem" \
      --address="127.0.0.1:$port" --server_pid="$SPID" --label="profile" \
      --concurrency="$c" --duration="$DUR")" || { echo "loadgen failed"; exit 1; }
    kill -INT "$ppid"; wait "$ppid"
    kill "$SPID"; wait "$SPID" 2>/dev/null; SPID=""
    cpu="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["server_cpu_ms_per_req"])' "$line")"
    rps="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print("%.0f req/s, p50 %.2f ms, p99 %.2f ms" % (r["throughput"], r["p50_ms"], r["p99_ms"]))' "$line")"
    echo "== $key, $c clients: $cpu ms CPU per request, $rps"
    perf script -i "$data" 2>/dev/null |
      python3 "$HERE/profile_report.py" --cpu_ms_per_req "$cpu" \
        --title "$key CA key and CSRs, $c clients: $cpu ms server CPU per request, $rps" >>"$OUT"
  done
done
echo "wrote $OUT"
