"""vaultca_cc_fuzz_test: one fuzz target, two builds.

    vaultca_cc_fuzz_test(name = "csr_fuzzer", srcs = ["csr_fuzzer.cc"], deps = [...])

`srcs` define LLVMFuzzerTestOneInput and vaultca::fuzzing::Seeds() (see
common/testing/fuzz_target.h). The target is a cc_test:
  - by default (and under asan/tsan) it links common/testing's corpus
    driver, so `bazel test` runs it over its generated seeds, mutations of
    them and any corpus files given as arguments;
  - under `--config=fuzz` it links libFuzzer's main instead, so
    bazel-bin/<pkg>/<name> is a real fuzzer (tools/fuzz/run.sh runs it);
    `bazel test --config=fuzz` then fuzzes each target for a few seconds.
"""

def vaultca_cc_fuzz_test(name, srcs, deps = [], tags = [], **kwargs):
    native.cc_test(
        name = name,
        srcs = srcs,
        deps = deps + ["//common/testing:fuzz_target"] + select({
            "//bazel:fuzzing": ["//common/testing:fuzz_seed_init"],
            "//conditions:default": ["//common/testing:fuzz_corpus_main"],
        }),
        linkopts = select({
            "//bazel:fuzzing": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
        args = select({
            "//bazel:fuzzing": ["-max_total_time=10"],
            "//conditions:default": [],
        }),
        tags = tags + ["fuzz_target"],
        **kwargs
    )
