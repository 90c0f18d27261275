// Linked into fuzz targets built with libFuzzer (bazel --config=fuzz).
// libFuzzer calls LLVMFuzzerInitialize before it reads its corpus
// directories, so a target writes its generated seeds into
// $VAULTCA_FUZZ_SEED_DIR (tools/fuzz/run.sh passes that directory as the
// corpus too): seeds that hold signatures then match keys of this very
// process.

#include <cstdio>
#include <cstdlib>

#include "common/testing/fuzz_support.h"

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  if (const char* dir = std::getenv("VAULTCA_FUZZ_SEED_DIR")) {
    const int n = vaultca::fuzzing::WriteSeeds(dir);
    std::fprintf(stderr, "vaultca: wrote %d seeds to %s\n", n, dir);
  }
  return 0;
}
