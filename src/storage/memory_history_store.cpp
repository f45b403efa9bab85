#include "storage/memory_history_store.hpp"

#include "storage/store_rules.hpp"

namespace opstream::storage {

void MemoryHistoryStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  std::optional<Snapshot> found;
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) {
      auto& snapshots = it->second.snapshots;
      if (auto at = snapshots.upper_bound(max_revision); at != snapshots.begin())
        found = std::prev(at)->second.snapshot;
    }
  }
  done(Status::Ok(), std::move(found));
}

void MemoryHistoryStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  std::vector<StoredOp> ops;
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end() && since < up_to) {
      const auto& all = it->second.ops;
      for (auto op = all.upper_bound(since); op != all.end() && op->first <= up_to; ++op) ops.push_back(op->second);
    }
  }
  done(Status::Ok(), std::move(ops));
}

void MemoryHistoryStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  std::vector<HistoryMilestone> milestones;
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) {
      for (auto s = it->second.snapshots.rbegin(); s != it->second.snapshots.rend(); ++s) {
        milestones.push_back({s->first, s->second.snapshot.timestamp, s->second.name});
      }
    }
  }
  done(Status::Ok(), std::move(milestones));
}

void MemoryHistoryStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                              std::optional<std::string> name, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    auto& snapshots = documents_[document_id].snapshots;
    const int64_t revision = snapshot.revision;
    if (!snapshots.try_emplace(revision, NamedSnapshot{std::move(snapshot), std::move(name)}).second) {
      status = HistorySnapshotExistsError(document_id, revision);
    }
  }
  done(std::move(status));
}

void MemoryHistoryStore::AppendHistoryOp(std::string document_id, StoredOp op, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    auto& ops = documents_[document_id].ops;
    const int64_t revision = op.revision;
    if (!ops.try_emplace(revision, std::move(op)).second) status = HistoryOpExistsError(document_id, revision);
  }
  done(std::move(status));
}

void MemoryHistoryStore::DeleteHistory(std::string document_id, Completion done) {
  {
    std::lock_guard lock(mutex_);
    documents_.erase(document_id);
  }
  done(Status::Ok());
}

void MemoryHistoryStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) {
      Document& document = it->second;
      document.ops.erase(document.ops.begin(), document.ops.upper_bound(up_to));
      document.snapshots.erase(document.snapshots.begin(), document.snapshots.upper_bound(up_to));
      if (document.ops.empty() && document.snapshots.empty()) documents_.erase(it);
    }
  }
  done(Status::Ok());
}

void MemoryHistoryStore::DeleteHistoryByTenantPrefix(std::string prefix, CountCompletion done) {
  int64_t removed = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = documents_.lower_bound(prefix);
    while (it != documents_.end() && it->first.starts_with(prefix)) {
      if (!it->second.ops.empty() || !it->second.snapshots.empty()) ++removed;
      it = documents_.erase(it);
    }
  }
  done(Status::Ok(), removed);
}

}  // namespace opstream::storage
