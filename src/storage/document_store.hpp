#pragma once
// The hot document store: one current snapshot plus the op log since it (server.md §3.1).
//
// Every operation is asynchronous: it returns at once and calls its completion exactly once,
// on a thread of the store's choosing (callers re-post to their own executor). Ids are global
// document ids. A store never blocks the caller's thread on I/O.
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

class DocumentStore {
 public:
  using Completion = std::function<void(Status)>;
  using LoadCompletion = std::function<void(Status, LoadedDocument)>;
  using HealthCompletion = std::function<void(HealthReport)>;

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

  // Readiness probe with a short timeout (check `opstream-storage`, server.md §1.7).
  virtual void CheckHealth(HealthCompletion done) = 0;
  // Finishes queued work (used by graceful shutdown); blocks until done or `timeout` passes.
  virtual void Flush(std::chrono::milliseconds timeout) = 0;
};

}  // namespace opstream::storage
