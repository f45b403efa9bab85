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

#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"
#include "storage/sqlserver/sqlserver_connection_string.hpp"

namespace opstream::storage {

struct SqlServerStoreSettings {
  // The ODBC driver's name in odbcinst.ini (Debian's tdsodbc registers `FreeTDS`), or a library path.
  std::string odbc_driver = "FreeTDS";
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
  // Connections (each with its own thread), at most the connection string's Max Pool Size.
  size_t connections = 4;
  size_t max_appends_per_transaction = 1024;
  std::chrono::milliseconds reconnect_initial_delay{100};
  std::chrono::milliseconds reconnect_max_delay{std::chrono::seconds(5)};
};

struct SqlServerStoreCounters {
  uint64_t append_transactions = 0;
  uint64_t appends_committed = 0;
  uint64_t connections = 0;
};

// Also the history, comment and ref stores, on the reference's tables (§3.2 and §12 SV-12: comments
// and refs are persisted in the shared database instead of per node).
class SqlServerDocumentStore final : public DocumentStore, public HistoryStore, public CommentStore, public RefStore {
 public:
  // The same function types in every base; named once here so that they are not ambiguous.
  using Completion = DocumentStore::Completion;
  using CountCompletion = DocumentStore::CountCompletion;

  explicit SqlServerDocumentStore(SqlServerConnectionOptions options, SqlServerStoreSettings settings = {});
  // Finishes every queued call, then closes the connections. Not from one of its own completions.
  ~SqlServerDocumentStore() override;

  std::string_view provider() const override { return "sqlserver"; }
  std::string_view type_name() const override { return "EfCoreDocumentStore`1"; }

  // Connects (ignoring the backoff; creating the database through `master` when it is missing and the
  // login may), then applies the missing migrations under EF Core's application lock; refuses a
  // database whose history holds a migration id this build does not know.
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

  // HistoryStore (tables HistoryOps, HistorySnapshots).
  void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) override;
  void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) override;
  void GetMilestones(std::string document_id, MilestonesCompletion done) override;
  void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,
                            HistoryStore::Completion done) override;
  void AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) override;
  void DeleteHistory(std::string document_id, HistoryStore::Completion done) override;
  void PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) override;
  void DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) override;

  // CommentStore (table Comments).
  void LoadComments(std::string document_id, CommentsCompletion done) override;
  void GetComment(std::string comment_id, CommentCompletion done) override;
  void AddComment(Comment comment, CommentStore::Completion done) override;
  void UpdateComment(Comment comment, CommentStore::Completion done) override;
  void DeleteComment(std::string comment_id, CommentStore::Completion done) override;
  void UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                     CommentStore::Completion done) override;
  void GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) override;

  // RefStore (tables DocumentNames, DocumentBranches, DocumentVersions).
  std::string_view ref_store_type_name() const override { return "EfCoreDocumentRefStore`1"; }
  void GetName(std::string global_name, NameCompletion done) override;
  void EnumerateNames(std::string prefix, NamesCompletion done) override;
  void CreateName(DocumentName name, RefStore::Completion done) override;
  void GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) override;
  void EnumerateBranches(std::string global_name, BranchesCompletion done) override;
  void CreateBranch(DocumentBranch branch, RefStore::Completion done) override;
  void DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) override;
  void CreateVersion(DocumentVersion version, RefStore::Completion done) override;
  void GetVersion(std::string global_name, std::string branch_id, std::string tag, VersionCompletion done) override;
  void EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) override;
  void ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) override;
  // `SELECT 1` ahead of the queue; Unhealthy when it fails or takes longer than health_timeout.
  void CheckHealth(HealthCompletion done) override;
  void Flush(std::chrono::milliseconds timeout) override;

  SqlServerStoreCounters counters() const;

 private:
  class Worker;
  std::unique_ptr<Worker> worker_;
};

Status OpenSqlServerStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                          SqlServerStoreSettings settings = {});

}  // namespace opstream::storage
