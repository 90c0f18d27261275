#!/usr/bin/env python3
"""Checks that Bazel and CMake declare the same C++ targets.

Every package's BUILD.bazel and the CMakeLists.txt beside it must name the
same libraries, tests, binaries and fuzz tests; a target only one build
knows is how the two drift apart. Prints each difference and exits 1 when
there is one. Run from anywhere: tools/check_build_parity.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Folders that are not part of the build (consumers build the installed
# package, caches and outputs are not source).
SKIP_DIRS = {"build", "examples/bazel_consumer", "examples/consumer", ".git"}

BAZEL_KINDS = {
    "cc_library": "library",
    "cc_test": "test",
    "cc_binary": "binary",
    "vaultca_cc_fuzz_test": "fuzz test",
    "vaultca_cc_grpc_library": "library",
}
# Targets only one build has on purpose, with the reason.
EXCEPTIONS = {
    ("common/testing", "fuzz_seed_init"):
        "libFuzzer's seed hook; only Bazel has a libFuzzer configuration",
    ("tools/visibility", "reaches_into_ca_internal"):
        "a deliberately bad target that only Bazel's visibility test analyzes",
    ("tools/visibility", "reaches_into_x509_internal"):
        "a deliberately bad target that only Bazel's visibility test analyzes",
    ("bench/loadgen", "loadgen_lib"):
        "CMake compiles these sources into the benchmark binaries so that "
        "nothing of the benchmark joins the exported package",
}

CMAKE_KINDS = {
    "vaultca_cc_library": "library",
    "vaultca_cc_test": "test",
    "vaultca_cc_binary": "binary",
    "vaultca_cc_fuzz_test": "fuzz test",
    "vaultca_cc_grpc_library": "library",
}


def calls(text, kinds):
    """Yields (kind, body) for every call of a rule or function in kinds."""
    pattern = re.compile(r"^\s*(%s)\(" % "|".join(map(re.escape, kinds)), re.M)
    for m in pattern.finditer(text):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            i += 1
        yield kinds[m.group(1)], text[m.end():i - 1]


def strip_comments(text):
    return re.sub(r"#[^\n]*", "", text)


def bazel_targets(path):
    out = set()
    for kind, body in calls(strip_comments(open(path).read()), BAZEL_KINDS):
        m = re.search(r'\bname\s*=\s*"([^"]+)"', body)
        if m:
            out.add((m.group(1), kind))
    return out


def cmake_targets(path):
    out = set()
    for kind, body in calls(strip_comments(open(path).read()), CMAKE_KINDS):
        m = re.search(r"\bNAME\s+([A-Za-z0-9_.+-]+)", body)
        if m:
            out.add((m.group(1), kind))
    return out


def main():
    problems = []
    packages = 0
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel = os.path.relpath(dirpath, ROOT)
        dirnames[:] = sorted(d for d in dirnames
                             if not d.startswith("bazel-")
                             and os.path.normpath(os.path.join(rel, d)) not in SKIP_DIRS)
        has_bazel = "BUILD.bazel" in filenames
        has_cmake = "CMakeLists.txt" in filenames
        if not (has_bazel or has_cmake):
            continue
        bazel = bazel_targets(os.path.join(dirpath, "BUILD.bazel")) if has_bazel else set()
        cmake = cmake_targets(os.path.join(dirpath, "CMakeLists.txt")) if has_cmake else set()
        if not bazel and not cmake:
            continue
        packages += 1
        for name, kind in sorted(bazel - cmake):
            if (rel, name) in EXCEPTIONS:
                continue
            problems.append("%s: %s %s is in BUILD.bazel but not in CMakeLists.txt" % (rel, kind, name))
        for name, kind in sorted(cmake - bazel):
            if (rel, name) in EXCEPTIONS:
                continue
            problems.append("%s: %s %s is in CMakeLists.txt but not in BUILD.bazel" % (rel, kind, name))
    for p in problems:
        print(p)
    print("build parity: %d packages, %d differences" % (packages, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
