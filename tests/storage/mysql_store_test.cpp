// The `mysql` provider against a real MariaDB server: the shared conformance suite, plus what only
// this store has — the §3.4 schema created unqualified in the connection's database (§3.4.6), the
// MySQL migration ids, refusal of a newer schema and of ids longer than 255 characters (SV-10),
// group commit and clear errors. Every test works in a database of its own.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <iostream>
#include <map>
#include <thread>

#include "storage/document_store_conformance.hpp"
#include "storage/mysql/mysql_document_store.hpp"
#include "storage/mysql_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<DocumentStore> OpenMySqlOrFail(const std::string& connection_string) {
  std::unique_ptr<DocumentStore> store;
  const Status status = OpenMySqlStore(connection_string, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

const StoreFactory kMySqlFactory{"MySql",
                                 [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                                   auto database = std::make_unique<MySqlTestDatabase>();
                                   if (!database->ok()) return nullptr;
                                   auto store = OpenMySqlOrFail(database->ConnectionString());
                                   if (!store) return nullptr;
                                   return std::make_unique<StoreOwning>(std::move(database), std::move(store));
                                 },
                                 std::chrono::microseconds(1), std::chrono::microseconds(1),
                                 std::chrono::microseconds(1)};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(MySql, kMySqlFactory);

class MySqlStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(database_.ok()); }

  std::unique_ptr<MySqlDocumentStore> Open(MySqlStoreSettings settings = {}) {
    MySqlConnectionOptions options;
    const Status parsed = ParseMySqlConnectionString(database_.ConnectionString(), options);
    EXPECT_TRUE(parsed.ok()) << parsed.message();
    return std::make_unique<MySqlDocumentStore>(options, settings);
  }

  std::unique_ptr<MySqlDocumentStore> OpenInitialized(MySqlStoreSettings settings = {}) {
    return InitializedOrFail(Open(settings));
  }

  RawMySql Raw() { return RawMySql(database_.ConnectionString()); }

  MySqlTestDatabase database_;
};

// §3.4.2/§3.4.3, written out independently of the production DDL: column, type, nullability and
// character set in physical order.
const std::map<std::string, std::vector<std::string>>& ExpectedColumns() {
  const std::string k = "varchar(255) utf8mb4";
  const std::string s = "longtext utf8mb4";
  static const std::map<std::string, std::vector<std::string>> kColumns = {
      {"DocumentOps",
       {"DocumentId " + k + " NO", "Revision bigint(20) - NO", "AuthorId " + s + " NO", "Timestamp datetime(6) - NO",
        "Payload longblob - NO", "EngineType " + s + " NO"}},
      {"DocumentSnapshots",
       {"DocumentId " + k + " NO", "Revision bigint(20) - NO", "Timestamp datetime(6) - NO", "State longblob - NO"}},
      {"HistoryOps",
       {"DocumentId " + k + " NO", "Revision bigint(20) - NO", "AuthorId " + s + " NO", "Timestamp datetime(6) - NO",
        "Payload longblob - NO", "EngineType " + s + " NO"}},
      {"HistorySnapshots",
       {"DocumentId " + k + " NO", "Revision bigint(20) - NO", "Timestamp datetime(6) - NO", "State longblob - NO",
        "Name " + s + " YES"}},
      {"Comments",
       {"Id " + k + " NO", "DocumentId " + k + " NO", "ParentCommentId " + k + " YES", "AuthorPeerId " + s + " NO",
        "Body " + s + " NO", "AnchorJson " + s + " YES", "AnchoredAtRevision bigint(20) - NO",
        "CreatedAt datetime(6) - NO", "ResolvedAt datetime(6) - YES", "ResolvedByPeerId " + s + " YES",
        "IsOrphaned tinyint(1) - NO", "AuthorName " + s + " NO"}},
      {"DocumentNames",
       {"GlobalName " + k + " NO", "DefaultBranchId " + s + " NO", "EngineType " + s + " NO",
        "CreatedAt datetime(6) - NO"}},
      {"DocumentBranches",
       {"GlobalName " + k + " NO", "BranchId " + k + " NO", "PhysicalDocumentId " + k + " NO",
        "ForkParentBranchId " + s + " YES", "ForkRevision bigint(20) - NO", "CreatedAt datetime(6) - NO",
        "IsReadOnly tinyint(1) - NO"}},
      {"DocumentVersions",
       {"GlobalName " + k + " NO", "BranchId " + k + " NO", "Tag " + k + " NO", "Revision bigint(20) - NO",
        "HistorySnapshotName " + s + " NO", "CreatedAt datetime(6) - NO"}},
      {"__EFMigrationsHistory", {"MigrationId varchar(150) utf8mb4 NO", "ProductVersion varchar(32) utf8mb4 NO"}},
  };
  return kColumns;
}

// Ids are ordinal (server.md §3.1): every key column compares bytes, so `Doc` and `doc` stay apart.
TEST_F(MySqlStoreTest, KeyColumnsUseABinaryCollation) {
  auto store = OpenInitialized();
  RawMySql raw = Raw();
  const auto rows = raw.Query(
      "SELECT CONCAT(table_name, '.', column_name, ' ', collation_name) FROM "
      "information_schema.columns WHERE table_schema = '" +
      database_.name() + "' AND column_type = 'varchar(255)' ORDER BY table_name, ordinal_position");
  std::vector<std::string> keys;
  for (const auto& row : rows) keys.push_back(row[0]);
  EXPECT_THAT(keys,
              ElementsAre("Comments.Id utf8mb4_bin", "Comments.DocumentId utf8mb4_bin",
                          "Comments.ParentCommentId utf8mb4_bin", "DocumentBranches.GlobalName utf8mb4_bin",
                          "DocumentBranches.BranchId utf8mb4_bin", "DocumentBranches.PhysicalDocumentId utf8mb4_bin",
                          "DocumentNames.GlobalName utf8mb4_bin", "DocumentOps.DocumentId utf8mb4_bin",
                          "DocumentSnapshots.DocumentId utf8mb4_bin", "DocumentVersions.GlobalName utf8mb4_bin",
                          "DocumentVersions.BranchId utf8mb4_bin", "DocumentVersions.Tag utf8mb4_bin",
                          "HistoryOps.DocumentId utf8mb4_bin", "HistorySnapshots.DocumentId utf8mb4_bin"));
  ASSERT_TRUE(AppendSync(*store, "Doc", MakeOps(1, 2)).ok());
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(1, 1)).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(1));
}

TEST_F(MySqlStoreTest, SchemaMatchesTheReferenceInTheConnectionDatabase) {
  auto store = OpenInitialized();
  RawMySql raw = Raw();
  const std::string in_db = "table_schema = '" + database_.name() + "'";

  std::map<std::string, std::vector<std::string>> columns;
  for (const auto& row : raw.Query("SELECT table_name, CONCAT(column_name, ' ', column_type, ' ', "
                                   "COALESCE(character_set_name, '-'), ' ', is_nullable) FROM "
                                   "information_schema.columns WHERE " +
                                   in_db + " ORDER BY table_name, ordinal_position")) {
    columns[row[0]].push_back(row[1]);
  }
  EXPECT_EQ(columns, ExpectedColumns());

  // Index name, uniqueness and columns in order; MySQL names every primary key PRIMARY.
  std::vector<std::string> indexes;
  for (const auto& row : raw.Query("SELECT CONCAT(table_name, '.', index_name, IF(non_unique = 0, ' unique', ''), "
                                   "' (', GROUP_CONCAT(column_name ORDER BY seq_in_index SEPARATOR ', '), ')') FROM "
                                   "information_schema.statistics WHERE " +
                                   in_db + " GROUP BY table_name, index_name, non_unique ORDER BY 1")) {
    indexes.push_back(row[0]);
  }
  EXPECT_THAT(
      indexes,
      ElementsAre("Comments.IX_Comments_DocumentId_ParentCommentId_ResolvedAt (DocumentId, ParentCommentId, "
                  "ResolvedAt)",
                  "Comments.PRIMARY unique (Id)",
                  "DocumentBranches.IX_DocumentBranches_PhysicalDocumentId (PhysicalDocumentId)",
                  "DocumentBranches.PRIMARY unique (GlobalName, BranchId)", "DocumentNames.PRIMARY unique (GlobalName)",
                  "DocumentOps.IX_DocumentOps_DocumentId_Revision (DocumentId, Revision)",
                  "DocumentOps.PRIMARY unique (DocumentId, Revision)", "DocumentSnapshots.PRIMARY unique (DocumentId)",
                  "DocumentVersions.IX_DocumentVersions_GlobalName_BranchId (GlobalName, BranchId)",
                  "DocumentVersions.PRIMARY unique (GlobalName, BranchId, Tag)",
                  "HistoryOps.IX_HistoryOps_DocumentId_Revision (DocumentId, Revision)",
                  "HistoryOps.PRIMARY unique (DocumentId, Revision)",
                  "HistorySnapshots.IX_HistorySnapshots_DocumentId_Revision (DocumentId, Revision)",
                  "HistorySnapshots.PRIMARY unique (DocumentId, Revision)",
                  "__EFMigrationsHistory.PRIMARY unique (MigrationId)"));
  EXPECT_EQ(raw.Cell("SELECT COUNT(*) FROM information_schema.table_constraints WHERE " + in_db +
                     " AND constraint_type IN ('FOREIGN KEY', 'CHECK')"),
            "0");
  // No schema `opstream` (§3.4.6) and the database defaults to utf8mb4 (§3.4.5 step 1).
  EXPECT_EQ(raw.Cell("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'opstream'"), "0");
  EXPECT_EQ(raw.Cell("SELECT default_character_set_name FROM information_schema.schemata WHERE schema_name = '" +
                     database_.name() + "'"),
            "utf8mb4");
  EXPECT_EQ(raw.Query("SELECT `MigrationId` FROM `__EFMigrationsHistory` ORDER BY `MigrationId`"),
            (std::vector<std::vector<std::string>>{
                {"20260528094915_Initial"}, {"20260529085259_UpdateModel"}, {"20260624154139_AddCommentAuthorName"}}));
}

TEST(MySqlStoreCreateTest, AMissingDatabaseIsCreatedAtInitialize) {
  MySqlTestDatabase database;
  ASSERT_TRUE(database.ok());
  const std::string name = database.name() + "_new";
  RawMySql(database.ConnectionString()).Query("DROP DATABASE IF EXISTS `" + name + "`");
  {
    std::unique_ptr<DocumentStore> store;
    ASSERT_TRUE(OpenMySqlStore(database.ConnectionString("Database=" + name), store).ok());
    const Status initialized = InitializeSync(*store);
    ASSERT_TRUE(initialized.ok()) << initialized.message();
    EXPECT_TRUE(AppendSync(*store, "doc", MakeOps(1, 1)).ok());
  }
  RawMySql raw(database.ConnectionString());
  EXPECT_EQ(raw.Cell("SELECT COUNT(*) FROM `" + name + "`.`DocumentOps`"), "1");
  raw.Query("DROP DATABASE `" + name + "`");
}

TEST_F(MySqlStoreTest, MigrationIsIdempotentAcrossStoresAndRestarts) {
  { auto first = OpenInitialized(); }
  auto second = OpenInitialized();
  ASSERT_TRUE(AppendSync(*second, "doc", MakeOps(2, 3)).ok());
  EXPECT_TRUE(InitializeSync(*second).ok());
  RawMySql raw = Raw();
  EXPECT_EQ(raw.Cell("SELECT COUNT(*) FROM `__EFMigrationsHistory`"), "3");
  EXPECT_THAT(Revisions(LoadSync(*second, "doc").second.ops), ElementsAre(2, 3));
}

TEST_F(MySqlStoreTest, NodesStartingTogetherMigrateOnce) {
  std::vector<std::unique_ptr<MySqlDocumentStore>> stores;
  for (int i = 0; i < 4; ++i) stores.push_back(Open());
  std::vector<std::future<Status>> results;
  for (auto& store : stores) {
    auto promise = std::make_shared<std::promise<Status>>();
    results.push_back(promise->get_future());
    store->Initialize([promise](Status status) { promise->set_value(std::move(status)); });
  }
  for (auto& result : results) {
    const Status status = Wait(result);
    EXPECT_TRUE(status.ok()) << status.message();
  }
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `__EFMigrationsHistory`"), "3");
}

TEST_F(MySqlStoreTest, AnInterruptedLastStepIsCompleted) {
  { auto first = OpenInitialized(); }
  // As if the node died after the ALTER of step 3 but before recording it (MySQL DDL is not transactional).
  Raw().Query("DELETE FROM `__EFMigrationsHistory` WHERE `MigrationId` = '20260624154139_AddCommentAuthorName'");
  auto second = OpenInitialized();
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `__EFMigrationsHistory`"), "3");
}

TEST_F(MySqlStoreTest, NewerSchemaIsRefusedWithClearMessage) {
  { auto first = OpenInitialized(); }
  Raw().Query("INSERT INTO `__EFMigrationsHistory` VALUES ('20270101000000_Future', '10.0.0')");
  auto store = Open();
  const Status status = InitializeSync(*store);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("newer schema"));
  EXPECT_THAT(status.message(), HasSubstr("20270101000000_Future"));
}

TEST_F(MySqlStoreTest, TimestampsKeepMicrosecondsAsUtcWallClock) {
  auto store = OpenInitialized();
  StoredOp op = MakeOp(1);
  ASSERT_TRUE(AppendSync(*store, "doc", {op}).ok());
  EXPECT_EQ(Raw().Cell("SELECT `Timestamp` FROM `DocumentOps`"), "2026-06-24 15:41:40.123456");
  const auto loaded = LoadSync(*store, "doc");
  ASSERT_EQ(loaded.second.ops.size(), 1u);
  EXPECT_EQ(loaded.second.ops[0].timestamp, Timestamp(std::chrono::floor<std::chrono::microseconds>(op.timestamp)));
}

TEST_F(MySqlStoreTest, IdsLongerThan255CharactersAreRefusedClearly) {
  auto store = OpenInitialized();
  const std::string longest(255, 'x');
  EXPECT_TRUE(AppendSync(*store, longest, MakeOps(1, 1)).ok());
  // 255 characters of 4 bytes each still fit (utf8mb4 counts characters).
  std::string emoji;
  for (int i = 0; i < 255; ++i) emoji += "\xF0\x9F\x98\x80";
  EXPECT_TRUE(AppendSync(*store, emoji, MakeOps(1, 1)).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, emoji).second.ops), ElementsAre(1));
  const std::string too_long(256, 'y');
  const Status refused = AppendSync(*store, too_long, MakeOps(1, 1));
  EXPECT_THAT(refused.message(), HasSubstr("at most 255 characters"));
  EXPECT_FALSE(LoadSync(*store, too_long).first.ok());
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `DocumentOps`"), "2");
}

// Appends queued while a lane is busy share its next transaction.
std::vector<Status> AppendMany(MySqlDocumentStore& store, const std::vector<std::string>& ids) {
  std::vector<std::future<Status>> futures;
  for (const std::string& id : ids) {
    auto promise = std::make_shared<std::promise<Status>>();
    futures.push_back(promise->get_future());
    store.Append(id, MakeOps(1, 2), [promise](Status status) { promise->set_value(std::move(status)); });
  }
  std::vector<Status> results;
  for (auto& future : futures) results.push_back(Wait(future));
  return results;
}

TEST_F(MySqlStoreTest, GroupCommitSharesTransactions) {
  MySqlStoreSettings settings;
  settings.connections = 1;
  auto store = OpenInitialized(settings);
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i) ids.push_back("d" + std::to_string(i));
  for (const Status& status : AppendMany(*store, ids)) EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `DocumentOps`"), "400");
  const auto counters = store->counters();
  EXPECT_EQ(counters.appends_committed, 200u);
  EXPECT_LT(counters.append_transactions, 200u);
}

TEST_F(MySqlStoreTest, DuplicateInAGroupIsRefusedAloneAndTheOthersCommit) {
  MySqlStoreSettings settings;
  settings.connections = 1;
  auto store = OpenInitialized(settings);
  ASSERT_TRUE(AppendSync(*store, "dup", MakeOps(1, 1)).ok());
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(i == 25 ? "dup" : "d" + std::to_string(i));
  const std::vector<Status> results = AppendMany(*store, ids);
  for (int i = 0; i < 50; ++i) {
    if (i == 25) {
      EXPECT_EQ(results[i].message(), "Revision 1 of document 'dup' already exists.");
    } else {
      EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].message();
    }
  }
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `DocumentOps`"), std::to_string(1 + 2 * 49));
}

// A group larger than one statement (and than the server's packet limit) still commits as one.
TEST_F(MySqlStoreTest, AGroupLargerThanThePacketLimitCommits) {
  MySqlStoreSettings settings;
  settings.connections = 1;
  auto store = OpenInitialized(settings);
  RawMySql raw = Raw();
  const int64_t packet = std::stoll(raw.Cell("SELECT @@max_allowed_packet"));
  const std::string payload = "{\"big\":\"" + std::string(512 * 1024, 'x') + "\"}";
  const int docs = static_cast<int>(packet / static_cast<int64_t>(payload.size())) + 4;
  std::vector<std::future<Status>> futures;
  for (int i = 0; i < docs; ++i) {
    auto promise = std::make_shared<std::promise<Status>>();
    futures.push_back(promise->get_future());
    store->Append("big" + std::to_string(i), {MakeOp(1, payload)},
                  [promise](Status status) { promise->set_value(std::move(status)); });
  }
  for (auto& future : futures) {
    const Status status = Wait(future);
    EXPECT_TRUE(status.ok()) << status.message();
  }
  EXPECT_EQ(raw.Query("SELECT COUNT(*), MIN(LENGTH(`Payload`)) FROM `DocumentOps`"),
            (std::vector<std::vector<std::string>>{{std::to_string(docs), std::to_string(payload.size())}}));
}

TEST_F(MySqlStoreTest, LoadsTenThousandOpsInOneStatement) {
  auto store = OpenInitialized();
  for (int64_t first = 1; first <= 10000; first += 1000) {
    ASSERT_TRUE(AppendSync(*store, "long", MakeOps(first, first + 999)).ok());
  }
  const auto started = std::chrono::steady_clock::now();
  const auto [status, loaded] = LoadSync(*store, "long");
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started);
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_EQ(loaded.ops.size(), 10000u);
  EXPECT_EQ(loaded.ops.front().revision, 1);
  EXPECT_EQ(loaded.ops.back().revision, 10000);
  EXPECT_EQ(loaded.ops.back().payload, MakeOp(10000).payload);
  std::cout << "load of 10,000 ops without a snapshot: " << elapsed.count() << " ms\n";
}

TEST_F(MySqlStoreTest, AProbeBehindAStuckStatementIsUnhealthyAfterItsTimeout) {
  MySqlStoreSettings settings;
  settings.connections = 1;
  settings.health_timeout = std::chrono::milliseconds(300);
  auto store = OpenInitialized(settings);
  RawMySql raw = Raw();
  // An uncommitted row holds the key lock, so the store's append waits on its only connection.
  raw.Query("START TRANSACTION");
  raw.Query("INSERT INTO `DocumentOps` VALUES ('held', 1, 'p', '2026-01-01 00:00:00', 'x', 'TextOp')");
  auto appended = std::make_shared<std::promise<Status>>();
  auto append_result = appended->get_future();
  store->Append("held", MakeOps(1, 1), [appended](Status status) { appended->set_value(std::move(status)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const auto started = std::chrono::steady_clock::now();
  const HealthReport health = CheckHealthSync(*store);
  EXPECT_EQ(health.status, HealthStatus::kUnhealthy);
  EXPECT_EQ(health.description, "MySQL did not answer within 300 ms");
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  raw.Query("ROLLBACK");
  const Status status = Wait(append_result);
  EXPECT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

TEST_F(MySqlStoreTest, DuplicateInsideALongBatchNamesTheExistingRevision) {
  auto store = OpenInitialized();
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(1, 3)).ok());
  EXPECT_EQ(AppendSync(*store, "doc", MakeOps(3, 6)).message(), "Revision 3 of document 'doc' already exists.");
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(1, 2, 3));
}

TEST_F(MySqlStoreTest, InvalidTextIsRefusedAndLeavesTheOthersAlone) {
  auto store = OpenInitialized();
  StoredOp bad = MakeOp(1);
  bad.author_id = "\xC3\x28";  // invalid UTF-8
  const Status refused = AppendSync(*store, "bad", {bad});
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("not acknowledged"));
  EXPECT_TRUE(AppendSync(*store, "good", MakeOps(1, 1)).ok());
  EXPECT_EQ(Raw().Cell("SELECT COUNT(*) FROM `DocumentOps`"), "1");
}

TEST_F(MySqlStoreTest, ReconnectsAfterTheConnectionIsKilled) {
  MySqlStoreSettings settings;
  settings.connections = 1;
  auto store = OpenInitialized(settings);
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(1, 1)).ok());
  RawMySql raw = Raw();
  for (const auto& row : raw.Query("SELECT id FROM information_schema.processlist WHERE db = '" + database_.name() +
                                   "' AND id <> CONNECTION_ID()")) {
    raw.Query("KILL " + row[0]);
  }
  // The load finds its connection dead and gets one fresh attempt; nothing acknowledged is lost.
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(1));
  EXPECT_TRUE(AppendSync(*store, "doc", MakeOps(2, 2)).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(1, 2));
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
  EXPECT_GE(store->counters().connections, 2u);
}

TEST(MySqlStoreUnreachableTest, FailsFastWithClearErrorsAndNeverShowsThePassword) {
  const int port = FreePort();
  std::unique_ptr<DocumentStore> store;
  ASSERT_TRUE(OpenMySqlStore("Server=127.0.0.1;Port=" + std::to_string(port) +
                                 ";Uid=someone;Pwd=s3cr3t-value;Database=x;Connection Timeout=2",
                             store)
                  .ok());
  ExpectUnreachableStoreFailsFast(*store, "MySQL", port);
}

}  // namespace
}  // namespace opstream::storage::testing
