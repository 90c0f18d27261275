#!/usr/bin/env bash
# The README's first command: installs what is missing, builds vaultca and
# runs the quick start (a self-signed CA in build/demo-state/, an
# istio-agent-shaped CSR, the chain istio-agent would receive).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source "$ROOT/tools/lib.sh"

step "setup"
bash tools/setup.sh

step "build"
bazel build -c opt //examples/quickstart 2>&1 | grep -vE 'linux-sandbox' | tail -3

step "quick start"
STATE_DIR="$ROOT/build/demo-state"
mkdir -p "$STATE_DIR"
bazel-bin/examples/quickstart/quickstart --state_dir="$STATE_DIR" "$@"
echo
echo "state: $STATE_DIR (ca-key.pem is 0600; delete the folder for a new root)"
