#!/usr/bin/env bash
# KV v2 read latency: vaultca's C++ client (vault/kv_read_benchmark) against
# HashiCorp's official Go client (bench/vault_go_client, on
# github.com/hashicorp/vault/api), against one real Vault in one run.
#
#   bench/vault_read_compare.sh [COUNT] [ROUNDS]
#
# Starts the real Vault once (dev server, TLS, in-memory storage, on a free
# 127.0.0.1 port), writes secret/vaultca-bench, then runs both programs
# ROUNDS times (default 3), alternating which goes first, each doing COUNT
# (default 1000) timed reads over one reused connection after one untimed
# read. Prints each round and a side-by-side table of the medians over the
# rounds.
#
# Environment:
#   VAULTCA_VAULT_BIN   the vault binary (default: tools/vault/build.sh, which
#                       builds it once into ~/.cache/vaultca)
#   BAZEL               the bazel command (default "bazel"; e.g.
#                       "bazel --output_base=$HOME/.cache/bazel-ob/x")
#   KV_READ_BENCHMARK   a prebuilt vault/kv_read_benchmark (skips bazel)
#   VAULT_GO_CLIENT     a prebuilt bench/vault_go_client binary (skips go build)
set -euo pipefail

COUNT=${1:-1000}
ROUNDS=${2:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vault_read_compare.XXXXXX")
VAULT_PID=
cleanup() {
  if [[ -n "$VAULT_PID" ]]; then
    kill "$VAULT_PID" 2>/dev/null || true
    wait "$VAULT_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

say() { echo "vault_read_compare: $*" >&2; }

VAULT=${VAULTCA_VAULT_BIN:-$("$ROOT/tools/vault/build.sh" | tail -n1)}
[[ -x "$VAULT" ]] || { say "no vault binary at '$VAULT'"; exit 1; }

# The two clients, built optimised.
if [[ -z "${KV_READ_BENCHMARK:-}" ]]; then
  say "building //vault:kv_read_benchmark (-c opt)"
  (cd "$ROOT" && ${BAZEL:-bazel} build -c opt //vault:kv_read_benchmark >&2)
  KV_READ_BENCHMARK="$(cd "$ROOT" && ${BAZEL:-bazel} info -c opt bazel-bin 2>/dev/null)/vault/kv_read_benchmark"
fi
if [[ -z "${VAULT_GO_CLIENT:-}" ]]; then
  say "building bench/vault_go_client"
  (cd "$ROOT/bench/vault_go_client" && go build -o "$WORK/vault_go_client" .)
  VAULT_GO_CLIENT="$WORK/vault_go_client"
fi

# A free port: bind to 0 and read it back.
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
say "starting $("$VAULT" version | head -n1) on 127.0.0.1:$PORT (dev, TLS, inmem)"
# The token is a throwaway for a dev server on loopback that lives as long
# as this script.
TOKEN="bench-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
"$VAULT" server -dev -dev-root-token-id="$TOKEN" \
  -dev-listen-address="127.0.0.1:$PORT" -dev-tls -dev-tls-cert-dir="$WORK" \
  >"$WORK/vault.log" 2>&1 &
VAULT_PID=$!
export VAULT_ADDR="https://127.0.0.1:$PORT" VAULT_CACERT="$WORK/vault-ca.pem"
export VAULT_TOKEN="$TOKEN"
for _ in $(seq 1 300); do
  if [[ -f "$VAULT_CACERT" ]] && "$VAULT" status >/dev/null 2>&1; then break; fi
  kill -0 "$VAULT_PID" 2>/dev/null || { cat "$WORK/vault.log" >&2; exit 1; }
  sleep 0.1
done
"$VAULT" status >/dev/null || { say "vault did not come up"; exit 1; }
# The payload kv_read_benchmark writes when the path is missing.
"$VAULT" kv put -mount=secret vaultca-bench certificate=bench-cert \
  privateKey=bench-key >/dev/null
SECRET_PATH=secret/data/vaultca-bench

# Runs one client; appends "name p50 p90 p99 mean min max cpu" to
# $WORK/results. cpu: the client process's user+system CPU per read in us
# (start-up, login and the TLS handshake included, spread over the reads),
# which load from other processes on a shared machine skews far less than
# wall-clock latency.
run() {
  local name=$1 bin=$2 TIMEFORMAT='%U %S'
  if ! { time "$bin" "$SECRET_PATH" "$COUNT" >"$WORK/out" 2>"$WORK/err"; } \
      2>"$WORK/cpu"; then
    cat "$WORK/err" >&2
    exit 1
  fi
  read -r user sys <"$WORK/cpu"
  awk -v name="$name" -v cpu="$(awk -v u="$user" -v s="$sys" -v n="$COUNT" \
      'BEGIN { print (u + s) * 1e6 / (n + 1) }')" '
    $1=="min"{min=$2} $1=="median"{p50=$2} $1=="p90"{p90=$2}
    $1=="p99"{p99=$2} $1=="max"{max=$2} $1=="mean"{mean=$2}
    END{ if (p50=="") exit 1; print name, p50, p90, p99, mean, min, max, cpu }' \
    "$WORK/out" >>"$WORK/results"
}

: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 == 1 )); then
    run cpp "$KV_READ_BENCHMARK"; run go "$VAULT_GO_CLIENT"
  else
    run go "$VAULT_GO_CLIENT"; run cpp "$KV_READ_BENCHMARK"
  fi
done

echo
echo "KV v2 read latency, $COUNT reads x $ROUNDS rounds, $("$VAULT" version | head -n1), TLS on loopback"
echo
printf '%-6s %-6s %10s %10s %10s %10s %10s %10s %12s\n' round client p50_us p90_us p99_us mean_us min_us max_us cpu_us/read
awk '{ n[$1]++; printf "%-6d %-6s %10.1f %10.1f %10.1f %10.1f %10.1f %10.1f %12.1f\n", n[$1], $1, $2, $3, $4, $5, $6, $7, $8 }' "$WORK/results"
echo
# Median over rounds of each statistic, per client, then side by side.
median() { sort -g | awk '{ v[NR]=$1 } END { print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2 }'; }
printf '%-8s %14s %14s %10s\n' "stat" "C++ vaultca" "Go vault/api" "C++/Go"
col=2
for stat in p50 p90 p99 mean min max cpu/read; do
  cpp=$(awk -v c=$col '$1=="cpp"{print $c}' "$WORK/results" | median)
  go=$(awk -v c=$col '$1=="go"{print $c}' "$WORK/results" | median)
  awk -v s="$stat" -v a="$cpp" -v b="$go" \
    'BEGIN { printf "%-8s %11.1f us %11.1f us %9.2fx\n", s, a, b, a / b }'
  col=$((col + 1))
done
echo "(medians over rounds; C++/Go < 1 means the C++ client is faster)"
