#include "storage/memory_store.hpp"

#include <algorithm>

#include "storage/append_rules.hpp"
#include "storage/store_rules.hpp"

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

namespace {

std::optional<DocumentInfo> InfoOf(const std::string& document_id, const auto& document) {
  if (!document.snapshot && document.ops.empty()) return std::nullopt;
  DocumentInfo info;
  info.document_id = document_id;
  info.op_count = static_cast<int64_t>(document.ops.size());
  bool first = true;
  if (document.snapshot) {
    info.revision = document.snapshot->revision;
    info.last_modified = document.snapshot->timestamp;
    first = false;
  }
  if (!document.ops.empty()) {
    // The op with the highest revision stands for "max op" (§3.3: the last appended op).
    const StoredOp& last = document.ops.rbegin()->second;
    info.revision = first ? last.revision : std::max(info.revision, last.revision);
    info.last_modified = first ? last.timestamp : std::max(info.last_modified, last.timestamp);
  }
  return info;
}

}  // namespace

void MemoryDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  std::vector<DocumentInfo> documents;
  {
    std::lock_guard lock(mutex_);
    for (auto it = documents_.lower_bound(prefix); it != documents_.end() && it->first.starts_with(prefix); ++it) {
      if (auto info = InfoOf(it->first, it->second)) documents.push_back(std::move(*info));
    }
  }
  ApplyPaging(documents, query);
  done(Status::Ok(), std::move(documents));
}

void MemoryDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  std::optional<DocumentInfo> info;
  {
    std::lock_guard lock(mutex_);
    if (auto it = documents_.find(document_id); it != documents_.end()) info = InfoOf(it->first, it->second);
  }
  done(Status::Ok(), std::move(info));
}

void MemoryDocumentStore::Delete(std::string document_id, Completion done) {
  {
    std::lock_guard lock(mutex_);
    documents_.erase(document_id);
  }
  done(Status::Ok());
}

void MemoryDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  int64_t removed = 0;
  {
    std::lock_guard lock(mutex_);
    auto it = documents_.lower_bound(prefix);
    while (it != documents_.end() && it->first.starts_with(prefix)) {
      if (it->second.snapshot || !it->second.ops.empty()) ++removed;
      it = documents_.erase(it);
    }
  }
  done(Status::Ok(), removed);
}

}  // namespace opstream::storage
