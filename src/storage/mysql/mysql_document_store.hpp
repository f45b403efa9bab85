#pragma once
// The `mysql` / `mariadb` provider (server.md §3.4): the reference's relational tables, created
// unqualified in the database the connection string names (§3.4.6, SV-10), so that a reference
// host with schema behaviour "ignore" would recognise the database.
//
// Threading: a few connections (MySqlStoreSettings::connections), each owned by a thread of its
// own running MariaDB Connector/C's blocking API; calls return at once and completions run on
// those threads once the data they report on is committed. A thread takes everything queued
// when it becomes free: all queued appends (any documents) become one multi-row INSERT in one
// transaction — group commit. A group the server refuses (a duplicate revision, typically) is
// replayed with one transaction per append, so only the offending appends are refused.
//
// Faults: a lost connection fails the calls under way (never acknowledging an append whose
// commit was not confirmed) and is re-established with exponential backoff; calls arriving while
// the server is unreachable fail at once with `MySQL is unavailable (...): ...`.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "storage/lane_store_settings.hpp"
#include "storage/mysql/mysql_connection_string.hpp"
#include "storage/queued_job_store.hpp"

namespace opstream::storage {

using MySqlStoreSettings = LaneStoreSettings;
using MySqlStoreCounters = LaneStoreCounters;

// The key columns are varchar(255) (§3.4.3): longer ids cannot be stored and are refused.
inline constexpr size_t kMySqlMaxIdCharacters = 255;

// Also the history, comment and ref stores, on the reference's tables (§3.2 and §12 SV-12: comments
// and refs are persisted in the shared database instead of per node).
class MySqlDocumentStore final : public QueuedJobStore {
 public:
  explicit MySqlDocumentStore(MySqlConnectionOptions options, MySqlStoreSettings settings = {});
  // Finishes every queued call, then closes the connections. Not from one of its own completions.
  ~MySqlDocumentStore() override;

  std::string_view provider() const override { return "mysql"; }
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore`1"; }

  // Initialize connects (ignoring the backoff) and applies the missing migrations under GET_LOCK;
  // it refuses a database whose history holds a migration id this build does not know. CheckHealth
  // sends `SELECT 1` ahead of the queue; Unhealthy when it fails or takes longer than health_timeout.
  OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES;

  MySqlStoreCounters counters() const;

 private:
  void EnqueueJob(jobs::Job job) override;
  class Worker;
  std::unique_ptr<Worker> worker_;
};

// The three EF Core migrations of the reference's MySQL provider (§3.4.5), for tests and tools.
struct MySqlMigration {
  std::string_view id;
  std::vector<std::string_view> statements;
};
const std::vector<MySqlMigration>& MySqlMigrations();

Status OpenMySqlStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      MySqlStoreSettings settings = {});

}  // namespace opstream::storage
