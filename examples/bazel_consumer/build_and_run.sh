#!/usr/bin/env bash
# Builds and runs the Bazel consumer workspace, then stops its Bazel server
# so it does not hold memory for the rest of the test run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
trap 'bazel shutdown >/dev/null 2>&1 || true' EXIT
bazel run //:consumer
