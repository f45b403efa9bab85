#include "storage/sqlserver/sqlserver_sql.hpp"

#include <fmt/format.h>

namespace opstream::storage::sqlserver {

// EF Core's SQL Server DDL for the reference's migrations, with the types of §3.4.3. `datetimeoffset`
// without a precision is datetimeoffset(7), as EF writes it.
//
// One deliberate difference: key columns are `COLLATE Latin1_General_BIN2`. Ids are ordinal
// everywhere else, and SQL Server's default case-insensitive collation would make `Doc` and `doc`
// one document (ops mixed, revisions colliding). docs/storage/sqlserver.md, "Collation".
const std::array<Migration, 3>& Migrations() {
  static const std::array<Migration, 3> kMigrations = {{
      {"20260528094935_Initial",
       {
           "IF SCHEMA_ID(N'opstream') IS NULL EXEC(N'CREATE SCHEMA [opstream];');",
           "CREATE TABLE [opstream].[DocumentOps] (\n"
           "    [DocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Revision] bigint NOT NULL,\n"
           "    [AuthorId] nvarchar(max) NOT NULL,\n"
           "    [Timestamp] datetimeoffset NOT NULL,\n"
           "    [Payload] varbinary(max) NOT NULL,\n"
           "    [EngineType] nvarchar(max) NOT NULL,\n"
           "    CONSTRAINT [PK_DocumentOps] PRIMARY KEY ([DocumentId], [Revision])\n"
           ");",
           "CREATE TABLE [opstream].[DocumentSnapshots] (\n"
           "    [DocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Revision] bigint NOT NULL,\n"
           "    [Timestamp] datetimeoffset NOT NULL,\n"
           "    [State] varbinary(max) NOT NULL,\n"
           "    CONSTRAINT [PK_DocumentSnapshots] PRIMARY KEY ([DocumentId])\n"
           ");",
           "CREATE TABLE [opstream].[HistoryOps] (\n"
           "    [DocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Revision] bigint NOT NULL,\n"
           "    [AuthorId] nvarchar(max) NOT NULL,\n"
           "    [Timestamp] datetimeoffset NOT NULL,\n"
           "    [Payload] varbinary(max) NOT NULL,\n"
           "    [EngineType] nvarchar(max) NOT NULL,\n"
           "    CONSTRAINT [PK_HistoryOps] PRIMARY KEY ([DocumentId], [Revision])\n"
           ");",
           "CREATE TABLE [opstream].[HistorySnapshots] (\n"
           "    [DocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Revision] bigint NOT NULL,\n"
           "    [Timestamp] datetimeoffset NOT NULL,\n"
           "    [State] varbinary(max) NOT NULL,\n"
           "    [Name] nvarchar(max) NULL,\n"
           "    CONSTRAINT [PK_HistorySnapshots] PRIMARY KEY ([DocumentId], [Revision])\n"
           ");",
           "CREATE INDEX [IX_DocumentOps_DocumentId_Revision] ON [opstream].[DocumentOps] ([DocumentId], [Revision]);",
           "CREATE INDEX [IX_HistoryOps_DocumentId_Revision] ON [opstream].[HistoryOps] ([DocumentId], [Revision]);",
           "CREATE INDEX [IX_HistorySnapshots_DocumentId_Revision] ON [opstream].[HistorySnapshots] ([DocumentId], "
           "[Revision]);",
       }},
      {"20260529085214_UpdateModel",
       {
           "CREATE TABLE [opstream].[Comments] (\n"
           "    [Id] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [DocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [ParentCommentId] nvarchar(450) COLLATE Latin1_General_BIN2 NULL,\n"
           "    [AuthorPeerId] nvarchar(max) NOT NULL,\n"
           "    [Body] nvarchar(max) NOT NULL,\n"
           "    [AnchorJson] nvarchar(max) NULL,\n"
           "    [AnchoredAtRevision] bigint NOT NULL,\n"
           "    [CreatedAt] datetimeoffset NOT NULL,\n"
           "    [ResolvedAt] datetimeoffset NULL,\n"
           "    [ResolvedByPeerId] nvarchar(max) NULL,\n"
           "    [IsOrphaned] bit NOT NULL,\n"
           "    CONSTRAINT [PK_Comments] PRIMARY KEY ([Id])\n"
           ");",
           "CREATE TABLE [opstream].[DocumentBranches] (\n"
           "    [GlobalName] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [BranchId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [PhysicalDocumentId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [ForkParentBranchId] nvarchar(max) NULL,\n"
           "    [ForkRevision] bigint NOT NULL,\n"
           "    [CreatedAt] datetimeoffset NOT NULL,\n"
           "    [IsReadOnly] bit NOT NULL,\n"
           "    CONSTRAINT [PK_DocumentBranches] PRIMARY KEY ([GlobalName], [BranchId])\n"
           ");",
           "CREATE TABLE [opstream].[DocumentNames] (\n"
           "    [GlobalName] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [DefaultBranchId] nvarchar(max) NOT NULL,\n"
           "    [EngineType] nvarchar(max) NOT NULL,\n"
           "    [CreatedAt] datetimeoffset NOT NULL,\n"
           "    CONSTRAINT [PK_DocumentNames] PRIMARY KEY ([GlobalName])\n"
           ");",
           "CREATE TABLE [opstream].[DocumentVersions] (\n"
           "    [GlobalName] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [BranchId] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Tag] nvarchar(450) COLLATE Latin1_General_BIN2 NOT NULL,\n"
           "    [Revision] bigint NOT NULL,\n"
           "    [HistorySnapshotName] nvarchar(max) NOT NULL,\n"
           "    [CreatedAt] datetimeoffset NOT NULL,\n"
           "    CONSTRAINT [PK_DocumentVersions] PRIMARY KEY ([GlobalName], [BranchId], [Tag])\n"
           ");",
           "CREATE INDEX [IX_Comments_DocumentId_ParentCommentId_ResolvedAt] ON [opstream].[Comments] ([DocumentId], "
           "[ParentCommentId], [ResolvedAt]);",
           "CREATE INDEX [IX_DocumentBranches_PhysicalDocumentId] ON [opstream].[DocumentBranches] "
           "([PhysicalDocumentId]);",
           "CREATE INDEX [IX_DocumentVersions_GlobalName_BranchId] ON [opstream].[DocumentVersions] ([GlobalName], "
           "[BranchId]);",
       }},
      {"20260624150108_AddCommentAuthorName",
       {
           "ALTER TABLE [opstream].[Comments] ADD [AuthorName] nvarchar(max) NOT NULL DEFAULT N'';",
       }},
  }};
  return kMigrations;
}

std::string QuoteIdentifier(std::string_view name) {
  std::string out = "[";
  for (char c : name) {
    out += c;
    if (c == ']') out += ']';
  }
  out += ']';
  return out;
}

std::string CreateDatabaseSql(std::string_view database) {
  std::string literal;
  for (char c : database) {
    literal += c;
    if (c == '\'') literal += '\'';
  }
  return fmt::format("IF DB_ID(N'{}') IS NULL CREATE DATABASE {};", literal, QuoteIdentifier(database));
}

// The snapshot and the ops above it in one statement, so both come from the same database state.
// Timestamps travel as text: ODBC's SQL_SS_TIMESTAMPOFFSET struct is a Microsoft-driver extension.
// The NULL columns are typed, so the UNION does not take int (a bare NULL's type) for them.
const std::string_view kLoadSql =
    "SELECT 0 AS [Kind], [Revision], CAST(NULL AS nvarchar(max)) AS [AuthorId], CAST([Timestamp] AS varchar(34)) "
    "AS [Timestamp], [State] AS [Data], CAST(NULL AS nvarchar(max)) AS [EngineType] FROM "
    "[opstream].[DocumentSnapshots] WHERE [DocumentId] = ?\n"
    "UNION ALL\n"
    "SELECT 1, o.[Revision], o.[AuthorId], CAST(o.[Timestamp] AS varchar(34)), o.[Payload], o.[EngineType] "
    "FROM [opstream].[DocumentOps] AS o WHERE o.[DocumentId] = ? AND o.[Revision] > COALESCE((SELECT s.[Revision] "
    "FROM [opstream].[DocumentSnapshots] AS s WHERE s.[DocumentId] = ?), -9223372036854775807)\n"
    "ORDER BY [Kind], [Revision];";

// One atomic statement (§3.4.7 recommends a native upsert); HOLDLOCK keeps two first writers from
// both taking the insert branch.
const std::string_view kUpsertSnapshotSql =
    "MERGE [opstream].[DocumentSnapshots] WITH (HOLDLOCK) AS t\n"
    "USING (SELECT ? AS [DocumentId], ? AS [Revision], CAST(? AS datetimeoffset) AS [Timestamp], ? AS [State]) AS s\n"
    "ON t.[DocumentId] = s.[DocumentId]\n"
    "WHEN MATCHED THEN UPDATE SET [Revision] = s.[Revision], [Timestamp] = s.[Timestamp], [State] = s.[State]\n"
    "WHEN NOT MATCHED THEN INSERT ([DocumentId], [Revision], [Timestamp], [State]) "
    "VALUES (s.[DocumentId], s.[Revision], s.[Timestamp], s.[State]);";

const std::string_view kCompactSql = "DELETE FROM [opstream].[DocumentOps] WHERE [DocumentId] = ? AND [Revision] <= ?;";

std::string InsertOpsSql(size_t rows) {
  std::string sql =
      "INSERT INTO [opstream].[DocumentOps] ([DocumentId], [Revision], [AuthorId], [Timestamp], [Payload], "
      "[EngineType]) VALUES ";
  for (size_t i = 0; i < rows; ++i) {
    if (i > 0) sql += ", ";
    sql += "(?, ?, ?, CAST(? AS datetimeoffset), ?, ?)";
  }
  sql += ';';
  return sql;
}

std::string ExistingRevisionSql(size_t count) {
  std::string sql =
      "SELECT TOP (1) [Revision] FROM [opstream].[DocumentOps] WHERE [DocumentId] = ? AND [Revision] IN (";
  for (size_t i = 0; i < count; ++i) sql += i == 0 ? "?" : ", ?";
  sql += ") ORDER BY [Revision];";
  return sql;
}

size_t CountUtf16Units(std::string_view utf8) {
  size_t units = 0;
  for (char c : utf8) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte & 0xC0) == 0x80) continue;
    units += byte >= 0xF0 ? 2 : 1;  // a four-byte sequence is a surrogate pair in UTF-16
  }
  return units;
}

std::string FormatDateTimeOffset(Timestamp t) { return FormatIsoTimestamp(t); }

std::optional<Timestamp> ParseDateTimeOffset(std::string_view text) {
  // SQL Server writes one space between the time and the offset; ParseTimestamp wants none.
  std::string compact(text);
  if (compact.size() > 7) {
    const size_t sign = compact.size() - 6;
    if ((compact[sign] == '+' || compact[sign] == '-') && compact[sign - 1] == ' ') compact.erase(sign - 1, 1);
  }
  return ParseTimestamp(compact);
}

ErrorKind ClassifyError(std::string_view sqlstate, int32_t native_error) {
  if (native_error == 2627 || native_error == 2601) return ErrorKind::kDuplicateKey;
  if (sqlstate.starts_with("08")) return ErrorKind::kConnectionLost;
  // 596: session killed; 6005: server shutting down; 233/10054: transport gone (FreeTDS reports them).
  if (native_error == 596 || native_error == 6005 || native_error == 233 || native_error == 10054) {
    return ErrorKind::kConnectionLost;
  }
  if (sqlstate == "HYT00" || sqlstate == "HYT01") return ErrorKind::kTimeout;
  return ErrorKind::kOther;
}

}  // namespace opstream::storage::sqlserver
