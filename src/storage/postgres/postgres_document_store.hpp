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
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>

#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/postgres/postgres_connection_string.hpp"
#include "storage/ref_store.hpp"

namespace opstream::storage {

namespace postgres {
struct SqlJob;
}

struct PostgresStoreSettings {
  // A probe that the worker has not answered by then reports Unhealthy; short, because readiness
  // probes poll.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Connections (each with its own thread), at most the connection string's Maximum Pool Size.
  // One per core, 2 to 8: every lane adds a thread here and a backend in PostgreSQL, and fewer lanes
  // carry more appends per transaction. On 2 cores, 2 lanes committed 21-22k ops/s across 32
  // documents where 4 lanes gave 18k and 6 lanes 15-16k (docs/storage/postgres.md).
  size_t connections = std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8);
  // Upper bound on appends sharing one transaction, which bounds how long the first one waits.
  size_t max_appends_per_transaction = 1024;
  // Reconnect backoff: the first retry is immediate, then this doubles up to the maximum.
  std::chrono::milliseconds reconnect_initial_delay{100};
  std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(5)};
};

// Counters exposed for tests and metrics.
struct PostgresStoreCounters {
  uint64_t append_transactions = 0;           // committed transactions that carried Append calls
  uint64_t appends_committed = 0;             // Append calls acknowledged as durable
  uint64_t prepared_append_transactions = 0;  // ... of them, run through the prepared group insert
  uint64_t connections = 0;                   // successful connects (1 + reconnects)
};

// Also the provider's history, comment and ref store (server.md §3.2, §12 SV-12): those calls use
// the reference's HistoryOps/HistorySnapshots, Comments and DocumentNames/DocumentBranches/
// DocumentVersions tables, through the same lanes (postgres_records.cpp).
class PostgresDocumentStore final : public DocumentStore, public HistoryStore, public CommentStore, public RefStore {
 public:
  // Every interface has these; all are the same function types.
  using Completion = DocumentStore::Completion;
  using CountCompletion = DocumentStore::CountCompletion;

  explicit PostgresDocumentStore(PostgresConnectionOptions options, PostgresStoreSettings settings = {});
  // Finishes every queued call (their completions run), then closes the connection. Must not be
  // called from one of the store's own completions.
  ~PostgresDocumentStore() override;

  std::string_view provider() const override { return "postgres"; }
  // The reference's store type for the startup report (server.md §1.8).
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  // Connects (ignoring the reconnect backoff) and applies the missing migrations under an
  // advisory lock; refuses a database whose history holds a migration id this build does not know.
  void Initialize(Completion done) override;
  void Load(std::string document_id, LoadCompletion done) override;
  void Append(std::string document_id, std::vector<StoredOp> ops, Completion done) override;
  void WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) override;
  void Compact(std::string document_id, int64_t up_to, Completion done) override;
  void Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) override;
  void GetInfo(std::string document_id, InfoCompletion done) override;
  void Delete(std::string document_id, Completion done) override;
  void DeleteByTenantPrefix(std::string prefix, CountCompletion done) override;
  HistoryStore* history_store() override { return this; }
  CommentStore* comment_store() override { return this; }
  RefStore* ref_store() override { return this; }

  // HistoryStore
  void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) override;
  void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) override;
  void GetMilestones(std::string document_id, MilestonesCompletion done) override;
  void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,
                            Completion done) override;
  void AppendHistoryOp(std::string document_id, StoredOp op, Completion done) override;
  void DeleteHistory(std::string document_id, Completion done) override;
  void PurgeHistoryUpTo(std::string document_id, int64_t up_to, Completion done) override;
  void DeleteHistoryByTenantPrefix(std::string prefix, CountCompletion done) override;

  // CommentStore
  void LoadComments(std::string document_id, CommentsCompletion done) override;
  void GetComment(std::string comment_id, CommentCompletion done) override;
  void AddComment(Comment comment, Completion done) override;
  void UpdateComment(Comment comment, Completion done) override;
  void DeleteComment(std::string comment_id, Completion done) override;
  void UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                     Completion done) override;
  void GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) override;

  // RefStore
  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore"; }
  void GetName(std::string global_name, NameCompletion done) override;
  void EnumerateNames(std::string prefix, NamesCompletion done) override;
  void CreateName(DocumentName name, Completion done) override;
  void GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) override;
  void EnumerateBranches(std::string global_name, BranchesCompletion done) override;
  void CreateBranch(DocumentBranch branch, Completion done) override;
  void DeleteBranch(std::string global_name, std::string branch_id, Completion done) override;
  void CreateVersion(DocumentVersion version, Completion done) override;
  void GetVersion(std::string global_name, std::string branch_id, std::string tag, VersionCompletion done) override;
  void EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) override;
  void ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) override;
  // `SELECT 1` ahead of the queue; Unhealthy when it fails or takes longer than health_timeout.
  void CheckHealth(HealthCompletion done) override;
  // Waits until the queue is drained. Called from a completion (on the worker) it returns at once.
  void Flush(std::chrono::milliseconds timeout) override;

  PostgresStoreCounters counters() const;

 private:
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
