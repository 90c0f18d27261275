#!/usr/bin/env bash
# Builds one Go command from a small wrapper module under tools/, once, into
# vaultca's cache outside the repository, and prints the binary's path on the
# last stdout line. Used for the real peers the tests run (kube-apiserver,
# etcd, istiod, helm, ...); tools/vault/build.sh has its own because Vault
# needs a patched sdk.
#
#   tools/gobuild.sh NAME MODULE_DIR [PACKAGE] [LDFLAGS]
#
# NAME        the binary's name in $VAULTCA_CACHE/bin
# MODULE_DIR  the wrapper module (go.mod, go.sum, main.go)
# PACKAGE     the package to build inside it (default ".")
# LDFLAGS     extra -ldflags (version stamps); -s -w is always added
#
# Rebuilds only when the module's go.mod/go.sum/*.go, this script, the
# arguments or the Go version change (sha256 stamp beside the binary);
# concurrent callers wait on one lock per binary. --force in
# VAULTCA_GOBUILD_FORCE=1 rebuilds anyway.
set -euo pipefail

name=${1:?usage: gobuild.sh NAME MODULE_DIR [PACKAGE] [LDFLAGS]}
moddir=$(cd "${2:?usage: gobuild.sh NAME MODULE_DIR [PACKAGE] [LDFLAGS]}" && pwd)
pkg=${3:-.}
extra_ldflags=${4:-}

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "gobuild.sh: no go toolchain found (set GO=...)" >&2; exit 1
  fi
fi

cache=${VAULTCA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultca}
bindir=$cache/bin
bin=$bindir/$name
stamp=$bindir/$name.stamp
mkdir -p "$bindir"

export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false"

ldflags="-s -w${extra_ldflags:+ $extra_ldflags}"
want=$(
  {
    find "$moddir" -maxdepth 3 \( -name go.mod -o -name go.sum -o -name '*.go' \) -print0 |
      sort -z | xargs -0 cat
    cat "${BASH_SOURCE[0]}"
    echo "$name $pkg $ldflags"
    "$GO" version
  } | sha256sum | cut -d' ' -f1
)

exec 9>"$bindir/.$name.lock"
flock 9
if [[ -z "${VAULTCA_GOBUILD_FORCE:-}" && -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "$bin"
  exit 0
fi

echo "gobuild.sh: building $name ($pkg in $moddir) with $("$GO" version | awk '{print $3}')" >&2
start=$SECONDS
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(cd "$moddir" && "$GO" build -p "${VAULTCA_BUILD_JOBS:-2}" -trimpath -ldflags="$ldflags" -o "$tmp" "$pkg") >&2
mv -f "$tmp" "$bin"
echo "$want" >"$stamp"
echo "gobuild.sh: built $bin in $((SECONDS - start))s ($(du -h "$bin" | cut -f1))" >&2
echo "$bin"
