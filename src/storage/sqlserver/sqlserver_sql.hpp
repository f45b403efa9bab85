#pragma once
// The SQL Server side of server.md §3.4: the reference's three EF Core migrations (schema
// `opstream`, the physical types of §3.4.3, the migration ids of §3.4.5), the history table in the
// login's default schema, every statement the store runs (ODBC `?` markers), and how SQL Server's
// errors are read. Kept apart from the ODBC code so that each text is unit-tested without a server.
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.hpp"

namespace opstream::storage::sqlserver {

struct Migration {
  std::string_view id;                       // primary key in __EFMigrationsHistory
  std::vector<std::string_view> statements;  // one transaction with the history insert (DDL is transactional)
};

// In the order they must be applied.
const std::array<Migration, 3>& Migrations();

// Written to __EFMigrationsHistory.ProductVersion (informational; EF never reads it back).
inline constexpr std::string_view kEfProductVersion = "9.0.0";

// Unqualified, so it lands in the login's default schema (normally dbo), as EF Core creates it.
inline constexpr std::string_view kCreateHistoryTableSql =
    "IF OBJECT_ID(N'[__EFMigrationsHistory]') IS NULL\n"
    "BEGIN\n"
    "    CREATE TABLE [__EFMigrationsHistory] (\n"
    "        [MigrationId] nvarchar(150) NOT NULL,\n"
    "        [ProductVersion] nvarchar(32) NOT NULL,\n"
    "        CONSTRAINT [PK___EFMigrationsHistory] PRIMARY KEY ([MigrationId])\n"
    "    );\n"
    "END;";
inline constexpr std::string_view kSelectHistorySql =
    "SELECT [MigrationId] FROM [__EFMigrationsHistory] ORDER BY [MigrationId]";
inline constexpr std::string_view kInsertHistorySql =
    "INSERT INTO [__EFMigrationsHistory] ([MigrationId], [ProductVersion]) VALUES (?, ?)";

// EF Core 9's own lock resource: reference migrators and this one serialize with each other.
// Session-owned, so it outlives each step's transaction. The result (>= 0 granted) is selected.
inline constexpr std::string_view kAcquireMigrationLockSql =
    "DECLARE @result int;\n"
    "EXEC @result = sp_getapplock @Resource = '__EFMigrationsLock', @LockOwner = 'Session', "
    "@LockMode = 'Exclusive', @LockTimeout = 60000;\n"
    "SELECT @result;";
inline constexpr std::string_view kReleaseMigrationLockSql =
    "EXEC sp_releaseapplock @Resource = '__EFMigrationsLock', @LockOwner = 'Session';";

// §3.4.5 step 1: run in `master` when the login's database does not exist yet.
std::string CreateDatabaseSql(std::string_view database);
// `[name]` with `]` doubled.
std::string QuoteIdentifier(std::string_view name);

// Parameters: document id, document id, document id. Columns: kind (0 snapshot, 1 op), Revision,
// AuthorId, Timestamp (text), Payload/State, EngineType; the snapshot first, then the ops above it.
extern const std::string_view kLoadSql;
// Parameters: document id, revision, timestamp text, state.
extern const std::string_view kUpsertSnapshotSql;
// Parameters: document id, up_to.
extern const std::string_view kCompactSql;
inline constexpr std::string_view kProbeSql = "SELECT 1";

// A multi-row INSERT of `rows` ops; parameters per row: document id, revision, author, timestamp
// text, payload, engine type. SQL Server takes at most 2100 parameters per statement.
inline constexpr size_t kOpParameters = 6;
inline constexpr size_t kMaxOpsPerInsert = 2100 / kOpParameters - 1;
std::string InsertOpsSql(size_t rows);

// Parameters: document id, revisions (`count` of them). The first existing one of a refused batch.
std::string ExistingRevisionSql(size_t count);

// The key columns are nvarchar(450) (§3.4.3): longer ids (UTF-16 code units) cannot be stored.
inline constexpr size_t kMaxIdUnits = 450;
size_t CountUtf16Units(std::string_view utf8);

// The text a datetimeoffset parameter is sent as (CAST in the statements): ISO 8601, 100 ns, +00:00.
std::string FormatDateTimeOffset(Timestamp t);
// What CAST(datetimeoffset AS varchar) gives back (`2026-06-24 15:41:39.1234567 +00:00`), or ISO 8601.
std::optional<Timestamp> ParseDateTimeOffset(std::string_view text);

enum class ErrorKind {
  kDuplicateKey,    // 2627 (primary key / unique constraint), 2601 (unique index)
  kConnectionLost,  // SQLSTATE class 08, or the server ending the session: the connection is unusable
  kTimeout,         // HYT00/HYT01: the driver cancelled the statement; its outcome is unknown
  kOther,
};
ErrorKind ClassifyError(std::string_view sqlstate, int32_t native_error);

}  // namespace opstream::storage::sqlserver
