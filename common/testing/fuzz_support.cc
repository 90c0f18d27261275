#include "common/testing/fuzz_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/testing/fuzz_target.h"

namespace vaultca {
namespace fuzzing {
namespace {

bool ReadWholeFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

// Removes the scratch directory at exit; its files are few and flat.
struct ScratchDirOwner {
  std::string path;
  std::vector<std::string> files;
  ~ScratchDirOwner() {
    for (const std::string& f : files) unlink(f.c_str());
    if (!path.empty()) rmdir(path.c_str());
  }
};

// Created at first use; its destructor runs at normal exit. libFuzzer's
// crash exits leave it behind, which is what one wants with a finding.
ScratchDirOwner& Scratch() {
  static ScratchDirOwner owner;
  static const bool created = [] {
    const char* base = std::getenv("TEST_TMPDIR");
    std::string tmpl =
        absl::StrCat(base != nullptr ? base : "/tmp", "/vaultca-fuzz-XXXXXX");
    if (mkdtemp(tmpl.data()) == nullptr) Fail("cannot create scratch dir");
    owner.path = tmpl;
    return true;
  }();
  (void)created;
  return owner;
}

}  // namespace

void Fail(absl::string_view what) {
  std::fprintf(stderr, "fuzz invariant broken: %.*s\n",
               static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
}

std::string SourceFile(absl::string_view path) {
  std::vector<std::string> candidates;
  if (const char* srcdir = std::getenv("TEST_SRCDIR")) {
    const char* ws = std::getenv("TEST_WORKSPACE");
    candidates.push_back(
        absl::StrCat(srcdir, "/", ws != nullptr ? ws : "vaultca", "/", path));
  }
  if (const char* root = std::getenv("VAULTCA_SOURCE_DIR")) {
    candidates.push_back(absl::StrCat(root, "/", path));
  }
  std::string content;
  for (const std::string& candidate : candidates) {
    if (ReadWholeFile(candidate, &content)) return content;
  }
  Fail(absl::StrCat("source file ", path,
                    " not found (set VAULTCA_SOURCE_DIR to the checkout)"));
}

const std::string& ScratchDir() { return Scratch().path; }

void WriteFile(const std::string& dir, const std::string& name,
               absl::string_view content) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  if (!out) Fail(absl::StrCat("cannot write ", path));
  if (dir == Scratch().path) Scratch().files.push_back(path);
}

int WriteSeeds(const std::string& dir) {
  mkdir(dir.c_str(), 0755);  // Fine when it exists; WriteFile checks.
  const std::vector<std::string> seeds = Seeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    WriteFile(dir, absl::StrFormat("seed-%03d", i), seeds[i]);
  }
  return static_cast<int>(seeds.size());
}

}  // namespace fuzzing
}  // namespace vaultca
