#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against: a stock
# kube-apiserver (module k8s.io/kubernetes, ./apiserver), a stock etcd
# (module go.etcd.io/etcd/server/v3, ./etcd) and kube-testbed (./testbed,
# which starts the two with fresh PKI), each once, into
# $VAULTCA_CACHE/bin (outside the repository). Prints that directory on the
# last stdout line; a warm run only hashes the wrapper modules.
#
# Why a wrapper module: k8s.io/kubernetes's own go.mod points every k8s.io/*
# staging module at ./staging, which a module proxy cannot serve, so
# apiserver/go.mod replaces each with the published k8s.io/* release of the
# same minor (v1.37.2 <-> v0.37.2). The version stamp is passed by -ldflags
# as Kubernetes' own build does; without it the server reports v0.0.0-master.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
gobuild=$here/../gobuild.sh

# The pinned version, from a one-line require or a require block.
k8s_ver=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" {print $3; exit}
               $1 == "k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$here/apiserver/go.mod")
[[ "$k8s_ver" =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] ||
  { echo "build.sh: cannot read the k8s.io/kubernetes version from apiserver/go.mod" >&2; exit 1; }
major=${k8s_ver#v}; major=${major%%.*}
minor=${k8s_ver#v*.}; minor=${minor%%.*}
vpkg=k8s.io/component-base/version
ldflags="-X $vpkg.gitVersion=$k8s_ver -X $vpkg.gitMajor=$major -X $vpkg.gitMinor=$minor -X $vpkg.gitTreeState=clean"

bash "$gobuild" kube-testbed "$here/testbed" . >/dev/null
bash "$gobuild" etcd "$here/etcd" . >/dev/null
api=$(bash "$gobuild" kube-apiserver "$here/apiserver" . "$ldflags" | tail -1)
dirname "$api"
