#pragma once
// A plain sqlite3 connection for tests that look at (or prepare) a database file from outside the
// store, the way a reference server or an operator would.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

namespace opstream::storage::testing {

class RawSqlite {
 public:
  explicit RawSqlite(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << "cannot open " << path << ": " << sqlite3_errmsg(db_);
    }
  }
  ~RawSqlite() { sqlite3_close_v2(db_); }
  RawSqlite(const RawSqlite&) = delete;
  RawSqlite& operator=(const RawSqlite&) = delete;

  // Runs statements; returns SQLite's error text, empty on success.
  std::string Exec(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) == SQLITE_OK) return {};
    std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    return message;
  }

  // Every row as texts (NULL reads as "<null>").
  std::vector<std::vector<std::string>> Rows(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return rows;
    }
    while (sqlite3_step(statement) == SQLITE_ROW) {
      std::vector<std::string> row;
      for (int column = 0; column < sqlite3_column_count(statement); ++column) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(statement, column));
        row.push_back(text ? std::string(text, static_cast<size_t>(sqlite3_column_bytes(statement, column)))
                           : "<null>");
      }
      rows.push_back(std::move(row));
    }
    sqlite3_finalize(statement);
    return rows;
  }

  std::vector<std::string> Column(const std::string& sql) {
    std::vector<std::string> values;
    for (auto& row : Rows(sql)) values.push_back(row.empty() ? "" : row[0]);
    return values;
  }

 private:
  sqlite3* db_ = nullptr;
};

}  // namespace opstream::storage::testing
