#ifndef VAULTCA_CA_REGISTRY_BUILTIN_CA_SOURCES_H_
#define VAULTCA_CA_REGISTRY_BUILTIN_CA_SOURCES_H_

#include "ca/registry/ca_source_registry.h"

namespace vaultca {
namespace ca {

// The registry vaultca-server configures its CA from, holding the sources
// listed in builtin_ca_sources.cc: self-signed, files, vault and
// vault-pki. A program (or test) may Register more before it reads its
// configuration.
CaSourceRegistry& DefaultCaSources();

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_REGISTRY_BUILTIN_CA_SOURCES_H_
