#include "ca/registry/builtin_ca_sources.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "ca/sources/files/files_factory.h"
#include "ca/sources/self_signed/self_signed_factory.h"
#include "ca/sources/vault_kv/vault_kv_factory.h"
#include "ca/vault_pki/vault_pki_factory.h"

namespace vaultca {
namespace ca {
namespace {

// A duplicate among the built-in names is a programming error.
template <typename Factory>
void Add(CaSourceRegistry& registry) {
  absl::Status status = registry.Register(std::make_unique<Factory>());
  if (!status.ok()) {
    std::fprintf(stderr, "vaultca: %s\n", status.ToString().c_str());
    std::abort();
  }
}

// One line per source, in the order the sample configuration documents
// their blocks. An explicit list rather than static registration objects,
// which a static library drops unless every one is force-linked.
void RegisterBuiltins(CaSourceRegistry& registry) {
  Add<SelfSignedSourceFactory>(registry);
  Add<FilesSourceFactory>(registry);
  Add<VaultKvSourceFactory>(registry);
  Add<VaultPkiFactory>(registry);
}

}  // namespace

CaSourceRegistry& DefaultCaSources() {
  static CaSourceRegistry* const registry = [] {
    auto* r = new CaSourceRegistry();
    RegisterBuiltins(*r);
    return r;
  }();
  return *registry;
}

}  // namespace ca
}  // namespace vaultca
