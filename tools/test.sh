#!/usr/bin/env bash
# The README's second command: installs what is missing, then builds and runs
# every test vaultca has, and ends with one summary line
# "vaultca: N passed, N failed".
#
#   tools/test.sh              everything (what CI runs)
#   VAULTCA_TEST_QUICK=1 ...   skip the sanitizer and consumer builds
#
# Test suites: Bazel (default, ASan+UBSan, TSan, clang thread-safety
# analysis; the real-Vault and real-Kubernetes suites inside them), the
# Istio conformance suite (tests/interop, Go), a smoke-sized
# run of the benchmark (bench/run_all.sh), CMake +
# ctest, the installed-package consumers (CMake, pkg-config, Bazel
# local_repository).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# shellcheck source=tools/lib.sh
source "$ROOT/tools/lib.sh"

PASSED=0
FAILED=0
FAILED_STEPS=()
LOG_DIR="$ROOT/build/test-logs"
mkdir -p "$LOG_DIR"

# Records the outcome of one step: $1 name, $2 passed count, $3 failed count.
record() {
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
  if (($3 > 0)); then FAILED_STEPS+=("$1"); fi
  printf '== %-28s %4d passed, %d failed\n' "$1" "$2" "$3"
}

# Runs a Bazel test invocation and counts its per-target results.
bazel_tests() {
  local name="$1"; shift
  local log="$LOG_DIR/$name.log"
  bazel test --test_summary=short "${BAZEL_TEST_ENV[@]}" "$@" >"$log" 2>&1
  local rc=$?
  local pass fail
  pass=$(grep -cE '^//\S+\s+(\(cached\) )?PASSED' "$log")
  fail=$(grep -cE '^//\S+\s+(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY|INCOMPLETE)' "$log")
  if ((rc != 0 && fail == 0)); then
    fail=1  # the build itself failed
  fi
  if ((fail > 0)); then
    grep -vE 'linux-sandbox' "$log" | tail -60
  fi
  record "$name" "$pass" "$fail"
}

# Runs one command as a single pass/fail check.
check() {
  local name="$1"; shift
  local log="$LOG_DIR/$name.log"
  if "$@" >"$log" 2>&1; then
    record "$name" 1 0
  else
    tail -60 "$log"
    record "$name" 0 1
  fi
}

step "setup"
bash tools/setup.sh

step "real Vault"
if VAULT_BIN="$(vaultca_vault_bin)"; then
  export VAULTCA_VAULT_BIN="$VAULT_BIN"
  echo "using Vault: $VAULTCA_VAULT_BIN ($("$VAULTCA_VAULT_BIN" version 2>/dev/null))"
else
  echo "could not build the real Vault; the real-Vault suites will fail"
fi

step "real Kubernetes control plane (kube-apiserver, etcd)"
if KUBE_BIN_DIR="$(vaultca_kube_bin_dir)"; then
  export VAULTCA_KUBE_BIN_DIR="$KUBE_BIN_DIR"
  echo "using $VAULTCA_KUBE_BIN_DIR: $("$VAULTCA_KUBE_BIN_DIR/kube-apiserver" --version)"
else
  echo "could not build the Kubernetes control plane; the real-Kubernetes suites will fail"
fi
BAZEL_TEST_ENV=(--test_env=VAULTCA_VAULT_BIN --test_env=VAULTCA_ALLOW_NO_VAULT
                --test_env=VAULTCA_KUBE_BIN_DIR --test_env=VAULTCA_ALLOW_NO_KUBE)

step "bazel test //..."
bazel_tests bazel "//..."

step "Istio conformance (tests/interop: Istio's own client, CA and checks)"
# Uses the vaultca-server the default Bazel run just built.
INTEROP_LOG="$LOG_DIR/interop.log"
VAULTCA_SERVER_BIN="$(bazel info bazel-bin 2>/dev/null)/server/vaultca-server" \
  bash tests/interop/run.sh >"$INTEROP_LOG" 2>&1
interop_line=$(grep -E '^interop: [0-9]+ passed, [0-9]+ failed' "$INTEROP_LOG" | tail -1)
interop_passed=$(sed -nE 's/^interop: ([0-9]+) passed.*/\1/p' <<<"$interop_line")
interop_failed=$(sed -nE 's/.* ([0-9]+) failed$/\1/p' <<<"$interop_line")
if [[ -z "$interop_line" ]]; then interop_passed=0; interop_failed=1; fi
if ((interop_failed > 0)); then tail -60 "$INTEROP_LOG"; fi
grep -E '^(go mod download|compile|go test):' "$INTEROP_LOG" || true
record interop "$interop_passed" "$interop_failed"

step "benchmark smoke run (bench/run_all.sh at toy sizes)"
# Every peer and scenario of the benchmark, so it cannot rot; reuses the
# default Bazel build and the Istio CA the interop step built.
check bench-smoke env BENCH_SMOKE=1 bash bench/run_all.sh

if [[ -z "${VAULTCA_TEST_QUICK:-}" ]]; then
  step "bazel test --config=asan"
  bazel_tests bazel-asan --config=asan -- //... -//bench/...
  step "bazel test --config=tsan"
  bazel_tests bazel-tsan --config=tsan -- //... -//bench/...
  step "bazel build --config=tsa"
  check bazel-thread-safety bazel build --config=tsa //...
fi

step "container image (deploy/image/test.sh)"
# The image of the server the default Bazel run built, run read-only as
# non-root inside its own root file system until it issues a certificate.
check image env VAULTCA_SERVER_BIN="$(bazel info bazel-bin 2>/dev/null)/server/vaultca-server" \
  bash deploy/image/test.sh

step "Bazel and CMake declare the same targets; internal/ stays internal"
check build-parity python3 tools/check_build_parity.py
# No production file includes another folder's internal/ (Bazel visibility
# refuses the targets too: //tools/visibility).
check internal-includes python3 tools/check_internal_includes.py
# Configure only: every test sits behind VAULTCA_BUILD_TESTS (the test
# helpers refuse to be declared outside it).
check cmake-tests-off cmake -S . -B "$ROOT/build/cmake-tests-off" -G Ninja \
  -DVAULTCA_BUILD_TESTS=OFF -DVAULTCA_BUILD_BENCHMARKS=OFF

step "cmake + ctest"
CMAKE_DIR="$ROOT/build/cmake"
INSTALL_DIR="$ROOT/build/install"
rm -rf "$INSTALL_DIR"
check cmake-build bash -c "cmake -S . -B '$CMAKE_DIR' -G Ninja -DCMAKE_INSTALL_PREFIX='$INSTALL_DIR' >/dev/null && cmake --build '$CMAKE_DIR' -j2"
CTEST_LOG="$LOG_DIR/ctest.log"
(cd "$CMAKE_DIR" && ctest --output-on-failure -j2 >"$CTEST_LOG" 2>&1)
ctest_total=$(sed -nE 's/.* tests? failed out of ([0-9]+).*/\1/p' "$CTEST_LOG" | tail -1)
ctest_failed=$(sed -nE 's/.* ([0-9]+) tests? failed out of.*/\1/p' "$CTEST_LOG" | tail -1)
if [[ -z "$ctest_total" ]]; then ctest_total=1; ctest_failed=1; tail -40 "$CTEST_LOG"; fi
((ctest_failed > 0)) && grep -E 'Failed|\*\*\*' "$CTEST_LOG" | head -40
record ctest $((ctest_total - ctest_failed)) "$ctest_failed"

if [[ -z "${VAULTCA_TEST_QUICK:-}" ]]; then
  step "consumers of the installed package"
  check cmake-install cmake --install "$CMAKE_DIR"
  check consumer-cmake bash examples/consumer/build_and_run.sh cmake "$INSTALL_DIR"
  check consumer-pkg-config bash examples/consumer/build_and_run.sh pkg-config "$INSTALL_DIR"
  check consumer-bazel bash examples/bazel_consumer/build_and_run.sh
fi

step_done
echo "total: $SECONDS s"
echo
if ((${#FAILED_STEPS[@]})); then
  echo "failed steps: ${FAILED_STEPS[*]} (logs in $LOG_DIR)"
fi
echo "vaultca: $PASSED passed, $FAILED failed"
((FAILED == 0))
