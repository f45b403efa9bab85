#pragma once
// The MariaDB server the tests use, and a fresh database per test so that tests can run in
// parallel (ctest -j) without seeing each other's rows.
//
// The server is the one scripts/test-services.sh starts; its MySqlConnector connection string is
// in OPSTREAM_TEST_MYSQL_URL. Without it the tests fail (they never skip).
#include <gtest/gtest.h>
#include <mariadb/mysql.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/document_store.hpp"
#include "storage/mysql/mysql_connection_string.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

inline constexpr const char* kMySqlUrlVariable = "OPSTREAM_TEST_MYSQL_URL";

inline std::string MySqlTestUrl() { return TestServiceUrl(kMySqlUrlVariable, "MySQL"); }

// A plain blocking connection, for looking at a database from outside the store.
class RawMySql {
 public:
  explicit RawMySql(const std::string& connection_string, bool with_database = true) {
    MySqlConnectionOptions o;
    const Status parsed = ParseMySqlConnectionString(connection_string, o);
    if (!parsed.ok()) {
      ADD_FAILURE() << parsed.message();
      return;
    }
    conn_ = mysql_init(nullptr);
    mysql_optionsv(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(conn_, o.hosts[0].c_str(), o.user.c_str(), o.password.c_str(),
                           with_database ? o.database.c_str() : nullptr, static_cast<unsigned>(o.port), nullptr,
                           CLIENT_MULTI_STATEMENTS) == nullptr) {
      ADD_FAILURE() << "cannot connect: " << mysql_error(conn_);
      mysql_close(conn_);
      conn_ = nullptr;
    }
  }
  ~RawMySql() {
    if (conn_) mysql_close(conn_);
  }
  RawMySql(const RawMySql&) = delete;
  RawMySql& operator=(const RawMySql&) = delete;

  bool ok() const { return conn_ != nullptr; }

  // Rows of the last statement's result as text, nulls as "<null>".
  // The first cell of `sql`'s first row; a failure (not a crash) when there is no row.
  std::string Cell(const std::string& sql) { return FirstCell(Query(sql), sql); }

  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    if (!conn_) return rows;
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) {
      ADD_FAILURE() << "SQL failed: " << mysql_error(conn_) << "\n" << sql;
      return rows;
    }
    do {
      MYSQL_RES* result = mysql_store_result(conn_);
      if (result == nullptr) continue;
      rows.clear();
      const unsigned columns = mysql_num_fields(result);
      while (MYSQL_ROW row = mysql_fetch_row(result)) {
        const unsigned long* lengths = mysql_fetch_lengths(result);
        auto& out = rows.emplace_back();
        for (unsigned c = 0; c < columns; ++c) out.emplace_back(row[c] ? std::string(row[c], lengths[c]) : "<null>");
      }
      mysql_free_result(result);
    } while (mysql_next_result(conn_) == 0);
    return rows;
  }

 private:
  MYSQL* conn_ = nullptr;
};

class MySqlTestDatabase : public ScratchDatabase {
 public:
  MySqlTestDatabase()
      : ScratchDatabase(
            MySqlTestUrl(),
            [](const std::string& base, const std::string& sql) {
              RawMySql admin(base, false);
              if (admin.ok()) admin.Query(sql);
            },
            "`") {}
};

}  // namespace opstream::storage::testing
