#pragma once
// A thin RAII layer over one sqlite3 connection: opening with the options of a connection
// string, a cache of prepared statements, and error texts that are stable and say what failed.
//
// Not thread-safe: a connection belongs to the single worker thread of its store.
#include <sqlite3.h>

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.hpp"
#include "storage/sqlite/sqlite_connection_string.hpp"

namespace opstream::storage::sqlite {

// `SQLITE_FULL`, `SQLITE_CONSTRAINT_PRIMARYKEY`, ... for messages and logs.
std::string ResultCodeName(int result_code);

// Resets a cached statement (and drops its bindings) when a use of it ends, so a statement left
// half-stepped never holds a read transaction open.
class StatementUse {
 public:
  explicit StatementUse(sqlite3_stmt* statement) : statement_(statement) {}
  ~StatementUse() {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
  }
  StatementUse(const StatementUse&) = delete;
  StatementUse& operator=(const StatementUse&) = delete;

  sqlite3_stmt* get() const { return statement_; }

 private:
  sqlite3_stmt* statement_;
};

class Database {
 public:
  // Opens (creating when the mode allows) and applies the connection's pragmas: WAL journal and
  // synchronous=FULL, so that an acknowledged write survives a crash or power loss.
  static Status Open(const SqliteConnectionOptions& options, std::unique_ptr<Database>& out);

  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  sqlite3* handle() const { return db_; }
  bool read_only() const { return read_only_; }

  // Runs one or more statements without results (DDL, transaction control).
  Status Execute(std::string_view sql, std::string_view operation);
  // A prepared statement kept for the lifetime of the connection; use it through StatementUse.
  Status Prepared(const std::string& sql, std::string_view operation, sqlite3_stmt*& out);
  // Single-value query helper for pragmas and probes.
  Status QueryText(const std::string& sql, std::string_view operation, std::string& out);

  // `SQLite {operation} failed: {message} ({code})` using the connection's last error message.
  Status Error(int result_code, std::string_view operation) const;
  // True when SQLite rolled the current transaction back on its own (after SQLITE_FULL, an I/O
  // error, ...): work done earlier in that transaction is lost.
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

 private:
  explicit Database(sqlite3* db, bool read_only) : db_(db), read_only_(read_only) {}

  struct StatementDeleter {
    void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
  };

  sqlite3* db_;
  bool read_only_;
  std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, StatementDeleter>> statements_;
};

// Binds text or bytes without copying: the caller keeps `value` alive until the statement is reset.
inline int BindText(sqlite3_stmt* statement, int index, std::string_view value) {
  return sqlite3_bind_text64(statement, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8);
}
inline int BindBlob(sqlite3_stmt* statement, int index, std::string_view value) {
  // data() of an empty std::string is not null, so an empty payload is stored as an empty BLOB, not NULL.
  return sqlite3_bind_blob64(statement, index, value.data(), value.size(), SQLITE_STATIC);
}
// Column bytes as a string (BLOB or TEXT alike); NULL reads as empty.
std::string ColumnBytes(sqlite3_stmt* statement, int column);

}  // namespace opstream::storage::sqlite
