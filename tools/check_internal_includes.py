#!/usr/bin/env python3
"""Checks that no production file reaches into another folder's internal/.

A header under <folder>/internal/ belongs to <folder> and the folders below
it; everything else goes through <folder>'s public headers. Allowed anyway:
  - common/internal/, the library-wide RAII and OpenSSL error helpers;
  - tests, benchmarks and fuzzers (*_test.cc, *_benchmark.cc, anything
    under a testing/, fuzz/ or bench/ folder), which may look inside.
Prints every offending include as file:line and exits 1 when there is one.
Bazel enforces the same boundary through visibility on the internal
targets; this check also covers CMake and includes that a broad target
would let through. Run from anywhere: tools/check_internal_includes.py
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Not vaultca's source: build outputs, caches, consumers of the package.
SKIP_DIRS = {".git", "build", "examples/bazel_consumer", "examples/consumer"}
SHARED_INTERNAL = {"common"}
SOURCE_EXTENSIONS = (".cc", ".h")
INCLUDE = re.compile(r'^\s*#\s*include\s*"((?:[\w.-]+/)*?[\w.-]+)/internal/[^"]+"',
                     re.M)


def is_test_or_tool(rel):
    """Tests, benchmarks and fuzzers may include any internal header."""
    parts = rel.split("/")
    base = parts[-1]
    if base.endswith(("_test.cc", "_benchmark.cc")):
        return True
    return parts[0] == "bench" or any(p in ("testing", "fuzz") for p in parts[:-1])


def source_files():
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        rel_dir = "" if rel_dir == "." else rel_dir
        dirnames[:] = sorted(
            d for d in dirnames
            if os.path.join(rel_dir, d) not in SKIP_DIRS
            and not d.startswith("bazel-"))
        for name in sorted(filenames):
            if name.endswith(SOURCE_EXTENSIONS):
                yield os.path.join(rel_dir, name)


def violations():
    for rel in source_files():
        if is_test_or_tool(rel):
            continue
        with open(os.path.join(ROOT, rel), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            owner = m.group(1)
            if owner in SHARED_INTERNAL:
                continue
            if rel == owner or rel.startswith(owner + "/"):
                continue
            line = text.count("\n", 0, m.start()) + 1
            yield rel, line, m.group(0).strip(), owner


def main():
    found = list(violations())
    for rel, line, include, owner in found:
        print("%s:%d: %s: %s/internal/ is internal to %s/; use a public "
              "header of %s/" % (rel, line, include, owner, owner, owner))
    print("internal includes: %d violation%s" %
          (len(found), "" if len(found) == 1 else "s"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
