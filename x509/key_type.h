#ifndef VAULTCA_X509_KEY_TYPE_H_
#define VAULTCA_X509_KEY_TYPE_H_

#include "absl/strings/string_view.h"

namespace vaultca {
namespace x509 {

// The algorithm of a CA or workload key.
enum class KeyType { kRsa, kEcP256, kEcP384, kEd25519 };

// Returns "RSA", "EC P-256", "EC P-384" or "Ed25519".
absl::string_view KeyTypeName(KeyType type);

}  // namespace x509
}  // namespace vaultca

#endif  // VAULTCA_X509_KEY_TYPE_H_
