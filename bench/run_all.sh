#!/usr/bin/env bash
# Where vaultca stands, in one run. Builds the load generator and
# vaultca-server (bazel -c opt), Istio's Go CA (tests/interop/cmd/istio-ca),
# uses Debian's cfssl, makes one plug-in CA set per key type, then for RSA
# 2048 and EC P-256 CA keys runs, against every peer with the same CSRs,
# client certificate (mutual TLS on all peers) and load:
#   closed loop at 1, 8, 64 concurrent requests (BENCH_DURATION each)
#   t_rpc (echo server, same gRPC+TLS stack) and t_crypto (raw OpenSSL)
#   the primitives (`openssl speed`: the CA key's sign, the CSR key's
#     verify), and the echo server again at each of vaultca's closed-loop
#     request rates (open loop, as many connections as clients), and
#     burning the primitives' CPU per call (closed loop): the floors a
#     request's server CPU is compared with
#   a 5,000-request burst released within 1 s (agent-style retries)
#   cold start (process start -> first certificate)
#   500 req/s with a CA rotation every 10 s (vaultca, files source)
# and writes bench/results/<date>.{jsonl,md} and PNG plots.
#
# Environment: BENCH_DURATION (default 8s), BENCH_BAZEL_OUTPUT_BASE,
# BENCH_ONLY="closed burst cold rotation" (subset), BENCH_KEYS="rsa ec",
# BENCH_VAULTCA_BIN (a vaultca-server binary to measure instead of the
# tree's).
#
# BENCH_SMOKE=1 is the test command's smoke run (tools/test.sh): every peer
# and scenario at toy sizes (1 s loops, a 500-request burst, one rotation),
# the default Bazel configuration (reuses the test build), output in
# build/bench-smoke/, and bench/peers/check_smoke.py fails the run unless
# every peer answered every scenario without error and the report was made.
set -uo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
SMOKE="${BENCH_SMOKE:-}"
DUR="${BENCH_DURATION:-8s}"
ONLY="${BENCH_ONLY:-closed burst cold rotation}"
KEYS="${BENCH_KEYS:-rsa ec}"
STAMP="$(date -u +%Y-%m-%dT%H%M)"
OUT="$HERE/results"
WORK="$ROOT/build/bench"
BAZEL_MODE=(-c opt)
CLIENTS="1 8 64"
BURST=5000
ROT_EVERY=10
ROT_SECONDS=30
RAW_DUR="$DUR"
SPEED_SECONDS=3
if [[ -n "$SMOKE" ]]; then
  DUR=1s; RAW_DUR=1s; SPEED_SECONDS=1; CLIENTS="1 8"; BURST=500; ROT_EVERY=3; ROT_SECONDS=8
  OUT="$ROOT/build/bench-smoke/results"; WORK="$ROOT/build/bench-smoke"
  BAZEL_MODE=()
fi
JSONL="$OUT/$STAMP.jsonl"
mkdir -p "$OUT" "$WORK/bin"
: >"$JSONL"; : >"$WORK/rotation.log"; cat /proc/loadavg >"$WORK/load-start"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

bazel_cmd=(bazel)
[[ -n "${BENCH_BAZEL_OUTPUT_BASE:-}" ]] && bazel_cmd+=(--output_base="$BENCH_BAZEL_OUTPUT_BASE")
echo "== bazel build ${BAZEL_MODE[*]}"
(cd "$ROOT" && "${bazel_cmd[@]}" build "${BAZEL_MODE[@]}" //bench/loadgen:loadgen //bench/loadgen:echo_server //server:vaultca-server) \
  >"$WORK/bazel.log" 2>&1 || { tail -30 "$WORK/bazel.log"; exit 1; }
BIN="$(cd "$ROOT" && "${bazel_cmd[@]}" info "${BAZEL_MODE[@]}" bazel-bin 2>/dev/null)"
LOADGEN="$BIN/bench/loadgen/loadgen"
ECHO="$BIN/bench/loadgen/echo_server"
VAULTCA="${BENCH_VAULTCA_BIN:-$BIN/server/vaultca-server}"

echo "== istio-ca (Istio's Go CA)"
ISTIO_CA="$ROOT/build/interop/bin/istio-ca"
if [[ ! -x "$ISTIO_CA" ]]; then
  ISTIO_CA="$WORK/bin/istio-ca"
  (cd "$ROOT/tests/interop" && GOTOOLCHAIN=local GOFLAGS=-mod=readonly go build -o "$ISTIO_CA" ./cmd/istio-ca) ||
    { echo "cannot build istio-ca"; exit 1; }
fi
CFSSL="$(command -v cfssl || true)"

# Vault for vaultca's cold start with its CA in Vault KV: started only for
# that scenario, so its own start-up never runs beside a measurement.
# shellcheck source=tools/lib.sh
source "$ROOT/tools/lib.sh"
VAULT="${VAULTCA_VAULT_BIN:-}"
[[ -x "$VAULT" ]] || VAULT="$(vaultca_vault_bin)" || VAULT=""
VAULT_PORT=""
[[ -n "$VAULT" ]] || echo "no Vault binary (tools/vault/build.sh failed): vaultca+vault cold start skipped"
start_vault() {
  [[ -n "$VAULT" && -z "$VAULT_PORT" ]] || return 0
  VAULT_PORT=25999
  mkdir -p "$WORK/vault-tls"
  "$VAULT" server -dev -dev-tls -dev-tls-cert-dir="$WORK/vault-tls" -dev-root-token-id=bench-root \
    -dev-listen-address="127.0.0.1:$VAULT_PORT" >"$WORK/vault.log" 2>&1 & PIDS+=("$!")
  for _ in $(seq 100); do
    VAULT_ADDR="https://127.0.0.1:$VAULT_PORT" VAULT_CACERT="$WORK/vault-tls/vault-ca.pem" \
      "$VAULT" status >/dev/null 2>&1 && break
    sleep 0.2
  done
  sleep 2  # let its start-up work finish
}
[[ -z "$CFSSL" ]] && echo "cfssl missing (apt-get install golang-cfssl): cfssl skipped"

# --- peers: each start_* sets SPID (pid to measure) and ADDR -----------------
wait_port() {  # $1 port: until something accepts
  for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
  return 1
}
start_vaultca() {  # $1 key dir, $2 port
  rm -rf "$1/serving-vaultca"
  cat >"$1/vaultca.yaml" <<YAML
listen: {grpc: "127.0.0.1:$2", http: ""}
ca: {source: files, files: {dir: "$1/cacerts"}}
log_level: warning
auth: {client_certificate: true}
serving: {cert_dir: "$1/serving-vaultca"}
YAML
  "$VAULTCA" --config="$1/vaultca.yaml" >>"$WORK/vaultca.log" 2>&1 & SPID=$!; PIDS+=("$SPID")
  ADDR="127.0.0.1:$2"
}
# vaultca with the same CA material in Vault KV v2 (token auth, the dev
# root token): a cold start includes the Vault read.
seed_vault() {  # $1 key dir: its plug-in set into Vault KV (before the clock starts)
  local c="$1/cacerts"
  VAULT_ADDR="https://127.0.0.1:$VAULT_PORT" VAULT_CACERT="$WORK/vault-tls/vault-ca.pem" VAULT_TOKEN=bench-root \
    "$VAULT" kv put "secret/bench/$(basename "$1")" certificate=@"$c/ca-cert.pem" privateKey=@"$c/ca-key.pem" \
    certChain=@"$c/cert-chain.pem" rootCert=@"$c/root-cert.pem" >/dev/null
}
start_vaultca_vault() {  # $1 key dir, $2 port
  rm -rf "$1/serving-vaultca"
  local ref="vault:secret/data/bench/$(basename "$1")"
  cat >"$1/vaultca-vault.yaml" <<YAML
listen: {grpc: "127.0.0.1:$2", http: ""}
ca:
  source: vault
  vault: {cert_ref: "$ref#certificate", key_ref: "$ref#privateKey", chain_ref: "$ref#certChain", root_ref: "$ref#rootCert"}
log_level: warning
auth: {client_certificate: true}
serving: {cert_dir: "$1/serving-vaultca"}
YAML
  VAULT_ADDR="https://127.0.0.1:$VAULT_PORT" VAULT_CACERT="$WORK/vault-tls/vault-ca.pem" VAULT_TOKEN=bench-root \
    "$VAULTCA" --config="$1/vaultca-vault.yaml" >>"$WORK/vaultca.log" 2>&1 & SPID=$!; PIDS+=("$SPID")
  ADDR="127.0.0.1:$2"
}
start_istio() {
  "$ISTIO_CA" -listen "127.0.0.1:$2" -cacerts "$1/cacerts" -client-cert >>"$WORK/istio-ca.log" 2>&1 & SPID=$!; PIDS+=("$SPID")
  ADDR="127.0.0.1:$2"
}
start_cfssl() {
  "$CFSSL" serve -address 127.0.0.1 -port "$2" -ca "$1/cacerts/ca-cert.pem" -ca-key "$1/cacerts/ca-key.pem" \
    -config "$1/cfssl-config.json" -tls-cert "$1/serving-chain.pem" -tls-key "$1/serving-key.pem" \
    -mutual-tls-ca "$1/root.pem" -loglevel 4 >>"$WORK/cfssl.log" 2>&1 & SPID=$!; PIDS+=("$SPID")
  ADDR="https://127.0.0.1:$2"
}
start_echo() {  # $1 key dir, $2 port, then echo_server flags
  local dir="$1" port="$2"; shift 2
  "$ECHO" --listen="127.0.0.1:$port" --cert="$dir/serving-chain.pem" --key="$dir/serving-key.pem" \
    --root="$dir/root.pem" --chain="$dir/sample-chain.pem" "$@" >>"$WORK/echo.log" 2>&1 & SPID=$!; PIDS+=("$SPID")
  ADDR="127.0.0.1:$port"
}
stop() { kill "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; }

# loadgen for peer $1 (vaultca|istio|cfssl|echo|raw) with key dir $2 and key $3, then flags.
lg() {
  local peer="$1" dir="$2" key="$3"; shift 3
  local common=(--peer="$peer" --csr_key="$key" --root="$dir/root.pem"
    --client_cert="$dir/client-chain.pem" --client_key="$dir/client-key.pem")
  case "$peer" in
    cfssl) common+=(--target=cfssl --url="$ADDR" --server_pid="$SPID") ;;
    raw) common+=(--target=raw --ca_cert="$dir/cacerts/ca-cert.pem" --ca_key="$dir/cacerts/ca-key.pem") ;;
    *) common+=(--address="$ADDR" --server_pid="$SPID") ;;
  esac
  "$LOADGEN" "${common[@]}" "$@" | tee -a "$JSONL"
}

# One JSON line of `openssl speed` for key type $1: the CA key's signature
# and the CSR key's verification (the same type here), in microseconds.
primitives() {
  local alg=rsa2048 tag=F2
  [[ "$1" == ec ]] && alg=ecdsap256 tag=F4
  openssl speed -seconds "$SPEED_SECONDS" -mr "$alg" 2>/dev/null | awk -F: -v k="$1" -v t="+$tag" '
    $1 == t { printf "{\"label\":\"primitives\",\"peer\":\"openssl speed\",\"csr_key\":\"%s\",\"sign_us\":%.2f,\"verify_us\":%.2f}\n", k, 1e6 / $4, 1e6 / $5 }' |
    tee -a "$JSONL"
}

PEERS=(vaultca istio)
[[ -n "$CFSSL" ]] && PEERS+=(cfssl)
COLD_PEERS=("${PEERS[@]}")
[[ -n "$VAULT" ]] && COLD_PEERS+=(vaultca_vault)
PORT=26000
for key in $KEYS; do
  dir="$WORK/pki-$key"
  rm -rf "$dir"
  bash "$HERE/peers/pki.sh" "$dir" "$key" >/dev/null 2>&1 || { echo "pki.sh failed"; exit 1; }
  # A chain of a real answer's size for the echo server: leaf + intermediate + root.
  cat "$dir/client.pem" "$dir/cacerts/cert-chain.pem" >"$dir/sample-chain.pem"

  if [[ " $ONLY " == *" closed "* ]]; then
    echo "== $key: closed loop"
    primitives "$key"
    lg raw "$dir" "$key" --label=closed --concurrency="$(nproc)" --duration="$RAW_DUR"
    for peer in echo "${PEERS[@]}"; do
      PORT=$((PORT + 1)); "start_$peer" "$dir" "$PORT"; wait_port "$PORT"
      for c in $CLIENTS; do lg "$peer" "$dir" "$key" --label=closed --concurrency="$c" --duration="$DUR" \
        --cdf_out="$WORK/cdf-$key-$peer-$c.dat"; done
      stop
    done
    # The echo server's CPU per call falls as its request rate rises (more
    # requests per wake-up, read and write), and in a closed loop it runs
    # at several times a CA's rate: compare each vaultca row with the echo
    # at vaultca's own rate too.
    PORT=$((PORT + 1)); start_echo "$dir" "$PORT"; wait_port "$PORT"
    for c in $CLIENTS; do
      rate="$(python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
r=[x for x in r if x["label"]=="closed" and x["peer"]=="vaultca" and x["csr_key"]==sys.argv[2] and x["concurrency"]==int(sys.argv[3])]
print(int(r[-1]["throughput"]) if r else 0)' "$JSONL" "$key" "$c")"
      [[ "$rate" -gt 0 ]] && lg echo "$dir" "$key" --label="at_rate-c$c" --mode=open --rate="$rate" \
        --channels="$((c < 64 ? c : 64))" --duration="$DUR"
    done
    stop
    # The floor for a CA whose only work is sign + verify: the echo server
    # spending the primitives' measured CPU on gRPC's thread per call, in
    # the same closed loops. Its distance from sign + verify + echo is what
    # the transport's rate effect alone costs.
    burn="$(python3 -c 'import json,sys
r=[json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
r=[x for x in r if x["label"]=="primitives" and x["csr_key"]==sys.argv[2]]
print(round(r[-1]["sign_us"] + r[-1]["verify_us"]) if r else 0)' "$JSONL" "$key")"
    if [[ "$burn" -gt 0 ]]; then
      PORT=$((PORT + 1)); start_echo "$dir" "$PORT" --burn_us="$burn"; wait_port "$PORT"
      for c in $CLIENTS; do lg echo "$dir" "$key" --label=burn --concurrency="$c" --duration="$DUR"; done
      stop
    fi
  fi
  if [[ " $ONLY " == *" burst "* ]]; then
    echo "== $key: burst of $BURST within 1 s"
    for peer in "${PEERS[@]}"; do
      PORT=$((PORT + 1)); "start_$peer" "$dir" "$PORT"; wait_port "$PORT"
      lg "$peer" "$dir" "$key" --label=burst --mode=open --rate="$BURST" --count="$BURST" --channels=64 \
        --http_workers=64 --agent_retry --deadline=30s
      stop
    done
  fi
  if [[ " $ONLY " == *" cold "* ]]; then
    echo "== $key: cold start"
    start_vault
    for peer in "${COLD_PEERS[@]}"; do
      PORT=$((PORT + 1))
      # The loadgen makes its CSR first; the clock starts when the server
      # process is started, handed over through --start_file.
      [[ "$peer" == vaultca_vault ]] && seed_vault "$dir"
      rm -f "$WORK/cold-ready" "$WORK/cold-start"
      ADDR="127.0.0.1:$PORT"; [[ "$peer" == cfssl ]] && ADDR="https://127.0.0.1:$PORT"
      SPID=0
      lg "$peer" "$dir" "$key" --label=cold --mode=first --start_file="$WORK/cold-start" \
        --ready_file="$WORK/cold-ready" --csrs=1 --deadline=30s &
      LG=$!
      for _ in $(seq 600); do [[ -f "$WORK/cold-ready" ]] && break; sleep 0.05; done
      t0=$(date +%s%N); "start_$peer" "$dir" "$PORT"
      echo "$t0 $SPID" >"$WORK/cold-start.tmp" && mv "$WORK/cold-start.tmp" "$WORK/cold-start"
      wait "$LG"
      stop
    done
  fi
  if [[ " $ONLY " == *" rotation "* ]]; then
    echo "== $key: 500 req/s, CA rotation every $ROT_EVERY s (vaultca)"
    PORT=$((PORT + 1)); start_vaultca "$dir" "$PORT"; wait_port "$PORT"
    rm -f "$WORK/rotation-ready"
    # The new intermediates are made and staged before the load (key
    # generation on the benchmark's cores is not the server's cost); a
    # rotation is pki.sh's swap_cacerts inlined (kubelet's ..data rename;
    # starting bash on pki.sh would itself take the shared cores for
    # milliseconds inside the measured second). Rotations count from the
    # moment the load runs (--ready_file).
    ROTATIONS=$(((ROT_SECONDS - 1) / ROT_EVERY))
    for n in $(seq 1 "$ROTATIONS"); do bash "$HERE/peers/pki.sh" "$dir" "$key" prepare "$n" >/dev/null 2>&1; done
    ( for _ in $(seq 1200); do [[ -f "$WORK/rotation-ready" ]] && break; sleep 0.05; done
      for n in $(seq 1 "$ROTATIONS"); do sleep "$ROT_EVERY"
        ln -sfn "..set-$n" "$dir/cacerts/..data.tmp" && mv -Tf "$dir/cacerts/..data.tmp" "$dir/cacerts/..data"
        echo "$key $(date +%s%N)" >>"$WORK/rotation.log"; done ) &
    ROT=$!
    lg vaultca "$dir" "$key" --label=rotation --mode=open --rate=500 --duration="${ROT_SECONDS}s" --timeline=1s \
      --ready_file="$WORK/rotation-ready" --channels=8
    wait "$ROT"; stop
  fi
done

echo "== report"
python3 "$HERE/peers/report.py" "$JSONL" "$WORK" "$OUT/$STAMP" && echo "wrote $OUT/$STAMP.md" || exit 1
if [[ -n "$SMOKE" ]]; then
  python3 "$HERE/peers/check_smoke.py" "$JSONL" "$OUT/$STAMP.md" "$KEYS" "$ONLY" "${PEERS[*]}" "$BURST" \
    "$WORK/rotation.log" "${COLD_PEERS[*]}"
fi
