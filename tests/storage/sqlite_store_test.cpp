// The `sqlite` provider: the shared conformance suite, plus what only a relational store has —
// the reference's exact schema and migration history, durability, group commit, errors.
#include <gmock/gmock.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <fstream>
#include <map>

#include "storage/document_store_conformance.hpp"
#include "storage/sqlite/sqlite_document_store.hpp"
#include "storage/sqlite_test_support.hpp"

namespace opstream::storage::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kInitialId = "20260528094901_Initial";
constexpr std::string_view kUpdateModelId = "20260529085317_UpdateModel";
constexpr std::string_view kAuthorNameId = "20260624155802_AddCommentAuthorName";

std::unique_ptr<DocumentStore> OpenOrFail(const std::string& connection_string) {
  std::unique_ptr<DocumentStore> store;
  const Status status = OpenSqliteStore(connection_string, store);
  EXPECT_TRUE(status.ok()) << status.message();
  return store;
}

const StoreFactory kSqliteFile{"SqliteFile", [](const std::filesystem::path& directory) {
                                 return OpenOrFail("Data Source=" + (directory / "store.db").string());
                               }};
const StoreFactory kSqliteMemory{"SqliteMemory",
                                 [](const std::filesystem::path&) { return OpenOrFail("Mode=Memory"); }};

INSTANTIATE_TEST_SUITE_P(Sqlite, DocumentStoreConformance, ::testing::Values(kSqliteFile, kSqliteMemory),
                         StoreFactoryName);
INSTANTIATE_TEST_SUITE_P(Sqlite, HistoryStoreConformance, ::testing::Values(kSqliteFile), StoreFactoryName);
INSTANTIATE_TEST_SUITE_P(Sqlite, CommentStoreConformance, ::testing::Values(kSqliteFile), StoreFactoryName);
INSTANTIATE_TEST_SUITE_P(Sqlite, RefStoreConformance, ::testing::Values(kSqliteFile), StoreFactoryName);

// The reference's database as EF Core 9 leaves it after the three SQLite migrations, written out
// independently of the production DDL (and in a different layout) so the two are checked against
// each other rather than against themselves.
constexpr const char* kReferenceInitialDdl = R"sql(
CREATE TABLE IF NOT EXISTS "__EFMigrationsLock" ("Id" INTEGER NOT NULL CONSTRAINT "PK___EFMigrationsLock" PRIMARY KEY, "Timestamp" TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS "__EFMigrationsHistory" ("MigrationId" TEXT NOT NULL CONSTRAINT "PK___EFMigrationsHistory" PRIMARY KEY, "ProductVersion" TEXT NOT NULL);
CREATE TABLE "DocumentOps" ("DocumentId" TEXT NOT NULL, "Revision" INTEGER NOT NULL, "AuthorId" TEXT NOT NULL, "Timestamp" TEXT NOT NULL, "Payload" BLOB NOT NULL, "EngineType" TEXT NOT NULL, CONSTRAINT "PK_DocumentOps" PRIMARY KEY ("DocumentId", "Revision"));
CREATE TABLE "DocumentSnapshots" ("DocumentId" TEXT NOT NULL CONSTRAINT "PK_DocumentSnapshots" PRIMARY KEY, "Revision" INTEGER NOT NULL, "Timestamp" TEXT NOT NULL, "State" BLOB NOT NULL);
CREATE TABLE "HistoryOps" ("DocumentId" TEXT NOT NULL, "Revision" INTEGER NOT NULL, "AuthorId" TEXT NOT NULL, "Timestamp" TEXT NOT NULL, "Payload" BLOB NOT NULL, "EngineType" TEXT NOT NULL, CONSTRAINT "PK_HistoryOps" PRIMARY KEY ("DocumentId", "Revision"));
CREATE TABLE "HistorySnapshots" ("DocumentId" TEXT NOT NULL, "Revision" INTEGER NOT NULL, "Timestamp" TEXT NOT NULL, "State" BLOB NOT NULL, "Name" TEXT NULL, CONSTRAINT "PK_HistorySnapshots" PRIMARY KEY ("DocumentId", "Revision"));
CREATE INDEX "IX_DocumentOps_DocumentId_Revision" ON "DocumentOps" ("DocumentId", "Revision");
CREATE INDEX "IX_HistoryOps_DocumentId_Revision" ON "HistoryOps" ("DocumentId", "Revision");
CREATE INDEX "IX_HistorySnapshots_DocumentId_Revision" ON "HistorySnapshots" ("DocumentId", "Revision");
INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ('20260528094901_Initial', '9.0.6');
)sql";

constexpr const char* kReferenceLaterDdl = R"sql(
CREATE TABLE "Comments" ("Id" TEXT NOT NULL CONSTRAINT "PK_Comments" PRIMARY KEY, "DocumentId" TEXT NOT NULL, "ParentCommentId" TEXT NULL, "AuthorPeerId" TEXT NOT NULL, "Body" TEXT NOT NULL, "AnchorJson" TEXT NULL, "AnchoredAtRevision" INTEGER NOT NULL, "CreatedAt" TEXT NOT NULL, "ResolvedAt" TEXT NULL, "ResolvedByPeerId" TEXT NULL, "IsOrphaned" INTEGER NOT NULL);
CREATE TABLE "DocumentBranches" ("GlobalName" TEXT NOT NULL, "BranchId" TEXT NOT NULL, "PhysicalDocumentId" TEXT NOT NULL, "ForkParentBranchId" TEXT NULL, "ForkRevision" INTEGER NOT NULL, "CreatedAt" TEXT NOT NULL, "IsReadOnly" INTEGER NOT NULL, CONSTRAINT "PK_DocumentBranches" PRIMARY KEY ("GlobalName", "BranchId"));
CREATE TABLE "DocumentNames" ("GlobalName" TEXT NOT NULL CONSTRAINT "PK_DocumentNames" PRIMARY KEY, "DefaultBranchId" TEXT NOT NULL, "EngineType" TEXT NOT NULL, "CreatedAt" TEXT NOT NULL);
CREATE TABLE "DocumentVersions" ("GlobalName" TEXT NOT NULL, "BranchId" TEXT NOT NULL, "Tag" TEXT NOT NULL, "Revision" INTEGER NOT NULL, "HistorySnapshotName" TEXT NOT NULL, "CreatedAt" TEXT NOT NULL, CONSTRAINT "PK_DocumentVersions" PRIMARY KEY ("GlobalName", "BranchId", "Tag"));
CREATE INDEX "IX_Comments_DocumentId_ParentCommentId_ResolvedAt" ON "Comments" ("DocumentId", "ParentCommentId", "ResolvedAt");
CREATE INDEX "IX_DocumentBranches_PhysicalDocumentId" ON "DocumentBranches" ("PhysicalDocumentId");
CREATE INDEX "IX_DocumentVersions_GlobalName_BranchId" ON "DocumentVersions" ("GlobalName", "BranchId");
INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ('20260529085317_UpdateModel', '9.0.6');
ALTER TABLE "Comments" ADD "AuthorName" TEXT NOT NULL DEFAULT '';
INSERT INTO "__EFMigrationsHistory" ("MigrationId", "ProductVersion") VALUES ('20260624155802_AddCommentAuthorName', '9.0.6');
)sql";

class SqliteDocumentStoreTest : public ::testing::Test {
 protected:
  std::string DatabasePath() const { return directory_.File("opstream.db"); }
  std::string ConnectionString(std::string_view extra = {}) const {
    return "Data Source=" + DatabasePath() + (extra.empty() ? "" : ";") + std::string(extra);
  }

  // A store built directly, for tests that need its counters or settings.
  std::unique_ptr<SqliteDocumentStore> MakeStore(SqliteStoreSettings settings = {}, std::string_view extra = {}) {
    SqliteConnectionOptions options;
    const Status parsed = ParseSqliteConnectionString(ConnectionString(extra), options);
    EXPECT_TRUE(parsed.ok()) << parsed.message();
    return std::make_unique<SqliteDocumentStore>(std::move(options), settings);
  }

  std::unique_ptr<DocumentStore> OpenInitialized(std::string_view extra = {}) {
    return InitializedOrFail(OpenOrFail(ConnectionString(extra)));
  }

  TempDir directory_;
};

// Holds the store's worker inside a Load completion until released, so calls queue up behind it.
class WorkerBlocker {
 public:
  explicit WorkerBlocker(DocumentStore& store) {
    auto release = release_.get_future().share();
    store.Load("blocker", [this, release](Status, LoadedDocument) {
      blocked_.set_value();
      release.wait();
    });
    blocked_.get_future().wait();
  }
  ~WorkerBlocker() { Release(); }
  void Release() {
    if (!released_) release_.set_value();
    released_ = true;
  }

 private:
  std::promise<void> blocked_;
  std::promise<void> release_;
  bool released_ = false;
};

struct ColumnInfo {
  std::string name;
  std::string type;
  bool not_null;
  int primary_key_position;  // 0 when not part of the primary key
  std::string default_value = "<null>";
};

void ExpectColumns(RawSqlite& db, const std::string& table, const std::vector<ColumnInfo>& expected) {
  const auto rows = db.Rows("SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info('" + table + "')");
  ASSERT_EQ(rows.size(), expected.size()) << table;
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(rows[i][0], expected[i].name) << table << " column " << i;
    EXPECT_EQ(rows[i][1], expected[i].type) << table << "." << expected[i].name;
    EXPECT_EQ(rows[i][2], expected[i].not_null ? "1" : "0") << table << "." << expected[i].name;
    EXPECT_EQ(rows[i][3], std::to_string(expected[i].primary_key_position)) << table << "." << expected[i].name;
    EXPECT_EQ(rows[i][4], expected[i].default_value) << table << "." << expected[i].name;
  }
}

TEST_F(SqliteDocumentStoreTest, ProviderAndTypeNames) {
  auto store = OpenOrFail("Mode=Memory");
  EXPECT_EQ(store->provider(), "sqlite");
  EXPECT_EQ(store->type_name(), "EfCoreDocumentStore`1");
}

TEST_F(SqliteDocumentStoreTest, SchemaIsExactlyTheReferenceSchema) {
  OpenInitialized().reset();
  RawSqlite db(DatabasePath());

  EXPECT_THAT(
      db.Column("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"),
      ElementsAre("Comments", "DocumentBranches", "DocumentNames", "DocumentOps", "DocumentSnapshots",
                  "DocumentVersions", "HistoryOps", "HistorySnapshots", "__EFMigrationsHistory", "__EFMigrationsLock"));

  const std::vector<ColumnInfo> op_columns = {{"DocumentId", "TEXT", true, 1}, {"Revision", "INTEGER", true, 2},
                                              {"AuthorId", "TEXT", true, 0},   {"Timestamp", "TEXT", true, 0},
                                              {"Payload", "BLOB", true, 0},    {"EngineType", "TEXT", true, 0}};
  ExpectColumns(db, "DocumentOps", op_columns);
  ExpectColumns(db, "HistoryOps", op_columns);
  ExpectColumns(db, "DocumentSnapshots",
                {{"DocumentId", "TEXT", true, 1},
                 {"Revision", "INTEGER", true, 0},
                 {"Timestamp", "TEXT", true, 0},
                 {"State", "BLOB", true, 0}});
  ExpectColumns(db, "HistorySnapshots",
                {{"DocumentId", "TEXT", true, 1},
                 {"Revision", "INTEGER", true, 2},
                 {"Timestamp", "TEXT", true, 0},
                 {"State", "BLOB", true, 0},
                 {"Name", "TEXT", false, 0}});
  ExpectColumns(db, "Comments",
                {{"Id", "TEXT", true, 1},
                 {"DocumentId", "TEXT", true, 0},
                 {"ParentCommentId", "TEXT", false, 0},
                 {"AuthorPeerId", "TEXT", true, 0},
                 {"Body", "TEXT", true, 0},
                 {"AnchorJson", "TEXT", false, 0},
                 {"AnchoredAtRevision", "INTEGER", true, 0},
                 {"CreatedAt", "TEXT", true, 0},
                 {"ResolvedAt", "TEXT", false, 0},
                 {"ResolvedByPeerId", "TEXT", false, 0},
                 {"IsOrphaned", "INTEGER", true, 0},
                 {"AuthorName", "TEXT", true, 0, "''"}});
  ExpectColumns(db, "DocumentBranches",
                {{"GlobalName", "TEXT", true, 1},
                 {"BranchId", "TEXT", true, 2},
                 {"PhysicalDocumentId", "TEXT", true, 0},
                 {"ForkParentBranchId", "TEXT", false, 0},
                 {"ForkRevision", "INTEGER", true, 0},
                 {"CreatedAt", "TEXT", true, 0},
                 {"IsReadOnly", "INTEGER", true, 0}});
  ExpectColumns(db, "DocumentNames",
                {{"GlobalName", "TEXT", true, 1},
                 {"DefaultBranchId", "TEXT", true, 0},
                 {"EngineType", "TEXT", true, 0},
                 {"CreatedAt", "TEXT", true, 0}});
  ExpectColumns(db, "DocumentVersions",
                {{"GlobalName", "TEXT", true, 1},
                 {"BranchId", "TEXT", true, 2},
                 {"Tag", "TEXT", true, 3},
                 {"Revision", "INTEGER", true, 0},
                 {"HistorySnapshotName", "TEXT", true, 0},
                 {"CreatedAt", "TEXT", true, 0}});
  ExpectColumns(db, "__EFMigrationsHistory", {{"MigrationId", "TEXT", true, 1}, {"ProductVersion", "TEXT", true, 0}});
  ExpectColumns(db, "__EFMigrationsLock", {{"Id", "INTEGER", true, 1}, {"Timestamp", "TEXT", true, 0}});

  // Explicit indexes (the automatic ones behind primary keys have no SQL), with their columns.
  std::map<std::string, std::string> indexes;
  for (const auto& row : db.Rows("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")) {
    std::string columns;
    for (const std::string& column : db.Column("SELECT name FROM pragma_index_info('" + row[0] + "') ORDER BY seqno")) {
      columns += (columns.empty() ? "" : ",") + column;
    }
    indexes[row[0]] = row[1] + "(" + columns + ")";
  }
  EXPECT_THAT(indexes,
              ElementsAre(std::pair<const std::string, std::string>{"IX_Comments_DocumentId_ParentCommentId_ResolvedAt",
                                                                    "Comments(DocumentId,ParentCommentId,ResolvedAt)"},
                          std::pair<const std::string, std::string>{"IX_DocumentBranches_PhysicalDocumentId",
                                                                    "DocumentBranches(PhysicalDocumentId)"},
                          std::pair<const std::string, std::string>{"IX_DocumentOps_DocumentId_Revision",
                                                                    "DocumentOps(DocumentId,Revision)"},
                          std::pair<const std::string, std::string>{"IX_DocumentVersions_GlobalName_BranchId",
                                                                    "DocumentVersions(GlobalName,BranchId)"},
                          std::pair<const std::string, std::string>{"IX_HistoryOps_DocumentId_Revision",
                                                                    "HistoryOps(DocumentId,Revision)"},
                          std::pair<const std::string, std::string>{"IX_HistorySnapshots_DocumentId_Revision",
                                                                    "HistorySnapshots(DocumentId,Revision)"}));
  // None of them is unique; there are no foreign keys (§3.4.1).
  EXPECT_THAT(db.Column("SELECT count(*) FROM sqlite_master m, pragma_index_list(m.name) i "
                        "WHERE m.type = 'table' AND i.\"unique\" = 1 AND i.origin = 'c'"),
              ElementsAre("0"));
  EXPECT_THAT(db.Column("SELECT count(*) FROM sqlite_master m, pragma_foreign_key_list(m.name) f "
                        "WHERE m.type = 'table'"),
              ElementsAre("0"));

  // Primary key constraint names live only in the DDL text, which is EF Core's own.
  auto sql_of = [&db](const std::string& table) {
    auto rows = db.Column("SELECT sql FROM sqlite_master WHERE name = '" + table + "'");
    return rows.empty() ? std::string() : rows[0];
  };
  EXPECT_EQ(sql_of("DocumentOps"),
            "CREATE TABLE \"DocumentOps\" (\n"
            "    \"DocumentId\" TEXT NOT NULL,\n"
            "    \"Revision\" INTEGER NOT NULL,\n"
            "    \"AuthorId\" TEXT NOT NULL,\n"
            "    \"Timestamp\" TEXT NOT NULL,\n"
            "    \"Payload\" BLOB NOT NULL,\n"
            "    \"EngineType\" TEXT NOT NULL,\n"
            "    CONSTRAINT \"PK_DocumentOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")\n"
            ")");
  EXPECT_THAT(sql_of("DocumentSnapshots"),
              HasSubstr("\"DocumentId\" TEXT NOT NULL CONSTRAINT \"PK_DocumentSnapshots\" PRIMARY KEY,"));
  EXPECT_THAT(sql_of("HistoryOps"),
              HasSubstr("CONSTRAINT \"PK_HistoryOps\" PRIMARY KEY (\"DocumentId\", \"Revision\")"));
  EXPECT_THAT(sql_of("HistorySnapshots"),
              HasSubstr("CONSTRAINT \"PK_HistorySnapshots\" PRIMARY KEY (\"DocumentId\", \"Revision\")"));
  EXPECT_THAT(sql_of("Comments"), HasSubstr("\"Id\" TEXT NOT NULL CONSTRAINT \"PK_Comments\" PRIMARY KEY,"));
  EXPECT_THAT(sql_of("DocumentBranches"),
              HasSubstr("CONSTRAINT \"PK_DocumentBranches\" PRIMARY KEY (\"GlobalName\", \"BranchId\")"));
  EXPECT_THAT(sql_of("DocumentNames"),
              HasSubstr("\"GlobalName\" TEXT NOT NULL CONSTRAINT \"PK_DocumentNames\" PRIMARY KEY,"));
  EXPECT_THAT(sql_of("DocumentVersions"),
              HasSubstr("CONSTRAINT \"PK_DocumentVersions\" PRIMARY KEY (\"GlobalName\", \"BranchId\", \"Tag\")"));
  EXPECT_THAT(sql_of("__EFMigrationsHistory"),
              HasSubstr("\"MigrationId\" TEXT NOT NULL CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY"));
}

TEST_F(SqliteDocumentStoreTest, MigrationHistoryRowsInOrder) {
  OpenInitialized().reset();
  RawSqlite db(DatabasePath());
  const auto rows = db.Rows("SELECT MigrationId, ProductVersion FROM __EFMigrationsHistory ORDER BY rowid");
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][0], kInitialId);
  EXPECT_EQ(rows[1][0], kUpdateModelId);
  EXPECT_EQ(rows[2][0], kAuthorNameId);
  for (const auto& row : rows) EXPECT_THAT(row[1], ::testing::StartsWith("9.0."));
  // The migration lock is released.
  EXPECT_THAT(db.Column("SELECT count(*) FROM __EFMigrationsLock"), ElementsAre("0"));
}

TEST_F(SqliteDocumentStoreTest, DatabaseUsesWalJournal) {
  auto store = OpenInitialized();
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("PRAGMA journal_mode"), ElementsAre("wal"));
}

TEST_F(SqliteDocumentStoreTest, ReopeningIsIdempotentAndKeepsData) {
  {
    auto store = OpenInitialized();
    ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 4)).ok());
    ASSERT_TRUE(WriteSnapshotSync(*store, "doc", {3, SampleTime(), "{\"text\":\"abc\"}"}).ok());
  }
  for (int reopen = 0; reopen < 2; ++reopen) {
    auto store = OpenInitialized();
    ASSERT_TRUE(InitializeSync(*store).ok());
    auto [status, loaded] = LoadSync(*store, "doc");
    ASSERT_TRUE(status.ok()) << status.message();
    ASSERT_TRUE(loaded.snapshot.has_value());
    EXPECT_EQ(loaded.snapshot->revision, 3);
    EXPECT_EQ(loaded.snapshot->timestamp, SampleTime());
    EXPECT_EQ(loaded.snapshot->state, "{\"text\":\"abc\"}");
    EXPECT_THAT(Revisions(loaded.ops), ElementsAre(4));
    EXPECT_EQ(loaded.ops[0].timestamp, MakeOp(4).timestamp);
  }
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT count(*) FROM __EFMigrationsHistory"), ElementsAre("3"));
}

TEST_F(SqliteDocumentStoreTest, ValuesAreStoredTheWayEfCoreStoresThem) {
  auto store = OpenInitialized();
  StoredOp op = MakeOp(2);
  ASSERT_TRUE(AppendSync(*store, "doc", {op}).ok());
  StoredOp whole_second = MakeOp(3);
  whole_second.timestamp = std::chrono::time_point_cast<std::chrono::seconds>(whole_second.timestamp);
  ASSERT_TRUE(AppendSync(*store, "doc", {whole_second}).ok());
  ASSERT_TRUE(WriteSnapshotSync(*store, "doc", {2, SampleTime(), "{}"}).ok());
  store->Flush(std::chrono::seconds(5));

  RawSqlite db(DatabasePath());
  const auto ops = db.Rows(
      "SELECT DocumentId, Revision, AuthorId, Timestamp, typeof(Payload), Payload, EngineType, typeof(Revision) "
      "FROM DocumentOps ORDER BY Revision");
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_THAT(ops[0], ElementsAre("doc", "2", op.author_id, "2026-06-24 15:41:41.1234567+00:00", "blob", op.payload,
                                  "TextOp", "integer"));
  EXPECT_EQ(ops[1][3], "2026-06-24 15:41:42+00:00");
  const auto snapshot = db.Rows("SELECT Revision, Timestamp, typeof(State), State FROM DocumentSnapshots");
  ASSERT_EQ(snapshot.size(), 1u);
  EXPECT_THAT(snapshot[0], ElementsAre("2", "2026-06-24 15:41:39.1234567+00:00", "blob", "{}"));
}

TEST_F(SqliteDocumentStoreTest, RecordsAreStoredTheWayEfCoreStoresThem) {
  auto store = OpenInitialized();
  Comment comment;
  comment.id = "0123456789abcdef0123456789abcdef";
  comment.document_id = "doc";
  comment.author_peer_id = "peer";
  comment.author_name = "Ann";
  comment.body = "hi";
  comment.anchor_json = R"({"kind":"json","data":{"path":"root.a"}})";
  comment.anchored_at_revision = 3;
  comment.created_at = SampleTime();
  comment.is_orphaned = true;
  ASSERT_TRUE(CallSync<Status>([&](auto done) { store->comment_store()->AddComment(comment, done); }).ok());
  ASSERT_TRUE(CallSync<Status>([&](auto done) {
                store->history_store()->WriteHistorySnapshot("doc", {4, SampleTime(1), "{}"}, std::nullopt, done);
              }).ok());
  store->Flush(std::chrono::seconds(5));

  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Rows("SELECT ParentCommentId, CreatedAt, ResolvedAt, IsOrphaned, typeof(IsOrphaned), AuthorName "
                      "FROM Comments"),
              ElementsAre(ElementsAre("<null>", "2026-06-24 15:41:39.1234567+00:00", "<null>", "1", "integer", "Ann")));
  EXPECT_THAT(db.Rows("SELECT Revision, Timestamp, typeof(State), Name FROM HistorySnapshots"),
              ElementsAre(ElementsAre("4", "2026-06-24 15:41:40.1234567+00:00", "blob", "<null>")));
}

TEST_F(SqliteDocumentStoreTest, ReadsRecordsWrittenByTheReference) {
  auto store = OpenInitialized();
  store->Flush(std::chrono::seconds(5));
  {
    RawSqlite db(DatabasePath());
    // Fractions of different lengths (EF trims trailing zeros and drops a zero fraction): the
    // greatest op timestamp must still win, whatever its spelling.
    ASSERT_EQ(
        db.Exec("INSERT INTO DocumentOps VALUES ('doc', 1, 'p', '2026-06-24 15:41:39.5+00:00', x'7B7D', 'TextOp');"
                "INSERT INTO DocumentOps VALUES ('doc', 2, 'p', '2026-06-24 15:41:39.12+00:00', x'7B7D', 'TextOp');"
                "INSERT INTO DocumentOps VALUES ('doc', 3, 'p', '2026-06-24 15:41:39+00:00', x'7B7D', 'TextOp');"
                "INSERT INTO Comments VALUES ('c1', 'doc', NULL, 'p', 'b', 'not json', 2, "
                "'2026-06-24 15:41:39+00:00', NULL, NULL, 0, '');"),
        "");
  }
  auto [status, info] =
      CallSync<std::pair<Status, std::optional<DocumentInfo>>>([&](auto done) { store->GetInfo("doc", done); });
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->revision, 3);
  EXPECT_EQ(info->op_count, 3);
  EXPECT_EQ(FormatIsoTimestamp(info->last_modified), "2026-06-24T15:41:39.5+00:00");

  // Anchor text that is not JSON reads as "no anchor" (§3.4.7) instead of failing the listing.
  auto [listed, comments] = CallSync<std::pair<Status, std::vector<Comment>>>(
      [&](auto done) { store->comment_store()->LoadComments("doc", done); });
  ASSERT_TRUE(listed.ok()) << listed.message();
  ASSERT_EQ(comments.size(), 1u);
  EXPECT_FALSE(comments[0].anchor_json.has_value());
  EXPECT_EQ(comments[0].created_at,
            Timestamp(std::chrono::sys_days{std::chrono::year{2026} / 6 / 24} + std::chrono::hours{15} +
                      std::chrono::minutes{41} + std::chrono::seconds{39}));
}

TEST_F(SqliteDocumentStoreTest, ReferenceCreatedDatabaseOpensAndKeepsWorking) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec("PRAGMA journal_mode=DELETE"), "");
    ASSERT_EQ(db.Exec(kReferenceInitialDdl), "");
    ASSERT_EQ(db.Exec(kReferenceLaterDdl), "");
    ASSERT_EQ(db.Exec("INSERT INTO DocumentSnapshots VALUES ('ref-doc', 3, '2026-06-24 15:41:39.1234567+00:00', "
                      "X'7B2274657874223A22616263227D');"
                      "INSERT INTO DocumentOps VALUES ('ref-doc', 3, 'peer-a', '2026-06-24 15:41:39.12+00:00', "
                      "X'7B7D', 'TextOp');"
                      "INSERT INTO DocumentOps VALUES ('ref-doc', 4, 'peer-b', '2026-06-24 15:41:40+00:00', "
                      "X'7B2234223A317D', 'TextOp');"
                      "INSERT INTO DocumentOps VALUES ('ref-doc', 5, 'merge-system', '2026-06-24 15:41:41.5+00:00', "
                      "X'7B2235223A317D', 'text');"),
              "");
  }
  auto store = OpenInitialized();
  auto [status, loaded] = LoadSync(*store, "ref-doc");
  ASSERT_TRUE(status.ok()) << status.message();
  ASSERT_TRUE(loaded.snapshot.has_value());
  EXPECT_EQ(loaded.snapshot->revision, 3);
  EXPECT_EQ(loaded.snapshot->timestamp, SampleTime());
  EXPECT_EQ(loaded.snapshot->state, "{\"text\":\"abc\"}");
  ASSERT_THAT(Revisions(loaded.ops), ElementsAre(4, 5));
  EXPECT_EQ(loaded.ops[0].author_id, "peer-b");
  EXPECT_EQ(loaded.ops[0].timestamp, std::chrono::time_point_cast<std::chrono::seconds>(SampleTime(1)));
  EXPECT_EQ(loaded.ops[0].payload, "{\"4\":1}");
  EXPECT_EQ(loaded.ops[1].engine_type, "text");
  EXPECT_EQ(loaded.ops[1].timestamp,
            std::chrono::time_point_cast<std::chrono::seconds>(SampleTime(2)) + std::chrono::milliseconds(500));

  EXPECT_EQ(AppendSync(*store, "ref-doc", {MakeOp(5)}).message(), "Revision 5 of document 'ref-doc' already exists.");
  ASSERT_TRUE(AppendSync(*store, "ref-doc", {MakeOp(6)}).ok());
  store.reset();

  RawSqlite db(DatabasePath());
  // Nothing re-applied, the reference's rows untouched.
  EXPECT_THAT(db.Rows("SELECT MigrationId || ' ' || ProductVersion FROM __EFMigrationsHistory ORDER BY MigrationId"),
              ElementsAre(ElementsAre("20260528094901_Initial 9.0.6"), ElementsAre("20260529085317_UpdateModel 9.0.6"),
                          ElementsAre("20260624155802_AddCommentAuthorName 9.0.6")));
  EXPECT_THAT(db.Column("SELECT Revision FROM DocumentOps ORDER BY Revision"), ElementsAre("3", "4", "5", "6"));
}

TEST_F(SqliteDocumentStoreTest, OlderReferenceDatabaseIsMigratedForward) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec(kReferenceInitialDdl), "");
    ASSERT_EQ(db.Exec("INSERT INTO DocumentOps VALUES ('old', 2, 'p', '2026-05-28 09:49:01+00:00', X'7B7D', 'TextOp')"),
              "");
  }
  auto store = OpenInitialized();
  EXPECT_THAT(Revisions(LoadSync(*store, "old").second.ops), ElementsAre(2));
  store.reset();
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT MigrationId FROM __EFMigrationsHistory ORDER BY MigrationId"),
              ElementsAre(kInitialId, kUpdateModelId, kAuthorNameId));
  EXPECT_THAT(db.Column("SELECT name FROM pragma_table_info('Comments') WHERE name = 'AuthorName'"),
              ElementsAre("AuthorName"));
}

TEST_F(SqliteDocumentStoreTest, FailedMigrationStepIsRolledBackAlone) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec(kReferenceInitialDdl), "");
    // Something already occupies a name that step 2 creates.
    ASSERT_EQ(db.Exec("CREATE TABLE \"DocumentNames\" (x TEXT)"), "");
  }
  auto store = OpenOrFail(ConnectionString());
  const Status initialized = InitializeSync(*store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr("SQLite migration 20260529085317_UpdateModel failed"));
  EXPECT_THAT(initialized.message(), HasSubstr("DocumentNames"));
  store.reset();
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT MigrationId FROM __EFMigrationsHistory"), ElementsAre(kInitialId));
  // Step 2 created Comments before it failed; that is undone with the rest of the step.
  EXPECT_THAT(db.Column("SELECT count(*) FROM sqlite_master WHERE name = 'Comments'"), ElementsAre("0"));
}

TEST_F(SqliteDocumentStoreTest, UnknownNewerMigrationIsLoggedAndIgnored) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec(kReferenceInitialDdl), "");
    ASSERT_EQ(db.Exec(kReferenceLaterDdl), "");
    ASSERT_EQ(db.Exec("INSERT INTO __EFMigrationsHistory VALUES ('20270101000000_SomethingNewer', '9.0.9')"), "");
  }
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64);
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
  {
    auto store = OpenInitialized();
    EXPECT_TRUE(AppendSync(*store, "doc", {MakeOp(2)}).ok());
  }
  spdlog::set_default_logger(previous);
  bool warned = false;
  for (const std::string& line : sink->last_formatted()) {
    if (line.find("20270101000000_SomethingNewer") != std::string::npos && line.find("warning") != std::string::npos) {
      warned = true;
    }
  }
  EXPECT_TRUE(warned);
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT count(*) FROM __EFMigrationsHistory"), ElementsAre("4"));
}

TEST_F(SqliteDocumentStoreTest, WaitsForAReferenceMigratorsLock) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec("CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
                      "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL);"
                      "INSERT INTO \"__EFMigrationsLock\" VALUES (1, '" +
                      FormatSqliteTimestamp(UtcNow()) + "')"),
              "");
  }
  SqliteStoreSettings settings;
  settings.migration_lock_wait = std::chrono::milliseconds(600);
  auto store = MakeStore(settings);
  const Status initialized = InitializeSync(*store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr("__EFMigrationsLock"));
  store.reset();
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT count(*) FROM sqlite_master WHERE name = 'DocumentOps'"), ElementsAre("0"));
}

TEST_F(SqliteDocumentStoreTest, AbandonedReferenceLockIsRemoved) {
  {
    RawSqlite db(DatabasePath());
    ASSERT_EQ(db.Exec("CREATE TABLE \"__EFMigrationsLock\" (\"Id\" INTEGER NOT NULL CONSTRAINT "
                      "\"PK___EFMigrationsLock\" PRIMARY KEY, \"Timestamp\" TEXT NOT NULL);"
                      "INSERT INTO \"__EFMigrationsLock\" VALUES (1, '2026-01-01 00:00:00+00:00')"),
              "");
  }
  auto store = OpenInitialized();
  store.reset();
  RawSqlite db(DatabasePath());
  EXPECT_THAT(db.Column("SELECT count(*) FROM __EFMigrationsLock"), ElementsAre("0"));
  EXPECT_THAT(db.Column("SELECT count(*) FROM __EFMigrationsHistory"), ElementsAre("3"));
}

TEST_F(SqliteDocumentStoreTest, GroupCommitPutsQueuedAppendsInOneTransaction) {
  auto store = MakeStore();
  ASSERT_TRUE(InitializeSync(*store).ok());
  ASSERT_TRUE(AppendSync(*store, "taken", {MakeOp(2)}).ok());
  const SqliteStoreCounters before = store->counters();

  // 20 appends over 5 documents, and in the middle one that collides with an existing revision:
  // only that one may fail.
  constexpr int kAppends = 21;
  constexpr int kCollision = 10;
  std::vector<std::promise<Status>> results(kAppends);
  {
    WorkerBlocker blocker(*store);
    for (int i = 0; i < kAppends; ++i) {
      const int k = i < kCollision ? i : i - 1;
      const std::string document_id = i == kCollision ? "taken" : "group-" + std::to_string(k % 5);
      const int64_t revision = i == kCollision ? 2 : 2 + k / 5;
      store->Append(document_id, {MakeOp(revision), MakeOp(revision + 100)},
                    [&results, i](Status status) { results[i].set_value(std::move(status)); });
    }
  }
  store->Flush(std::chrono::seconds(10));

  for (int i = 0; i < kAppends; ++i) {
    auto future = results[i].get_future();
    const Status status = Wait(future);
    if (i == kCollision) {
      EXPECT_EQ(status.message(), "Revision 2 of document 'taken' already exists.");
    } else {
      EXPECT_TRUE(status.ok()) << i << ": " << status.message();
    }
  }
  const SqliteStoreCounters after = store->counters();
  EXPECT_EQ(after.append_transactions - before.append_transactions, 1u);
  EXPECT_EQ(after.appends_committed - before.appends_committed, static_cast<uint64_t>(kAppends - 1));
  for (int d = 0; d < 5; ++d) {
    EXPECT_THAT(Revisions(LoadSync(*store, "group-" + std::to_string(d)).second.ops),
                ElementsAre(2, 3, 4, 5, 102, 103, 104, 105));
  }
  EXPECT_THAT(Revisions(LoadSync(*store, "taken").second.ops), ElementsAre(2));
}

TEST_F(SqliteDocumentStoreTest, GroupSizeIsBounded) {
  SqliteStoreSettings settings;
  settings.max_appends_per_transaction = 4;
  auto store = MakeStore(settings);
  ASSERT_TRUE(InitializeSync(*store).ok());
  {
    WorkerBlocker blocker(*store);
    for (int i = 0; i < 10; ++i) store->Append("doc", {MakeOp(2 + i)}, [](Status) {});
  }
  store->Flush(std::chrono::seconds(10));
  EXPECT_EQ(store->counters().append_transactions, 3u);
  EXPECT_EQ(store->counters().appends_committed, 10u);
}

TEST_F(SqliteDocumentStoreTest, HealthIsHealthyWhenTheDatabaseAnswers) {
  auto store = OpenInitialized();
  const HealthReport report = CheckHealthSync(*store);
  EXPECT_EQ(report.status, HealthStatus::kHealthy) << report.description;
}

TEST_F(SqliteDocumentStoreTest, HealthIsUnhealthyWhenTheWorkerIsStuck) {
  SqliteStoreSettings settings;
  settings.health_timeout = std::chrono::milliseconds(100);
  auto store = MakeStore(settings);
  ASSERT_TRUE(InitializeSync(*store).ok());
  {
    WorkerBlocker blocker(*store);
    const auto started = std::chrono::steady_clock::now();
    const HealthReport report = CheckHealthSync(*store);
    EXPECT_EQ(report.status, HealthStatus::kUnhealthy);
    EXPECT_THAT(report.description, HasSubstr("did not answer within 100 ms"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(2));
  }
  EXPECT_EQ(CheckHealthSync(*store).status, HealthStatus::kHealthy);
}

TEST_F(SqliteDocumentStoreTest, FlushWaitsForQueuedWork) {
  auto store = MakeStore();
  ASSERT_TRUE(InitializeSync(*store).ok());
  std::atomic<int> done{0};
  {
    WorkerBlocker blocker(*store);
    for (int i = 0; i < 50; ++i) store->Append("doc", {MakeOp(2 + i)}, [&done](Status) { ++done; });
    store->Flush(std::chrono::milliseconds(50));  // the worker is held: times out
    EXPECT_EQ(done.load(), 0);
  }
  store->Flush(std::chrono::seconds(10));
  EXPECT_EQ(done.load(), 50);
}

TEST_F(SqliteDocumentStoreTest, CallsNeverBlockTheCaller) {
  auto store = MakeStore();
  ASSERT_TRUE(InitializeSync(*store).ok());
  WorkerBlocker blocker(*store);
  const auto started = std::chrono::steady_clock::now();
  store->Append("doc", {MakeOp(2)}, [](Status) {});
  store->Load("doc", [](Status, LoadedDocument) {});
  store->WriteSnapshot("doc", {1, SampleTime(), "{}"}, [](Status) {});
  store->Compact("doc", 1, [](Status) {});
  store->CheckHealth([](HealthReport) {});
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::milliseconds(100));
}

TEST_F(SqliteDocumentStoreTest, LockedDatabaseIsAnErrorAndTheWorkerRecovers) {
  auto store = OpenInitialized("Default Timeout=1");
  RawSqlite other(DatabasePath());
  ASSERT_EQ(other.Exec("BEGIN IMMEDIATE; INSERT INTO DocumentOps VALUES ('x', 1, 'p', 't', X'', 'TextOp')"), "");
  const Status refused = AppendSync(*store, "doc", {MakeOp(2)});
  EXPECT_EQ(refused.message(), "SQLite append failed: database is locked (SQLITE_BUSY)");
  ASSERT_EQ(other.Exec("ROLLBACK"), "");
  EXPECT_TRUE(AppendSync(*store, "doc", {MakeOp(2)}).ok());
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(2));
}

TEST_F(SqliteDocumentStoreTest, CorruptFileIsAnErrorNotACrash) {
  {
    std::ofstream garbage(DatabasePath(), std::ios::binary);
    for (int i = 0; i < 512; ++i) garbage << "this is not an SQLite database. ";
  }
  auto store = OpenOrFail(ConnectionString());
  const Status initialized = InitializeSync(*store);
  ASSERT_FALSE(initialized.ok());
  EXPECT_THAT(initialized.message(), HasSubstr("file is not a database (SQLITE_NOTADB)"));
  const Status appended = AppendSync(*store, "doc", {MakeOp(2)});
  EXPECT_THAT(appended.message(), HasSubstr("SQLITE_NOTADB"));
  const HealthReport health = CheckHealthSync(*store);
  EXPECT_EQ(health.status, HealthStatus::kUnhealthy);
  EXPECT_THAT(health.description, HasSubstr("SQLITE_NOTADB"));
}

TEST_F(SqliteDocumentStoreTest, ReadOnlyModeReadsButRefusesWrites) {
  {
    auto store = OpenInitialized();
    ASSERT_TRUE(AppendSync(*store, "doc", MakeOps(2, 3)).ok());
  }
  auto store = OpenInitialized("Mode=ReadOnly");
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(2, 3));
  const Status refused = AppendSync(*store, "doc", {MakeOp(4)});
  EXPECT_THAT(refused.message(), HasSubstr("SQLITE_READONLY"));
}

TEST_F(SqliteDocumentStoreTest, ReadOnlyModeRequiresACompleteSchema) {
  { RawSqlite db(DatabasePath()); }  // an empty database file
  auto store = OpenOrFail(ConnectionString("Mode=ReadOnly"));
  const Status initialized = InitializeSync(*store);
  EXPECT_THAT(initialized.message(), HasSubstr("is not applied and the database is opened read-only"));
}

TEST_F(SqliteDocumentStoreTest, OperationsBeforeInitializeReportTheMissingSchema) {
  auto store = OpenOrFail(ConnectionString());
  const Status appended = AppendSync(*store, "doc", {MakeOp(2)});
  EXPECT_THAT(appended.message(), HasSubstr("no such table: DocumentOps"));
  ASSERT_TRUE(InitializeSync(*store).ok());
  EXPECT_TRUE(AppendSync(*store, "doc", {MakeOp(2)}).ok());
}

TEST_F(SqliteDocumentStoreTest, OpenValidatesTheConnectionString) {
  std::unique_ptr<DocumentStore> store;
  EXPECT_THAT(OpenSqliteStore("Data Source=" + directory_.File("missing/dir/x.db"), store).message(),
              HasSubstr("directory of the SQLite database"));
  EXPECT_THAT(OpenSqliteStore("Data Source=" + directory_.File("absent.db") + ";Mode=ReadWrite", store).message(),
              HasSubstr("does not exist (Mode=ReadWrite does not create it)"));
  EXPECT_THAT(OpenSqliteStore("Cache=Shared", store).message(), HasSubstr("'Data Source' is required"));
  EXPECT_THAT(OpenSqliteStore(ConnectionString("Journal Mode=WAL"), store).message(),
              HasSubstr("'Journal Mode' is not a valid keyword"));
  EXPECT_THAT(OpenSqliteStore(ConnectionString("Password=hunter2"), store).message(),
              ::testing::Not(HasSubstr("hunter2")));
  EXPECT_EQ(store, nullptr);

  ASSERT_TRUE(OpenSqliteStore("Data Source=:memory:", store).ok());
  ASSERT_TRUE(InitializeSync(*store).ok());
  ASSERT_TRUE(OpenSqliteStore("Data Source=whatever;Mode=Memory;Cache=Shared", store).ok());
  ASSERT_TRUE(InitializeSync(*store).ok());
  EXPECT_FALSE(std::filesystem::exists("whatever"));
}

TEST_F(SqliteDocumentStoreTest, InMemoryDatabasesArePrivate) {
  auto first = OpenOrFail("Data Source=same-name;Mode=Memory");
  auto second = OpenOrFail("Data Source=same-name;Mode=Memory");
  ASSERT_TRUE(InitializeSync(*first).ok());
  ASSERT_TRUE(InitializeSync(*second).ok());
  ASSERT_TRUE(AppendSync(*first, "doc", {MakeOp(2)}).ok());
  EXPECT_TRUE(LoadSync(*second, "doc").second.ops.empty());
}

TEST_F(SqliteDocumentStoreTest, DestructionFinishesQueuedWork) {
  std::atomic<int> done{0};
  {
    auto store = OpenInitialized();
    for (int i = 0; i < 30; ++i) store->Append("doc", {MakeOp(2 + i)}, [&done](Status s) { done += s.ok(); });
  }
  EXPECT_EQ(done.load(), 30);
  auto store = OpenInitialized();
  EXPECT_EQ(LoadSync(*store, "doc").second.ops.size(), 30u);
}

// Runs in a forked child: appends, and kills the process the moment the append is acknowledged.
[[noreturn]] void AppendThenKillSelf(const std::string& connection_string) {
  std::unique_ptr<DocumentStore> store;
  if (!OpenSqliteStore(connection_string, store).ok()) std::_Exit(1);
  if (!InitializeSync(*store).ok()) std::_Exit(2);
  store->Append("doc", MakeOps(2, 5), [](Status status) {
    if (status.ok()) std::raise(SIGKILL);  // no destructor, no checkpoint, no close
    std::_Exit(3);
  });
  std::this_thread::sleep_for(std::chrono::seconds(30));
  std::_Exit(4);
}

// An acknowledged append survives the process being killed right after the acknowledgement.
TEST_F(SqliteDocumentStoreTest, AcknowledgedAppendSurvivesKill9) {
  GTEST_FLAG_SET(death_test_style, "fast");
  EXPECT_EXIT(AppendThenKillSelf(ConnectionString()), ::testing::KilledBySignal(SIGKILL), "");
  auto store = OpenInitialized();
  EXPECT_THAT(Revisions(LoadSync(*store, "doc").second.ops), ElementsAre(2, 3, 4, 5));
}

}  // namespace
}  // namespace opstream::storage::testing
