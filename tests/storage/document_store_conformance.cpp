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

}  // namespace
}  // namespace opstream::storage::testing
