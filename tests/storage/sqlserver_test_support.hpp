#pragma once
// The SQL Server the integration tests use, when there is one: its SqlClient connection string (with
// a login that may create databases) is in OPSTREAM_TEST_SQLSERVER_URL. No SQL Server can run on the
// machines this project is built on, so without the variable these tests are SKIPPED and reported as
// such (never counted as passing). Each test works in a database of its own, dropped afterwards.
#include <gtest/gtest.h>
#include <sql.h>
#include <sqlext.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "storage/sqlserver/sqlserver_connection_string.hpp"
#include "storage/sqlserver/sqlserver_sql.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

inline constexpr const char* kSqlServerUrlVariable = "OPSTREAM_TEST_SQLSERVER_URL";
inline constexpr const char* kSqlServerSkipMessage =
    "OPSTREAM_TEST_SQLSERVER_URL is not set: no SQL Server to test against (none runs on this machine). Set it to a "
    "SqlClient connection string whose login may create databases, e.g. "
    "'Server=tcp:127.0.0.1,1433;User Id=sa;Password=...;TrustServerCertificate=True' (docs/storage/sqlserver.md).";

inline std::optional<std::string> SqlServerTestUrl() {
  const char* url = std::getenv(kSqlServerUrlVariable);
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

// A plain blocking ODBC connection, for looking at a database from outside the store.
class RawSqlServer {
 public:
  RawSqlServer(const std::string& connection_string, const std::string& database) {
    SqlServerConnectionOptions o;
    const Status parsed = ParseSqlServerConnectionString(connection_string, o);
    if (!parsed.ok()) {
      ADD_FAILURE() << parsed.message();
      return;
    }
    SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env_);
    SQLSetEnvAttr(env_, SQL_ATTR_ODBC_VERSION, reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(SQL_OV_ODBC3)), 0);
    SQLAllocHandle(SQL_HANDLE_DBC, env_, &dbc_);
    std::string text = ToFreeTdsOdbcConnectionString(o, "FreeTDS", database);
    if (!SQL_SUCCEEDED(SQLDriverConnect(dbc_, nullptr, reinterpret_cast<SQLCHAR*>(text.data()), SQL_NTS, nullptr, 0,
                                        nullptr, SQL_DRIVER_NOPROMPT))) {
      ADD_FAILURE() << "cannot connect to SQL Server: " << Diagnostic(SQL_HANDLE_DBC, dbc_);
      SQLFreeHandle(SQL_HANDLE_DBC, dbc_);
      dbc_ = SQL_NULL_HDBC;
    }
  }
  ~RawSqlServer() {
    if (dbc_ != SQL_NULL_HDBC) {
      SQLDisconnect(dbc_);
      SQLFreeHandle(SQL_HANDLE_DBC, dbc_);
    }
    if (env_ != SQL_NULL_HENV) SQLFreeHandle(SQL_HANDLE_ENV, env_);
  }
  RawSqlServer(const RawSqlServer&) = delete;
  RawSqlServer& operator=(const RawSqlServer&) = delete;

  bool ok() const { return dbc_ != SQL_NULL_HDBC; }

  // Rows of the first result as text, nulls as "<null>".
  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    if (!ok()) return rows;
    SQLHSTMT stmt = SQL_NULL_HSTMT;
    SQLAllocHandle(SQL_HANDLE_STMT, dbc_, &stmt);
    std::string text = sql;
    SQLRETURN rc = SQLExecDirect(stmt, reinterpret_cast<SQLCHAR*>(text.data()), SQL_NTS);
    if (rc != SQL_NO_DATA && !SQL_SUCCEEDED(rc)) {
      ADD_FAILURE() << "SQL failed: " << Diagnostic(SQL_HANDLE_STMT, stmt) << "\n" << sql;
    } else {
      bool read = false;
      while (rc != SQL_NO_DATA) {
        SQLSMALLINT columns = 0;
        SQLNumResultCols(stmt, &columns);
        if (columns > 0 && !read) {
          read = true;
          while (SQL_SUCCEEDED(SQLFetch(stmt))) {
            auto& row = rows.emplace_back();
            for (SQLSMALLINT c = 1; c <= columns; ++c) {
              char buffer[4096];
              SQLLEN indicator = 0;
              SQLGetData(stmt, static_cast<SQLUSMALLINT>(c), SQL_C_CHAR, buffer, sizeof buffer, &indicator);
              row.emplace_back(indicator == SQL_NULL_DATA ? std::string("<null>") : std::string(buffer));
            }
          }
        }
        rc = SQLMoreResults(stmt);
      }
    }
    SQLFreeHandle(SQL_HANDLE_STMT, stmt);
    return rows;
  }

 private:
  static std::string Diagnostic(SQLSMALLINT type, SQLHANDLE handle) {
    SQLCHAR state[6] = {}, text[1024] = {};
    SQLINTEGER native = 0;
    SQLSMALLINT length = 0;
    SQLGetDiagRec(type, handle, 1, state, &native, text, sizeof text, &length);
    return std::string(reinterpret_cast<char*>(text)) + " (SQLSTATE " + reinterpret_cast<char*>(state) + ")";
  }
  SQLHENV env_ = SQL_NULL_HENV;
  SQLHDBC dbc_ = SQL_NULL_HDBC;
};

// A database name of its own; the store creates it (§3.4.5 step 1), the destructor drops it.
class SqlServerTestDatabase {
 public:
  explicit SqlServerTestDatabase(std::string base) : base_(std::move(base)), name_(UniqueTestName("opstream_t_")) {}
  ~SqlServerTestDatabase() {
    RawSqlServer admin(base_, "master");
    const std::string quoted = sqlserver::QuoteIdentifier(name_);
    if (admin.ok()) {
      admin.Query("IF DB_ID(N'" + name_ + "') IS NOT NULL BEGIN ALTER DATABASE " + quoted +
                  " SET SINGLE_USER WITH ROLLBACK IMMEDIATE; DROP DATABASE " + quoted + "; END");
    }
  }
  SqlServerTestDatabase(const SqlServerTestDatabase&) = delete;
  SqlServerTestDatabase& operator=(const SqlServerTestDatabase&) = delete;

  const std::string& name() const { return name_; }
  std::string ConnectionString() const { return base_ + ";Database=" + name_; }
  RawSqlServer Raw() const { return RawSqlServer(base_, name_); }

 private:
  std::string base_;
  std::string name_;
};

}  // namespace opstream::storage::testing
