#pragma once
// The cold history store (server.md §3.1 "History store", §2.11): every accepted op and named or
// automatic history snapshots, kept after the hot log is compacted. The image never writes it;
// versioning (§6) and the management purge/delete commands read and prune it.
//
// Same calling conventions as DocumentStore: every call returns at once and runs its completion
// exactly once, on a thread of the store's choosing. Method names carry "History" so that one
// provider object can implement DocumentStore and HistoryStore without the two Delete calls
// colliding.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "storage/document_store.hpp"

namespace opstream::storage {

// A history snapshot as listed by GetMilestones (§2.11): name is null for automatic snapshots,
// `tag/{tag}` for versions, `merge/{sourceBranchId}` for merges.
struct HistoryMilestone {
  int64_t revision = 0;
  Timestamp timestamp;
  std::optional<std::string> name;
};

class HistoryStore {
 public:
  using Completion = std::function<void(Status)>;
  using SnapshotCompletion = std::function<void(Status, std::optional<Snapshot>)>;
  using OpsCompletion = std::function<void(Status, std::vector<StoredOp>)>;
  using MilestonesCompletion = std::function<void(Status, std::vector<HistoryMilestone>)>;
  using CountCompletion = std::function<void(Status, int64_t)>;

  virtual ~HistoryStore() = default;

  // The history snapshot with the greatest revision <= max_revision, or none.
  virtual void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) = 0;
  // History ops with since < revision <= up_to, ascending.
  virtual void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) = 0;
  // Every history snapshot of the document, revision descending.
  virtual void GetMilestones(std::string document_id, MilestonesCompletion done) = 0;
  // Inserts (never replaces): a second snapshot at the same (document, revision) is refused.
  virtual void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,
                                    Completion done) = 0;
  // Inserts one op; an existing (document, revision) is refused.
  virtual void AppendHistoryOp(std::string document_id, StoredOp op, Completion done) = 0;
  // Removes every history op and history snapshot of the document.
  virtual void DeleteHistory(std::string document_id, Completion done) = 0;
  // Removes history ops and history snapshots with revision <= up_to.
  virtual void PurgeHistoryUpTo(std::string document_id, int64_t up_to, Completion done) = 0;
  // DeleteHistory for every document whose id starts with `prefix` (empty = all); reports the
  // number of distinct documents removed.
  virtual void DeleteHistoryByTenantPrefix(std::string prefix, CountCompletion done) = 0;
  // No reference provider supports it (§3.1); callers ignore the failure.
  virtual void DeleteMilestone(std::string document_id, std::string name, Completion done) {
    (void)document_id;
    (void)name;
    done(Status::Error("Deleting a history milestone is not supported."));
  }
};

// The overrides of every HistoryStore call, declared by one list for the classes that implement
// them all (the memory store and each persistent provider).
#define OPSTREAM_HISTORY_STORE_OVERRIDES                                                                     \
  void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) override; \
  void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) override; \
  void GetMilestones(std::string document_id, MilestonesCompletion done) override;                           \
  void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,     \
                            HistoryStore::Completion done) override;                                         \
  void AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) override;        \
  void DeleteHistory(std::string document_id, HistoryStore::Completion done) override;                       \
  void PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) override;     \
  void DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) override

}  // namespace opstream::storage
