#pragma once
// The comment store (server.md §3.1 "Comment store", §7). The store keeps the anchor as the
// OS-JSON text the comments layer gives it (`{"kind":"text","data":{...}}`) and never looks
// inside, except that persistent providers read anchor text that is not a JSON object as "no
// anchor" (§3.4.7).
//
// Same calling conventions as DocumentStore: every call returns at once and runs its completion
// exactly once, on a thread of the store's choosing.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace opstream::storage {

struct Comment {
  std::string id;                                // 32 lowercase hex characters, globally unique
  std::string document_id;                       // global id
  std::optional<std::string> parent_comment_id;  // none for roots
  std::string author_peer_id;
  std::string author_name;
  std::string body;
  std::optional<std::string> anchor_json;  // roots carry one, replies do not
  int64_t anchored_at_revision = 0;
  Timestamp created_at;
  std::optional<Timestamp> resolved_at;
  std::optional<std::string> resolved_by_peer_id;
  bool is_orphaned = false;
};

// Rebase outcome codes as on the wire (§7.6).
enum class AnchorOutcome : int { kUnchanged = 0, kMoved = 1, kOrphaned = 2 };

struct AnchorUpdate {
  std::string comment_id;
  std::optional<std::string> anchor_json;
  AnchorOutcome outcome = AnchorOutcome::kUnchanged;
};

class CommentStore {
 public:
  using Completion = std::function<void(Status)>;
  using CommentsCompletion = std::function<void(Status, std::vector<Comment>)>;
  using CommentCompletion = std::function<void(Status, std::optional<Comment>)>;
  using RevisionCompletion = std::function<void(Status, std::optional<int64_t>)>;

  virtual ~CommentStore() = default;

  // Every comment of the document: roots and replies, resolved or not, orphaned or not (the
  // reference's LoadOpen), ordered by creation time, then id.
  virtual void LoadComments(std::string document_id, CommentsCompletion done) = 0;
  virtual void GetComment(std::string comment_id, CommentCompletion done) = 0;
  // Inserts; an existing id is refused.
  virtual void AddComment(Comment comment, Completion done) = 0;
  // Replaces the mutable fields (body, anchor, anchoredAtRevision, resolvedAt, resolvedByPeerId,
  // isOrphaned); author, parent, document, creation time and author name stay. An unknown id is
  // refused with `Comment '{id}' not found.`
  virtual void UpdateComment(Comment comment, Completion done) = 0;
  // Removes the comment and, when it is a root, every comment whose parent it is. An unknown id
  // succeeds.
  virtual void DeleteComment(std::string comment_id, Completion done) = 0;
  // For each update of a comment of `document_id`: anchor = update.anchor_json, anchoredAtRevision =
  // revision, isOrphaned = isOrphaned OR (outcome == orphaned). Unknown ids are skipped. All or
  // nothing.
  virtual void UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                             Completion done) = 0;
  // Minimum anchoredAtRevision over root, unresolved comments with an anchor; none if there are none.
  virtual void GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) = 0;
};

// The overrides of every CommentStore call, declared by one list for the classes that implement
// them all (the memory store and each persistent provider).
#define OPSTREAM_COMMENT_STORE_OVERRIDES                                                           \
  void LoadComments(std::string document_id, CommentsCompletion done) override;                    \
  void GetComment(std::string comment_id, CommentCompletion done) override;                        \
  void AddComment(Comment comment, CommentStore::Completion done) override;                        \
  void UpdateComment(Comment comment, CommentStore::Completion done) override;                     \
  void DeleteComment(std::string comment_id, CommentStore::Completion done) override;              \
  void UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates, \
                     CommentStore::Completion done) override;                                      \
  void GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) override

}  // namespace opstream::storage
