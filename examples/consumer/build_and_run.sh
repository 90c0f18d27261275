#!/usr/bin/env bash
# Builds examples/consumer against an installed vaultca and runs it.
#   build_and_run.sh cmake|pkg-config INSTALL_PREFIX
set -euo pipefail
mode="$1"
prefix="$(cd "$2" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

case "$mode" in
  cmake)
    cmake -S "$here" -B "$out" -G Ninja -DCMAKE_PREFIX_PATH="$prefix"
    cmake --build "$out"
    "$out/consumer"
    ;;
  pkg-config)
    export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
    # shellcheck disable=SC2046
    c++ -std=c++17 -o "$out/consumer" "$here/main.cc" $(pkg-config --cflags --libs vaultca)
    "$out/consumer"
    ;;
  *)
    echo "usage: $0 cmake|pkg-config PREFIX" >&2
    exit 2
    ;;
esac
