// The SQL the SQL Server store runs, checked without a server: the §3.4 schema in `opstream` with the
// physical types of §3.4.3, the migration ids and history table of §3.4.5, every statement, the
// datetimeoffset text forms and the error mapping.
#include "storage/sqlserver/sqlserver_sql.hpp"

#include <gmock/gmock.h>

#include <map>

namespace opstream::storage::sqlserver {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string AllStatements(size_t migration) {
  std::string all;
  for (std::string_view s : Migrations()[migration].statements) all += std::string(s) + "\n";
  return all;
}

// The column list of `CREATE TABLE [opstream].[table]` as "Name type NULL|NOT NULL" lines.
std::vector<std::string> Columns(const std::string& ddl, const std::string& table) {
  const std::string head = "CREATE TABLE [opstream].[" + table + "] (\n";
  const size_t start = ddl.find(head);
  if (start == std::string::npos) return {"<table " + table + " not created>"};
  const size_t end = ddl.find("\n);", start);
  std::vector<std::string> columns;
  const std::string body = ddl.substr(start + head.size(), end - start - head.size());
  size_t pos = 0;
  while (pos < body.size()) {
    size_t nl = body.find('\n', pos);
    if (nl == std::string::npos) nl = body.size();
    std::string line = body.substr(pos, nl - pos);
    pos = nl + 1;
    // `    [Name] type [COLLATE c] NULL|NOT NULL,` (std::regex trips GCC 12's -Wmaybe-uninitialized under ASan).
    const size_t open = line.find("    [");
    const size_t close = line.find("] ");
    if (open != 0 || close == std::string::npos) continue;
    if (!line.empty() && line.back() == ',') line.pop_back();
    columns.push_back(line.substr(5, close - 5) + line.substr(close + 1));
  }
  return columns;
}

TEST(SqlServerSqlTest, MigrationIdsAreTheReferenceOnesInOrder) {
  ASSERT_EQ(Migrations().size(), 3u);
  EXPECT_EQ(Migrations()[0].id, "20260528094935_Initial");
  EXPECT_EQ(Migrations()[1].id, "20260529085214_UpdateModel");
  EXPECT_EQ(Migrations()[2].id, "20260624150108_AddCommentAuthorName");
}

TEST(SqlServerSqlTest, FirstMigrationCreatesSchemaAndHotAndHistoryTables) {
  const std::string ddl = AllStatements(0);
  EXPECT_EQ(Migrations()[0].statements.front(),
            "IF SCHEMA_ID(N'opstream') IS NULL EXEC(N'CREATE SCHEMA [opstream];');");
  const std::string k = "nvarchar(450) COLLATE Latin1_General_BIN2", s = "nvarchar(max)", dto = "datetimeoffset",
                    bin = "varbinary(max)";
  EXPECT_THAT(
      Columns(ddl, "DocumentOps"),
      ElementsAre("DocumentId " + k + " NOT NULL", "Revision bigint NOT NULL", "AuthorId " + s + " NOT NULL",
                  "Timestamp " + dto + " NOT NULL", "Payload " + bin + " NOT NULL", "EngineType " + s + " NOT NULL"));
  EXPECT_THAT(Columns(ddl, "DocumentSnapshots"),
              ElementsAre("DocumentId " + k + " NOT NULL", "Revision bigint NOT NULL", "Timestamp " + dto + " NOT NULL",
                          "State " + bin + " NOT NULL"));
  EXPECT_THAT(Columns(ddl, "HistoryOps"), ::testing::ContainerEq(Columns(ddl, "DocumentOps")));
  EXPECT_THAT(Columns(ddl, "HistorySnapshots"),
              ElementsAre("DocumentId " + k + " NOT NULL", "Revision bigint NOT NULL", "Timestamp " + dto + " NOT NULL",
                          "State " + bin + " NOT NULL", "Name " + s + " NULL"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_DocumentOps] PRIMARY KEY ([DocumentId], [Revision])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_DocumentSnapshots] PRIMARY KEY ([DocumentId])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_HistoryOps] PRIMARY KEY ([DocumentId], [Revision])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_HistorySnapshots] PRIMARY KEY ([DocumentId], [Revision])"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_DocumentOps_DocumentId_Revision] ON [opstream].[DocumentOps] "
                             "([DocumentId], [Revision]);"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_HistoryOps_DocumentId_Revision] ON [opstream].[HistoryOps] "
                             "([DocumentId], [Revision]);"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_HistorySnapshots_DocumentId_Revision] ON [opstream].[HistorySnapshots] "
                             "([DocumentId], [Revision]);"));
  // §3.4.1: no foreign keys, checks or unique indexes beyond the primary keys.
  EXPECT_EQ(ddl.find("FOREIGN KEY"), std::string::npos);
  EXPECT_EQ(ddl.find("UNIQUE"), std::string::npos);
  EXPECT_EQ(ddl.find("CHECK"), std::string::npos);
}

TEST(SqlServerSqlTest, SecondMigrationCreatesCommentsAndVersioningTables) {
  const std::string ddl = AllStatements(1);
  const std::string k = "nvarchar(450) COLLATE Latin1_General_BIN2", s = "nvarchar(max)", dto = "datetimeoffset";
  EXPECT_THAT(Columns(ddl, "Comments"),
              ElementsAre("Id " + k + " NOT NULL", "DocumentId " + k + " NOT NULL", "ParentCommentId " + k + " NULL",
                          "AuthorPeerId " + s + " NOT NULL", "Body " + s + " NOT NULL", "AnchorJson " + s + " NULL",
                          "AnchoredAtRevision bigint NOT NULL", "CreatedAt " + dto + " NOT NULL",
                          "ResolvedAt " + dto + " NULL", "ResolvedByPeerId " + s + " NULL", "IsOrphaned bit NOT NULL"));
  EXPECT_THAT(Columns(ddl, "DocumentBranches"),
              ElementsAre("GlobalName " + k + " NOT NULL", "BranchId " + k + " NOT NULL",
                          "PhysicalDocumentId " + k + " NOT NULL", "ForkParentBranchId " + s + " NULL",
                          "ForkRevision bigint NOT NULL", "CreatedAt " + dto + " NOT NULL", "IsReadOnly bit NOT NULL"));
  EXPECT_THAT(Columns(ddl, "DocumentNames"),
              ElementsAre("GlobalName " + k + " NOT NULL", "DefaultBranchId " + s + " NOT NULL",
                          "EngineType " + s + " NOT NULL", "CreatedAt " + dto + " NOT NULL"));
  EXPECT_THAT(Columns(ddl, "DocumentVersions"),
              ElementsAre("GlobalName " + k + " NOT NULL", "BranchId " + k + " NOT NULL", "Tag " + k + " NOT NULL",
                          "Revision bigint NOT NULL", "HistorySnapshotName " + s + " NOT NULL",
                          "CreatedAt " + dto + " NOT NULL"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_Comments] PRIMARY KEY ([Id])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_DocumentBranches] PRIMARY KEY ([GlobalName], [BranchId])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_DocumentNames] PRIMARY KEY ([GlobalName])"));
  EXPECT_THAT(ddl, HasSubstr("CONSTRAINT [PK_DocumentVersions] PRIMARY KEY ([GlobalName], [BranchId], [Tag])"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_Comments_DocumentId_ParentCommentId_ResolvedAt] ON "
                             "[opstream].[Comments] ([DocumentId], [ParentCommentId], [ResolvedAt]);"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_DocumentBranches_PhysicalDocumentId] ON [opstream].[DocumentBranches] "
                             "([PhysicalDocumentId]);"));
  EXPECT_THAT(ddl, HasSubstr("CREATE INDEX [IX_DocumentVersions_GlobalName_BranchId] ON [opstream].[DocumentVersions] "
                             "([GlobalName], [BranchId]);"));
}

TEST(SqlServerSqlTest, ThirdMigrationAddsAuthorNameWithEmptyDefault) {
  EXPECT_THAT(Migrations()[2].statements,
              ElementsAre("ALTER TABLE [opstream].[Comments] ADD [AuthorName] nvarchar(max) NOT NULL DEFAULT N'';"));
}

TEST(SqlServerSqlTest, EveryTableIsInSchemaOpstream) {
  for (size_t m = 0; m < Migrations().size(); ++m) {
    const std::string all = AllStatements(m);
    for (const std::string keyword : {"CREATE TABLE [", " ON [", "ALTER TABLE ["}) {
      for (size_t at = all.find(keyword); at != std::string::npos; at = all.find(keyword, at + 1)) {
        EXPECT_EQ(all.substr(at + keyword.size(), 9), "opstream]") << Migrations()[m].id << " at " << at;
      }
    }
  }
}

TEST(SqlServerSqlTest, HistoryTableIsEfCoresInTheDefaultSchema) {
  EXPECT_EQ(kCreateHistoryTableSql,
            "IF OBJECT_ID(N'[__EFMigrationsHistory]') IS NULL\n"
            "BEGIN\n"
            "    CREATE TABLE [__EFMigrationsHistory] (\n"
            "        [MigrationId] nvarchar(150) NOT NULL,\n"
            "        [ProductVersion] nvarchar(32) NOT NULL,\n"
            "        CONSTRAINT [PK___EFMigrationsHistory] PRIMARY KEY ([MigrationId])\n"
            "    );\n"
            "END;");
  EXPECT_EQ(kInsertHistorySql, "INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion]) VALUES (?, ?)");
  EXPECT_THAT(std::string(kAcquireMigrationLockSql), HasSubstr("sp_getapplock @Resource = '__EFMigrationsLock'"));
  EXPECT_THAT(std::string(kReleaseMigrationLockSql), HasSubstr("sp_releaseapplock @Resource = '__EFMigrationsLock'"));
}

TEST(SqlServerSqlTest, DatabaseCreationQuotesTheName) {
  EXPECT_EQ(CreateDatabaseSql("OpStream"), "IF DB_ID(N'OpStream') IS NULL CREATE DATABASE [OpStream];");
  EXPECT_EQ(CreateDatabaseSql("a]b'c"), "IF DB_ID(N'a]b''c') IS NULL CREATE DATABASE [a]]b'c];");
}

TEST(SqlServerSqlTest, StatementsMatchTheQuerySemantics) {
  // §3.4.7: snapshot by key; ops above the snapshot ordered by revision.
  EXPECT_THAT(std::string(kLoadSql), HasSubstr("FROM [opstream].[DocumentSnapshots] WHERE [DocumentId] = ?"));
  EXPECT_THAT(std::string(kLoadSql), HasSubstr("FROM [opstream].[DocumentOps] AS o WHERE o.[DocumentId] = ? AND "
                                               "o.[Revision] > COALESCE((SELECT s.[Revision]"));
  EXPECT_THAT(std::string(kLoadSql), HasSubstr("ORDER BY [Kind], [Revision];"));
  EXPECT_EQ(std::count(kLoadSql.begin(), kLoadSql.end(), '?'), 3);
  // A native, atomic upsert.
  EXPECT_THAT(std::string(kUpsertSnapshotSql), HasSubstr("MERGE [opstream].[DocumentSnapshots] WITH (HOLDLOCK)"));
  EXPECT_THAT(std::string(kUpsertSnapshotSql), HasSubstr("WHEN MATCHED THEN UPDATE SET [Revision] = s.[Revision], "
                                                         "[Timestamp] = s.[Timestamp], [State] = s.[State]"));
  EXPECT_EQ(std::count(kUpsertSnapshotSql.begin(), kUpsertSnapshotSql.end(), '?'), 4);
  EXPECT_EQ(kCompactSql, "DELETE FROM [opstream].[DocumentOps] WHERE [DocumentId] = ? AND [Revision] <= ?;");
  EXPECT_EQ(kProbeSql, "SELECT 1");
}

TEST(SqlServerSqlTest, MultiRowInsertStaysUnderTheParameterLimit) {
  EXPECT_EQ(InsertOpsSql(1),
            "INSERT INTO [opstream].[DocumentOps] ([DocumentId], [Revision], [AuthorId], [Timestamp], [Payload], "
            "[EngineType]) VALUES (?, ?, ?, CAST(? AS datetimeoffset), ?, ?);");
  const std::string two = InsertOpsSql(2);
  EXPECT_THAT(two, HasSubstr("VALUES (?, ?, ?, CAST(? AS datetimeoffset), ?, ?), (?, ?, ?, CAST(? AS "
                             "datetimeoffset), ?, ?);"));
  const std::string most = InsertOpsSql(kMaxOpsPerInsert);
  EXPECT_LT(std::count(most.begin(), most.end(), '?'), 2100);
  EXPECT_EQ(ExistingRevisionSql(3),
            "SELECT TOP (1) [Revision] FROM [opstream].[DocumentOps] WHERE [DocumentId] = ? AND [Revision] IN (?, ?, "
            "?) ORDER BY [Revision];");
}

TEST(SqlServerSqlTest, DuplicateKeyErrorsMapToDuplicateRevision) {
  EXPECT_EQ(ClassifyError("23000", 2627), ErrorKind::kDuplicateKey);
  EXPECT_EQ(ClassifyError("23000", 2601), ErrorKind::kDuplicateKey);
  EXPECT_EQ(ClassifyError("23000", 515), ErrorKind::kOther);  // NULL into a NOT NULL column
  EXPECT_EQ(ClassifyError("08S01", 0), ErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyError("08001", 20009), ErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyError("HY000", 596), ErrorKind::kConnectionLost);
  EXPECT_EQ(ClassifyError("HYT00", 0), ErrorKind::kTimeout);
  EXPECT_EQ(ClassifyError("42S02", 208), ErrorKind::kOther);
}

TEST(SqlServerSqlTest, DateTimeOffsetTextRoundTrips) {
  using namespace std::chrono;
  const Timestamp t(sys_days{year{2026} / 6 / 24} + hours{15} + minutes{41} + seconds{39} + nanoseconds{123456700});
  EXPECT_EQ(FormatDateTimeOffset(t), "2026-06-24T15:41:39.1234567+00:00");
  EXPECT_EQ(ParseDateTimeOffset("2026-06-24 15:41:39.1234567 +00:00"), t);
  EXPECT_EQ(ParseDateTimeOffset("2026-06-24T15:41:39.1234567+00:00"), t);
  EXPECT_EQ(ParseDateTimeOffset("2026-06-24 17:41:39.1234567 +02:00"), t);
  EXPECT_EQ(ParseDateTimeOffset("2026-06-24T15:41:39.1234567Z"), t);
  EXPECT_EQ(ParseDateTimeOffset("garbage"), std::nullopt);
  EXPECT_EQ(ParseDateTimeOffset(""), std::nullopt);
}

TEST(SqlServerSqlTest, IdLengthCountsUtf16Units) {
  EXPECT_EQ(CountUtf16Units("abc"), 3u);
  EXPECT_EQ(CountUtf16Units("é"), 1u);
  EXPECT_EQ(CountUtf16Units("\xF0\x9F\x98\x80"), 2u);  // U+1F600 is a surrogate pair
  EXPECT_EQ(QuoteIdentifier("a]b"), "[a]]b]");
}

}  // namespace
}  // namespace opstream::storage::sqlserver
