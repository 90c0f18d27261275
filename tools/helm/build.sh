#!/usr/bin/env bash
# Builds the real Helm CLI (module helm.sh/helm/v4, wrapper module beside
# this script) once into $VAULTCA_CACHE/bin via tools/gobuild.sh, and prints
# the binary's path on the last stdout line. The version stamp is passed by
# -ldflags as Helm's own Makefile does; without it `helm version` reports
# the module's placeholder and charts with a kubeVersion constraint would be
# judged against it.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

helm_ver=$(awk '$1 == "require" && $2 == "helm.sh/helm/v4" {print $3; exit}
                $1 == "helm.sh/helm/v4" && $2 ~ /^v/ {print $2; exit}' "$here/go.mod")
[[ "$helm_ver" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "build.sh: cannot read the helm.sh/helm/v4 version from go.mod" >&2; exit 1; }
vpkg=helm.sh/helm/v4/internal/version
ldflags="-X $vpkg.version=$helm_ver -X $vpkg.gitTreeState=clean"

bash "$here/../gobuild.sh" helm "$here" . "$ldflags" | tail -1
