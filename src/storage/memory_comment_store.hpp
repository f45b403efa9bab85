#pragma once
// The in-process comment store (server.md §3.2, §7.2): what the image uses for every provider, and
// the reference implementation of CommentStore.
//
// Thread-safe. Completions run inline on the caller's thread, after the lock is released.
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "storage/comment_store.hpp"

namespace opstream::storage {

class MemoryCommentStore final : public CommentStore {
 public:
  OPSTREAM_COMMENT_STORE_OVERRIDES;

 private:
  void EraseLocked(const std::string& comment_id);

  std::mutex mutex_;
  std::unordered_map<std::string, Comment> comments_;
  // Indexes, so a document's listing and a root's replies do not scan every comment.
  std::unordered_map<std::string, std::set<std::string>> by_document_;
  std::unordered_map<std::string, std::set<std::string>> replies_;  // parent id -> reply ids
};

}  // namespace opstream::storage
