#pragma once
// Microsoft.Data.Sqlite connection strings (server.md §3.5), parsed so that a configuration
// written for the reference server opens the same database here:
//
//   Data Source=/var/lib/opstream/opstream.db;Cache=Shared
//
// Keywords are case-insensitive and whitespace-tolerant; values may be quoted with `'` or `"`
// (a doubled quote inside stands for itself). Unknown keywords are an error, as they are for the
// reference driver. Error messages never repeat a password.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::storage {

enum class SqliteOpenMode { kReadWriteCreate, kReadWrite, kReadOnly, kMemory };
enum class SqliteCacheMode { kDefault, kPrivate, kShared };

struct SqliteConnectionOptions {
  // Microsoft.Data.Sqlite's default command timeout; it is also how long a statement waits for
  // a lock held by another connection before failing with "database is locked".
  static constexpr std::chrono::seconds kDefaultTimeout{30};

  std::string data_source;  // file path, `:memory:`, or a `file:` URI
  SqliteOpenMode mode = SqliteOpenMode::kReadWriteCreate;
  SqliteCacheMode cache = SqliteCacheMode::kDefault;
  std::optional<bool> foreign_keys;  // unset: leave SQLite's compiled-in default
  bool recursive_triggers = false;
  std::chrono::seconds default_timeout = kDefaultTimeout;  // 0 waits without limit, as in .NET
  bool pooling = true;                                     // accepted; a store holds one connection
  std::string vfs;                                         // empty: SQLite's default VFS

  // Mode=Memory or `Data Source=:memory:`: a private database that lives as long as the store.
  bool in_memory() const;
  // A `file:` URI, opened with SQLITE_OPEN_URI as Microsoft.Data.Sqlite does.
  bool is_uri() const;
};

Status ParseSqliteConnectionString(std::string_view text, SqliteConnectionOptions& out);

}  // namespace opstream::storage
