#pragma once
// The in-process history store (server.md §3.3): the reference implementation of HistoryStore.
//
// Deliberate deviation from the reference: a second history snapshot or history op at the same
// (document, revision) is refused, as the relational primary keys do, so every provider behaves
// alike (the reference's memory store keeps a list and allows duplicates).
//
// Thread-safe. Completions run inline on the caller's thread, after the lock is released.
#include <map>
#include <mutex>
#include <string>

#include "storage/history_store.hpp"

namespace opstream::storage {

class MemoryHistoryStore final : public HistoryStore {
 public:
  OPSTREAM_HISTORY_STORE_OVERRIDES;

 private:
  struct NamedSnapshot {
    Snapshot snapshot;
    std::optional<std::string> name;
  };
  struct Document {
    std::map<int64_t, StoredOp> ops;
    std::map<int64_t, NamedSnapshot> snapshots;
  };

  std::mutex mutex_;
  std::map<std::string, Document, std::less<>> documents_;  // ordered, for prefix ranges
};

}  // namespace opstream::storage
