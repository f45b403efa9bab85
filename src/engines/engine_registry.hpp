#pragma once
// Engines available to joins, matched case-insensitively by document type (wire-protocol §2.3).
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engines/engine.hpp"

namespace opstream::engines {

class EngineRegistry {
 public:
  // Registers `engine` under its document type and any extra aliases (e.g. "richtext").
  void Register(std::shared_ptr<const Engine> engine, std::vector<std::string> aliases = {});
  // Null when no engine is registered under `document_type` (ASCII case-insensitive).
  const Engine* Find(std::string_view document_type) const;
  // Registered document types in registration order, for the startup report.
  std::vector<std::string> DocumentTypes() const;

 private:
  struct Entry {
    std::string name_lower;
    std::shared_ptr<const Engine> engine;
    bool is_alias;
  };
  std::vector<Entry> entries_;
};

}  // namespace opstream::engines
