#ifndef VAULTCA_CA_REGISTRY_SOURCE_OPTIONS_H_
#define VAULTCA_CA_REGISTRY_SOURCE_OPTIONS_H_

#include <any>
#include <map>

namespace vaultca {
namespace ca {

// The options of every CA source, each under its own type (the options
// struct its factory declares), so a server configuration holds them
// without knowing them. A type never set reads as its default-constructed
// value: the struct's member initialisers are the documented defaults.
// Copyable; not thread-safe (configuration is built before it is shared).
class CaSourceOptions {
 public:
  // The options of type T, default-constructed on first use.
  template <typename T>
  T& Mutable() {
    std::any& slot = slots_[Key<T>()];
    if (!slot.has_value()) slot = T{};
    return *std::any_cast<T>(&slot);
  }

  // The options of type T, or T's defaults when never set.
  template <typename T>
  const T& Get() const {
    auto it = slots_.find(Key<T>());
    if (it != slots_.end()) return *std::any_cast<T>(&it->second);
    static const T* const kDefaults = new T();
    return *kDefaults;
  }

 private:
  // One address per type, so no RTTI is needed.
  template <typename T>
  static const void* Key() {
    static const char key = 0;
    return &key;
  }

  std::map<const void*, std::any> slots_;
};

}  // namespace ca
}  // namespace vaultca

#endif  // VAULTCA_CA_REGISTRY_SOURCE_OPTIONS_H_
