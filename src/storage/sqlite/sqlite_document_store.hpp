#pragma once
// The `sqlite` provider (server.md §3.4): the reference's relational schema in one SQLite file,
// so a database written by the reference opens here and keeps working, and vice versa.
//
// Threading: every SQLite call runs on one worker thread per store (SQLite has a single writer),
// fed by a queue; calls return at once and completions run on that worker, after the data they
// report on is committed. Consecutive queued Append calls (for any documents) share one
// transaction — group commit — with a savepoint each, so one refused append does not affect its
// neighbours. WAL with synchronous=FULL makes an acknowledged append survive kill -9 and power loss.
//
// Errors (disk full, locked, corrupt, ...) come back as Status texts of the form
// `SQLite {operation} failed: {message} ({code})`; the worker itself never stops.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "storage/queued_job_store.hpp"
#include "storage/sqlite/sqlite_connection_string.hpp"

namespace opstream::storage {

namespace sqlite {
class Database;
}

struct SqliteStoreSettings {
  // A probe that the worker has not answered by then reports Unhealthy (the worker is stuck on a
  // lock or on I/O); short, because readiness probes poll.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Upper bound on appends sharing one transaction, which bounds how long the first one waits.
  size_t max_appends_per_transaction = 1024;
  // Migration lock handling, see MigrationSettings.
  std::chrono::milliseconds migration_lock_wait{std::chrono::seconds(60)};
};

// Counters exposed for tests and metrics.
struct SqliteStoreCounters {
  uint64_t append_transactions = 0;  // committed transactions that carried Append calls
  uint64_t appends_committed = 0;    // Append calls acknowledged as durable
};

// Also the provider's history, comment and ref store (server.md §3.2, §12 SV-12): those calls use
// the reference's HistoryOps/HistorySnapshots, Comments and DocumentNames/DocumentBranches/
// DocumentVersions tables, on the same worker.
class SqliteDocumentStore final : public QueuedJobStore {
 public:
  explicit SqliteDocumentStore(SqliteConnectionOptions options, SqliteStoreSettings settings = {});
  // Finishes every queued call (their completions run), then closes the database. Must not be
  // called from one of the store's own completions (the worker cannot wait for itself).
  ~SqliteDocumentStore() override;

  std::string_view provider() const override { return "sqlite"; }
  // The reference's store type for the startup report (server.md §1.8).
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore"; }

  // CheckHealth runs `SELECT 1` on the worker; Unhealthy when it fails or takes longer than
  // health_timeout. Flush waits until the queue is drained; from a completion (on the worker) it
  // returns at once.
  OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES;

  SqliteStoreCounters counters() const;
  const SqliteConnectionOptions& options() const;

 private:
  void EnqueueJob(jobs::Job job) override;
  // Runs `task` on the worker with the open database (null and the failure when it cannot be
  // opened); the task calls its own completion. Defined with the worker.
  using Task = std::function<void(Status opened, sqlite::Database* db)>;
  void Submit(Task task);

  class Worker;
  std::unique_ptr<Worker> worker_;
};

// Parses and checks a Microsoft.Data.Sqlite connection string (§3.5) and creates the store. The
// directory of a database file must exist (the file itself is created unless Mode=ReadWrite or
// Mode=ReadOnly); Mode=Memory gives a private in-memory database. The database is opened and
// migrated by Initialize.
Status OpenSqliteStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                       SqliteStoreSettings settings = {});

}  // namespace opstream::storage
