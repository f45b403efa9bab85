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

namespace opstream::storage::testing {

inline constexpr const char* kMySqlUrlVariable = "OPSTREAM_TEST_MYSQL_URL";

inline std::string MySqlTestUrl() {
  const char* url = std::getenv(kMySqlUrlVariable);
  if (url == nullptr || *url == '\0') {
    ADD_FAILURE() << kMySqlUrlVariable
                  << " is not set: the MySQL tests need a server. Run them through scripts/test.sh, or "
                     "`source scripts/test-services.sh; start_test_services` in this shell first.";
    return {};
  }
  return url;
}

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

class MySqlTestDatabase {
 public:
  MySqlTestDatabase() : base_(MySqlTestUrl()) {
    if (base_.empty()) return;
    static std::atomic<int> counter{0};
    std::random_device random;
    name_ = "opstream_t_" + std::to_string(getpid()) + "_" + std::to_string(counter++) + "_" +
            std::to_string(random() % 1000000);
    RawMySql admin(base_, false);
    if (admin.ok()) admin.Query("CREATE DATABASE `" + name_ + "`");
  }
  ~MySqlTestDatabase() {
    if (name_.empty()) return;
    RawMySql admin(base_, false);
    if (admin.ok()) admin.Query("DROP DATABASE IF EXISTS `" + name_ + "`");
  }
  MySqlTestDatabase(const MySqlTestDatabase&) = delete;
  MySqlTestDatabase& operator=(const MySqlTestDatabase&) = delete;

  bool ok() const { return !name_.empty(); }
  const std::string& name() const { return name_; }
  std::string ConnectionString(const std::string& extra = {}) const {
    return base_ + ";Database=" + name_ + (extra.empty() ? "" : ";" + extra);
  }

 private:
  std::string base_;
  std::string name_;
};

// A store that owns the database it works on: the database is dropped after the store is closed.
class MySqlStoreWithDatabase final : public DocumentStore {
 public:
  MySqlStoreWithDatabase(std::unique_ptr<MySqlTestDatabase> database, std::unique_ptr<DocumentStore> store)
      : database_(std::move(database)), store_(std::move(store)) {}
  ~MySqlStoreWithDatabase() override { store_.reset(); }

  std::string_view provider() const override { return store_->provider(); }
  std::string_view type_name() const override { return store_->type_name(); }
  void Initialize(Completion done) override { store_->Initialize(std::move(done)); }
  void Load(std::string id, LoadCompletion done) override { store_->Load(std::move(id), std::move(done)); }
  void Append(std::string id, std::vector<StoredOp> ops, Completion done) override {
    store_->Append(std::move(id), std::move(ops), std::move(done));
  }
  void WriteSnapshot(std::string id, Snapshot snapshot, Completion done) override {
    store_->WriteSnapshot(std::move(id), std::move(snapshot), std::move(done));
  }
  void Compact(std::string id, int64_t up_to, Completion done) override {
    store_->Compact(std::move(id), up_to, std::move(done));
  }
  void CheckHealth(HealthCompletion done) override { store_->CheckHealth(std::move(done)); }
  void Flush(std::chrono::milliseconds timeout) override { store_->Flush(timeout); }

 private:
  std::unique_ptr<MySqlTestDatabase> database_;
  std::unique_ptr<DocumentStore> store_;
};

}  // namespace opstream::storage::testing
