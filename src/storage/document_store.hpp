#pragma once
// The hot document store: one current snapshot plus the op log since it (server.md §3.1).
//
// Every operation is asynchronous: it returns at once and calls its completion exactly once,
// on a thread of the store's choosing (callers re-post to their own executor). Ids are global
// document ids. A store never blocks the caller's thread on I/O.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.hpp"
#include "common/status.hpp"

namespace opstream::storage {

struct StoredOp {
  int64_t revision = 0;
  std::string author_id;    // peer id of the author
  Timestamp timestamp;      // UTC commit time
  std::string payload;      // normalized op JSON (UTF-8)
  std::string engine_type;  // op type name, e.g. "TextOp"
};

struct Snapshot {
  int64_t revision = 0;
  Timestamp timestamp;
  std::string state;  // snapshot JSON (UTF-8)
};

// What a session needs to open a document: the snapshot (if any) and every op after it, ascending.
struct LoadedDocument {
  std::optional<Snapshot> snapshot;
  std::vector<StoredOp> ops;
};

enum class HealthStatus { kHealthy, kDegraded, kUnhealthy };

struct HealthReport {
  HealthStatus status = HealthStatus::kHealthy;
  std::string description;
};

// One document as the management API lists it (server.md §3.1).
struct DocumentInfo {
  std::string document_id;
  int64_t revision = 0;     // max(snapshot revision, greatest op revision)
  Timestamp last_modified;  // max(snapshot timestamp, greatest op timestamp)
  int64_t op_count = 0;     // hot ops held (0 when only a snapshot exists)
};

// Paging of Enumerate. A value is applied only when it is > 0, so take = 0 means "no limit".
struct DocumentQuery {
  std::optional<int64_t> skip;
  std::optional<int64_t> take;
};

class HistoryStore;
class CommentStore;
class RefStore;

class DocumentStore {
 public:
  using Completion = std::function<void(Status)>;
  using LoadCompletion = std::function<void(Status, LoadedDocument)>;
  using HealthCompletion = std::function<void(HealthReport)>;
  using EnumerateCompletion = std::function<void(Status, std::vector<DocumentInfo>)>;
  using InfoCompletion = std::function<void(Status, std::optional<DocumentInfo>)>;
  using CountCompletion = std::function<void(Status, int64_t)>;

  virtual ~DocumentStore() = default;

  // Provider name as configured, e.g. "memory" or "sqlite".
  virtual std::string_view provider() const = 0;
  // Type name for the startup report, e.g. "MemoryDocumentStore" (server.md §1.8).
  virtual std::string_view type_name() const = 0;

  // Creates or upgrades the schema. Called once before the listener starts; failure aborts startup.
  virtual void Initialize(Completion done) = 0;

  // Snapshot plus ops with revision > snapshot revision (all ops when there is no snapshot).
  virtual void Load(std::string document_id, LoadCompletion done) = 0;
  // Appends `ops` (ascending, contiguous revisions) atomically: either every op is durable when
  // `done` reports success, or none is. Persistent providers refuse a (document, revision) that
  // already exists, so two writers can never both commit the same revision.
  virtual void Append(std::string document_id, std::vector<StoredOp> ops, Completion done) = 0;
  // Upserts the single current snapshot.
  virtual void WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) = 0;
  // Deletes ops with revision <= up_to. The snapshot is untouched.
  virtual void Compact(std::string document_id, int64_t up_to, Completion done) = 0;

  // Every document whose id starts (ordinal, byte-wise) with `prefix` and that has a snapshot
  // and/or ops, ordered by id (ordinal), then paged by `query`. An empty prefix matches all.
  virtual void Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) = 0;
  // None when the document has neither snapshot nor ops.
  virtual void GetInfo(std::string document_id, InfoCompletion done) = 0;
  // Removes the snapshot and every hot op of the document (history, comments and refs are not
  // touched). Deleting an unknown document succeeds.
  virtual void Delete(std::string document_id, Completion done) = 0;
  // Delete for every document whose id starts with `prefix` (empty = every document); reports the
  // number of distinct documents removed.
  virtual void DeleteByTenantPrefix(std::string prefix, CountCompletion done) = 0;

  // The other logical stores this provider persists itself (server.md §3.2, §12 SV-12), owned by
  // and living as long as this store; null when it does not, and the host then keeps that data in
  // an in-process store.
  virtual HistoryStore* history_store() { return nullptr; }
  virtual CommentStore* comment_store() { return nullptr; }
  virtual RefStore* ref_store() { return nullptr; }

  // Readiness probe with a short timeout (check `opstream-storage`, server.md §1.7).
  virtual void CheckHealth(HealthCompletion done) = 0;
  // Finishes queued work (used by graceful shutdown); blocks until done or `timeout` passes.
  virtual void Flush(std::chrono::milliseconds timeout) = 0;
};

// The overrides of every DocumentStore call (not the names, nor the accessors of the other
// stores), declared by one list so that the provider headers do not each repeat it: the hot-path
// calls, which the queued stores implement once (queued_job_store.hpp), and the rest.
#define OPSTREAM_DOCUMENT_STORE_HOT_PATH_OVERRIDES                                                          \
  void Initialize(DocumentStore::Completion done) override;                                                 \
  void Load(std::string document_id, LoadCompletion done) override;                                         \
  void Append(std::string document_id, std::vector<StoredOp> ops, DocumentStore::Completion done) override; \
  void WriteSnapshot(std::string document_id, Snapshot snapshot, DocumentStore::Completion done) override;  \
  void Compact(std::string document_id, int64_t up_to, DocumentStore::Completion done) override
#define OPSTREAM_DOCUMENT_STORE_MANAGEMENT_OVERRIDES                                           \
  void Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) override;  \
  void GetInfo(std::string document_id, InfoCompletion done) override;                         \
  void Delete(std::string document_id, DocumentStore::Completion done) override;               \
  void DeleteByTenantPrefix(std::string prefix, DocumentStore::CountCompletion done) override; \
  void CheckHealth(HealthCompletion done) override;                                            \
  void Flush(std::chrono::milliseconds timeout) override
#define OPSTREAM_DOCUMENT_STORE_OVERRIDES     \
  OPSTREAM_DOCUMENT_STORE_HOT_PATH_OVERRIDES; \
  OPSTREAM_DOCUMENT_STORE_MANAGEMENT_OVERRIDES

}  // namespace opstream::storage
