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

#include "storage/persistent_store.hpp"

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
class MongoDocumentStore final : public PersistentStore {
 public:
  class Impl;
  explicit MongoDocumentStore(std::unique_ptr<Impl> impl);
  // Finishes every queued call (their completions run), then closes the pool.
  ~MongoDocumentStore() override;

  std::string_view provider() const override { return "mongo"; }
  std::string_view type_name() const override { return "MongoDocumentStore"; }

  std::string_view ref_store_type_name() const override { return "MongoDocumentRefStore"; }

  // Initialize creates the reference's indexes (createIndexes is idempotent). Enumerate aggregates
  // `ops` per DocumentId and merges `snapshots` (server.md §3.6); the prefix is an anchored, escaped
  // regular expression. Comment calls all run on one worker, ref calls on another, so each kind
  // applies in call order. CheckHealth sends `ping` ahead of the queue; Unhealthy when it fails or
  // takes longer than health_timeout.
  OPSTREAM_PERSISTENT_STORE_OVERRIDES;

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
