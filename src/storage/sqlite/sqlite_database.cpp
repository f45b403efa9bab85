#include "storage/sqlite/sqlite_database.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <climits>

namespace opstream::storage::sqlite {
namespace {

// Busy timeout used for "Default Timeout=0", which .NET reads as "wait without limit".
constexpr int kUnboundedBusyTimeoutMs = INT_MAX;

}  // namespace

std::string ResultCodeName(int result_code) {
  switch (result_code) {
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      return "SQLITE_CONSTRAINT_PRIMARYKEY";
    case SQLITE_CONSTRAINT_UNIQUE:
      return "SQLITE_CONSTRAINT_UNIQUE";
    case SQLITE_CONSTRAINT_NOTNULL:
      return "SQLITE_CONSTRAINT_NOTNULL";
    case SQLITE_BUSY_SNAPSHOT:
      return "SQLITE_BUSY_SNAPSHOT";
    case SQLITE_READONLY_DBMOVED:
      return "SQLITE_READONLY_DBMOVED";
    case SQLITE_IOERR_FSYNC:
      return "SQLITE_IOERR_FSYNC";
    case SQLITE_IOERR_WRITE:
      return "SQLITE_IOERR_WRITE";
    case SQLITE_IOERR_READ:
      return "SQLITE_IOERR_READ";
    default:
      break;
  }
  switch (result_code & 0xff) {
    case SQLITE_OK:
      return "SQLITE_OK";
    case SQLITE_ERROR:
      return "SQLITE_ERROR";
    case SQLITE_INTERNAL:
      return "SQLITE_INTERNAL";
    case SQLITE_PERM:
      return "SQLITE_PERM";
    case SQLITE_ABORT:
      return "SQLITE_ABORT";
    case SQLITE_BUSY:
      return "SQLITE_BUSY";
    case SQLITE_LOCKED:
      return "SQLITE_LOCKED";
    case SQLITE_NOMEM:
      return "SQLITE_NOMEM";
    case SQLITE_READONLY:
      return "SQLITE_READONLY";
    case SQLITE_INTERRUPT:
      return "SQLITE_INTERRUPT";
    case SQLITE_IOERR:
      return "SQLITE_IOERR";
    case SQLITE_CORRUPT:
      return "SQLITE_CORRUPT";
    case SQLITE_NOTFOUND:
      return "SQLITE_NOTFOUND";
    case SQLITE_FULL:
      return "SQLITE_FULL";
    case SQLITE_CANTOPEN:
      return "SQLITE_CANTOPEN";
    case SQLITE_PROTOCOL:
      return "SQLITE_PROTOCOL";
    case SQLITE_SCHEMA:
      return "SQLITE_SCHEMA";
    case SQLITE_TOOBIG:
      return "SQLITE_TOOBIG";
    case SQLITE_CONSTRAINT:
      return "SQLITE_CONSTRAINT";
    case SQLITE_MISMATCH:
      return "SQLITE_MISMATCH";
    case SQLITE_MISUSE:
      return "SQLITE_MISUSE";
    case SQLITE_NOLFS:
      return "SQLITE_NOLFS";
    case SQLITE_AUTH:
      return "SQLITE_AUTH";
    case SQLITE_RANGE:
      return "SQLITE_RANGE";
    case SQLITE_NOTADB:
      return "SQLITE_NOTADB";
    case SQLITE_NOTICE:
      return "SQLITE_NOTICE";
    case SQLITE_WARNING:
      return "SQLITE_WARNING";
    case SQLITE_ROW:
      return "SQLITE_ROW";
    case SQLITE_DONE:
      return "SQLITE_DONE";
    default:
      return fmt::format("SQLite result code {}", result_code);
  }
}

Status Database::Open(const SqliteConnectionOptions& options, std::unique_ptr<Database>& out) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  bool read_only = false;
  switch (options.mode) {
    case SqliteOpenMode::kReadWriteCreate:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
      break;
    case SqliteOpenMode::kReadWrite:
      flags |= SQLITE_OPEN_READWRITE;
      break;
    case SqliteOpenMode::kReadOnly:
      flags |= SQLITE_OPEN_READONLY;
      read_only = true;
      break;
    case SqliteOpenMode::kMemory:
      flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_MEMORY;
      break;
  }
  // Cache=Shared is accepted but not used: a store has exactly one connection, and SQLite
  // discourages shared-cache mode. Cache=Private is what we do anyway.
  if (options.is_uri()) flags |= SQLITE_OPEN_URI;
  const std::string filename = options.data_source.empty() && options.in_memory() ? ":memory:" : options.data_source;

  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(filename.c_str(), &db, flags, options.vfs.empty() ? nullptr : options.vfs.c_str());
  if (rc != SQLITE_OK) {
    Status error = Status::Error(fmt::format("SQLite open of database '{}' failed: {} ({})", options.data_source,
                                             db ? sqlite3_errmsg(db) : sqlite3_errstr(rc), ResultCodeName(rc)));
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  const auto timeout_ms = std::chrono::duration_cast<std::chrono::milliseconds>(options.default_timeout).count();
  sqlite3_busy_timeout(db, timeout_ms == 0 || timeout_ms > kUnboundedBusyTimeoutMs ? kUnboundedBusyTimeoutMs
                                                                                   : static_cast<int>(timeout_ms));

  std::unique_ptr<Database> database(new Database(db, read_only));
  if (!options.in_memory() && !read_only) {
    // WAL: readers never block the writer, and a commit is one append to the log.
    std::string journal_mode;
    if (Status status = database->QueryText("PRAGMA journal_mode=WAL", "switch to WAL journal mode", journal_mode);
        !status.ok()) {
      return status;
    }
    if (journal_mode != "wal") {
      spdlog::warn("storage.sqlite: journal mode stays '{}' (WAL not available) db={}", journal_mode,
                   options.data_source);
    }
  }
  // FULL syncs the WAL on every commit: an acknowledged op survives kill -9 and power loss.
  if (Status status = database->Execute("PRAGMA synchronous=FULL", "set synchronous=FULL"); !status.ok()) {
    return status;
  }
  if (options.foreign_keys) {
    if (Status status = database->Execute(*options.foreign_keys ? "PRAGMA foreign_keys=ON" : "PRAGMA foreign_keys=OFF",
                                          "set foreign_keys");
        !status.ok()) {
      return status;
    }
  }
  if (options.recursive_triggers) {
    if (Status status = database->Execute("PRAGMA recursive_triggers=ON", "set recursive_triggers"); !status.ok()) {
      return status;
    }
  }
  out = std::move(database);
  return Status::Ok();
}

Database::~Database() {
  statements_.clear();  // finalize before closing
  sqlite3_close_v2(db_);
}

Status Database::Execute(std::string_view sql, std::string_view operation) {
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, operation);
  return Status::Ok();
}

Status Database::Prepared(const std::string& sql, std::string_view operation, sqlite3_stmt*& out) {
  if (auto it = statements_.find(sql); it != statements_.end()) {
    out = it->second.get();
    return Status::Ok();
  }
  sqlite3_stmt* statement = nullptr;
  const int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &statement, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(statement);
    return Error(rc, operation);
  }
  out = statement;
  statements_.emplace(sql, std::unique_ptr<sqlite3_stmt, StatementDeleter>(statement));
  return Status::Ok();
}

Status Database::QueryText(const std::string& sql, std::string_view operation, std::string& out) {
  sqlite3_stmt* statement = nullptr;
  if (Status status = Prepared(sql, operation, statement); !status.ok()) return status;
  StatementUse use(statement);
  const int rc = sqlite3_step(statement);
  if (rc == SQLITE_ROW) {
    out = ColumnBytes(statement, 0);
    return Status::Ok();
  }
  if (rc == SQLITE_DONE) {
    out.clear();
    return Status::Ok();
  }
  return Error(rc, operation);
}

Status Database::Error(int result_code, std::string_view operation) const {
  // The connection's message is more specific than sqlite3_errstr ("UNIQUE constraint failed:
  // DocumentOps.DocumentId, DocumentOps.Revision" rather than "constraint failed").
  const int last = sqlite3_extended_errcode(db_);
  const char* message = (last & 0xff) == (result_code & 0xff) ? sqlite3_errmsg(db_) : sqlite3_errstr(result_code);
  return Status::Error(fmt::format("SQLite {} failed: {} ({})", operation, message, ResultCodeName(result_code)));
}

std::string ColumnBytes(sqlite3_stmt* statement, int column) {
  const void* data = sqlite3_column_blob(statement, column);
  const int size = sqlite3_column_bytes(statement, column);
  if (data == nullptr || size <= 0) return {};
  return std::string(static_cast<const char*>(data), static_cast<size_t>(size));
}

}  // namespace opstream::storage::sqlite
