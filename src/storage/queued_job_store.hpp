#pragma once
// A persistent store whose hot-path calls (Initialize, Load, Append, WriteSnapshot, Compact)
// become the shared jobs of store_jobs.hpp on the provider's own queue: sqlite, postgres, mysql
// and sqlserver. The provider says how a job is queued; what its worker does with it stays there.
#include <utility>

#include "storage/persistent_store.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage {

class QueuedJobStore : public PersistentStore {
 public:
  void Initialize(Completion done) final { EnqueueJob(jobs::InitializeJob{std::move(done)}); }
  void Load(std::string document_id, LoadCompletion done) final {
    EnqueueJob(jobs::LoadJob{std::move(document_id), std::move(done)});
  }
  void Append(std::string document_id, std::vector<StoredOp> ops, Completion done) final {
    EnqueueJob(jobs::AppendJob{std::move(document_id), std::move(ops), std::move(done)});
  }
  void WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) final {
    EnqueueJob(jobs::SnapshotJob{std::move(document_id), std::move(snapshot), std::move(done)});
  }
  void Compact(std::string document_id, int64_t up_to, Completion done) final {
    EnqueueJob(jobs::CompactJob{std::move(document_id), up_to, std::move(done)});
  }

 protected:
  // Queues `job` behind the calls made before it (never a ProbeJob: CheckHealth is the provider's).
  virtual void EnqueueJob(jobs::Job job) = 0;
};

}  // namespace opstream::storage
