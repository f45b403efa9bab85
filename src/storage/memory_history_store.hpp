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
  void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) override;
  void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) override;
  void GetMilestones(std::string document_id, MilestonesCompletion done) override;
  void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,
                            Completion done) override;
  void AppendHistoryOp(std::string document_id, StoredOp op, Completion done) override;
  void DeleteHistory(std::string document_id, Completion done) override;
  void PurgeHistoryUpTo(std::string document_id, int64_t up_to, Completion done) override;
  void DeleteHistoryByTenantPrefix(std::string prefix, CountCompletion done) override;

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
