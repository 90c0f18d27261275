#!/usr/bin/env bash
# Generates prometheus-operator's PrometheusRule and ServiceMonitor
# CustomResourceDefinitions from its published API types
# (github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring,
# pinned in crdgen/go.mod) with the stock controller-gen, as
# prometheus-operator generates its own example/prometheus-operator-crd/.
# The module proxy serves the types module but not the repository's root
# module that ships those YAML files, hence the generation. Prints the
# directory holding monitoring.coreos.com_{prometheusrules,servicemonitors}.yaml
# on the last stdout line; regenerates only when crdgen/ changes.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export GOTOOLCHAIN=local

cg=$(bash "$here/../gobuild.sh" controller-gen "$here/crdgen" sigs.k8s.io/controller-tools/cmd/controller-gen | tail -1)
cache=${VAULTCA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultca}
out=$cache/monitoring-crds
want=$(cat "$here/crdgen/go.mod" "$here/crdgen/go.sum" "${BASH_SOURCE[0]}" | sha256sum | cut -d' ' -f1)
mkdir -p "$cache"
exec 9>"$cache/.monitoring-crds.lock"
flock 9
if [[ -f "$out/stamp" && "$(cat "$out/stamp")" == "$want" ]]; then
  echo "$out"
  exit 0
fi
tmp=$(mktemp -d "$cache/.monitoring-crds.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
(cd "$here/crdgen" && GOFLAGS=-mod=readonly go mod download &&
  GOFLAGS=-mod=readonly "$cg" crd:crdVersions=v1,allowDangerousTypes=true,maxDescLen=0 \
    paths=github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1 \
    output:crd:dir="$tmp") >&2
for f in monitoring.coreos.com_prometheusrules.yaml monitoring.coreos.com_servicemonitors.yaml; do
  [[ -s "$tmp/$f" ]] || { echo "monitoring-crds.sh: controller-gen wrote no $f" >&2; exit 1; }
done
echo "$want" >"$tmp/stamp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "$out"
