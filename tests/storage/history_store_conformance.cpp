// The HistoryStore contract (server.md §3.1 "History store", history_store.hpp), checked for every
// provider that instantiates HistoryStoreConformance.
#include <gmock/gmock.h>

#include "storage/document_store_conformance.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

using SnapshotResult = std::pair<Status, std::optional<Snapshot>>;
using OpsResult = std::pair<Status, std::vector<StoredOp>>;
using MilestonesResult = std::pair<Status, std::vector<HistoryMilestone>>;
using CountResult = std::pair<Status, int64_t>;

Snapshot HistorySnapshot(int64_t revision) {
  return Snapshot{revision, SampleTime(static_cast<int>(revision)), "{\"h\":" + std::to_string(revision) + "}"};
}

class History {
 public:
  explicit History(HistoryStore& store) : store_(store) {}
  Status Write(const std::string& doc, int64_t revision, std::optional<std::string> name = std::nullopt) {
    return CallSync<Status>(
        [&](auto done) { store_.WriteHistorySnapshot(doc, HistorySnapshot(revision), name, done); });
  }
  Status Append(const std::string& doc, StoredOp op) {
    return CallSync<Status>([&](auto done) { store_.AppendHistoryOp(doc, op, done); });
  }
  Status AppendRange(const std::string& doc, int64_t first, int64_t last) {
    for (int64_t revision = first; revision <= last; ++revision) {
      if (Status status = Append(doc, MakeOp(revision)); !status.ok()) return status;
    }
    return Status::Ok();
  }
  SnapshotResult Load(const std::string& doc, int64_t max) {
    return CallSync<SnapshotResult>([&](auto done) { store_.LoadHistorySnapshot(doc, max, done); });
  }
  OpsResult Stream(const std::string& doc, int64_t since, int64_t up_to) {
    return CallSync<OpsResult>([&](auto done) { store_.StreamHistoryOps(doc, since, up_to, done); });
  }
  MilestonesResult Milestones(const std::string& doc) {
    return CallSync<MilestonesResult>([&](auto done) { store_.GetMilestones(doc, done); });
  }
  Status Purge(const std::string& doc, int64_t up_to) {
    return CallSync<Status>([&](auto done) { store_.PurgeHistoryUpTo(doc, up_to, done); });
  }
  Status Delete(const std::string& doc) {
    return CallSync<Status>([&](auto done) { store_.DeleteHistory(doc, done); });
  }
  CountResult DeleteByPrefix(const std::string& prefix) {
    return CallSync<CountResult>([&](auto done) { store_.DeleteHistoryByTenantPrefix(prefix, done); });
  }
  std::vector<int64_t> MilestoneRevisions(const std::string& doc) {
    std::vector<int64_t> revisions;
    for (const HistoryMilestone& m : Milestones(doc).second) revisions.push_back(m.revision);
    return revisions;
  }

 private:
  HistoryStore& store_;
};

TEST_P(HistoryStoreConformance, LoadHistorySnapshotTakesTheGreatestRevisionAtOrBelowMax) {
  History h(history());
  ASSERT_TRUE(h.Write("doc", 2).ok());
  ASSERT_TRUE(h.Write("doc", 9).ok());
  ASSERT_TRUE(h.Write("doc", 5, "tag/v1").ok());
  ASSERT_TRUE(h.Write("other", 3).ok());

  auto [status, found] = h.Load("doc", 4);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->revision, 2);
  EXPECT_EQ(found->state, HistorySnapshot(2).state);
  EXPECT_EQ(found->timestamp, StoredRecordTime(HistorySnapshot(2).timestamp));
  EXPECT_EQ(h.Load("doc", 5).second->revision, 5);
  EXPECT_EQ(h.Load("doc", 100).second->revision, 9);
  EXPECT_FALSE(h.Load("doc", 1).second.has_value());
  EXPECT_FALSE(h.Load("unknown", 100).second.has_value());
  // The hot store does not see history.
  EXPECT_FALSE(LoadSync(store(), "doc").second.snapshot.has_value());
}

TEST_P(HistoryStoreConformance, StreamHistoryOpsIsHalfOpenAndAscending) {
  History h(history());
  ASSERT_TRUE(h.AppendRange("doc", 1, 10).ok());
  ASSERT_TRUE(h.AppendRange("doc-2", 1, 3).ok());
  auto [status, ops] = h.Stream("doc", 3, 7);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_THAT(Revisions(ops), ElementsAre(4, 5, 6, 7));
  const StoredOp expected = MakeOp(4);
  EXPECT_EQ(ops[0].author_id, expected.author_id);
  EXPECT_EQ(ops[0].timestamp, StoredOpTime(expected.timestamp));
  EXPECT_EQ(ops[0].payload, expected.payload);
  EXPECT_EQ(ops[0].engine_type, expected.engine_type);
  EXPECT_THAT(Revisions(h.Stream("doc", 0, 100).second), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_TRUE(h.Stream("doc", 7, 7).second.empty());
  EXPECT_TRUE(h.Stream("doc", 8, 2).second.empty());
  // Hot ops and history ops are separate logs.
  EXPECT_TRUE(LoadSync(store(), "doc").second.ops.empty());
}

TEST_P(HistoryStoreConformance, MilestonesAreRevisionDescendingWithNames) {
  History h(history());
  ASSERT_TRUE(h.Write("doc", 3).ok());
  ASSERT_TRUE(h.Write("doc", 10, "merge/feature").ok());
  ASSERT_TRUE(h.Write("doc", 6, "tag/v1").ok());
  auto [status, milestones] = h.Milestones("doc");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(milestones.size(), 3u);
  EXPECT_EQ(milestones[0].revision, 10);
  EXPECT_EQ(milestones[0].name, std::optional<std::string>("merge/feature"));
  EXPECT_EQ(milestones[0].timestamp, StoredRecordTime(HistorySnapshot(10).timestamp));
  EXPECT_EQ(milestones[1].revision, 6);
  EXPECT_EQ(milestones[1].name, std::optional<std::string>("tag/v1"));
  EXPECT_EQ(milestones[2].revision, 3);
  EXPECT_FALSE(milestones[2].name.has_value());
  EXPECT_TRUE(h.Milestones("unknown").second.empty());
}

TEST_P(HistoryStoreConformance, WritesAreInsertsThatRefuseAnExistingRevision) {
  History h(history());
  ASSERT_TRUE(h.Write("doc", 4, "tag/a").ok());
  const Status again = h.Write("doc", 4, "tag/b");
  ASSERT_FALSE(again.ok());
  EXPECT_THAT(again.message(), HasSubstr("already exists"));
  auto milestones = h.Milestones("doc").second;
  ASSERT_EQ(milestones.size(), 1u);
  EXPECT_EQ(milestones[0].name, std::optional<std::string>("tag/a"));

  ASSERT_TRUE(h.Append("doc", MakeOp(1)).ok());
  const Status duplicate = h.Append("doc", MakeOp(1, "{\"other\":1}"));
  ASSERT_FALSE(duplicate.ok());
  EXPECT_THAT(duplicate.message(), HasSubstr("already exists"));
  EXPECT_EQ(h.Stream("doc", 0, 10).second.at(0).payload, MakeOp(1).payload);
}

TEST_P(HistoryStoreConformance, PurgeUpToRemovesOpsAndSnapshotsAtOrBelow) {
  History h(history());
  ASSERT_TRUE(h.AppendRange("doc", 1, 6).ok());
  for (int64_t revision : {2, 4, 6}) ASSERT_TRUE(h.Write("doc", revision).ok());
  ASSERT_TRUE(h.AppendRange("doc-2", 1, 2).ok());
  const Status purged = h.Purge("doc", 4);
  ASSERT_TRUE(purged.ok()) << purged.message();
  EXPECT_THAT(Revisions(h.Stream("doc", 0, 100).second), ElementsAre(5, 6));
  EXPECT_THAT(h.MilestoneRevisions("doc"), ElementsAre(6));
  EXPECT_THAT(Revisions(h.Stream("doc-2", 0, 100).second), ElementsAre(1, 2));
  EXPECT_TRUE(h.Purge("unknown", 4).ok());
}

TEST_P(HistoryStoreConformance, DeleteRemovesTheDocumentsHistoryOnly) {
  History h(history());
  ASSERT_TRUE(h.AppendRange("doc", 1, 3).ok());
  ASSERT_TRUE(h.Write("doc", 2).ok());
  ASSERT_TRUE(h.AppendRange("doc-2", 1, 1).ok());
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(1, 2)).ok());
  ASSERT_TRUE(h.Delete("doc").ok());
  EXPECT_TRUE(h.Stream("doc", 0, 100).second.empty());
  EXPECT_TRUE(h.Milestones("doc").second.empty());
  EXPECT_THAT(Revisions(h.Stream("doc-2", 0, 100).second), ElementsAre(1));
  EXPECT_THAT(Revisions(LoadSync(store(), "doc").second.ops), ElementsAre(1, 2));
  EXPECT_TRUE(h.Delete("unknown").ok());
}

TEST_P(HistoryStoreConformance, DeleteByTenantPrefixCountsDistinctDocuments) {
  History h(history());
  ASSERT_TRUE(h.AppendRange("t:ops", 1, 3).ok());
  ASSERT_TRUE(h.Write("t:snap", 1).ok());
  ASSERT_TRUE(h.AppendRange("t:both", 1, 1).ok());
  ASSERT_TRUE(h.Write("t:both", 1).ok());
  ASSERT_TRUE(h.AppendRange("t_x", 1, 1).ok());
  ASSERT_TRUE(h.AppendRange("u:ops", 1, 1).ok());
  auto [status, removed] = h.DeleteByPrefix("t:");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(removed, 3);
  EXPECT_TRUE(h.Stream("t:ops", 0, 100).second.empty());
  EXPECT_TRUE(h.Milestones("t:both").second.empty());
  EXPECT_EQ(h.Stream("t_x", 0, 100).second.size(), 1u);
  auto [all_status, all] = h.DeleteByPrefix("");
  ASSERT_TRUE(all_status.ok()) << all_status.message();
  EXPECT_EQ(all, 2);
  EXPECT_TRUE(h.Stream("u:ops", 0, 100).second.empty());
}

TEST_P(HistoryStoreConformance, DeleteMilestoneIsNotSupported) {
  History h(history());
  ASSERT_TRUE(h.Write("doc", 1, "tag/v1").ok());
  const Status status = CallSync<Status>([&](auto done) { history().DeleteMilestone("doc", "tag/v1", done); });
  EXPECT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("not supported"));
  EXPECT_THAT(h.MilestoneRevisions("doc"), ElementsAre(1));
}

}  // namespace
}  // namespace opstream::storage::testing
