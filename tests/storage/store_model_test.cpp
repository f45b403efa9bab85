// Seeded random sequences of hot-store calls, run against the memory store (the reference
// implementation) and SQLite side by side: after every step both must report the same documents
// through Enumerate (random prefix and paging), GetInfo and the tenant-prefix delete count.
//
// OPSTREAM_PROP_CASES=<n> runs n cases; a failure prints its seed, and OPSTREAM_PROP_SEED=<seed>
// OPSTREAM_PROP_CASES=1 replays that case alone.
#include <gtest/gtest.h>

#include <map>

#include "engines/ot_test_support.hpp"
#include "storage/memory_store.hpp"
#include "storage/sqlite/sqlite_document_store.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using opstream::engines::testing::PropertyBaseSeed;
using opstream::engines::testing::PropertyCaseCount;
using opstream::engines::testing::TestRandom;

using EnumerateResult = std::pair<Status, std::vector<DocumentInfo>>;
using InfoResult = std::pair<Status, std::optional<DocumentInfo>>;
using CountResult = std::pair<Status, int64_t>;

const std::vector<std::string> kIds = {"a:1", "a:10", "a:2", "ab", "b:1", "b:x%", "b:x_", "\xC3\xA9:1"};
const std::vector<std::string> kPrefixes = {"", "a", "a:", "a:1", "b:x", "b:x%", "\xC3\xA9", "zz"};

std::string Describe(const std::vector<DocumentInfo>& documents) {
  std::string out;
  for (const DocumentInfo& d : documents) {
    out += d.document_id + "@" + std::to_string(d.revision) + "/" + std::to_string(d.op_count) + "/" +
           FormatIsoTimestamp(d.last_modified) + " ";
  }
  return out;
}

void RunCase(uint64_t seed) {
  TestRandom random(seed);
  MemoryDocumentStore memory;
  std::unique_ptr<DocumentStore> sqlite;
  ASSERT_TRUE(OpenSqliteStore("Mode=Memory", sqlite).ok());
  ASSERT_TRUE(InitializeSync(*sqlite).ok());
  DocumentStore* stores[] = {&memory, sqlite.get()};
  std::map<std::string, int64_t> next_revision;  // per document, as the session would assign them
  int clock = 0;

  for (int step = 0; step < 40; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    const std::string& id = kIds[static_cast<size_t>(random.Between(0, static_cast<int64_t>(kIds.size()) - 1))];
    int64_t& next = next_revision.try_emplace(id, 1).first->second;
    switch (random.Between(0, 5)) {
      case 0:
      case 1: {  // append 1-3 ops
        std::vector<StoredOp> ops;
        for (int64_t n = random.Between(1, 3); n > 0; --n) {
          StoredOp op = MakeOp(next++);
          op.timestamp = SampleTime(++clock);
          ops.push_back(op);
        }
        for (DocumentStore* store : stores) ASSERT_TRUE(AppendSync(*store, id, ops).ok());
        break;
      }
      case 2: {  // snapshot at or below the current revision, at a random time
        const Snapshot snapshot{random.Between(0, next), SampleTime(static_cast<int>(random.Between(0, 50))), "{}"};
        for (DocumentStore* store : stores) ASSERT_TRUE(WriteSnapshotSync(*store, id, snapshot).ok());
        break;
      }
      case 3: {
        const int64_t up_to = random.Between(0, next);
        for (DocumentStore* store : stores) ASSERT_TRUE(CompactSync(*store, id, up_to).ok());
        break;
      }
      case 4:
        for (DocumentStore* store : stores) {
          ASSERT_TRUE(CallSync<Status>([&](auto done) { store->Delete(id, done); }).ok());
        }
        next = 1;
        break;
      default: {
        if (random.Between(0, 3) != 0) break;  // rarer: it empties a lot
        const std::string& prefix =
            kPrefixes[static_cast<size_t>(random.Between(0, static_cast<int64_t>(kPrefixes.size()) - 1))];
        const auto a = CallSync<CountResult>([&](auto done) { memory.DeleteByTenantPrefix(prefix, done); });
        const auto b = CallSync<CountResult>([&](auto done) { sqlite->DeleteByTenantPrefix(prefix, done); });
        ASSERT_TRUE(a.first.ok() && b.first.ok()) << b.first.message();
        EXPECT_EQ(a.second, b.second) << "DeleteByTenantPrefix('" << prefix << "')";
        for (auto& [doc, revision] : next_revision) {
          if (doc.starts_with(prefix)) revision = 1;
        }
        break;
      }
    }

    const std::string& prefix =
        kPrefixes[static_cast<size_t>(random.Between(0, static_cast<int64_t>(kPrefixes.size()) - 1))];
    const DocumentQuery query{random.Between(-1, 3), random.Between(-1, 4)};
    const auto a = CallSync<EnumerateResult>([&](auto done) { memory.Enumerate(prefix, query, done); });
    const auto b = CallSync<EnumerateResult>([&](auto done) { sqlite->Enumerate(prefix, query, done); });
    ASSERT_TRUE(a.first.ok() && b.first.ok()) << b.first.message();
    ASSERT_EQ(Describe(a.second), Describe(b.second))
        << "Enumerate('" << prefix << "', skip " << *query.skip << ", take " << *query.take << ")";
    for (const std::string& doc : kIds) {
      const auto x = CallSync<InfoResult>([&](auto done) { memory.GetInfo(doc, done); });
      const auto y = CallSync<InfoResult>([&](auto done) { sqlite->GetInfo(doc, done); });
      ASSERT_TRUE(x.first.ok() && y.first.ok()) << y.first.message();
      ASSERT_EQ(x.second.has_value(), y.second.has_value()) << doc;
      if (x.second) {
        ASSERT_EQ(Describe({*x.second}), Describe({*y.second})) << doc;
      }
    }
  }
}

TEST(StoreModelTest, SqliteAgreesWithTheMemoryStoreOnManagementCalls) {
  const uint64_t base = PropertyBaseSeed(20261127);
  const uint64_t cases = PropertyCaseCount(25);
  for (uint64_t i = 0; i < cases; ++i) {
    const uint64_t seed = base + i;
    SCOPED_TRACE("seed " + std::to_string(seed) + " (replay: OPSTREAM_PROP_SEED=" + std::to_string(seed) +
                 " OPSTREAM_PROP_CASES=1)");
    RunCase(seed);
    if (::testing::Test::HasFatalFailure() || ::testing::Test::HasNonfatalFailure()) return;
  }
}

}  // namespace
}  // namespace opstream::storage::testing
