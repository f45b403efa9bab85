#pragma once
// The PostgreSQL server the tests use, and a fresh database per test so that tests can run in
// parallel (ctest -j) without seeing each other's rows.
//
// The server is the one scripts/test-services.sh starts; its Npgsql connection string is in
// OPSTREAM_TEST_POSTGRES_URL. Without it the tests fail (they never skip).
#include <gtest/gtest.h>
#include <postgresql/libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/document_store.hpp"
#include "storage/postgres/postgres_connection_string.hpp"
#include "storage/store_test_support.hpp"

namespace opstream::storage::testing {

inline constexpr const char* kPostgresUrlVariable = "OPSTREAM_TEST_POSTGRES_URL";

// The server's connection string, or "" after recording a failure that says how to get one.
inline std::string PostgresTestUrl() { return TestServiceUrl(kPostgresUrlVariable, "PostgreSQL"); }

// A plain blocking libpq connection, for looking at a database from outside the store.
class RawPostgres {
 public:
  explicit RawPostgres(const std::string& npgsql) {
    PostgresConnectionOptions options;
    const Status parsed = ParsePostgresConnectionString(npgsql, options);
    if (!parsed.ok()) {
      ADD_FAILURE() << parsed.message();
      return;
    }
    std::vector<const char*> keys, values;
    const auto parameters = options.LibpqParameters();
    for (const auto& [key, value] : parameters) {
      keys.push_back(key.c_str());
      values.push_back(value.c_str());
    }
    keys.push_back(nullptr);
    values.push_back(nullptr);
    conn_ = PQconnectdbParams(keys.data(), values.data(), 0);
    if (PQstatus(conn_) != CONNECTION_OK) ADD_FAILURE() << "cannot connect: " << PQerrorMessage(conn_);
    PQsetNoticeProcessor(
        conn_, [](void*, const char*) {}, nullptr);
  }
  ~RawPostgres() { PQfinish(conn_); }
  RawPostgres(const RawPostgres&) = delete;
  RawPostgres& operator=(const RawPostgres&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }

  // Runs `sql` (several statements allowed); rows of the last statement as text, nulls as "<null>".
  // The first cell of `sql`'s first row; a failure (not a crash) when there is no row.
  std::string Cell(const std::string& sql) { return FirstCell(Query(sql), sql); }

  std::vector<std::vector<std::string>> Query(const std::string& sql) {
    std::vector<std::vector<std::string>> rows;
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      ADD_FAILURE() << "SQL failed: " << PQresultErrorMessage(result) << "\n" << sql;
    } else {
      for (int row = 0; row < PQntuples(result); ++row) {
        auto& out = rows.emplace_back();
        for (int column = 0; column < PQnfields(result); ++column) {
          out.emplace_back(PQgetisnull(result, row, column) ? "<null>" : PQgetvalue(result, row, column));
        }
      }
    }
    PQclear(result);
    return rows;
  }

  // The error text of `sql`, or "" when it succeeds.
  std::string Error(const std::string& sql) {
    PGresult* result = PQexec(conn_, sql.c_str());
    const ExecStatusType status = PQresultStatus(result);
    std::string error = status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK ? "" : PQresultErrorMessage(result);
    PQclear(result);
    return error;
  }

 private:
  PGconn* conn_ = nullptr;
};

// A database of its own, created on the test server and dropped (connections and all) at the end.
class TestDatabase : public ScratchDatabase {
 public:
  TestDatabase()
      : ScratchDatabase(
            PostgresTestUrl(),
            [](const std::string& base, const std::string& sql) {
              RawPostgres admin(base);
              if (admin.ok()) admin.Query(sql);
            },
            "\"", " WITH (FORCE)") {}
};

}  // namespace opstream::storage::testing
