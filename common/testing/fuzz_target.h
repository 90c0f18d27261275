#ifndef VAULTCA_COMMON_TESTING_FUZZ_TARGET_H_
#define VAULTCA_COMMON_TESTING_FUZZ_TARGET_H_

// The two functions every vaultca fuzz target defines. The same target
// file links either against libFuzzer (bazel --config=fuzz), which calls
// LLVMFuzzerTestOneInput with mutated inputs, or against
// fuzz_corpus_main.cc, which runs it over its seeds, deterministic
// mutations of them and any corpus files as an ordinary test.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Runs one input. Crashes (sanitizer reports, aborts) are the findings;
// the return value is always 0.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace vaultca {
namespace fuzzing {

// Returns the target's seed inputs, generated in memory (valid and nearly
// valid messages built from test PKI at run time, never checked-in blobs)
// followed by the inputs of past findings. Called once per process.
std::vector<std::string> Seeds();

}  // namespace fuzzing
}  // namespace vaultca

#endif  // VAULTCA_COMMON_TESTING_FUZZ_TARGET_H_
