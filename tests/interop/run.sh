#!/usr/bin/env bash
# Istio conformance suite for vaultca: builds vaultca-server with
# Bazel, gets the real Vault through tools/lib.sh, then runs the Go suite
# in this directory (Istio's own client, CA and verification code against
# vaultca-server and against Istio's CA server) and ends with
#   interop: N passed, M failed
#
#   tests/interop/run.sh                 everything
#   tests/interop/run.sh -run TestDiff   extra arguments go to `go test`
#
# Environment:
#   VAULTCA_SERVER_BIN   use this vaultca-server instead of building it
#   VAULTCA_CLI_BIN      use this `vaultca` command (TestSyncIstiod) instead
#                        of <bazel-bin>/cli/vaultca beside VAULTCA_SERVER_BIN
#                        (or built with it when run.sh builds)
#   VAULTCA_VAULT_BIN    use this vault instead of tools/vault/build.sh
#   VAULTCA_KUBE_BIN_DIR use kube-testbed, kube-apiserver and etcd from this
#                        directory instead of tools/kube/build.sh's
#   VAULTCA_PILOT_DISCOVERY_BIN  use this istiod (pilot-discovery) instead of
#                        tools/istiod/build.sh's (TestMesh)
#   INTEROP_BAZEL_OUTPUT_BASE  Bazel --output_base (default: Bazel's own)
#   INTEROP_ISTIO_LOG_LEVEL    Istio's log level in the tests (default warn)
# Go caches stay where Go puts them (under $HOME), outside the repository.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
# shellcheck source=tools/lib.sh
source "$ROOT/tools/lib.sh"

OUT="$ROOT/build/interop"
mkdir -p "$OUT"
export GOTOOLCHAIN=local
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly"

fail_setup() {
  echo "$1" >&2
  echo "interop: 0 passed, 1 failed"
  exit 1
}

step "vaultca-server and vaultca (bazel build //server:vaultca-server //cli:vaultca)"
if [[ -z "${VAULTCA_SERVER_BIN:-}" ]]; then
  bazel_cmd=(bazel)
  [[ -n "${INTEROP_BAZEL_OUTPUT_BASE:-}" ]] && bazel_cmd+=(--output_base="$INTEROP_BAZEL_OUTPUT_BASE")
  (cd "$ROOT" && "${bazel_cmd[@]}" build --jobs=2 //server:vaultca-server //cli:vaultca) >"$OUT/bazel.log" 2>&1 ||
    { tail -40 "$OUT/bazel.log"; fail_setup "bazel build //server:vaultca-server //cli:vaultca failed"; }
  VAULTCA_SERVER_BIN="$(cd "$ROOT" && "${bazel_cmd[@]}" info bazel-bin 2>/dev/null)/server/vaultca-server"
fi
[[ -x "$VAULTCA_SERVER_BIN" ]] || fail_setup "no vaultca-server at $VAULTCA_SERVER_BIN"
export VAULTCA_SERVER_BIN
echo "vaultca-server: $VAULTCA_SERVER_BIN"
# The operator command, from the same bazel-bin as the server.
if [[ -z "${VAULTCA_CLI_BIN:-}" ]]; then
  VAULTCA_CLI_BIN="$(dirname "$(dirname "$VAULTCA_SERVER_BIN")")/cli/vaultca"
fi
# Missing, only TestSyncIstiod fails (and says so); the rest still runs.
[[ -x "$VAULTCA_CLI_BIN" ]] ||
  echo "WARNING: no vaultca command at $VAULTCA_CLI_BIN (bazel build //cli:vaultca, or set VAULTCA_CLI_BIN): TestSyncIstiod will fail"
export VAULTCA_CLI_BIN
echo "vaultca: $VAULTCA_CLI_BIN"

step "real Vault"
if [[ -z "${VAULTCA_VAULT_BIN:-}" ]]; then
  VAULTCA_VAULT_BIN="$(vaultca_vault_bin)" || fail_setup "could not build the real Vault (tools/vault/build.sh)"
fi
export VAULTCA_VAULT_BIN
echo "vault: $VAULTCA_VAULT_BIN ($("$VAULTCA_VAULT_BIN" version 2>/dev/null))"

step "Kubernetes control plane (tools/kube/build.sh)"
if [[ -z "${VAULTCA_KUBE_BIN_DIR:-}" ]]; then
  t0=$SECONDS
  VAULTCA_KUBE_BIN_DIR="$(bash "$ROOT/tools/kube/build.sh" 2>"$OUT/kube-build.log" | tail -1)" ||
    { tail -20 "$OUT/kube-build.log"; fail_setup "could not build kube-apiserver/etcd/kube-testbed (tools/kube/build.sh)"; }
  echo "tools/kube/build.sh: $((SECONDS - t0)) s"
fi
for b in kube-testbed kube-apiserver etcd; do
  [[ -x "$VAULTCA_KUBE_BIN_DIR/$b" ]] || fail_setup "no $b in VAULTCA_KUBE_BIN_DIR=$VAULTCA_KUBE_BIN_DIR"
done
export VAULTCA_KUBE_BIN_DIR
# A kube-apiserver linked without its version stamp panics at start-up.
kube_version="$("$VAULTCA_KUBE_BIN_DIR/kube-apiserver" --version 2>&1)" ||
  { echo "$kube_version" | head -3; fail_setup "$VAULTCA_KUBE_BIN_DIR/kube-apiserver does not start (version stamp missing? see tools/kube/build.sh)"; }
echo "kube: $VAULTCA_KUBE_BIN_DIR ($kube_version)"

step "Helm and the monitoring CRDs (tools/helm: deploy/ chart tests)"
if [[ -z "${VAULTCA_HELM_BIN:-}" ]]; then
  VAULTCA_HELM_BIN="$(bash "$ROOT/tools/helm/build.sh" 2>"$OUT/helm-build.log" | tail -1)" ||
    { tail -20 "$OUT/helm-build.log"; fail_setup "could not build helm (tools/helm/build.sh)"; }
fi
export VAULTCA_HELM_BIN
echo "helm: $VAULTCA_HELM_BIN ($("$VAULTCA_HELM_BIN" version --short 2>/dev/null))"
# Without them the deploy test skips only the PrometheusRule and
# ServiceMonitor objects, and says why.
if [[ -z "${VAULTCA_MONITORING_CRD_DIR:-}" ]]; then
  VAULTCA_MONITORING_CRD_DIR="$(bash "$ROOT/tools/helm/monitoring-crds.sh" 2>"$OUT/monitoring-crds.log" | tail -1)" ||
    { tail -5 "$OUT/monitoring-crds.log"; VAULTCA_MONITORING_CRD_DIR=""; }
fi
if [[ -n "$VAULTCA_MONITORING_CRD_DIR" ]]; then export VAULTCA_MONITORING_CRD_DIR; fi

step "istiod (tools/istiod/build.sh: pilot-discovery)"
if [[ -z "${VAULTCA_PILOT_DISCOVERY_BIN:-}" ]]; then
  t0=$SECONDS
  VAULTCA_PILOT_DISCOVERY_BIN="$(bash "$ROOT/tools/istiod/build.sh" 2>"$OUT/istiod-build.log" | tail -1)" ||
    { tail -20 "$OUT/istiod-build.log"; fail_setup "could not build pilot-discovery (tools/istiod/build.sh)"; }
  echo "tools/istiod/build.sh: $((SECONDS - t0)) s"
fi
[[ -x "$VAULTCA_PILOT_DISCOVERY_BIN" ]] || fail_setup "no pilot-discovery at $VAULTCA_PILOT_DISCOVERY_BIN"
export VAULTCA_PILOT_DISCOVERY_BIN
echo "pilot-discovery: $VAULTCA_PILOT_DISCOVERY_BIN"

cd "$HERE"
step "go mod download"
t0=$SECONDS
go mod download >"$OUT/go-mod-download.log" 2>&1 || { tail -20 "$OUT/go-mod-download.log"; fail_setup "go mod download failed"; }
echo "go mod download: $((SECONDS - t0)) s"

step "go vet + build (compile)"
t0=$SECONDS
{ go vet ./... && go test -c -o "$OUT/bin/interop.test" . && go build -o "$OUT/bin/" ./cmd/...; } >"$OUT/go-build.log" 2>&1 ||
  { tail -40 "$OUT/go-build.log"; fail_setup "go build failed"; }
echo "compile: $((SECONDS - t0)) s (commands in $OUT/bin)"

step "go test"
t0=$SECONDS
export INTEROP_DIFF_OUT="$OUT/diff.txt"
export INTEROP_MESH_OUT="$OUT/mesh"
# A new test order every run: no test may depend on what another left
# behind. Each package prints its seed; `run.sh -shuffle=SEED` replays it.
go test -count=1 -timeout 15m -v -shuffle=on "$@" ./... >"$OUT/go-test.log" 2>&1
rc=$?
echo "go test: $((SECONDS - t0)) s, exit $rc (log: $OUT/go-test.log, field diff: $INTEROP_DIFF_OUT, impersonation diff: $OUT/impersonation-diff.txt)"
seeds="$(sed -nE 's/^-test\.shuffle ([0-9]+)$/\1/p' "$OUT/go-test.log" | sort -u | paste -sd' ' -)"
[[ -n "$seeds" ]] && echo "test order: -shuffle seed(s) $seeds"

# Leaf tests (those without subtests) from -v output.
results="$(sed -nE 's/^ *--- (PASS|FAIL|SKIP): ([^ ]+) .*/\1 \2/p' "$OUT/go-test.log")"
summary="$(printf '%s\n' "$results" | awk '
  NF == 2 { status[$2] = $1; order[++n] = $2 }
  END {
    for (i = 1; i <= n; i++) for (j = 1; j <= n; j++)
      if (index(order[j], order[i] "/") == 1) parent[order[i]] = 1
    for (i = 1; i <= n; i++) {
      t = order[i]; if (t in parent) continue
      if (status[t] == "PASS") p++; else if (status[t] == "FAIL") { f++; print "FAIL " t > "/dev/stderr" } else s++
    }
    printf "%d %d %d\n", p, f, s
  }')"
read -r passed failed skipped <<<"$summary"
if ((rc != 0 && failed == 0)); then
  # The build, TestMain's setup or a panic failed outside any test.
  grep -vE '^[0-9]{4}-' "$OUT/go-test.log" | tail -40
  failed=1
elif ((failed > 0)); then
  grep -E -- '--- FAIL|_test.go:[0-9]+:' "$OUT/go-test.log" | head -60
fi
printf '%s\n' "$results" | sed -E 's/^/  /' | grep -E '^  (PASS|FAIL) [^/]+$' || true
echo "interop: $passed passed, $failed failed"
((failed == 0 && rc == 0))
