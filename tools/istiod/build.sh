#!/usr/bin/env bash
# Builds the real istiod (pilot-discovery) that tests/interop's mesh test
# runs, once, into $VAULTCA_CACHE/bin (outside the repository), and prints
# its path on the last stdout line; a warm run only hashes this module.
#
# The wrapper module pins the same istio.io/istio as tests/interop/go.mod, so
# the istiod under test and the Istio agent/CA code the suite links are one
# Istio; this script refuses to build when the two pins differ. The version
# is stamped as Istio's own build does (istiod reports it over XDS).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
interop_mod=$here/../../tests/interop/go.mod

istio_ver() {
  awk '$1 == "require" && $2 == "istio.io/istio" {print $3; exit}
       $1 == "istio.io/istio" && $2 ~ /^v/ {print $2; exit}' "$1"
}
ver=$(istio_ver "$here/go.mod")
want=$(istio_ver "$interop_mod")
[[ -n "$ver" && "$ver" == "$want" ]] ||
  { echo "build.sh: tools/istiod pins istio.io/istio ${ver:-?}, tests/interop pins ${want:-?}; make them equal" >&2; exit 1; }

vpkg=istio.io/istio/pkg/version
ldflags="-X $vpkg.buildVersion=$ver -X $vpkg.buildStatus=Clean -X $vpkg.buildTag=$ver"
bash "$here/../gobuild.sh" pilot-discovery "$here" . "$ldflags"
