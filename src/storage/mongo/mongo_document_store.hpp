#pragma once
// The `mongo` provider (server.md §3.6): the reference's collections `ops`, `snapshots`,
// `history_ops`, `history_snapshots` with its PascalCase element names, in the database named by
// OpStream:Storage:DatabaseName (never the URI path), so data written by the reference opens here
// and the other way round.
//
// Threading: libmongoc has a synchronous API only, so a fixed number of worker threads
// (MongoStoreSettings::workers) each take clients from one mongoc_client_pool_t. Calls return at
// once; a document's calls always go to the same worker (hash of the id), so they run in the order
// they were made. Completions run on the worker threads.
//
// Appends: one ordered insert of the batch. Without transactions (the stand-in has none, and a
// standalone mongod neither), a batch refused half-way is made to disappear: the part the server
// reported as inserted is deleted again before the refusal is reported, so a partial batch is never
// acknowledged and never survives a reload (docs/storage/mongo.md).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"

namespace opstream::storage {

struct MongoStoreSettings {
  // OpStream:Storage:DatabaseName (server.md §3.5: the database is never taken from the URI).
  std::string database_name = "opstream";
  // Worker threads, and the client pool's maximum size.
  size_t workers = 4;
  // A probe not answered by then reports Unhealthy.
  std::chrono::milliseconds health_timeout{std::chrono::seconds(2)};
};

// Also the history, comment and ref stores (one object; the method names do not collide):
// history in the reference's collections, comments in the reference library's `comments`
// collection, refs in `document_names`, `document_branches`, `document_versions` (§12 SV-12;
// docs/storage/mongo.md).
class MongoDocumentStore final : public DocumentStore, public HistoryStore, public CommentStore, public RefStore {
 public:
  // The four interfaces declare the same completion types; these are the ones meant here.
  using Completion = DocumentStore::Completion;
  using CountCompletion = DocumentStore::CountCompletion;

  class Impl;
  explicit MongoDocumentStore(std::unique_ptr<Impl> impl);
  // Finishes every queued call (their completions run), then closes the pool.
  ~MongoDocumentStore() override;

  std::string_view provider() const override { return "mongo"; }
  std::string_view type_name() const override { return "MongoDocumentStore"; }

  // Creates the reference's indexes (createIndexes is idempotent).
  void Initialize(Completion done) override;
  void Load(std::string document_id, LoadCompletion done) override;
  void Append(std::string document_id, std::vector<StoredOp> ops, Completion done) override;
  void WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) override;
  void Compact(std::string document_id, int64_t up_to, Completion done) override;
  // Enumerate aggregates `ops` per DocumentId and merges `snapshots` (server.md §3.6); the prefix is
  // an anchored, escaped regular expression.
  void Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) override;
  void GetInfo(std::string document_id, InfoCompletion done) override;
  void Delete(std::string document_id, Completion done) override;
  void DeleteByTenantPrefix(std::string prefix, CountCompletion done) override;
  HistoryStore* history_store() override { return this; }
  CommentStore* comment_store() override { return this; }
  RefStore* ref_store() override { return this; }

  // ---- HistoryStore ----
  void LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) override;
  void StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) override;
  void GetMilestones(std::string document_id, MilestonesCompletion done) override;
  void WriteHistorySnapshot(std::string document_id, Snapshot snapshot, std::optional<std::string> name,
                            HistoryStore::Completion done) override;
  void AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) override;
  void DeleteHistory(std::string document_id, HistoryStore::Completion done) override;
  void PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) override;
  void DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) override;

  // ---- CommentStore (all on one worker, so they apply in call order) ----
  void LoadComments(std::string document_id, CommentsCompletion done) override;
  void GetComment(std::string comment_id, CommentCompletion done) override;
  void AddComment(Comment comment, CommentStore::Completion done) override;
  void UpdateComment(Comment comment, CommentStore::Completion done) override;
  void DeleteComment(std::string comment_id, CommentStore::Completion done) override;
  void UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                     CommentStore::Completion done) override;
  void GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) override;

  // ---- RefStore (all on one worker) ----
  std::string_view ref_store_type_name() const override { return "MongoDocumentRefStore"; }
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

  // `ping` ahead of the queue; Unhealthy when it fails or takes longer than health_timeout.
  void CheckHealth(HealthCompletion done) override;
  void Flush(std::chrono::milliseconds timeout) override;

  // Test hooks (blocking; never call them from a completion). Every document of `collection` as
  // canonical extended JSON, sorted by `_id`:
  Status DumpCollection(const std::string& collection, std::vector<std::string>& out);
  // Runs `command` (extended JSON) on the store's database; `reply` is the answer as JSON.
  Status RunCommand(const std::string& command, std::string& reply);

 private:
  std::unique_ptr<Impl> impl_;
};

// Parses the MongoDB URI (§3.5) and creates the store; nothing is connected until Initialize.
// The error for a malformed URI never repeats the URI (it may hold a password).
Status OpenMongoStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      MongoStoreSettings settings = {});

namespace mongo {
// What the provider writes, as canonical extended JSON: lets tests check element names and BSON
// types exactly without a real server (the stand-in does not keep int64 apart from int32).
std::string OpDocumentJson(std::string_view document_id, const StoredOp& op);
std::string SnapshotUpdateJson(const Snapshot& snapshot);
// `^` + the prefix with every ASCII punctuation character backslash-escaped, as an anchored
// literal match for the prefix operations.
std::string PrefixPattern(std::string_view prefix);
}  // namespace mongo

}  // namespace opstream::storage
