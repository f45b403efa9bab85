#pragma once
// The relational schema of server.md §3.4 for SQLite, as the three EF Core migrations of the
// reference create it, and the migrator that applies them (§3.4.5).
//
// The DDL is the text EF Core 9's SQLite provider generates (single-column primary keys inlined
// into the column, composite ones as a table constraint), so sqlite_master of a database created
// here reads the same as one created by the reference, and either server can open the other's.
#include <array>
#include <chrono>
#include <string_view>

#include "common/status.hpp"

namespace opstream::storage::sqlite {

class Database;

struct Migration {
  std::string_view id;   // primary key in __EFMigrationsHistory
  std::string_view sql;  // the step's statements, run in one transaction
};

// In the order they must be applied.
extern const std::array<Migration, 3> kMigrations;

// Written to __EFMigrationsHistory.ProductVersion. Informational only (EF never reads it back);
// a 9.0.x value keeps the rows indistinguishable from the reference's.
inline constexpr std::string_view kEfProductVersion = "9.0.0";

inline constexpr std::string_view kCreateHistoryTableSql =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\n"
    "    \"MigrationId\" TEXT NOT NULL CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY,\n"
    "    \"ProductVersion\" TEXT NOT NULL\n"
    ");";

// EF Core 9 serialises migrators on SQLite with a row in this table (Id = 1) that lives for the
// duration of a migration.
inline constexpr std::string_view kCreateLockTableSql =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsLock\" (\n"
    "    \"Id\" INTEGER NOT NULL CONSTRAINT \"PK___EFMigrationsLock\" PRIMARY KEY,\n"
    "    \"Timestamp\" TEXT NOT NULL\n"
    ");";

struct MigrationSettings {
  // A reference migrator holds its lock for well under a second; wait this long for it to finish.
  std::chrono::milliseconds lock_wait{std::chrono::seconds(60)};
  // EF never clears the lock of a migrator that was killed. A lock row this old cannot belong to a
  // live migration, so it is removed (with a warning) instead of blocking startup forever.
  std::chrono::minutes abandoned_lock_age{5};
};

// Creates the history table, then applies every step of kMigrations that is not recorded, in
// order, each in its own BEGIN IMMEDIATE transaction that also re-checks the history and the EF
// lock row (so concurrent migrators, ours or the reference's, never apply a step twice). Ids that
// are recorded but unknown here come from a newer server: logged as a warning, otherwise ignored.
Status ApplyMigrations(Database& db, const MigrationSettings& settings = {});

}  // namespace opstream::storage::sqlite
