#pragma once
// The in-process document store (server.md §3.3): the reference implementation of the
// DocumentStore contract and the default provider.
//
// What it does not do: nothing survives a restart, nothing is shared between nodes (behind a
// Redis backplane every node has its own private data, §12 SV-38), and memory grows with the
// op log until the snapshot policy compacts it.
//
// Deliberate deviation from the reference: Append refuses a revision that already exists (the
// reference's memory store does not check), so the one-writer invariant holds for every provider.
//
// Thread-safe. Completions run inline on the caller's thread, after the store's lock is released,
// so a completion may call back into the store.
#include <map>
#include <mutex>
#include <string>

#include "storage/document_store.hpp"
#include "storage/memory_comment_store.hpp"
#include "storage/memory_history_store.hpp"
#include "storage/memory_ref_store.hpp"

namespace opstream::storage {

class MemoryDocumentStore final : public DocumentStore {
 public:
  std::string_view provider() const override { return "memory"; }
  std::string_view type_name() const override { return "MemoryDocumentStore"; }

  OPSTREAM_DOCUMENT_STORE_OVERRIDES;
  HistoryStore* history_store() override { return &history_; }
  CommentStore* comment_store() override { return &comments_; }
  RefStore* ref_store() override { return &refs_; }

 private:
  struct Document {
    std::optional<Snapshot> snapshot;
    std::map<int64_t, StoredOp> ops;  // by revision, so loads come out ascending
  };

  std::mutex mutex_;
  std::map<std::string, Document, std::less<>> documents_;  // ordered, for Enumerate and prefix deletes
  MemoryHistoryStore history_;
  MemoryCommentStore comments_;
  MemoryRefStore refs_;
};

}  // namespace opstream::storage
