// The main() of a fuzz target built without libFuzzer: runs
// LLVMFuzzerTestOneInput over
//   1. the target's generated seeds (fuzz_target.h Seeds()),
//   2. deterministic mutations of them (fixed PRNG seed, so a failure
//      reproduces on every run), and
//   3. every file named on the command line or in VAULTCA_FUZZ_CORPUS
//      (':'-separated; directories are read one level deep).
// A finding aborts the process, so the test fails with the sanitizer's
// report. Options:
//   --write_seeds=DIR        write the seeds to DIR and exit
//   VAULTCA_FUZZ_MUTATIONS   mutations per seed (default 24)

#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "common/testing/fuzz_support.h"
#include "common/testing/fuzz_target.h"

namespace vaultca {
namespace fuzzing {
namespace {

void Run(const std::string& input) {
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()),
                         input.size());
}

// Applies one to four libFuzzer-like edits, picked by `rng`.
std::string Mutate(const std::string& seed, const std::vector<std::string>& all,
                   std::mt19937_64& rng) {
  std::string s = seed;
  auto pick = [&rng](size_t n) -> size_t {
    return n == 0 ? 0 : static_cast<size_t>(rng() % n);
  };
  const int edits = 1 + static_cast<int>(pick(4));
  for (int e = 0; e < edits; ++e) {
    switch (pick(7)) {
      case 0:  // Truncate: parsers must not read past a short input.
        s.resize(pick(s.size() + 1));
        break;
      case 1:  // Flip one bit.
        if (!s.empty()) s[pick(s.size())] ^= static_cast<char>(1 << pick(8));
        break;
      case 2: {  // Boundary byte values, where length fields live.
        static constexpr char kInteresting[] = {0, 1, 0x7f, '\x80', '\xff'};
        if (!s.empty()) s[pick(s.size())] = kInteresting[pick(5)];
        break;
      }
      case 3:  // Insert random bytes.
        s.insert(pick(s.size() + 1), std::string(1 + pick(8), 0));
        break;
      case 4:  // Delete a range.
        if (!s.empty()) {
          const size_t at = pick(s.size());
          s.erase(at, 1 + pick(s.size() - at));
        }
        break;
      case 5:  // Duplicate a range (repeated elements, nesting).
        if (!s.empty()) {
          const size_t at = pick(s.size());
          const size_t n = 1 + pick(std::min<size_t>(64, s.size() - at));
          s.insert(at, s.substr(at, n));
        }
        break;
      case 6: {  // Splice with another seed.
        const std::string& other = all[pick(all.size())];
        s = s.substr(0, pick(s.size() + 1)) + other.substr(pick(other.size() + 1));
        break;
      }
    }
  }
  return s;
}

bool ReadFile(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  *out = buffer.str();
  return true;
}

// Appends the regular files of `path` (or `path` itself) to `files`.
bool CollectFiles(const std::string& path, std::vector<std::string>* files) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return false;
  if (!S_ISDIR(st.st_mode)) {
    files->push_back(path);
    return true;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return false;
  while (dirent* entry = readdir(dir)) {
    const std::string child = path + "/" + entry->d_name;
    if (stat(child.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      files->push_back(child);
    }
  }
  closedir(dir);
  return true;
}

int Main(int argc, char** argv) {
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (absl::StartsWith(arg, "--write_seeds=")) {
      const int n = WriteSeeds(arg.substr(sizeof("--write_seeds=") - 1));
      std::printf("wrote %d seeds\n", n);
      return 0;
    }
    corpus.push_back(arg);
  }
  if (const char* env = std::getenv("VAULTCA_FUZZ_CORPUS")) {
    for (absl::string_view p : absl::StrSplit(env, ':', absl::SkipEmpty())) {
      corpus.emplace_back(p);
    }
  }
  int mutations_per_seed = 24;
  if (const char* env = std::getenv("VAULTCA_FUZZ_MUTATIONS")) {
    if (!absl::SimpleAtoi(env, &mutations_per_seed)) {
      std::fprintf(stderr, "bad VAULTCA_FUZZ_MUTATIONS\n");
      return 2;
    }
  }

  const std::vector<std::string> seeds = Seeds();
  if (seeds.empty()) {
    std::fprintf(stderr, "the target has no seeds\n");
    return 1;
  }
  for (const std::string& seed : seeds) Run(seed);

  int mutated = 0;
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::mt19937_64 rng(0x7661756c74636100ULL + i);  // "vaultca", per seed.
    for (int m = 0; m < mutations_per_seed; ++m, ++mutated) {
      Run(Mutate(seeds[i], seeds, rng));
    }
  }

  std::vector<std::string> files;
  for (const std::string& path : corpus) {
    if (!CollectFiles(path, &files)) {
      std::fprintf(stderr, "corpus path %s not found\n", path.c_str());
      return 1;
    }
  }
  for (const std::string& file : files) {
    std::string input;
    if (!ReadFile(file, &input)) {
      std::fprintf(stderr, "cannot read %s\n", file.c_str());
      return 1;
    }
    Run(input);
  }
  std::printf("%s: ran %zu seeds, %d mutations, %zu corpus files\n", argv[0],
              seeds.size(), mutated, files.size());
  return 0;
}

}  // namespace
}  // namespace fuzzing
}  // namespace vaultca

int main(int argc, char** argv) { return vaultca::fuzzing::Main(argc, argv); }
