#include "x509/key_type.h"

namespace vaultca {
namespace x509 {

absl::string_view KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kRsa:
      return "RSA";
    case KeyType::kEcP256:
      return "EC P-256";
    case KeyType::kEcP384:
      return "EC P-384";
    case KeyType::kEd25519:
      return "Ed25519";
  }
  return "unknown";
}

}  // namespace x509
}  // namespace vaultca
