// The DocumentStore contract (server.md §3.1, document_store.hpp), checked for every provider
// that instantiates DocumentStoreConformance.
#include "storage/document_store_conformance.hpp"

#include <gmock/gmock.h>

#include <atomic>
#include <thread>

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;

TEST_P(DocumentStoreConformance, LoadOfUnknownDocumentIsEmpty) {
  auto [status, loaded] = LoadSync(store(), "never-seen");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_FALSE(loaded.snapshot.has_value());
  EXPECT_TRUE(loaded.ops.empty());
}

TEST_P(DocumentStoreConformance, AppendedOpsLoadAscendingWithEveryField) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 3)).ok());
  // Payloads are opaque bytes: UTF-8, an escaped NUL and a raw NUL must all come back unchanged.
  static constexpr char kPayload[] = "{\"t\":\"\xC3\xA9\\u0000\"}\0tail";
  StoredOp binary = MakeOp(4, std::string(kPayload, sizeof(kPayload) - 1));
  binary.author_id = "9b2f6c1e-7d4a-4f0e-9a55-0c3e2d1b8a77";
  binary.engine_type = "JsonOpBatch";
  ASSERT_TRUE(AppendSync(store(), "doc", {binary}).ok());

  auto [status, loaded] = LoadSync(store(), "doc");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_FALSE(loaded.snapshot.has_value());
  ASSERT_THAT(Revisions(loaded.ops), ElementsAre(2, 3, 4));
  const StoredOp expected_first = MakeOp(2);
  EXPECT_EQ(loaded.ops[0].author_id, expected_first.author_id);
  EXPECT_EQ(loaded.ops[0].timestamp, StoredOpTime(expected_first.timestamp));
  EXPECT_EQ(loaded.ops[0].payload, expected_first.payload);
  EXPECT_EQ(loaded.ops[0].engine_type, "TextOp");
  EXPECT_EQ(loaded.ops[2].author_id, binary.author_id);
  EXPECT_EQ(loaded.ops[2].timestamp, StoredOpTime(binary.timestamp));
  EXPECT_EQ(loaded.ops[2].payload, binary.payload);
  EXPECT_EQ(loaded.ops[2].engine_type, "JsonOpBatch");
}

TEST_P(DocumentStoreConformance, DocumentsAreIsolated) {
  const std::string odd_id = "tenant:#:doc 'quoted' %_\xE2\x9C\x93";
  ASSERT_TRUE(AppendSync(store(), "a", MakeOps(2, 4)).ok());
  ASSERT_TRUE(AppendSync(store(), odd_id, MakeOps(2, 2)).ok());
  ASSERT_TRUE(AppendSync(store(), "a-suffix", MakeOps(7, 7)).ok());
  EXPECT_THAT(Revisions(LoadSync(store(), "a").second.ops), ElementsAre(2, 3, 4));
  EXPECT_THAT(Revisions(LoadSync(store(), odd_id).second.ops), ElementsAre(2));
  EXPECT_THAT(Revisions(LoadSync(store(), "a-suffix").second.ops), ElementsAre(7));
}

TEST_P(DocumentStoreConformance, BatchAppendIsAtomic) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 4)).ok());
  // Revision 4 exists: the whole batch is refused, 5 and 6 included.
  const Status refused = AppendSync(store(), "doc", MakeOps(4, 6));
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(Revisions(LoadSync(store(), "doc").second.ops), ElementsAre(2, 3, 4));
  // A batch whose revisions are not ascending is refused before anything is written.
  std::vector<StoredOp> unordered = {MakeOp(6), MakeOp(5)};
  EXPECT_FALSE(AppendSync(store(), "doc", unordered).ok());
  EXPECT_THAT(Revisions(LoadSync(store(), "doc").second.ops), ElementsAre(2, 3, 4));
  // The refusals left nothing behind that blocks the next writer.
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(5, 6)).ok());
  EXPECT_THAT(Revisions(LoadSync(store(), "doc").second.ops), ElementsAre(2, 3, 4, 5, 6));
}

TEST_P(DocumentStoreConformance, DuplicateRevisionIsRefusedWithClearMessage) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 7)).ok());
  StoredOp rival = MakeOp(7, "{\"rival\":true}");
  const Status refused = AppendSync(store(), "doc", {rival});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.message(), "Revision 7 of document 'doc' already exists.");
  // The first writer's op is kept.
  auto [status, loaded] = LoadSync(store(), "doc");
  ASSERT_EQ(loaded.ops.size(), 6u);
  EXPECT_EQ(loaded.ops.back().payload, MakeOp(7).payload);
}

TEST_P(DocumentStoreConformance, EmptyAppendSucceedsAndWritesNothing) {
  EXPECT_TRUE(AppendSync(store(), "doc", {}).ok());
  auto [status, loaded] = LoadSync(store(), "doc");
  EXPECT_TRUE(status.ok());
  EXPECT_TRUE(loaded.ops.empty());
}

TEST_P(DocumentStoreConformance, SnapshotIsUpsertedAndLoadReturnsOnlyLaterOps) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 6)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "doc", {1, SampleTime(), "{\"text\":\"\"}"}).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "doc", {4, SampleTime(30), "{\"text\":\"abcd\"}"}).ok());

  auto [status, loaded] = LoadSync(store(), "doc");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 4);
  EXPECT_EQ(loaded.snapshot->timestamp, StoredSnapshotTime(SampleTime(30)));
  EXPECT_EQ(loaded.snapshot->state, "{\"text\":\"abcd\"}");
  EXPECT_THAT(Revisions(loaded.ops), ElementsAre(5, 6));
}

TEST_P(DocumentStoreConformance, SnapshotWithoutOpsLoads) {
  // A freshly seeded document: snapshot at revision 1, no op 1 (server.md §2.2).
  ASSERT_TRUE(WriteSnapshotSync(store(), "seeded", {1, SampleTime(), ""}).ok());
  auto [status, loaded] = LoadSync(store(), "seeded");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 1);
  EXPECT_EQ(loaded.snapshot->state, "");
  EXPECT_TRUE(loaded.ops.empty());
}

TEST_P(DocumentStoreConformance, CompactDeletesOpsUpToRevisionAndKeepsSnapshot) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 8)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "doc", {3, SampleTime(), "{}"}).ok());
  ASSERT_TRUE(CompactSync(store(), "doc", 5).ok());
  auto [status, loaded] = LoadSync(store(), "doc");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 3);
  EXPECT_THAT(Revisions(loaded.ops), ElementsAre(6, 7, 8));
  // Compacting a document that does not exist is not an error.
  EXPECT_TRUE(CompactSync(store(), "nothing-here", 10).ok());
}

TEST_P(DocumentStoreConformance, ConcurrentAppendsFromSeveralThreads) {
  constexpr int kThreads = 6;
  constexpr int kOpsPerThread = 40;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string document_id = "doc-" + std::to_string(t);
      for (int64_t revision = 2; revision < 2 + kOpsPerThread; ++revision) {
        if (!AppendSync(store(), document_id, {MakeOp(revision)}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    auto [status, loaded] = LoadSync(store(), "doc-" + std::to_string(t));
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_EQ(loaded.ops.size(), static_cast<size_t>(kOpsPerThread));
    for (int i = 0; i < kOpsPerThread; ++i) EXPECT_EQ(loaded.ops[i].revision, 2 + i);
  }
}

TEST_P(DocumentStoreConformance, ConcurrentWritersOfTheSameRevisionOneWins) {
  constexpr int kWriters = 8;
  std::atomic<int> successes{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      if (AppendSync(store(), "contested", {MakeOp(2, "{\"writer\":" + std::to_string(w) + "}")}).ok()) ++successes;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(successes.load(), 1);
  EXPECT_EQ(LoadSync(store(), "contested").second.ops.size(), 1u);
}

TEST_P(DocumentStoreConformance, CompletionsAreCalledExactlyOnce) {
  constexpr int kCalls = 20;
  std::vector<std::atomic<int>> calls(kCalls * 5 + 1);
  int next = 0;
  for (int i = 0; i < kCalls; ++i) {
    const std::string document_id = "doc-" + std::to_string(i % 4);
    store().Append(document_id, {MakeOp(2 + i)}, [&calls, slot = next++](Status) { ++calls[slot]; });
    store().Append(document_id, {MakeOp(2 + i)}, [&calls, slot = next++](Status) { ++calls[slot]; });  // duplicate
    store().Load(document_id, [&calls, slot = next++](Status, LoadedDocument) { ++calls[slot]; });
    store().WriteSnapshot(document_id, {1, SampleTime(), "{}"}, [&calls, slot = next++](Status) { ++calls[slot]; });
    store().Compact(document_id, i, [&calls, slot = next++](Status) { ++calls[slot]; });
  }
  store().CheckHealth([&calls, slot = next++](HealthReport) { ++calls[slot]; });
  store().Flush(std::chrono::seconds(10));
  // Late duplicates would show up after a short pause.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  for (int slot = 0; slot < next; ++slot) EXPECT_EQ(calls[slot].load(), 1) << "completion " << slot;
}

TEST_P(DocumentStoreConformance, CompletionMayCallBackIntoTheStore) {
  std::promise<std::pair<Status, size_t>> nested;
  auto future = nested.get_future();
  store().Append("doc", MakeOps(2, 3), [this, &nested](Status appended) {
    ASSERT_TRUE(appended.ok()) << appended.message();
    store().Append("doc", {MakeOp(4)}, [this, &nested](Status) {
      store().Load("doc", [&nested](Status status, LoadedDocument loaded) {
        nested.set_value({std::move(status), loaded.ops.size()});
      });
    });
  });
  auto [status, count] = Wait(future);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(count, 3u);
}

TEST_P(DocumentStoreConformance, HealthAnswersAndIsNotUnhealthy) {
  const HealthReport report = CheckHealthSync(store());
  EXPECT_NE(report.status, HealthStatus::kUnhealthy) << report.description;
  EXPECT_FALSE(report.description.empty());
}

TEST_P(DocumentStoreConformance, FlushReturnsWhenIdle) {
  const auto started = std::chrono::steady_clock::now();
  store().Flush(std::chrono::seconds(5));
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
}

TEST_P(DocumentStoreConformance, InitializeIsIdempotent) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(2, 2)).ok());
  const Status again = InitializeSync(store());
  EXPECT_TRUE(again.ok()) << again.message();
  EXPECT_THAT(Revisions(LoadSync(store(), "doc").second.ops), ElementsAre(2));
}

// ----- management calls: Enumerate, GetInfo, Delete, DeleteByTenantPrefix -----

using EnumerateResult = std::pair<Status, std::vector<DocumentInfo>>;
using InfoResult = std::pair<Status, std::optional<DocumentInfo>>;
using CountResult = std::pair<Status, int64_t>;

EnumerateResult EnumerateSync(DocumentStore& store, const std::string& prefix, DocumentQuery query = {}) {
  return CallSync<EnumerateResult>([&](auto done) { store.Enumerate(prefix, query, done); });
}
InfoResult GetInfoSync(DocumentStore& store, const std::string& document_id) {
  return CallSync<InfoResult>([&](auto done) { store.GetInfo(document_id, done); });
}
Status DeleteSync(DocumentStore& store, const std::string& document_id) {
  return CallSync<Status>([&](auto done) { store.Delete(document_id, done); });
}
CountResult DeleteByPrefixSync(DocumentStore& store, const std::string& prefix) {
  return CallSync<CountResult>([&](auto done) { store.DeleteByTenantPrefix(prefix, done); });
}

std::vector<std::string> Ids(const std::vector<DocumentInfo>& documents) {
  std::vector<std::string> ids;
  for (const DocumentInfo& info : documents) ids.push_back(info.document_id);
  return ids;
}

Snapshot MakeSnapshot(int64_t revision, int seconds_offset) {
  return Snapshot{revision, SampleTime(seconds_offset), "{\"snapshot\":" + std::to_string(revision) + "}"};
}

TEST_P(DocumentStoreConformance, EnumerateListsMatchingDocumentsInOrdinalOrder) {
  ASSERT_TRUE(AppendSync(store(), "t1:b", MakeOps(1, 1)).ok());
  ASSERT_TRUE(AppendSync(store(), "t1:a", MakeOps(1, 2)).ok());
  ASSERT_TRUE(AppendSync(store(), "t2:c", MakeOps(1, 1)).ok());
  ASSERT_TRUE(AppendSync(store(), "t1:B", MakeOps(1, 1)).ok());
  ASSERT_TRUE(AppendSync(store(), "t1:\xC3\xA9", MakeOps(1, 1)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "t1:snap", MakeSnapshot(4, 0)).ok());
  // Compacted to nothing but with a snapshot: still listed; compacted without one: gone.
  ASSERT_TRUE(AppendSync(store(), "t1:gone", MakeOps(1, 1)).ok());
  ASSERT_TRUE(CompactSync(store(), "t1:gone", 5).ok());

  auto [status, documents] = EnumerateSync(store(), "t1:");
  ASSERT_TRUE(status.ok()) << status.message();
  // Ordinal: upper case before lower case, multi-byte UTF-8 after ASCII.
  EXPECT_THAT(Ids(documents), ElementsAre("t1:B", "t1:a", "t1:b", "t1:snap", "t1:\xC3\xA9"));
  EXPECT_THAT(Ids(EnumerateSync(store(), "").second),
              ElementsAre("t1:B", "t1:a", "t1:b", "t1:snap", "t1:\xC3\xA9", "t2:c"));
  EXPECT_TRUE(EnumerateSync(store(), "t3").second.empty());
  EXPECT_THAT(Ids(EnumerateSync(store(), "t1:a").second), ElementsAre("t1:a"));
}

TEST_P(DocumentStoreConformance, EnumeratePagesOnlyWithPositiveSkipAndTake) {
  for (const char* id : {"d1", "d2", "d3", "d4", "d5"}) ASSERT_TRUE(AppendSync(store(), id, MakeOps(1, 1)).ok());
  auto page = [&](std::optional<int64_t> skip, std::optional<int64_t> take) {
    auto [status, documents] = EnumerateSync(store(), "d", DocumentQuery{skip, take});
    EXPECT_TRUE(status.ok()) << status.message();
    return Ids(documents);
  };
  EXPECT_THAT(page(1, 2), ElementsAre("d2", "d3"));
  EXPECT_THAT(page(std::nullopt, 2), ElementsAre("d1", "d2"));
  EXPECT_THAT(page(3, std::nullopt), ElementsAre("d4", "d5"));
  EXPECT_THAT(page(0, 0), ElementsAre("d1", "d2", "d3", "d4", "d5"));  // take = 0 is "no limit"
  EXPECT_THAT(page(-2, -1), ElementsAre("d1", "d2", "d3", "d4", "d5"));
  EXPECT_THAT(page(4, 10), ElementsAre("d5"));
  EXPECT_TRUE(page(5, 1).empty());
  EXPECT_TRUE(page(100, std::nullopt).empty());
}

TEST_P(DocumentStoreConformance, PrefixIsLiteralNotAPattern) {
  for (const char* id : {"a%x", "abx", "a_y", "aby", "a\\z", "a\\\\z"}) {
    ASSERT_TRUE(AppendSync(store(), id, MakeOps(1, 1)).ok());
  }
  EXPECT_THAT(Ids(EnumerateSync(store(), "a%").second), ElementsAre("a%x"));
  EXPECT_THAT(Ids(EnumerateSync(store(), "a_").second), ElementsAre("a_y"));
  EXPECT_THAT(Ids(EnumerateSync(store(), "a\\").second), ElementsAre("a\\\\z", "a\\z"));
  auto [status, removed] = DeleteByPrefixSync(store(), "a%");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(removed, 1);
  EXPECT_EQ(DeleteByPrefixSync(store(), "a_").second, 1);
  EXPECT_THAT(Ids(EnumerateSync(store(), "").second), ElementsAre("a\\\\z", "a\\z", "abx", "aby"));
}

TEST_P(DocumentStoreConformance, GetInfoCombinesSnapshotAndOps) {
  auto [unknown_status, unknown] = GetInfoSync(store(), "nothing");
  ASSERT_TRUE(unknown_status.ok()) << unknown_status.message();
  EXPECT_FALSE(unknown.has_value());

  // Ops only.
  ASSERT_TRUE(AppendSync(store(), "ops", MakeOps(1, 3)).ok());
  auto [status, info] = GetInfoSync(store(), "ops");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->document_id, "ops");
  EXPECT_EQ(info->revision, 3);
  EXPECT_EQ(info->op_count, 3);
  EXPECT_EQ(info->last_modified, StoredOpTime(MakeOp(3).timestamp));

  // Snapshot only: op count 0.
  ASSERT_TRUE(WriteSnapshotSync(store(), "snap", MakeSnapshot(7, 100)).ok());
  info = GetInfoSync(store(), "snap").second;
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->revision, 7);
  EXPECT_EQ(info->op_count, 0);
  EXPECT_EQ(info->last_modified, StoredSnapshotTime(SampleTime(100)));

  // Snapshot behind the ops, written later than any op: revision from the ops, time from the snapshot.
  ASSERT_TRUE(AppendSync(store(), "both", MakeOps(1, 6)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "both", MakeSnapshot(4, 200)).ok());
  info = GetInfoSync(store(), "both").second;
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->revision, 6);
  EXPECT_EQ(info->op_count, 6);
  EXPECT_EQ(info->last_modified, StoredSnapshotTime(SampleTime(200)));

  // Snapshot ahead of the remaining ops, older than them: revision from the snapshot, time from the ops.
  ASSERT_TRUE(WriteSnapshotSync(store(), "both", MakeSnapshot(9, -100)).ok());
  ASSERT_TRUE(CompactSync(store(), "both", 4).ok());
  info = GetInfoSync(store(), "both").second;
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->revision, 9);
  EXPECT_EQ(info->op_count, 2);
  EXPECT_EQ(info->last_modified, StoredOpTime(MakeOp(6).timestamp));

  // Enumerate reports the same figures.
  auto [listed_status, listed] = EnumerateSync(store(), "");
  ASSERT_TRUE(listed_status.ok()) << listed_status.message();
  ASSERT_THAT(Ids(listed), ElementsAre("both", "ops", "snap"));
  for (const DocumentInfo& entry : listed) {
    const auto single = GetInfoSync(store(), entry.document_id).second;
    ASSERT_TRUE(single.has_value()) << entry.document_id;
    EXPECT_EQ(entry.revision, single->revision) << entry.document_id;
    EXPECT_EQ(entry.op_count, single->op_count) << entry.document_id;
    EXPECT_EQ(entry.last_modified, single->last_modified) << entry.document_id;
  }
}

TEST_P(DocumentStoreConformance, DeleteRemovesSnapshotAndOpsOfThatDocumentOnly) {
  ASSERT_TRUE(AppendSync(store(), "doc", MakeOps(1, 3)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "doc", MakeSnapshot(2, 0)).ok());
  ASSERT_TRUE(AppendSync(store(), "doc-2", MakeOps(1, 2)).ok());

  const Status deleted = DeleteSync(store(), "doc");
  ASSERT_TRUE(deleted.ok()) << deleted.message();
  EXPECT_FALSE(GetInfoSync(store(), "doc").second.has_value());
  auto [status, loaded] = LoadSync(store(), "doc");
  ASSERT_TRUE(status.ok());
  EXPECT_FALSE(loaded.snapshot.has_value());
  EXPECT_TRUE(loaded.ops.empty());
  EXPECT_THAT(Revisions(LoadSync(store(), "doc-2").second.ops), ElementsAre(1, 2));
  EXPECT_TRUE(DeleteSync(store(), "never-seen").ok());
  // A deleted document starts over at any revision.
  EXPECT_TRUE(AppendSync(store(), "doc", MakeOps(1, 1)).ok());
}

TEST_P(DocumentStoreConformance, DeleteByTenantPrefixCountsDistinctDocuments) {
  ASSERT_TRUE(AppendSync(store(), "a:ops", MakeOps(1, 5)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "a:snap", MakeSnapshot(3, 0)).ok());
  ASSERT_TRUE(AppendSync(store(), "a:both", MakeOps(1, 2)).ok());
  ASSERT_TRUE(WriteSnapshotSync(store(), "a:both", MakeSnapshot(2, 0)).ok());
  ASSERT_TRUE(AppendSync(store(), "b:other", MakeOps(1, 1)).ok());
  ASSERT_TRUE(AppendSync(store(), "a", MakeOps(1, 1)).ok());  // does not start with "a:"

  auto [status, removed] = DeleteByPrefixSync(store(), "a:");
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(removed, 3);
  EXPECT_THAT(Ids(EnumerateSync(store(), "").second), ElementsAre("a", "b:other"));
  EXPECT_EQ(DeleteByPrefixSync(store(), "a:").second, 0);

  // The empty prefix matches everything.
  auto [all_status, all] = DeleteByPrefixSync(store(), "");
  ASSERT_TRUE(all_status.ok()) << all_status.message();
  EXPECT_EQ(all, 2);
  EXPECT_TRUE(EnumerateSync(store(), "").second.empty());
}

}  // namespace
}  // namespace opstream::storage::testing
