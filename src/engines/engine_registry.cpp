#include "engines/engine_registry.hpp"

#include <algorithm>

#include "common/text.hpp"

namespace opstream::engines {

void EngineRegistry::Register(std::shared_ptr<const Engine> engine, std::vector<std::string> aliases) {
  const std::string name = AsciiLower(engine->document_type());
  if (Find(name) != nullptr) return;  // duplicate configuration entries collapse (SV-30)
  entries_.push_back({name, engine, false});
  for (auto& alias : aliases) {
    if (Find(alias) == nullptr) entries_.push_back({AsciiLower(alias), engine, true});
  }
}

const Engine* EngineRegistry::Find(std::string_view document_type) const {
  for (const auto& e : entries_) {
    if (AsciiIEquals(e.name_lower, document_type)) return e.engine.get();
  }
  return nullptr;
}

std::vector<std::string> EngineRegistry::DocumentTypes() const {
  std::vector<std::string> types;
  for (const auto& e : entries_) {
    if (!e.is_alias) types.emplace_back(e.engine->document_type());
  }
  return types;
}

}  // namespace opstream::engines
