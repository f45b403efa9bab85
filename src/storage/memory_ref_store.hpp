#pragma once
// The in-process versioning ref store (server.md §3.2, §6): what the image uses for every
// provider, and the reference implementation of RefStore.
//
// Deliberate deviation from the reference: creating an existing name is refused (the reference's
// memory store overwrites it while the SQL stores fail with a key violation), so every provider
// behaves alike.
//
// Thread-safe. Completions run inline on the caller's thread, after the lock is released.
#include <map>
#include <mutex>
#include <string>
#include <tuple>

#include "storage/ref_store.hpp"

namespace opstream::storage {

class MemoryRefStore final : public RefStore {
 public:
  std::string_view ref_store_type_name() const override { return "InMemoryDocumentRefStore"; }

  OPSTREAM_REF_STORE_OVERRIDES;

 private:
  using BranchKey = std::pair<std::string, std::string>;
  using VersionKey = std::tuple<std::string, std::string, std::string>;

  std::mutex mutex_;
  std::map<std::string, DocumentName> names_;
  std::map<BranchKey, DocumentBranch> branches_;
  std::map<VersionKey, DocumentVersion> versions_;
};

}  // namespace opstream::storage
