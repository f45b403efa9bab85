#include "storage/memory_comment_store.hpp"

#include <algorithm>

#include "storage/store_rules.hpp"

namespace opstream::storage {

void MemoryCommentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  std::vector<Comment> comments;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_document_.find(document_id); it != by_document_.end()) {
      comments.reserve(it->second.size());
      for (const std::string& id : it->second) comments.push_back(comments_.at(id));
    }
  }
  std::sort(comments.begin(), comments.end(), [](const Comment& a, const Comment& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  done(Status::Ok(), std::move(comments));
}

void MemoryCommentStore::GetComment(std::string comment_id, CommentCompletion done) {
  std::optional<Comment> found;
  {
    std::lock_guard lock(mutex_);
    if (auto it = comments_.find(comment_id); it != comments_.end()) found = it->second;
  }
  done(Status::Ok(), std::move(found));
}

void MemoryCommentStore::AddComment(Comment comment, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    if (comments_.contains(comment.id)) {
      status = CommentExistsError(comment.id);
    } else {
      by_document_[comment.document_id].insert(comment.id);
      if (comment.parent_comment_id) replies_[*comment.parent_comment_id].insert(comment.id);
      const std::string id = comment.id;
      comments_.emplace(id, std::move(comment));
    }
  }
  done(std::move(status));
}

void MemoryCommentStore::UpdateComment(Comment comment, Completion done) {
  Status status;
  {
    std::lock_guard lock(mutex_);
    if (auto it = comments_.find(comment.id); it == comments_.end()) {
      status = CommentNotFoundError(comment.id);
    } else {
      Comment& stored = it->second;
      stored.body = std::move(comment.body);
      stored.anchor_json = std::move(comment.anchor_json);
      stored.anchored_at_revision = comment.anchored_at_revision;
      stored.resolved_at = comment.resolved_at;
      stored.resolved_by_peer_id = std::move(comment.resolved_by_peer_id);
      stored.is_orphaned = comment.is_orphaned;
    }
  }
  done(std::move(status));
}

void MemoryCommentStore::EraseLocked(const std::string& comment_id) {
  auto it = comments_.find(comment_id);
  if (it == comments_.end()) return;
  if (auto doc = by_document_.find(it->second.document_id); doc != by_document_.end()) {
    doc->second.erase(comment_id);
    if (doc->second.empty()) by_document_.erase(doc);
  }
  if (it->second.parent_comment_id) {
    if (auto parent = replies_.find(*it->second.parent_comment_id); parent != replies_.end()) {
      parent->second.erase(comment_id);
      if (parent->second.empty()) replies_.erase(parent);
    }
  }
  comments_.erase(it);
}

void MemoryCommentStore::DeleteComment(std::string comment_id, Completion done) {
  {
    std::lock_guard lock(mutex_);
    if (auto it = comments_.find(comment_id); it != comments_.end()) {
      const bool root = !it->second.parent_comment_id;
      EraseLocked(comment_id);
      if (root) {
        if (auto replies = replies_.find(comment_id); replies != replies_.end()) {
          const std::set<std::string> ids = std::move(replies->second);
          replies_.erase(replies);
          for (const std::string& id : ids) EraseLocked(id);
        }
      }
    }
  }
  done(Status::Ok());
}

void MemoryCommentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                       Completion done) {
  {
    std::lock_guard lock(mutex_);
    for (AnchorUpdate& update : updates) {
      auto it = comments_.find(update.comment_id);
      if (it == comments_.end() || it->second.document_id != document_id) continue;
      Comment& comment = it->second;
      comment.anchor_json = std::move(update.anchor_json);
      comment.anchored_at_revision = revision;
      comment.is_orphaned = comment.is_orphaned || update.outcome == AnchorOutcome::kOrphaned;
    }
  }
  done(Status::Ok());
}

void MemoryCommentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  std::optional<int64_t> minimum;
  {
    std::lock_guard lock(mutex_);
    if (auto it = by_document_.find(document_id); it != by_document_.end()) {
      for (const std::string& id : it->second) {
        const Comment& comment = comments_.at(id);
        if (comment.parent_comment_id || comment.resolved_at || !comment.anchor_json) continue;
        if (!minimum || comment.anchored_at_revision < *minimum) minimum = comment.anchored_at_revision;
      }
    }
  }
  done(Status::Ok(), minimum);
}

}  // namespace opstream::storage
