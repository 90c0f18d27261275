#!/usr/bin/env bash
# Builds a real HashiCorp Vault binary (v1.14.2, MPL-2.0, pinned in go.mod) for
# vaultca's integration tests, and prints its path on the last stdout line.
#
#   tools/vault/build.sh            # build if needed, print the binary's path
#   VAULT=$(tools/vault/build.sh | tail -n1)
#   tools/vault/build.sh --force    # rebuild even if the stamp matches
#
# Environment:
#   VAULTCA_CACHE        install root (default ${XDG_CACHE_HOME:-$HOME/.cache}/vaultca);
#                        the binary goes to $VAULTCA_CACHE/bin/vault
#   VAULTCA_BUILD_JOBS   go build -p (default 2)
#   GO                   go command (default: go on PATH, else /usr/local/go/bin/go)
#   GOCACHE, GOMODCACHE  honoured as usual; the defaults live under $HOME, outside the repo
#
# Only the Go module proxy is needed: go.sum pins every module. A cold build
# (downloads + compile) takes 15-45 minutes on 2 cores; a warm one is instant.
#
# Why a patched sdk: Vault's root module builds against its in-tree ./sdk
# (a `replace` that a module proxy cannot serve), and no published
# github.com/hashicorp/vault/sdk version equals the 1.14 branch's tree. sdk
# v0.9.2 (the version Vault 1.14.2's go.mod names) compiles, but carries one
# check from the 1.15 line that the 1.14 branch never had: framework.Backend
# panics on paths that define CreateOperation without an ExistenceCheck, which
# Vault 1.14's own sys/managed-keys paths do, so `vault server` panics at start.
# We copy sdk v0.9.2 out of the module cache (outside the repo), delete that
# one check (pinned by hash below), and build with a generated go.mod that
# replaces the sdk with the copy. Nothing else in Vault or its sdk is touched.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
force=0
for arg in "$@"; do
  case "$arg" in
    --force) force=1 ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

if [[ -z "${GO:-}" ]]; then
  if command -v go >/dev/null 2>&1; then GO=$(command -v go)
  elif [[ -x /usr/local/go/bin/go ]]; then GO=/usr/local/go/bin/go
  else echo "build.sh: no go toolchain found (set GO=...)" >&2; exit 1
  fi
fi

cache=${VAULTCA_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vaultca}
bindir=$cache/bin
bin=$bindir/vault
stamp=$bindir/vault.stamp
mkdir -p "$bindir"

# Never fetch a toolchain, never touch VCS, build a static binary.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-mod=readonly -buildvcs=false"

sdk_mod=github.com/hashicorp/vault/sdk
sdk_ver=v0.9.2
sdk_file=framework/backend.go
sdk_file_orig=ce0c5cf524d1610a03b6d12c1ab1c314cce476289a10e4523cd13255ab84aa5c
sdk_file_patched=25d2b69bfb11367997d26a51d8b8f7d91836ea09e7a3b98ca65f8eb916263ee2

ldflags='-s -w'
want=$(
  {
    cat "$here/go.mod" "$here/go.sum" "$here/main.go" "${BASH_SOURCE[0]}"
    "$GO" version
    echo "CGO_ENABLED=$CGO_ENABLED ldflags=$ldflags trimpath"
  } | sha256sum | cut -d' ' -f1
)

up_to_date() {
  [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]
}

# Serialise concurrent callers (parallel test jobs) on one lock.
exec 9>"$bindir/.build.lock"
flock 9

if ((force == 0)) && up_to_date; then
  echo "$bin"
  exit 0
fi

vault_ver=$(awk '$1 == "require" && $2 == "github.com/hashicorp/vault" {print $3}' "$here/go.mod")
echo "build.sh: building vault $vault_ver with $("$GO" version | awk '{print $3}'); a cold cache takes a long while" >&2
start=$SECONDS

# 1. The sdk copy with the one 1.15-only check removed.
work=$cache/build
sdk_dir=$work/sdk-$sdk_ver
if [[ ! -f "$sdk_dir/.patched" ]] ||
   [[ "$(sha256sum "$sdk_dir/$sdk_file" | cut -d' ' -f1)" != "$sdk_file_patched" ]]; then
  src=$(cd "$here" && "$GO" mod download -json "$sdk_mod@$sdk_ver" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
  [[ -n "$src" && -d "$src" ]] || { echo "build.sh: could not download $sdk_mod@$sdk_ver" >&2; exit 1; }
  [[ "$(sha256sum "$src/$sdk_file" | cut -d' ' -f1)" == "$sdk_file_orig" ]] ||
    { echo "build.sh: unexpected $src/$sdk_file" >&2; exit 1; }
  rm -rf "$sdk_dir" && mkdir -p "$work" && cp -R "$src" "$sdk_dir" && chmod -R u+w "$sdk_dir"
  awk '
    /\/\/ Detect the coding error of attempting to define a CreateOperation without defining an ExistenceCheck/ {skip=1; next}
    skip && /^\t\t}$/ {skip=0; drop_blank=1; next}
    skip {next}
    drop_blank && /^$/ {drop_blank=0; next}
    {drop_blank=0; print}
  ' "$src/$sdk_file" >"$sdk_dir/$sdk_file"
  [[ "$(sha256sum "$sdk_dir/$sdk_file" | cut -d' ' -f1)" == "$sdk_file_patched" ]] ||
    { echo "build.sh: patching $sdk_file gave an unexpected result" >&2; exit 1; }
  touch "$sdk_dir/.patched"
fi

# 2. A generated go.mod/go.sum pair: ours plus the replace.
cp "$here/go.mod" "$work/go.mod"
cp "$here/go.sum" "$work/go.sum"
printf '\nreplace %s => %s\n' "$sdk_mod" "$sdk_dir" >>"$work/go.mod"

# 3. Build.
tmp="$bin.tmp.$$"
trap 'rm -f "$tmp"' EXIT
(
  cd "$here"
  "$GO" build -modfile="$work/go.mod" -p "${VAULTCA_BUILD_JOBS:-2}" -trimpath -ldflags="$ldflags" -o "$tmp" .
) >&2
mv -f "$tmp" "$bin"
echo "$want" >"$stamp"
echo "build.sh: built $bin in $((SECONDS - start))s ($("$bin" version 2>/dev/null || echo '?'))" >&2
echo "$bin"
