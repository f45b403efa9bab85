#pragma once
// The `postgres` provider (server.md §3.4): the reference's relational schema in schema
// `opstream`, so a database written by the reference opens here and keeps working, and vice versa.
//
// Threading: a few connections per store (PostgresStoreSettings::connections), each owned by a
// thread of its own and driven through libpq's pipeline mode on a non-blocking socket; calls
// return at once and completions run on those threads after the data they report on is committed.
// A thread takes everything queued when it becomes free: all queued appends (any documents) become
// one INSERT in one implicit transaction — group commit — and loads, snapshot writes, compactions
// and probes travel in the same round trip, each behind its own sync point so that one failure
// does not affect the others. While one connection waits for its commit to be flushed, another
// takes the next group, so the server's WAL flushes are shared.
// A group that fails (a duplicate revision, typically) is replayed with one transaction per
// append, so only the offending appends are refused.
//
// Faults: a lost connection fails the calls of the round trip under way (never acknowledging an
// append whose commit was not confirmed) and is re-established with exponential backoff; calls
// arriving while the server is unreachable fail at once with `PostgreSQL is unavailable: ...`.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "storage/lane_store_settings.hpp"
#include "storage/postgres/postgres_connection_string.hpp"
#include "storage/queued_job_store.hpp"

namespace opstream::storage {

namespace postgres {
struct SqlJob;
}

using PostgresStoreSettings = LaneStoreSettings;
using PostgresStoreCounters = LaneStoreCounters;

// Also the provider's history, comment and ref store (server.md §3.2, §12 SV-12): those calls use
// the reference's HistoryOps/HistorySnapshots, Comments and DocumentNames/DocumentBranches/
// DocumentVersions tables, through the same lanes (postgres_records.cpp).
class PostgresDocumentStore final : public QueuedJobStore {
 public:
  explicit PostgresDocumentStore(PostgresConnectionOptions options, PostgresStoreSettings settings = {});
  // Finishes every queued call (their completions run), then closes the connection. Must not be
  // called from one of the store's own completions.
  ~PostgresDocumentStore() override;

  std::string_view provider() const override { return "postgres"; }
  // The reference's store type for the startup report (server.md §1.8).
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore"; }

  // Initialize connects (ignoring the reconnect backoff) and applies the missing migrations under an
  // advisory lock; it refuses a database whose history holds a migration id this build does not
  // know. CheckHealth sends `SELECT 1` ahead of the queue; Unhealthy when it fails or takes longer
  // than health_timeout. Flush waits until the queue is drained; from a completion (on the worker)
  // it returns at once.
  OPSTREAM_PERSISTENT_STORE_RECORD_OVERRIDES;

  PostgresStoreCounters counters() const;

 private:
  void EnqueueJob(jobs::Job job) override;
  // Queues statements for the lanes (postgres_sql_job.hpp); defined with the lanes.
  void Submit(postgres::SqlJob job);

  class Worker;
  std::unique_ptr<Worker> worker_;
};

// Parses and checks an Npgsql connection string (§3.5) and creates the store. Nothing is
// connected until Initialize.
Status OpenPostgresStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                         PostgresStoreSettings settings = {});

}  // namespace opstream::storage
