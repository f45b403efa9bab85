#include "storage/memory_store.hpp"

#include "storage/append_rules.hpp"

namespace opstream::storage {

void MemoryDocumentStore::Initialize(Completion done) { done(Status::Ok()); }

void MemoryDocumentStore::Load(std::string document_id, LoadCompletion done) {
  LoadedDocument loaded;
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) {
      const Document& document = it->second;
      loaded.snapshot = document.snapshot;
      auto first = document.snapshot ? document.ops.upper_bound(document.snapshot->revision) : document.ops.begin();
      loaded.ops.reserve(static_cast<size_t>(std::distance(first, document.ops.end())));
      for (; first != document.ops.end(); ++first) loaded.ops.push_back(first->second);
    }
  }
  done(Status::Ok(), std::move(loaded));
}

void MemoryDocumentStore::Append(std::string document_id, std::vector<StoredOp> ops, Completion done) {
  Status status = ValidateAppendBatch(document_id, ops);
  if (status.ok() && !ops.empty()) {
    std::lock_guard lock(mutex_);
    Document& document = documents_[document_id];
    // Check the whole batch before inserting anything: the append is all or nothing.
    for (const StoredOp& op : ops) {
      if (document.ops.contains(op.revision)) {
        status = DuplicateRevisionError(document_id, op.revision);
        break;
      }
    }
    if (status.ok()) {
      for (StoredOp& op : ops) {
        const int64_t revision = op.revision;
        document.ops.emplace(revision, std::move(op));
      }
    } else if (!document.snapshot && document.ops.empty()) {
      documents_.erase(document_id);
    }
  }
  done(std::move(status));
}

void MemoryDocumentStore::WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) {
  {
    std::lock_guard lock(mutex_);
    documents_[document_id].snapshot = std::move(snapshot);
  }
  done(Status::Ok());
}

void MemoryDocumentStore::Compact(std::string document_id, int64_t up_to, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) {
      Document& document = it->second;
      document.ops.erase(document.ops.begin(), document.ops.upper_bound(up_to));
      // Forget documents that hold nothing, so compaction of unknown ids does not leak entries.
      if (!document.snapshot && document.ops.empty()) documents_.erase(it);
    }
  }
  done(Status::Ok());
}

void MemoryDocumentStore::CheckHealth(HealthCompletion done) {
  done({HealthStatus::kDegraded, "in-memory store, data lost on restart"});
}

void MemoryDocumentStore::Flush(std::chrono::milliseconds) {}

// Placeholder until the memory store implements the management calls (server.md §3.1).
void MemoryDocumentStore::Enumerate(std::string, DocumentQuery, EnumerateCompletion done) {
  done(Status::Error("Enumerate is not implemented by the memory store yet."), {});
}

void MemoryDocumentStore::GetInfo(std::string, InfoCompletion done) {
  done(Status::Error("GetInfo is not implemented by the memory store yet."), std::nullopt);
}

void MemoryDocumentStore::Delete(std::string, Completion done) {
  done(Status::Error("Delete is not implemented by the memory store yet."));
}

void MemoryDocumentStore::DeleteByTenantPrefix(std::string, CountCompletion done) {
  done(Status::Error("DeleteByTenantPrefix is not implemented by the memory store yet."), 0);
}

}  // namespace opstream::storage
