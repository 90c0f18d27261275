#include "ca/registry/ca_source_registry.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace vaultca {
namespace ca {
namespace {

bool AnswersTo(const CaSourceFactory& factory, absl::string_view name) {
  if (absl::EqualsIgnoreCase(factory.name(), name)) return true;
  for (const std::string& alias : factory.aliases()) {
    if (absl::EqualsIgnoreCase(alias, name)) return true;
  }
  return false;
}

}  // namespace

absl::Status CaSourceRegistry::Register(
    std::unique_ptr<CaSourceFactory> factory) {
  if (factory == nullptr || factory->name().empty() ||
      factory->config_key().empty()) {
    return absl::InvalidArgumentError(
        "a CA source factory needs a name and a config key");
  }
  MutexLock lock(&mu_);
  std::vector<std::string> names = factory->aliases();
  names.emplace_back(factory->name());
  for (const auto& existing : factories_) {
    for (const std::string& name : names) {
      if (AnswersTo(*existing, name)) {
        return absl::AlreadyExistsError(
            absl::StrCat("CA source '", name, "' is already registered"));
      }
    }
    if (existing->config_key() == factory->config_key()) {
      return absl::AlreadyExistsError(
          absl::StrCat("CA source config block ca.", factory->config_key(),
                       " already belongs to ", existing->name()));
    }
  }
  factories_.push_back(std::move(factory));
  return absl::OkStatus();
}

const CaSourceFactory* CaSourceRegistry::Find(absl::string_view name) const {
  MutexLock lock(&mu_);
  for (const auto& factory : factories_) {
    if (AnswersTo(*factory, name)) return factory.get();
  }
  return nullptr;
}

absl::StatusOr<const CaSourceFactory*> CaSourceRegistry::Lookup(
    absl::string_view what, absl::string_view name) const {
  if (const CaSourceFactory* factory = Find(name)) return factory;
  std::vector<std::string> names;
  for (const CaSourceFactory* factory : factories()) {
    names.emplace_back(factory->name());
  }
  std::string expected = "a registered CA source (none is registered)";
  if (names.size() == 1) {
    expected = names.front();
  } else if (names.size() > 1) {
    const std::string last = names.back();
    names.pop_back();
    expected = absl::StrCat(absl::StrJoin(names, ", "), " or ", last);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(what, "='", name, "' is invalid: expected ", expected));
}

std::vector<const CaSourceFactory*> CaSourceRegistry::factories() const {
  MutexLock lock(&mu_);
  std::vector<const CaSourceFactory*> out;
  out.reserve(factories_.size());
  for (const auto& factory : factories_) out.push_back(factory.get());
  return out;
}

}  // namespace ca
}  // namespace vaultca
