#pragma once
// The relational schema of server.md §3.4 for PostgreSQL (schema `opstream`, §3.4.4), as the three
// EF Core migrations of the reference create it, with the reference's migration ids (§3.4.5).
//
// libpq's pipeline mode runs one statement per query, so each step is a list of statements.
#include <array>
#include <string_view>
#include <vector>

namespace opstream::storage::postgres {

struct Migration {
  std::string_view id;                       // primary key in __EFMigrationsHistory
  std::vector<std::string_view> statements;  // run in one transaction with the history insert
};

// In the order they must be applied.
const std::array<Migration, 3>& Migrations();

// Written to __EFMigrationsHistory.ProductVersion (informational; EF never reads it back).
inline constexpr std::string_view kEfProductVersion = "9.0.0";

// In the connection's default schema (first of the search path), as EF Core creates it.
inline constexpr const char* kCreateHistoryTableSql =
    "CREATE TABLE IF NOT EXISTS \"__EFMigrationsHistory\" (\n"
    "    \"MigrationId\" character varying(150) NOT NULL,\n"
    "    \"ProductVersion\" character varying(32) NOT NULL,\n"
    "    CONSTRAINT \"PK___EFMigrationsHistory\" PRIMARY KEY (\"MigrationId\")\n"
    ")";

// Session-independent key of the advisory lock every migrating node takes (two nodes starting
// together apply each step once). The value is arbitrary but fixed: ASCII "OpStrMig".
inline constexpr long long kMigrationLockKey = 0x4f705374724d6967LL;

}  // namespace opstream::storage::postgres
