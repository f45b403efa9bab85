#pragma once
// The `sqlserver` / `mssql` provider (server.md §3.4): the reference's relational tables in schema
// `opstream`, reached through ODBC (unixODBC) and the FreeTDS driver, with the reference's SQL Server
// migration ids, so that a reference host and this server can share a database.
//
// UNVERIFIED against a live SQL Server: none can run on the machines this was written on. The SQL
// texts, the connection-string translation and the error mapping are unit-tested; the ODBC path is
// exercised as far as a refused TCP connection. See docs/storage/sqlserver.md.
//
// Threading: a few connections (SqlServerStoreSettings::connections), each owned by a thread of its
// own running ODBC's blocking API; calls return at once and completions run on those threads once
// the data they report on is committed. A thread takes everything queued when it becomes free: all
// queued appends become one transaction (group commit). A group the server refuses (a duplicate
// revision, typically) is replayed with one transaction per append, so only the offending appends
// are refused.
//
// Faults: a lost connection fails the calls under way (never acknowledging an append whose commit
// was not confirmed) and is re-established with exponential backoff; calls arriving while the server
// is unreachable fail at once with `SQL Server is unavailable (...): ...`.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/lane_store_settings.hpp"
#include "storage/queued_job_store.hpp"
#include "storage/sqlserver/sqlserver_connection_string.hpp"

namespace opstream::storage {

struct SqlServerStoreSettings : LaneStoreSettings {
  // The ODBC driver's name in odbcinst.ini (Debian's tdsodbc registers `FreeTDS`), or a library path.
  std::string odbc_driver = "FreeTDS";
};
using SqlServerStoreCounters = LaneStoreCounters;

// Also the history, comment and ref stores, on the reference's tables (§3.2 and §12 SV-12: comments
// and refs are persisted in the shared database instead of per node).
class SqlServerDocumentStore final : public QueuedJobStore {
 public:
  explicit SqlServerDocumentStore(SqlServerConnectionOptions options, SqlServerStoreSettings settings = {});
  // Finishes every queued call, then closes the connections. Not from one of its own completions.
  ~SqlServerDocumentStore() override;

  std::string_view provider() const override { return "sqlserver"; }
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore`1"; }

  // Initialize connects (ignoring the backoff; creating the database through `master` when it is
  // missing and the login may), then applies the missing migrations under EF Core's application
  // lock; it refuses a database whose history holds a migration id this build does not know.
  // CheckHealth sends `SELECT 1` ahead of the queue; Unhealthy when it fails or takes longer than
  // health_timeout.
  OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES;

  SqlServerStoreCounters counters() const;

 private:
  void EnqueueJob(jobs::Job job) override;
  class Worker;
  std::unique_ptr<Worker> worker_;
};

Status OpenSqlServerStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                          SqlServerStoreSettings settings = {});

}  // namespace opstream::storage
