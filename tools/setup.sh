#!/usr/bin/env bash
# Installs exactly the Debian packages vaultca needs to build, test and run
# its demo. Idempotent: packages already present are skipped, and apt-get is
# only invoked when something is missing.
set -euo pipefail

PACKAGES=(
  # Build systems.
  bazel-bootstrap bazel-rules-java cmake ninja-build pkg-config g++ make
  # Sanitizer and thread-safety builds.
  clang libclang-rt-14-dev
  # Libraries on the design card.
  libssl-dev openssl libcurl4-openssl-dev libabsl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libgtest-dev libgmock-dev libbenchmark-dev
  # Small well-kept libraries (see README, "Dependencies").
  nlohmann-json3-dev libyaml-cpp-dev libcpp-httplib-dev libre2-dev
  # bench/run_all.sh: cfssl as a peer CA, its report and plots.
  golang-cfssl gnuplot-nox python3
  # deploy/image/test.sh: an independent reader of the OCI layout and
  # archive, and the namespaces and chroot the image runs in.
  skopeo util-linux iproute2
  # Go itself comes with the machine (Debian's golang is too old for Istio).
  ca-certificates curl
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "setup: all ${#PACKAGES[@]} packages present"
