// The `postgres` provider against a real server: the shared conformance suite, plus what only a
// relational store has — the reference's exact schema and migration history, refusal of a newer
// schema, group commit, reconnects and clear errors. Every test works in a database of its own.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "storage/document_store_conformance.hpp"
#include "storage/postgres/postgres_document_store.hpp"
#include "storage/postgres_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

std::unique_ptr<DocumentStore> OpenOrFail(const std::string& connection_string, PostgresStoreSettings settings = {}) {
  std::unique_ptr<DocumentStore> store;
  const Status status = OpenPostgresStore(connection_string, store, settings);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

const StoreFactory kPostgres{"Postgres",
                             [](const std::filesystem::path&) -> std::unique_ptr<DocumentStore> {
                               auto database = std::make_unique<TestDatabase>();
                               if (!database->ok()) return nullptr;
                               auto store = OpenOrFail(database->ConnectionString());
                               if (!store) return nullptr;
                               return std::make_unique<StoreOwning>(std::move(database), std::move(store));
                             },
                             std::chrono::microseconds(1), std::chrono::microseconds(1), std::chrono::microseconds(1)};

OPSTREAM_INSTANTIATE_STORE_CONFORMANCE(Postgres, kPostgres);

class PostgresStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(database_.ok()); }

  std::unique_ptr<PostgresDocumentStore> Open(const std::string& extra = {}, PostgresStoreSettings settings = {}) {
    PostgresConnectionOptions options;
    const Status parsed = ParsePostgresConnectionString(database_.ConnectionString(extra), options);
    EXPECT_TRUE(parsed.ok()) << parsed.message();
    return std::make_unique<PostgresDocumentStore>(options, settings);
  }

  std::unique_ptr<PostgresDocumentStore> OpenInitialized(const std::string& extra = {},
                                                         PostgresStoreSettings settings = {}) {
    return InitializedOrFail(Open(extra, settings));
  }

  RawPostgres Raw() { return RawPostgres(database_.ConnectionString()); }

  TestDatabase database_;
};

// §3.4.2–§3.4.4, written out independently of the production DDL: table, column, type,
// nullability in physical order.
const std::map<std::string, std::vector<std::string>>& ExpectedColumns() {
  static const std::map<std::string, std::vector<std::string>> kColumns = {
      {"DocumentOps",
       {"DocumentId text NO", "Revision bigint NO", "AuthorId text NO", "Timestamp timestamp with time zone NO",
        "Payload bytea NO", "EngineType text NO"}},
      {"DocumentSnapshots",
       {"DocumentId text NO", "Revision bigint NO", "Timestamp timestamp with time zone NO", "State bytea NO"}},
      {"HistoryOps",
       {"DocumentId text NO", "Revision bigint NO", "AuthorId text NO", "Timestamp timestamp with time zone NO",
        "Payload bytea NO", "EngineType text NO"}},
      {"HistorySnapshots",
       {"DocumentId text NO", "Revision bigint NO", "Timestamp timestamp with time zone NO", "State bytea NO",
        "Name text YES"}},
      {"Comments",
       {"Id text NO", "DocumentId text NO", "ParentCommentId text YES", "AuthorPeerId text NO", "Body text NO",
        "AnchorJson text YES", "AnchoredAtRevision bigint NO", "CreatedAt timestamp with time zone NO",
        "ResolvedAt timestamp with time zone YES", "ResolvedByPeerId text YES", "IsOrphaned boolean NO",
        "AuthorName text NO"}},
      {"DocumentNames",
       {"GlobalName text NO", "DefaultBranchId text NO", "EngineType text NO",
        "CreatedAt timestamp with time zone NO"}},
      {"DocumentBranches",
       {"GlobalName text NO", "BranchId text NO", "PhysicalDocumentId text NO", "ForkParentBranchId text YES",
        "ForkRevision bigint NO", "CreatedAt timestamp with time zone NO", "IsReadOnly boolean NO"}},
      {"DocumentVersions",
       {"GlobalName text NO", "BranchId text NO", "Tag text NO", "Revision bigint NO", "HistorySnapshotName text NO",
        "CreatedAt timestamp with time zone NO"}},
  };
  return kColumns;
}

TEST_F(PostgresStoreTest, SchemaMatchesTheReference) {
  auto store = OpenInitialized();
  RawPostgres raw = Raw();

  std::map<std::string, std::vector<std::string>> columns;
  for (const auto& row :
       raw.Query("SELECT table_name, column_name || ' ' || data_type || ' ' || is_nullable FROM "
                 "information_schema.columns WHERE table_schema = 'opstream' ORDER BY table_name, ordinal_position")) {
    columns[row[0]].push_back(row[1]);
  }
  EXPECT_EQ(columns, ExpectedColumns());

  // Primary keys: name and columns in key order.
  std::map<std::string, std::string> keys;
  for (const auto& row :
       raw.Query("SELECT tc.table_name, tc.constraint_name || ' (' || string_agg(k.column_name, ', ' ORDER BY "
                 "k.ordinal_position) || ')' FROM information_schema.table_constraints tc JOIN "
                 "information_schema.key_column_usage k ON k.constraint_name = tc.constraint_name AND k.table_schema = "
                 "tc.table_schema WHERE tc.table_schema = 'opstream' AND tc.constraint_type = 'PRIMARY KEY' GROUP BY "
                 "tc.table_name, tc.constraint_name")) {
    keys[row[0]] = row[1];
  }
  const std::map<std::string, std::string> expected_keys = {
      {"Comments", "PK_Comments (Id)"},
      {"DocumentBranches", "PK_DocumentBranches (GlobalName, BranchId)"},
      {"DocumentNames", "PK_DocumentNames (GlobalName)"},
      {"DocumentOps", "PK_DocumentOps (DocumentId, Revision)"},
      {"DocumentSnapshots", "PK_DocumentSnapshots (DocumentId)"},
      {"DocumentVersions", "PK_DocumentVersions (GlobalName, BranchId, Tag)"},
      {"HistoryOps", "PK_HistoryOps (DocumentId, Revision)"},
      {"HistorySnapshots", "PK_HistorySnapshots (DocumentId, Revision)"},
  };
  EXPECT_EQ(keys, expected_keys);

  // Every index (the primary keys' included): no unique index beyond them, no foreign keys.
  std::vector<std::string> indexes;
  for (const auto& row : raw.Query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'opstream' ORDER BY "
                                   "indexname COLLATE \"C\"")) {
    indexes.push_back(row[0] + (row[1].find("UNIQUE") != std::string::npos ? " unique" : ""));
  }
  EXPECT_THAT(indexes,
              ElementsAre("IX_Comments_DocumentId_ParentCommentId_ResolvedAt", "IX_DocumentBranches_PhysicalDocumentId",
                          "IX_DocumentOps_DocumentId_Revision", "IX_DocumentVersions_GlobalName_BranchId",
                          "IX_HistoryOps_DocumentId_Revision", "IX_HistorySnapshots_DocumentId_Revision",
                          "PK_Comments unique", "PK_DocumentBranches unique", "PK_DocumentNames unique",
                          "PK_DocumentOps unique", "PK_DocumentSnapshots unique", "PK_DocumentVersions unique",
                          "PK_HistoryOps unique", "PK_HistorySnapshots unique"));
  EXPECT_EQ(raw.Cell("SELECT indexdef FROM pg_indexes WHERE indexname = 'IX_Comments_DocumentId_ParentCommentId_"
                     "ResolvedAt'"),
            "CREATE INDEX \"IX_Comments_DocumentId_ParentCommentId_ResolvedAt\" ON opstream.\"Comments\" USING btree "
            "(\"DocumentId\", \"ParentCommentId\", \"ResolvedAt\")");
  EXPECT_EQ(
      raw.Cell("SELECT count(*) FROM information_schema.table_constraints WHERE table_schema = 'opstream' "
               "AND constraint_type IN ('FOREIGN KEY', 'UNIQUE', 'CHECK') AND constraint_name NOT LIKE '%_not_null'"),
      "0");
  EXPECT_EQ(raw.Cell("SELECT column_default FROM information_schema.columns WHERE table_schema = 'opstream' AND "
                     "table_name = 'Comments' AND column_name = 'AuthorName'"),
            "''::text");

  // The EF history table, in the default schema, with the reference's ids in order.
  EXPECT_EQ(raw.Query("SELECT table_schema || ' ' || column_name || ' ' || data_type || '(' || "
                      "character_maximum_length || ') ' || is_nullable FROM information_schema.columns WHERE "
                      "table_name = '__EFMigrationsHistory' ORDER BY ordinal_position"),
            (std::vector<std::vector<std::string>>{{"public MigrationId character varying(150) NO"},
                                                   {"public ProductVersion character varying(32) NO"}}));
  EXPECT_EQ(raw.Cell("SELECT constraint_name FROM information_schema.table_constraints WHERE table_name = "
                     "'__EFMigrationsHistory' AND constraint_type = 'PRIMARY KEY'"),
            "PK___EFMigrationsHistory");
  EXPECT_EQ(raw.Query("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\""),
            (std::vector<std::vector<std::string>>{
                {"20260528094925_Initial"}, {"20260529085249_UpdateModel"}, {"20260624154130_AddCommentAuthorName"}}));
}

TEST_F(PostgresStoreTest, MigrationIsIdempotentAcrossStoresAndRestarts) {
  { auto first = OpenInitialized(); }
  auto second = OpenInitialized();
  ASSERT_TRUE(AppendSync(*second, "doc", MakeOps(2, 3)).ok());
  EXPECT_TRUE(InitializeSync(*second).ok());
  RawPostgres raw = Raw();
  EXPECT_EQ(raw.Cell("SELECT count(*) FROM \"__EFMigrationsHistory\""), "3");
  EXPECT_THAT(Revisions(LoadSync(*second, "doc").second.ops), ElementsAre(2, 3));
}

TEST_F(PostgresStoreTest, NodesStartingTogetherMigrateOnce) {
  constexpr int kNodes = 4;
  std::vector<std::unique_ptr<PostgresDocumentStore>> stores;
  for (int i = 0; i < kNodes; ++i) stores.push_back(Open());
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
  RawPostgres raw = Raw();
  EXPECT_EQ(raw.Cell("SELECT count(*) FROM \"__EFMigrationsHistory\""), "3");
}

// A database the reference created with its first migration only, holding data: the later steps
// are applied and the data stays readable, every field intact.
TEST_F(PostgresStoreTest, UpgradesAReferenceDatabaseAndReadsItsRows) {
  RawPostgres raw = Raw();
  raw.Query(R"sql(
CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" ("MigrationId" character varying(150) NOT NULL, "ProductVersion" character varying(32) NOT NULL, CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY ("MigrationId"));
CREATE SCHEMA IF NOT EXISTS opstream;
CREATE TABLE opstream."DocumentOps" ("DocumentId" text NOT NULL, "Revision" bigint NOT NULL, "AuthorId" text NOT NULL, "Timestamp" timestamp with time zone NOT NULL, "Payload" bytea NOT NULL, "EngineType" text NOT NULL, CONSTRAINT "PK_DocumentOps" PRIMARY KEY ("DocumentId", "Revision"));
CREATE TABLE opstream."DocumentSnapshots" ("DocumentId" text NOT NULL, "Revision" bigint NOT NULL, "Timestamp" timestamp with time zone NOT NULL, "State" bytea NOT NULL, CONSTRAINT "PK_DocumentSnapshots" PRIMARY KEY ("DocumentId"));
CREATE TABLE opstream."HistoryOps" ("DocumentId" text NOT NULL, "Revision" bigint NOT NULL, "AuthorId" text NOT NULL, "Timestamp" timestamp with time zone NOT NULL, "Payload" bytea NOT NULL, "EngineType" text NOT NULL, CONSTRAINT "PK_HistoryOps" PRIMARY KEY ("DocumentId", "Revision"));
CREATE TABLE opstream."HistorySnapshots" ("DocumentId" text NOT NULL, "Revision" bigint NOT NULL, "Timestamp" timestamp with time zone NOT NULL, "State" bytea NOT NULL, "Name" text NULL, CONSTRAINT "PK_HistorySnapshots" PRIMARY KEY ("DocumentId", "Revision"));
CREATE INDEX "IX_DocumentOps_DocumentId_Revision" ON opstream."DocumentOps" ("DocumentId", "Revision");
CREATE INDEX "IX_HistoryOps_DocumentId_Revision" ON opstream."HistoryOps" ("DocumentId", "Revision");
CREATE INDEX "IX_HistorySnapshots_DocumentId_Revision" ON opstream."HistorySnapshots" ("DocumentId", "Revision");
INSERT INTO "__EFMigrationsHistory" VALUES ('20260528094925_Initial', '9.0.6');
INSERT INTO opstream."DocumentSnapshots" VALUES ('t:doc', 2, '2026-06-24 15:41:39.123456+00', '\x7b7d');
INSERT INTO opstream."DocumentOps" VALUES ('t:doc', 2, 'peer-a', '2026-06-24 15:41:38+00', '\x00', 'TextOp');
INSERT INTO opstream."DocumentOps" VALUES ('t:doc', 3, 'peer-b', '2026-06-24 17:41:40.5+02', '\xc3a900ff', 'JsonOpBatch');
)sql");
  auto store = OpenInitialized();
  EXPECT_EQ(raw.Query("SELECT \"MigrationId\", \"ProductVersion\" FROM \"__EFMigrationsHistory\" ORDER BY 1"),
            (std::vector<std::vector<std::string>>{{"20260528094925_Initial", "9.0.6"},
                                                   {"20260529085249_UpdateModel", "9.0.0"},
                                                   {"20260624154130_AddCommentAuthorName", "9.0.0"}}));
  auto [status, loaded] = LoadSync(*store, "t:doc");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 2);
  EXPECT_EQ(FormatIsoTimestamp(loaded.snapshot->timestamp), "2026-06-24T15:41:39.123456+00:00");
  EXPECT_EQ(loaded.snapshot->state, "{}");
  ASSERT_EQ(loaded.ops.size(), 1u);
  EXPECT_EQ(loaded.ops[0].revision, 3);
  EXPECT_EQ(loaded.ops[0].author_id, "peer-b");
  EXPECT_EQ(FormatIsoTimestamp(loaded.ops[0].timestamp), "2026-06-24T15:41:40.5+00:00");
  EXPECT_EQ(loaded.ops[0].payload, std::string("\xc3\xa9\x00\xff", 4));
  EXPECT_EQ(loaded.ops[0].engine_type, "JsonOpBatch");

  // What this store writes reads back through SQL as the reference would write it.
  StoredOp op = MakeOp(4, "{\"x\":1}");
  ASSERT_TRUE(AppendSync(*store, "t:doc", {op}).ok());
  EXPECT_EQ(
      raw.Query("SELECT \"AuthorId\", \"Timestamp\" AT TIME ZONE 'UTC', encode(\"Payload\", 'escape'), "
                "\"EngineType\" FROM opstream.\"DocumentOps\" WHERE \"Revision\" = 4"),
      (std::vector<std::vector<std::string>>{{op.author_id, "2026-06-24 15:41:43.123456", "{\"x\":1}", "TextOp"}}));
}

TEST_F(PostgresStoreTest, NewerSchemaIsRefusedWithClearMessage) {
  { auto store = OpenInitialized(); }
  RawPostgres raw = Raw();
  raw.Query("INSERT INTO \"__EFMigrationsHistory\" VALUES ('20991231000000_FromTheFuture', '11.0.0')");
  auto store = Open();
  const Status refused = InitializeSync(*store);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("newer schema"));
  EXPECT_THAT(refused.message(), HasSubstr("'20991231000000_FromTheFuture'"));
  EXPECT_THAT(refused.message(), HasSubstr("Upgrade OpStream Server"));
}

TEST_F(PostgresStoreTest, TimestampsKeepMicroseconds) {
  auto store = OpenInitialized();
  StoredOp op = MakeOp(2);
  op.timestamp = SampleTime() + std::chrono::nanoseconds(999);  // .1234576999
  ASSERT_TRUE(AppendSync(*store, "doc", {op}).ok());
  const auto loaded = LoadSync(*store, "doc").second;
  ASSERT_EQ(loaded.ops.size(), 1u);
  EXPECT_EQ(FormatIsoTimestamp(loaded.ops[0].timestamp), "2026-06-24T15:41:39.123457+00:00");
}

TEST_F(PostgresStoreTest, ReadsRecordsWrittenByTheReference) {
  auto store = OpenInitialized();
  RawPostgres raw = Raw();
  ASSERT_TRUE(raw.ok());
  raw.Query(
      "INSERT INTO opstream.\"Comments\" VALUES ('c1', 'doc', NULL, 'p', 'b', 'not json', 2, "
      "'2026-06-24 15:41:39.123456+00', NULL, NULL, true, 'Ann')");
  auto [listed, comments] = CallSync<std::pair<Status, std::vector<Comment>>>(
      [&](auto done) { store->comment_store()->LoadComments("doc", done); });
  ASSERT_TRUE(listed.ok()) << listed.message();
  ASSERT_EQ(comments.size(), 1u);
  // Anchor text that is not JSON reads as "no anchor" (§3.4.7) instead of failing the listing.
  EXPECT_FALSE(comments[0].anchor_json.has_value());
  EXPECT_TRUE(comments[0].is_orphaned);
  EXPECT_EQ(comments[0].author_name, "Ann");
  EXPECT_EQ(FormatIsoTimestamp(comments[0].created_at), "2026-06-24T15:41:39.123456+00:00");

  // What this store writes, as the reference would read it.
  ASSERT_TRUE(CallSync<Status>([&](auto done) {
                store->ref_store()->CreateBranch({"doc", "main", "doc", std::nullopt, 0, SampleTime(), true}, done);
              }).ok());
  EXPECT_THAT(raw.Query("SELECT \"ForkParentBranchId\", \"IsReadOnly\", \"CreatedAt\" AT TIME ZONE 'UTC' FROM "
                        "opstream.\"DocumentBranches\""),
              ElementsAre(ElementsAre("<null>", "t", "2026-06-24 15:41:39.123456")));
}

TEST_F(PostgresStoreTest, StatementsOfOneCallCommitTogetherOrNotAtAll) {
  auto store = OpenInitialized();
  CommentStore& comments = *store->comment_store();
  for (const char* id : {"c1", "c2"}) {
    Comment c;
    c.id = id;
    c.document_id = "doc";
    c.anchor_json = R"({"kind":"text","data":{}})";
    c.anchored_at_revision = 1;
    c.created_at = SampleTime();
    ASSERT_TRUE(CallSync<Status>([&](auto done) { comments.AddComment(c, done); }).ok());
  }
  // PostgreSQL text cannot hold NUL: the second update fails, so the first must not stick either.
  const std::string moved = R"({"kind":"text","data":{"startOffset":2}})";
  const Status failed = CallSync<Status>([&](auto done) {
    comments.UpdateAnchors(
        "doc", 9,
        {{"c1", moved, AnchorOutcome::kMoved}, {"c2", std::string("{\"kind\":\"te\0xt\"}", 16), AnchorOutcome::kMoved}},
        done);
  });
  ASSERT_FALSE(failed.ok());
  EXPECT_THAT(failed.message(), HasSubstr("PostgreSQL anchor update failed"));
  auto [status, c1] =
      CallSync<std::pair<Status, std::optional<Comment>>>([&](auto done) { comments.GetComment("c1", done); });
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(c1.has_value());
  EXPECT_EQ(c1->anchored_at_revision, 1);
  EXPECT_EQ(c1->anchor_json, std::optional<std::string>(R"({"kind":"text","data":{}})"));
  // The lane is still usable afterwards.
  EXPECT_TRUE(CallSync<Status>([&](auto done) {
                comments.UpdateAnchors("doc", 9, {{"c1", moved, AnchorOutcome::kMoved}}, done);
              }).ok());
  using CommentResult = std::pair<Status, std::optional<Comment>>;
  const auto after = CallSync<CommentResult>([&](auto done) { comments.GetComment("c1", done); });
  ASSERT_TRUE(after.second.has_value());
  EXPECT_EQ(after.second->anchored_at_revision, 9);
}

// Appends queued without waiting (as busy documents produce them).
std::vector<std::future<Status>> AppendMany(DocumentStore& store, int documents, int64_t first, int64_t last) {
  std::vector<std::future<Status>> results;
  for (int64_t revision = first; revision <= last; ++revision) {
    for (int d = 0; d < documents; ++d) {
      auto promise = std::make_shared<std::promise<Status>>();
      results.push_back(promise->get_future());
      store.Append("doc-" + std::to_string(d), {MakeOp(revision)},
                   [promise](Status status) { promise->set_value(std::move(status)); });
    }
  }
  return results;
}

TEST_F(PostgresStoreTest, GroupCommitSharesTransactions) {
  PostgresStoreSettings settings;
  settings.connections = 1;
  auto store = Open({}, settings);
  ASSERT_TRUE(InitializeSync(*store).ok());
  // Hold the only connection's thread in a completion while the appends queue up behind it.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<Status> first;
  store->Append("first", {MakeOp(2)}, [&first, released](Status status) {
    first.set_value(std::move(status));
    released.wait();
  });
  auto first_result = first.get_future();
  EXPECT_TRUE(Wait(first_result).ok());  // no early return: the thread must be released
  constexpr int kDocuments = 16;
  constexpr int kOpsPerDocument = 25;
  auto results = AppendMany(*store, kDocuments, 2, 1 + kOpsPerDocument);
  release.set_value();
  for (size_t i = 0; i < results.size(); ++i) {
    const Status status = Wait(results[i]);
    EXPECT_TRUE(status.ok()) << i << ": " << status.message();
  }
  const auto counters = store->counters();
  EXPECT_EQ(counters.appends_committed, uint64_t(1 + kDocuments * kOpsPerDocument));
  EXPECT_EQ(counters.append_transactions, 2u);  // the first append, then all 400 together
  for (int d = 0; d < kDocuments; ++d) {
    EXPECT_EQ(LoadSync(*store, "doc-" + std::to_string(d)).second.ops.size(), size_t(kOpsPerDocument));
  }
}

// The group insert is parsed and planned once per connection: the first round trip prepares it
// (and still inserts as plain text), later ones execute the prepared statement; a new connection
// prepares it again.
TEST_F(PostgresStoreTest, GroupInsertIsPreparedOncePerConnectionAndAgainAfterAReconnect) {
  const std::string application = "opstream-test-prepared-" + database_.name();
  PostgresStoreSettings settings;
  settings.connections = 1;
  auto store = Open("Application Name=" + application, settings);
  ASSERT_TRUE(InitializeSync(*store).ok());
  for (int64_t revision = 2; revision <= 6; ++revision) ASSERT_TRUE(AppendSync(*store, "doc", {MakeOp(revision)}).ok());
  EXPECT_EQ(store->counters().append_transactions, 5u);
  EXPECT_EQ(store->counters().prepared_append_transactions, 4u);

  RawPostgres raw = Raw();
  raw.Query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '" + application + "'");
  int64_t revision = 7;
  for (int attempt = 0; attempt < 50 && revision == 7; ++attempt) {
    const Status status = AppendSync(*store, "doc", {MakeOp(revision)});
    if (status.ok() || status.message().find("already exists") != std::string::npos) ++revision;
  }
  ASSERT_EQ(revision, 8) << "no append succeeded after the reconnect";
  const uint64_t prepared_before = store->counters().prepared_append_transactions;
  for (; revision <= 10; ++revision) ASSERT_TRUE(AppendSync(*store, "doc", {MakeOp(revision)}).ok());
  EXPECT_EQ(store->counters().prepared_append_transactions, prepared_before + 3);
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(2, 3, 4, 5, 6, 7, 8, 9, 10));
}

TEST_F(PostgresStoreTest, DuplicateInAGroupIsRefusedAloneAndTheOthersCommit) {
  auto store = OpenInitialized();
  ASSERT_TRUE(AppendSync(*store, "doc-0", MakeOps(2, 2)).ok());
  constexpr int kDocuments = 8;
  auto results = AppendMany(*store, kDocuments, 3, 12);
  auto duplicate = std::make_shared<std::promise<Status>>();
  auto duplicate_result = duplicate->get_future();
  store->Append("doc-0", {MakeOp(2)}, [duplicate](Status status) { duplicate->set_value(std::move(status)); });
  auto later = AppendMany(*store, kDocuments, 13, 20);
  for (auto& result : results) EXPECT_TRUE(Wait(result).ok());
  EXPECT_EQ(Wait(duplicate_result).message(), "Revision 2 of document 'doc-0' already exists.");
  for (auto& result : later) EXPECT_TRUE(Wait(result).ok());
  for (int d = 0; d < kDocuments; ++d) {
    EXPECT_EQ(LoadSync(*store, "doc-" + std::to_string(d)).second.ops.size(), size_t(18 + (d == 0 ? 1 : 0)));
  }
}

// Issue 6 asks for a join of a document with 10,000 stored ops under 50 ms; the store's share is
// one round trip. The bound here is loose (shared CI machines); the figure is printed.
TEST_F(PostgresStoreTest, LoadsTenThousandOpsInOneRoundTrip) {
  auto store = OpenInitialized();
  for (int64_t first = 2; first < 10002; first += 1000) {
    ASSERT_TRUE(AppendSync(*store, "big", MakeOps(first, first + 999)).ok());
  }
  ASSERT_TRUE(LoadSync(*store, "big").first.ok());  // warm the server's cache
  const auto started = std::chrono::steady_clock::now();
  auto [status, loaded] = LoadSync(*store, "big");
  const auto elapsed = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  ASSERT_TRUE(status.ok()) << status.message();
  EXPECT_EQ(loaded.ops.size(), 10000u);
  EXPECT_EQ(loaded.ops.back().revision, 10001);
  std::printf("load of 10000 ops: %.1f ms\n", elapsed);
  EXPECT_LT(elapsed, 1000.0);
}

TEST_F(PostgresStoreTest, DuplicateInsideALongBatchNamesTheExistingRevision) {
  auto store = OpenInitialized();
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 5)).ok());
  EXPECT_EQ(AppendSync(*store, "doc", MakeOps(4, 9)).message(), "Revision 4 of document 'doc' already exists.");
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(2, 3, 4, 5));
}

TEST_F(PostgresStoreTest, InvalidTextIsRefusedAndLeavesTheOthersAlone) {
  auto store = OpenInitialized();
  std::promise<Status> bad_promise, good_promise;
  store->Append(std::string("bad\0id", 6), {MakeOp(2)}, [&](Status s) { bad_promise.set_value(std::move(s)); });
  store->Append("good", {MakeOp(2)}, [&](Status s) { good_promise.set_value(std::move(s)); });
  auto bad = bad_promise.get_future();
  auto good = good_promise.get_future();
  const Status refused = Wait(bad);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(refused.message(), HasSubstr("PostgreSQL append failed"));
  EXPECT_TRUE(Wait(good).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, "good").second.ops), ElementsAre(2));
}

TEST_F(PostgresStoreTest, ReconnectsAfterTheConnectionIsKilledAndLosesNothingAcknowledged) {
  const std::string application = "opstream-test-" + database_.name();
  auto store = OpenInitialized("Application Name=" + application);
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 5)).ok());
  RawPostgres raw = Raw();
  EXPECT_NE(raw.Cell("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
                     "application_name = '" +
                     application + "') t"),
            "0");
  const uint64_t connections_before = store->counters().connections;
  // The first call after the kill may fail with a clear error; the store then reconnects.
  std::vector<int64_t> acknowledged = {2, 3, 4, 5};
  int failures = 0;
  for (int64_t revision = 6; revision <= 10; ++revision) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      const Status status = AppendSync(*store, "doc", {MakeOp(revision)});
      if (status.ok()) {
        acknowledged.push_back(revision);
        break;
      }
      ++failures;
      EXPECT_THAT(status.message(), HasSubstr("PostgreSQL"));
      if (status.message().find("already exists") != std::string::npos) break;  // committed before the kill
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  EXPECT_LE(failures, 5);  // at most one per killed connection
  const std::vector<int64_t> stored = Revisions(LoadSync(*store, "doc").second.ops);
  for (int64_t revision : acknowledged) {
    EXPECT_NE(std::find(stored.begin(), stored.end(), revision), stored.end()) << revision;
  }
  EXPECT_THAT(stored, ElementsAre(2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_GT(store->counters().connections, connections_before);
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

// A TCP forwarder in front of the test server that can be switched off and on again, to take the
// database away from a running store and bring it back on the same address.
class TcpProxy {
 public:
  TcpProxy(std::string target_host, int target_port) : host_(std::move(target_host)), target_port_(target_port) {}
  ~TcpProxy() { Down(); }

  int port() const { return port_; }

  void Up() {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = htons(static_cast<uint16_t>(port_));
    ASSERT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0) << std::strerror(errno);
    socklen_t length = sizeof address;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);
    ASSERT_EQ(listen(listener_, 16), 0);
    acceptor_ = std::thread([this] { Accept(); });
  }

  // Closes the listener and every forwarded connection (the store sees the server vanish).
  void Down() {
    if (listener_ < 0) return;
    shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    close(listener_);
    listener_ = -1;
    {
      std::lock_guard lock(mutex_);
      for (int fd : sockets_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& pump : pumps_) pump.join();
    pumps_.clear();
    for (int fd : sockets_) close(fd);
    sockets_.clear();
  }

 private:
  void Accept() {
    for (;;) {
      const int client = accept(listener_, nullptr, nullptr);
      if (client < 0) return;
      const int server = socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in target{};
      target.sin_family = AF_INET;
      target.sin_port = htons(static_cast<uint16_t>(target_port_));
      inet_pton(AF_INET, host_ == "localhost" ? "127.0.0.1" : host_.c_str(), &target.sin_addr);
      if (connect(server, reinterpret_cast<sockaddr*>(&target), sizeof target) != 0) {
        close(client);
        close(server);
        continue;
      }
      std::lock_guard lock(mutex_);
      sockets_.push_back(client);
      sockets_.push_back(server);
      pumps_.emplace_back([client, server] { Pump(client, server); });
      pumps_.emplace_back([client, server] { Pump(server, client); });
    }
  }

  static void Pump(int from, int to) {
    char buffer[16384];
    for (;;) {
      const ssize_t n = recv(from, buffer, sizeof buffer, 0);
      if (n <= 0 || send(to, buffer, static_cast<size_t>(n), MSG_NOSIGNAL) != n) break;
    }
    shutdown(to, SHUT_RDWR);
    shutdown(from, SHUT_RDWR);
  }

  std::string host_;
  int target_port_;
  int port_ = 0;
  int listener_ = -1;
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> sockets_;
  std::vector<std::thread> pumps_;
};

TEST_F(PostgresStoreTest, DatabaseGoingAwayFailsCallsClearlyThenReconnectsWithBackoff) {
  PostgresConnectionOptions direct;
  ASSERT_TRUE(ParsePostgresConnectionString(database_.ConnectionString(), direct).ok());
  TcpProxy proxy(direct.hosts[0].first, direct.hosts[0].second != 0 ? direct.hosts[0].second : direct.port);
  proxy.Up();
  PostgresStoreSettings settings;
  settings.connections = 2;
  auto store = OpenInitialized("Host=127.0.0.1;Port=" + std::to_string(proxy.port()) + ";Timeout=2", settings);
  ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 4)).ok());

  proxy.Down();
  // Each lane whose connection broke reports that once ("... failed while receiving ..."); after
  // that, calls fail at once with the reason instead of hanging.
  bool reported_unavailable = false;
  for (size_t call = 0; call <= settings.connections && !reported_unavailable; ++call) {
    const auto started = std::chrono::steady_clock::now();
    const Status status = AppendSync(*store, "doc", {MakeOp(5)});
    ASSERT_FALSE(status.ok());
    EXPECT_THAT(status.message(), HasSubstr("PostgreSQL"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(3));
    reported_unavailable = status.message().find("PostgreSQL is unavailable (127.0.0.1:") != std::string::npos;
  }
  EXPECT_TRUE(reported_unavailable);
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kUnhealthy);

  proxy.Up();
  bool appended = false;
  for (int attempt = 0; attempt < 100 && !appended; ++attempt) {
    const Status status = AppendSync(*store, "doc", {MakeOp(5)});
    appended = status.ok();
    if (!appended) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(appended) << "no reconnect within 10 s";
  // The other lane may still hold its broken connection: at most one call fails on it.
  auto loaded = LoadSync(*store, "doc");
  if (!loaded.first.ok()) loaded = LoadSync(*store, "doc");
  ASSERT_TRUE(loaded.first.ok()) << loaded.first.message();
  EXPECT_THAT(Revisions(loaded.second.ops), ElementsAre(2, 3, 4, 5));
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

TEST(PostgresStoreUnreachableTest, FailsFastWithClearErrorsAndNeverShowsThePassword) {
  const int port = FreePort();
  std::unique_ptr<DocumentStore> store;
  ASSERT_TRUE(OpenPostgresStore("Host=127.0.0.1;Port=" + std::to_string(port) +
                                    ";Username=someone;Password=s3cr3t-value;Database=x;Timeout=2",
                                store)
                  .ok());
  ExpectUnreachableStoreFailsFast(*store, "PostgreSQL", port);
}

}  // namespace
}  // namespace opstream::storage::testing
