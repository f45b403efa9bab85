// The CommentStore contract (server.md §3.1 "Comment store", §7, comment_store.hpp), checked for
// every provider that instantiates CommentStoreConformance.
#include <gmock/gmock.h>

#include "storage/document_store_conformance.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

using CommentsResult = std::pair<Status, std::vector<Comment>>;
using CommentResult = std::pair<Status, std::optional<Comment>>;
using RevisionResult = std::pair<Status, std::optional<int64_t>>;

std::string Id(int n) {
  std::string id = "0000000000000000000000000000000" + std::to_string(n % 10);
  id[0] = static_cast<char>('a' + n / 10);
  return id;
}

Comment Root(int n, const std::string& doc = "doc", int64_t anchored_at = 1) {
  Comment c;
  c.id = Id(n);
  c.document_id = doc;
  c.author_peer_id = "peer-" + std::to_string(n);
  c.author_name = "Ren\xC3\xA9";
  c.body = "body \xE2\x9C\x93 'quoted' \"double\" " + std::to_string(n);
  c.anchor_json = R"({"kind":"text","data":{"startOffset":1,"endOffset":4,"biasStart":"left","biasEnd":"right"}})";
  c.anchored_at_revision = anchored_at;
  c.created_at = SampleTime(n);
  return c;
}

Comment Reply(int n, const Comment& parent) {
  Comment c = Root(n, parent.document_id, 0);
  c.parent_comment_id = parent.id;
  c.anchor_json.reset();
  return c;
}

class Comments {
 public:
  explicit Comments(CommentStore& store) : store_(store) {}
  Status Add(Comment c) {
    return CallSync<Status>([&](auto done) { store_.AddComment(c, done); });
  }
  Status Update(Comment c) {
    return CallSync<Status>([&](auto done) { store_.UpdateComment(c, done); });
  }
  Status Delete(const std::string& id) {
    return CallSync<Status>([&](auto done) { store_.DeleteComment(id, done); });
  }
  CommentResult Get(const std::string& id) {
    return CallSync<CommentResult>([&](auto done) { store_.GetComment(id, done); });
  }
  CommentsResult Load(const std::string& doc) {
    return CallSync<CommentsResult>([&](auto done) { store_.LoadComments(doc, done); });
  }
  std::vector<std::string> LoadIds(const std::string& doc) {
    std::vector<std::string> ids;
    for (const Comment& c : Load(doc).second) ids.push_back(c.id);
    return ids;
  }
  Status UpdateAnchors(const std::string& doc, int64_t revision, std::vector<AnchorUpdate> updates) {
    return CallSync<Status>([&](auto done) { store_.UpdateAnchors(doc, revision, updates, done); });
  }
  RevisionResult MinAnchored(const std::string& doc) {
    return CallSync<RevisionResult>([&](auto done) { store_.GetMinAnchoredRevision(doc, done); });
  }

 private:
  CommentStore& store_;
};

TEST_P(CommentStoreConformance, AddedCommentsComeBackWithEveryField) {
  Comments c(comments());
  Comment root = Root(1);
  Comment reply = Reply(2, root);
  reply.resolved_at = SampleTime(50);
  reply.resolved_by_peer_id = "peer-9";
  reply.is_orphaned = true;
  ASSERT_TRUE(c.Add(root).ok());
  ASSERT_TRUE(c.Add(reply).ok());

  for (const Comment& expected : {root, reply}) {
    auto [status, found] = c.Get(expected.id);
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_TRUE(found.has_value()) << expected.id;
    EXPECT_EQ(found->id, expected.id);
    EXPECT_EQ(found->document_id, expected.document_id);
    EXPECT_EQ(found->parent_comment_id, expected.parent_comment_id);
    EXPECT_EQ(found->author_peer_id, expected.author_peer_id);
    EXPECT_EQ(found->author_name, expected.author_name);
    EXPECT_EQ(found->body, expected.body);
    EXPECT_EQ(found->anchor_json, expected.anchor_json);
    EXPECT_EQ(found->anchored_at_revision, expected.anchored_at_revision);
    EXPECT_EQ(found->created_at, StoredRecordTime(expected.created_at));
    ASSERT_EQ(found->resolved_at.has_value(), expected.resolved_at.has_value());
    if (expected.resolved_at) {
      EXPECT_EQ(*found->resolved_at, StoredRecordTime(*expected.resolved_at));
    }
    EXPECT_EQ(found->resolved_by_peer_id, expected.resolved_by_peer_id);
    EXPECT_EQ(found->is_orphaned, expected.is_orphaned);
  }
  EXPECT_FALSE(c.Get(Id(99)).second.has_value());
}

TEST_P(CommentStoreConformance, AddingAnExistingIdIsRefused) {
  Comments c(comments());
  ASSERT_TRUE(c.Add(Root(1)).ok());
  Comment again = Root(1);
  again.body = "replacement";
  const Status status = c.Add(again);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("already exists"));
  EXPECT_EQ(c.Get(Id(1)).second->body, Root(1).body);
}

TEST_P(CommentStoreConformance, LoadCommentsReturnsEveryCommentOfTheDocument) {
  Comments c(comments());
  Comment root = Root(3);
  Comment resolved = Root(1);
  resolved.resolved_at = SampleTime(60);
  resolved.resolved_by_peer_id = "peer-1";
  Comment orphaned = Root(2);
  orphaned.is_orphaned = true;
  for (const Comment& comment : {root, resolved, orphaned, Reply(4, root), Root(5, "doc-2")}) {
    ASSERT_TRUE(c.Add(comment).ok());
  }
  auto [status, loaded] = c.Load("doc");
  ASSERT_TRUE(status.ok()) << status.message();
  // Roots and replies, resolved and orphaned included, by creation time.
  EXPECT_THAT(c.LoadIds("doc"), ElementsAre(Id(1), Id(2), Id(3), Id(4)));
  EXPECT_THAT(c.LoadIds("doc-2"), ElementsAre(Id(5)));
  EXPECT_TRUE(c.Load("nothing").second.empty());
}

TEST_P(CommentStoreConformance, UpdateReplacesOnlyTheMutableFields) {
  Comments c(comments());
  ASSERT_TRUE(c.Add(Root(1)).ok());
  Comment changed = Root(1);
  changed.body = "edited";
  changed.anchor_json = R"({"kind":"json","data":{"path":"root.a"}})";
  changed.anchored_at_revision = 12;
  changed.resolved_at = SampleTime(70);
  changed.resolved_by_peer_id = "peer-7";
  changed.is_orphaned = true;
  // Immutable: these must not change.
  changed.author_peer_id = "intruder";
  changed.author_name = "Intruder";
  changed.parent_comment_id = Id(9);
  changed.created_at = SampleTime(500);
  changed.document_id = "elsewhere";
  const Status status = c.Update(changed);
  ASSERT_TRUE(status.ok()) << status.message();

  const auto stored = c.Get(Id(1)).second;
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->body, "edited");
  EXPECT_EQ(stored->anchor_json, changed.anchor_json);
  EXPECT_EQ(stored->anchored_at_revision, 12);
  ASSERT_TRUE(stored->resolved_at.has_value());
  EXPECT_EQ(*stored->resolved_at, StoredRecordTime(SampleTime(70)));
  EXPECT_EQ(stored->resolved_by_peer_id, std::optional<std::string>("peer-7"));
  EXPECT_TRUE(stored->is_orphaned);
  EXPECT_EQ(stored->author_peer_id, Root(1).author_peer_id);
  EXPECT_EQ(stored->author_name, Root(1).author_name);
  EXPECT_FALSE(stored->parent_comment_id.has_value());
  EXPECT_EQ(stored->created_at, StoredRecordTime(Root(1).created_at));
  EXPECT_EQ(stored->document_id, "doc");

  // Clearing optional fields works too.
  changed.anchor_json.reset();
  changed.resolved_at.reset();
  changed.resolved_by_peer_id.reset();
  ASSERT_TRUE(c.Update(changed).ok());
  const auto cleared = c.Get(Id(1)).second;
  ASSERT_TRUE(cleared.has_value());
  EXPECT_FALSE(cleared->anchor_json.has_value());
  EXPECT_FALSE(cleared->resolved_at.has_value());
  EXPECT_FALSE(cleared->resolved_by_peer_id.has_value());
}

TEST_P(CommentStoreConformance, UpdatingAnUnknownCommentIsRefused) {
  Comments c(comments());
  const Status status = c.Update(Root(1));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.message(), "Comment '" + Id(1) + "' not found.");
  EXPECT_FALSE(c.Get(Id(1)).second.has_value());
}

TEST_P(CommentStoreConformance, DeletingARootRemovesItsRepliesOnly) {
  Comments c(comments());
  Comment root = Root(1), other = Root(2);
  Comment reply = Reply(3, root), nested = Reply(4, reply), other_reply = Reply(5, other);
  for (const Comment& comment : {root, other, reply, nested, other_reply}) ASSERT_TRUE(c.Add(comment).ok());

  // A reply: only that comment (its own replies are not cascaded).
  ASSERT_TRUE(c.Delete(reply.id).ok());
  EXPECT_THAT(c.LoadIds("doc"), ElementsAre(Id(1), Id(2), Id(4), Id(5)));
  // A root: its replies go with it.
  Comment late_reply = Reply(6, root);
  ASSERT_TRUE(c.Add(late_reply).ok());
  ASSERT_TRUE(c.Delete(root.id).ok());
  EXPECT_THAT(c.LoadIds("doc"), ElementsAre(Id(2), Id(4), Id(5)));
  EXPECT_FALSE(c.Get(late_reply.id).second.has_value());
  EXPECT_TRUE(c.Delete(Id(99)).ok());
}

TEST_P(CommentStoreConformance, UpdateAnchorsSetsRevisionAndOrsTheOrphanFlag) {
  Comments c(comments());
  Comment already_orphaned = Root(2);
  already_orphaned.is_orphaned = true;
  for (const Comment& comment : {Root(1), already_orphaned, Root(3), Root(4, "doc-2")}) {
    ASSERT_TRUE(c.Add(comment).ok());
  }
  const std::string moved =
      R"({"kind":"text","data":{"startOffset":3,"endOffset":6,"biasStart":"left","biasEnd":"right"}})";
  const Status status = c.UpdateAnchors("doc", 8,
                                        {{Id(1), moved, AnchorOutcome::kMoved},
                                         {Id(2), moved, AnchorOutcome::kMoved},
                                         {Id(3), Root(3).anchor_json, AnchorOutcome::kOrphaned},
                                         {Id(4), moved, AnchorOutcome::kOrphaned},  // another document's
                                         {Id(77), moved, AnchorOutcome::kOrphaned}});
  ASSERT_TRUE(status.ok()) << status.message();

  auto one = c.Get(Id(1)).second, two = c.Get(Id(2)).second, three = c.Get(Id(3)).second, four = c.Get(Id(4)).second;
  ASSERT_TRUE(one && two && three && four);
  EXPECT_EQ(one->anchor_json, moved);
  EXPECT_EQ(one->anchored_at_revision, 8);
  EXPECT_FALSE(one->is_orphaned);
  EXPECT_TRUE(two->is_orphaned);  // stays orphaned although this outcome is "moved"
  EXPECT_EQ(two->anchored_at_revision, 8);
  EXPECT_TRUE(three->is_orphaned);
  EXPECT_EQ(three->anchor_json, Root(3).anchor_json);
  EXPECT_FALSE(four->is_orphaned);
  EXPECT_EQ(four->anchored_at_revision, 1);
  EXPECT_FALSE(c.Get(Id(77)).second.has_value());
  EXPECT_TRUE(c.UpdateAnchors("doc", 9, {}).ok());
}

TEST_P(CommentStoreConformance, MinAnchoredRevisionCountsUnresolvedAnchoredRootsOnly) {
  Comments c(comments());
  auto [status, none] = c.MinAnchored("doc");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_FALSE(none.has_value());

  Comment resolved = Root(1, "doc", 2);
  resolved.resolved_at = SampleTime(80);
  Comment unanchored = Root(2, "doc", 3);
  unanchored.anchor_json.reset();
  Comment reply = Reply(3, Root(9));
  reply.anchored_at_revision = 1;
  reply.anchor_json = Root(9).anchor_json;  // a reply with an anchor is still not a root
  Comment orphaned = Root(4, "doc", 7);
  orphaned.is_orphaned = true;
  for (const Comment& comment : {resolved, unanchored, reply, orphaned, Root(5, "doc", 9), Root(6, "doc-2", 0)}) {
    ASSERT_TRUE(c.Add(comment).ok());
  }
  EXPECT_EQ(c.MinAnchored("doc").second, std::optional<int64_t>(7));
  EXPECT_EQ(c.MinAnchored("doc-2").second, std::optional<int64_t>(0));
  ASSERT_TRUE(c.Delete(orphaned.id).ok());
  EXPECT_EQ(c.MinAnchored("doc").second, std::optional<int64_t>(9));
}

}  // namespace
}  // namespace opstream::storage::testing
