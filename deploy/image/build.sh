#!/usr/bin/env bash
# Builds the vaultca-server container image without a container daemon
# (tools/image, go-containerregistry): an OCI image layout and one tar that
# both `docker load` and skopeo/podman/crane (oci-archive) read, in
# build/image/ by default. Prints the image digest and sizes.
#
#   deploy/image/build.sh                          bazel build -c opt, then the image
#   VAULTCA_SERVER_BIN=FILE deploy/image/build.sh  image of an already built binary
#
# VAULTCA_IMAGE_OUT      output directory (default build/image; replaced whole)
# VAULTCA_IMAGE_VERSION  org.opencontainers.image.version and the tag
#                        (default: git describe --tags --always --dirty)
# VAULTCA_IMAGE_SOURCE   org.opencontainers.image.source (default: the git
#                        remote "origin"; no label when there is none)
# SOURCE_DATE_EPOCH      every timestamp in the image (default: the commit time)
#
# The same binary, libraries, CA bundle and settings give the same digest.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
start=$SECONDS

out="${VAULTCA_IMAGE_OUT:-$ROOT/build/image}"
builder="$(bash tools/gobuild.sh vaultca-image tools/image | tail -1)"

bin="${VAULTCA_SERVER_BIN:-}"
if [[ -z "$bin" ]]; then
  # -c opt is .bazelrc's "opt" config; its output tree (k8-opt) is separate
  # from the tests' fastbuild tree, so this rebuilds nothing they use.
  bazel build --jobs=2 -c opt //server:vaultca-server 2>&1 | { grep -vE 'linux-sandbox' || true; } | tail -3
  bin="$(bazel info -c opt bazel-bin 2>/dev/null)/server/vaultca-server"
fi
[[ -x "$bin" ]] || { echo "build.sh: $bin is not an executable" >&2; exit 1; }

git_or() { git -C "$ROOT" "$@" 2>/dev/null || true; }
version="${VAULTCA_IMAGE_VERSION:-$(git_or describe --tags --always --dirty)}"
version="${version:-dev}"
revision="$(git_or rev-parse HEAD)"
source_url="${VAULTCA_IMAGE_SOURCE:-$(git_or remote get-url origin)}"
epoch="${SOURCE_DATE_EPOCH:-$(git_or log -1 --format=%ct)}"
epoch="${epoch:-0}"

"$builder" build -binary "$bin" -out "$out" -version "$version" -revision "$revision" \
  -source "$source_url" -epoch "$epoch" >/dev/null

python3 - "$out/image.json" "$bin" $((SECONDS - start)) <<'PY'
import json, os, sys
s = json.load(open(sys.argv[1]))
mib = lambda n: "%.1f MiB" % (n / 1048576)
print("image:        %s (%s)" % (s["reference"], s["platform"]))
print("digest:       %s" % s["digest"])
print("compressed:   %s (%d bytes: manifest + config + gzipped layer)" % (mib(s["compressed_bytes"]), s["compressed_bytes"]))
print("uncompressed: %s (%d bytes: the layer tar)" % (mib(s["uncompressed_bytes"]), s["uncompressed_bytes"]))
print("binary:       %s (%s)" % (sys.argv[2], mib(os.path.getsize(sys.argv[2]))))
print("libraries:    %d + the loader %s, from %d Debian packages" % (len(s["libraries"]), s["interpreter"], len(s["packages"])))
print("layout:       %s" % s["layout"])
print("archive:      %s (docker load -i / skopeo copy oci-archive:...)" % s["archive"])
print("built in %s s" % sys.argv[3])
PY
