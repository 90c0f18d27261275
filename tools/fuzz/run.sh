#!/usr/bin/env bash
# Runs one vaultca fuzz target under libFuzzer (ASan+UBSan) for N minutes.
#
#   tools/fuzz/run.sh <target> <minutes> [libFuzzer flags...]
#   tools/fuzz/run.sh all <minutes>     # every target in turn, then a table
#   tools/fuzz/run.sh list
#
# <target> is a short name (csr_fuzzer) or a Bazel label. The target writes
# its generated seeds into build/fuzz/<name>/seeds at start (seeds are made
# at run time from test PKI, never checked in); new coverage goes to
# build/fuzz/<name>/corpus and findings to build/fuzz/<name>/artifacts/.
# Replay a finding as an ordinary test run:
#   bazel run //x509/fuzz:csr_fuzzer -- $PWD/build/fuzz/csr_fuzzer/artifacts/crash-...
# Single process (2 shared cores): run one target at a time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

TARGETS=(
  //server/fuzz:certificate_handler_fuzzer
  //server/auth/fuzz:jwt_fuzzer
  //server/auth/fuzz:jwks_fuzzer
  //server/auth/fuzz:oidc_discovery_fuzzer
  //vault/fuzz:vault_response_fuzzer
  //x509/fuzz:csr_fuzzer
  //ca/fuzz:key_cert_bundle_fuzzer
  //vault/fuzz:reference_fuzzer
  //server/fuzz:config_fuzzer
)

if [[ "${1:-}" == list ]]; then
  printf '%s\n' "${TARGETS[@]}"
  exit 0
fi
if (($# < 2)); then
  echo "usage: $0 <target>|all <minutes> [libFuzzer flags...] | $0 list" >&2
  exit 2
fi
target="$1"; minutes="$2"; shift 2

labels=()
if [[ "$target" == all ]]; then
  labels=("${TARGETS[@]}")
else
  for t in "${TARGETS[@]}"; do
    if [[ "$t" == "$target" || "${t##*:}" == "$target" ]]; then labels=("$t"); fi
  done
fi
if ((${#labels[@]} == 0)); then
  echo "unknown target $target; see: $0 list" >&2
  exit 2
fi

# Own output base so a fuzz build never waits on (or evicts) other builds.
# Everything is built before the first target runs, so editing sources during
# a long campaign does not change what later targets fuzz.
OUTPUT_BASE="${VAULTCA_FUZZ_OUTPUT_BASE:-$HOME/.cache/bazel-ob/fuzz}"
bazel --output_base="$OUTPUT_BASE" build --config=fuzz --symlink_prefix=/ \
  --jobs="${VAULTCA_FUZZ_BUILD_JOBS:-2}" "${labels[@]}"
bin_dir="$(bazel --output_base="$OUTPUT_BASE" info --config=fuzz bazel-bin \
  2>/dev/null)"
declare -A bin
for label in "${labels[@]}"; do
  pkg="${label#//}"; pkg="${pkg%%:*}"
  bin["${label##*:}"]="$bin_dir/$pkg/${label##*:}"
done

export VAULTCA_SOURCE_DIR="$ROOT"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# Runs one target; its output goes to the terminal and to run-<time>.log.
fuzz_one() {
  local name="$1"; shift
  local work="$ROOT/build/fuzz/$name"
  mkdir -p "$work/seeds" "$work/corpus" "$work/artifacts"
  local log="$work/run-$(date -u +%Y%m%dT%H%M%S).log"
  local rc=0
  VAULTCA_FUZZ_SEED_DIR="$work/seeds" "${bin[$name]}" \
    "$work/corpus" "$work/seeds" \
    -max_total_time=$((minutes * 60)) -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/artifacts/" \
    "$@" 2>&1 | tee "$log" || rc=$?
  LAST_LOG="$log"
  return "$rc"
}

if [[ "$target" != all ]]; then
  fuzz_one "${labels[0]##*:}" "$@"
  exit
fi

# A campaign: every target for <minutes>, then one line per target.
summary=()
failed=0
for label in "${labels[@]}"; do
  name="${label##*:}"
  status=ok
  fuzz_one "$name" "$@" || { status=FAILED; failed=1; }
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$LAST_LOG")"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$LAST_LOG")"
  cov="$(grep -o 'cov: [0-9]*' "$LAST_LOG" | tail -1)"
  summary+=("$(printf '| %s | %s | %s | %s/s | %s |' "$name" "$status" \
    "${execs:-?}" "${rate:-?}" "${cov#cov: }")")
done
echo
echo "| target | result | executions | rate | edges |"
echo "| --- | --- | --- | --- | --- |"
printf '%s\n' "${summary[@]}"
exit "$failed"
