#include "storage/mongo/mongo_document_store.hpp"

#include <fmt/format.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "storage/append_rules.hpp"
#include "storage/mongo/mongo_support.hpp"
#include "storage/probe_watchdog.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {

using namespace mongo;

namespace {

constexpr std::string_view kProvider = "mongo";
// Anchor updates written but maybe not applied yet (see DoUpdateAnchors).
constexpr const char* kPendingAnchors = "pending_anchor_updates";

template <typename Callback, typename... Args>
void Invoke(Callback& callback, Args&&... args) noexcept {
  jobs::InvokeCompletion(kProvider, callback, std::forward<Args>(args)...);
}

// Reads one `ops` document; false when a required element is missing or has the wrong type.
bool ReadOp(const bson_t* doc, StoredOp& op) {
  bool have_revision = false;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return false;
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    if (key == "Revision") {
      have_revision = ReadInt64(it, op.revision);
    } else if (key == "AuthorId") {
      op.author_id = ReadString(it);
    } else if (key == "Timestamp") {
      ReadTime(it, op.timestamp);
    } else if (key == "Payload") {
      op.payload = ReadBytes(it);
    } else if (key == "EngineType") {
      op.engine_type = ReadString(it);
    }
  }
  return have_revision;
}

bool ReadSnapshot(const bson_t* doc, Snapshot& snapshot) {
  bool have_revision = false;
  bson_iter_t it;
  if (!bson_iter_init(&it, doc)) return false;
  while (bson_iter_next(&it)) {
    const std::string_view key = bson_iter_key(&it);
    if (key == "Revision") {
      have_revision = ReadInt64(it, snapshot.revision);
    } else if (key == "Timestamp") {
      ReadTime(it, snapshot.timestamp);
    } else if (key == "State") {
      snapshot.state = ReadBytes(it);
    }
  }
  return have_revision;
}

}  // namespace

// The worker threads and their queues. A task gets a client popped from the pool for its run.
class MongoDocumentStore::Impl {
 public:
  using Task = std::function<void(mongoc_client_t*)>;

  Impl(mongoc_uri_t* uri, mongoc_client_pool_t* pool, MongoStoreSettings settings, std::string password)
      : uri_(uri),
        pool_(pool),
        settings_(std::move(settings)),
        password_(std::move(password)),
        lanes_(std::max<size_t>(1, settings_.workers)) {
    for (size_t i = 0; i < lanes_.size(); ++i) lanes_[i].thread = std::thread([this, i] { Run(i); });
  }

  ~Impl() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    for (Lane& lane : lanes_) lane.thread.join();
    mongoc_client_pool_destroy(pool_);
    mongoc_uri_destroy(uri_);
  }

  // Calls on one document share a lane, so they run in call order.
  void Enqueue(std::string_view key, Task task) {
    const size_t lane = std::hash<std::string_view>{}(key) % lanes_.size();
    {
      std::lock_guard lock(mutex_);
      lanes_[lane].queue.push_back(std::move(task));
    }
    work_cv_.notify_all();
  }

  void EnqueueProbe(HealthCompletion done) {
    auto probe = watchdog_.Watch(kProvider, std::move(done), settings_.health_timeout);
    Task task = [this, probe](mongoc_client_t* client) {
      if (probe->answered()) return;
      Status status = RunCommand(client, "admin", Ping(), "health probe");
      if (status.ok()) {
        probe->Answer({HealthStatus::kHealthy, "MongoDB reachable"});
      } else {
        probe->Answer({HealthStatus::kUnhealthy, status.message()});
      }
    };
    {
      // At the front of the least busy lane: the probe measures the server, not the queue.
      std::lock_guard lock(mutex_);
      size_t best = 0;
      for (size_t i = 1; i < lanes_.size(); ++i) {
        if (lanes_[i].queue.size() + lanes_[i].busy < lanes_[best].queue.size() + lanes_[best].busy) best = i;
      }
      lanes_[best].queue.push_front(std::move(task));
    }
    work_cv_.notify_all();
  }

  void Flush(std::chrono::milliseconds timeout) {
    for (const Lane& lane : lanes_) {
      if (std::this_thread::get_id() == lane.thread.get_id()) return;  // would wait for itself
    }
    std::unique_lock lock(mutex_);
    idle_cv_.wait_for(lock, timeout, [this] {
      for (const Lane& lane : lanes_) {
        if (!lane.queue.empty() || lane.busy) return false;
      }
      return true;
    });
  }

  const std::string& db() const { return settings_.database_name; }

  // The server's (or driver's) message with any password cut out.
  std::string Redact(std::string message) const { return RedactSecret(std::move(message), password_); }

  Status Failure(std::string_view operation, const bson_error_t& error) const {
    return Status::Error(fmt::format("MongoDB {} failed: {}", operation, Redact(error.message)));
  }

  Status RunCommand(mongoc_client_t* client, const char* database, const BsonPtr& command,
                    std::string_view operation) const {
    bson_error_t error;
    Bson reply;
    if (!mongoc_client_write_command_with_opts(client, database, command.get(), nullptr, reply.get(), &error)) {
      return Failure(operation, error);
    }
    return Status::Ok();
  }

  Collection GetCollection(mongoc_client_t* client, const char* name) const {
    return Collection(mongoc_client_get_collection(client, db().c_str(), name));
  }

  // Every document `filter` matches, in `sort` order (or none on failure).
  Status Find(mongoc_client_t* client, const char* collection, const BsonPtr& filter, const bson_t* opts,
              std::string_view operation, const std::function<bool(const bson_t*)>& each) const {
    Collection coll = GetCollection(client, collection);
    Cursor cursor(mongoc_collection_find_with_opts(coll.get(), filter.get(), opts, nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      if (!each(doc)) {
        return Status::Error(
            fmt::format("MongoDB {} failed: a document in '{}' is not readable.", operation, collection));
      }
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) return Failure(operation, error);
    return Status::Ok();
  }

  Status DeleteMany(mongoc_client_t* client, const char* collection, const BsonPtr& filter, std::string_view operation,
                    int64_t* deleted = nullptr) const {
    Collection coll = GetCollection(client, collection);
    bson_error_t error;
    Bson reply;
    if (!mongoc_collection_delete_many(coll.get(), filter.get(), nullptr, reply.get(), &error)) {
      return Failure(operation, error);
    }
    if (deleted) {
      bson_iter_t it;
      *deleted = 0;
      if (bson_iter_init_find(&it, reply.get(), "deletedCount")) ReadInt64(it, *deleted);
    }
    return Status::Ok();
  }

  // ---- the operations, on a worker thread ----

  Status DoInitialize(mongoc_client_t* client) const {
    for (const IndexSpec& index : ReferenceIndexes()) {
      if (Status status = RunCommand(client, db().c_str(), CreateIndexCommand(index), "index creation"); !status.ok()) {
        return status;
      }
    }
    // An anchor update a crash interrupted is completed before anything reads comments.
    return CompletePendingAnchors(client, nullptr);
  }

  Status DoLoad(mongoc_client_t* client, const std::string& id, LoadedDocument& loaded) const {
    // Snapshot and ops are two reads; a snapshot write plus compaction in between would lose ops,
    // so the snapshot is read again afterwards and the load repeated if it moved.
    for (int attempt = 0;; ++attempt) {
      loaded = {};
      std::optional<Snapshot> before;
      if (Status status = LoadSnapshot(client, id, before); !status.ok()) return status;
      const int64_t after = before ? before->revision : std::numeric_limits<int64_t>::min();
      Status status = Find(client, "ops", OpsAfterFilter(id, after), SortBy("Revision", 1).get(), "load",
                           [&loaded](const bson_t* doc) {
                             StoredOp op;
                             if (!ReadOp(doc, op)) return false;
                             loaded.ops.push_back(std::move(op));
                             return true;
                           });
      if (!status.ok()) return status;
      std::optional<Snapshot> again;
      if (Status recheck = LoadSnapshot(client, id, again); !recheck.ok()) return recheck;
      const bool moved = before.has_value() != again.has_value() || (before && before->revision != again->revision);
      if (!moved || attempt == 4) {
        loaded.snapshot = std::move(before);
        return Status::Ok();
      }
    }
  }

  Status LoadSnapshot(mongoc_client_t* client, const std::string& id, std::optional<Snapshot>& out) const {
    return Find(client, "snapshots", IdFilter(id), nullptr, "load", [&out](const bson_t* doc) {
      Snapshot snapshot;
      if (!ReadSnapshot(doc, snapshot)) return false;
      out = std::move(snapshot);
      return true;
    });
  }

  Status DoAppend(mongoc_client_t* client, const std::string& id, const std::vector<StoredOp>& ops) const {
    if (Status valid = ValidateAppendBatch(id, ops); !valid.ok()) return valid;
    if (ops.empty()) return Status::Ok();
    std::vector<BsonPtr> docs;
    std::vector<const bson_t*> pointers;
    docs.reserve(ops.size());
    for (const StoredOp& op : ops) {
      docs.push_back(OpDocument(id, op));
      if (!docs.back()) {
        return Status::Error(fmt::format(
            "MongoDB append failed: op {} of document '{}' is too large for a BSON document.", op.revision, id));
      }
      pointers.push_back(docs.back().get());
    }
    Collection coll = GetCollection(client, "ops");
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "ordered", true);
    Bson reply;
    bson_error_t error;
    if (mongoc_collection_insert_many(coll.get(), pointers.data(), pointers.size(), opts.get(), reply.get(), &error)) {
      return Status::Ok();
    }
    const std::optional<WriteError> refused = FirstWriteError(reply.get());
    if (!refused) {
      // No answer about the documents (connection lost, timeout): the outcome is unknown.
      return Status::Error(
          fmt::format("MongoDB append failed: {} The ops were not acknowledged.", Redact(error.message)));
    }
    // Ordered: everything before the refused document was inserted. Remove that part, so a batch
    // is all or nothing for every later reader.
    const size_t inserted = std::min(refused->index, ops.size());
    std::string cleanup;
    if (inserted > 0) {
      Status removed = DeleteMany(client, "ops", IdsFilter(id, ops, inserted), "append cleanup");
      if (!removed.ok()) {
        spdlog::error("storage.mongo: {} ops of a refused batch of document '{}' could not be removed: {}", inserted,
                      id, removed.message());
        cleanup =
            fmt::format(" {} ops of the batch were inserted and could not be removed: {}", inserted, removed.message());
      }
    }
    if (refused->code == kDuplicateKeyCode && cleanup.empty()) {
      return DuplicateRevisionError(id, ops[std::min(refused->index, ops.size() - 1)].revision);
    }
    return Status::Error(fmt::format("MongoDB append failed: {}{}", Redact(refused->message), cleanup));
  }

  Status DoWriteSnapshot(mongoc_client_t* client, const std::string& id, const Snapshot& snapshot) const {
    Collection coll = GetCollection(client, "snapshots");
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "upsert", true);
    Bson reply;
    bson_error_t error;
    BsonPtr update = SnapshotUpdate(snapshot);
    if (!update) return Status::Error("MongoDB snapshot write failed: the snapshot is too large for a BSON document.");
    if (!mongoc_collection_update_one(coll.get(), IdFilter(id).get(), update.get(), opts.get(), reply.get(), &error)) {
      return Failure("snapshot write", error);
    }
    return Status::Ok();
  }

  Status DoCompact(mongoc_client_t* client, const std::string& id, int64_t up_to) const {
    return DeleteMany(client, "ops", OpsUpToFilter(id, up_to), "compaction");
  }

  Status Aggregate(mongoc_client_t* client, const char* collection, const BsonPtr& pipeline, std::string_view operation,
                   const std::function<bool(const bson_t*)>& each) const {
    Collection coll = GetCollection(client, collection);
    Cursor cursor(mongoc_collection_aggregate(coll.get(), MONGOC_QUERY_NONE, pipeline.get(), nullptr, nullptr));
    const bson_t* doc = nullptr;
    while (mongoc_cursor_next(cursor.get(), &doc)) {
      if (!each(doc)) {
        return Status::Error(
            fmt::format("MongoDB {} failed: a result from '{}' is not readable.", operation, collection));
      }
    }
    bson_error_t error;
    if (mongoc_cursor_error(cursor.get(), &error)) return Failure(operation, error);
    return Status::Ok();
  }

  // One DocumentInfo per document matched by the two filters (ops by DocumentId, snapshots by _id),
  // keyed by id: std::string orders bytes unsigned, which is the ordinal order of §3.1.
  Status Summaries(mongoc_client_t* client, const BsonPtr& ops_match, const BsonPtr& snapshot_filter,
                   std::string_view operation, std::map<std::string, DocumentInfo>& out) const {
    Status status = Aggregate(client, "ops", OpsSummaryPipeline(ops_match), operation, [&out](const bson_t* doc) {
      DocumentInfo info;
      bson_iter_t it;
      if (!bson_iter_init(&it, doc)) return false;
      while (bson_iter_next(&it)) {
        const std::string_view key = bson_iter_key(&it);
        if (key == "_id") {
          if (!BSON_ITER_HOLDS_UTF8(&it)) return false;
          info.document_id = ReadString(it);
        } else if (key == "Revision") {
          ReadInt64(it, info.revision);
        } else if (key == "Timestamp") {
          ReadTime(it, info.last_modified);
        } else if (key == "Count") {
          ReadInt64(it, info.op_count);
        }
      }
      std::string id = info.document_id;
      out[std::move(id)] = std::move(info);
      return true;
    });
    if (!status.ok()) return status;
    return Find(client, "snapshots", snapshot_filter, nullptr, operation, [&out](const bson_t* doc) {
      Snapshot snapshot;
      bson_iter_t it;
      if (!ReadSnapshot(doc, snapshot) || !bson_iter_init_find(&it, doc, "_id") || !BSON_ITER_HOLDS_UTF8(&it)) {
        return false;
      }
      std::string id = ReadString(it);
      auto [entry, inserted] = out.try_emplace(id);
      DocumentInfo& info = entry->second;
      if (inserted) {
        info.document_id = std::move(id);
        info.revision = snapshot.revision;
        info.last_modified = snapshot.timestamp;
      } else {
        info.revision = std::max(info.revision, snapshot.revision);
        info.last_modified = std::max(info.last_modified, snapshot.timestamp);
      }
      return true;
    });
  }

  Status DoEnumerate(mongoc_client_t* client, const std::string& prefix, const DocumentQuery& query,
                     std::vector<DocumentInfo>& out) const {
    std::map<std::string, DocumentInfo> all;
    if (Status status =
            Summaries(client, PrefixFilter("DocumentId", prefix), PrefixFilter("_id", prefix), "enumeration", all);
        !status.ok()) {
      return status;
    }
    const int64_t skip = query.skip.value_or(0) > 0 ? *query.skip : 0;
    const int64_t take = query.take.value_or(0) > 0 ? *query.take : std::numeric_limits<int64_t>::max();
    int64_t index = 0;
    for (auto& [id, info] : all) {
      if (index++ < skip) continue;
      if (static_cast<int64_t>(out.size()) >= take) break;
      out.push_back(std::move(info));
    }
    return Status::Ok();
  }

  Status DoGetInfo(mongoc_client_t* client, const std::string& id, std::optional<DocumentInfo>& out) const {
    std::map<std::string, DocumentInfo> all;
    if (Status status = Summaries(client, DocumentIdFilter(id), IdFilter(id), "document info", all); !status.ok()) {
      return status;
    }
    if (auto it = all.find(id); it != all.end()) out = std::move(it->second);
    return Status::Ok();
  }

  Status DoDelete(mongoc_client_t* client, const std::string& id) const {
    if (Status status = DeleteMany(client, "ops", DocumentIdFilter(id), "delete"); !status.ok()) return status;
    return DeleteMany(client, "snapshots", IdFilter(id), "delete");
  }

  Status DoDeleteByPrefix(mongoc_client_t* client, const std::string& prefix, int64_t& count) const {
    std::map<std::string, DocumentInfo> all;
    if (Status status =
            Summaries(client, PrefixFilter("DocumentId", prefix), PrefixFilter("_id", prefix), "prefix delete", all);
        !status.ok()) {
      return status;
    }
    if (Status status = DeleteMany(client, "ops", PrefixFilter("DocumentId", prefix), "prefix delete"); !status.ok()) {
      return status;
    }
    if (Status status = DeleteMany(client, "snapshots", PrefixFilter("_id", prefix), "prefix delete"); !status.ok()) {
      return status;
    }
    count = static_cast<int64_t>(all.size());
    return Status::Ok();
  }

  // ---- shared pieces of the history, comment and ref stores ----

  // Copies of every document `filter` matches.
  Status FindAll(mongoc_client_t* client, const char* collection, const BsonPtr& filter, const bson_t* opts,
                 std::string_view operation, std::vector<BsonPtr>& out) const {
    return Find(client, collection, filter, opts, operation, [&out](const bson_t* doc) {
      out.emplace_back(bson_copy(doc));
      return true;
    });
  }

  // Inserts one document; `duplicate` tells a refused duplicate key apart from other failures.
  Status InsertOne(mongoc_client_t* client, const char* collection, const BsonPtr& doc, std::string_view operation,
                   bool& duplicate) const {
    duplicate = false;
    Collection coll = GetCollection(client, collection);
    Bson reply;
    bson_error_t error;
    if (mongoc_collection_insert_one(coll.get(), doc.get(), nullptr, reply.get(), &error)) return Status::Ok();
    if (const auto refused = FirstWriteError(reply.get())) {
      duplicate = refused->code == kDuplicateKeyCode;
      return Status::Error(fmt::format("MongoDB {} failed: {}", operation, Redact(refused->message)));
    }
    duplicate = error.code == kDuplicateKeyCode;
    return Failure(operation, error);
  }

  Status UpdateOne(mongoc_client_t* client, const char* collection, const BsonPtr& filter, const BsonPtr& update,
                   std::string_view operation, int64_t* matched) const {
    Collection coll = GetCollection(client, collection);
    Bson reply;
    bson_error_t error;
    if (!mongoc_collection_update_one(coll.get(), filter.get(), update.get(), nullptr, reply.get(), &error)) {
      return Failure(operation, error);
    }
    if (matched) {
      bson_iter_t it;
      *matched = 0;
      if (bson_iter_init_find(&it, reply.get(), "matchedCount")) ReadInt64(it, *matched);
    }
    return Status::Ok();
  }

  // Distinct DocumentId values matched in `collection`.
  Status DistinctDocuments(mongoc_client_t* client, const char* collection, const std::string& prefix,
                           std::string_view operation, std::set<std::string>& out) const {
    return Aggregate(client, collection, OpsSummaryPipeline(PrefixFilter("DocumentId", prefix)), operation,
                     [&out](const bson_t* doc) {
                       bson_iter_t it;
                       if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
                         out.insert(ReadString(it));
                       return true;
                     });
  }

  // ---- history (collections history_ops and history_snapshots, §3.6) ----

  Status DoLoadHistorySnapshot(mongoc_client_t* client, const std::string& id, int64_t max,
                               std::optional<Snapshot>& out) const {
    BsonPtr opts = SortBy("Revision", -1);
    BSON_APPEND_INT64(opts.get(), "limit", 1);
    return Find(client, "history_snapshots", OpsUpToFilter(id, max), opts.get(), "history snapshot load",
                [&out](const bson_t* doc) {
                  Snapshot snapshot;
                  if (!ReadSnapshot(doc, snapshot)) return false;
                  if (!out) out = std::move(snapshot);
                  return true;
                });
  }

  Status DoStreamHistoryOps(mongoc_client_t* client, const std::string& id, int64_t since, int64_t up_to,
                            std::vector<StoredOp>& out) const {
    // {DocumentId, Revision: {$gt: since, $lte: up_to}}
    BsonPtr range = NewBson();
    AppendString(range.get(), "DocumentId", id);
    bson_t revision;
    BSON_APPEND_DOCUMENT_BEGIN(range.get(), "Revision", &revision);
    BSON_APPEND_INT64(&revision, "$gt", since);
    BSON_APPEND_INT64(&revision, "$lte", up_to);
    bson_append_document_end(range.get(), &revision);
    return Find(client, "history_ops", range, SortBy("Revision", 1).get(), "history stream", [&out](const bson_t* doc) {
      StoredOp op;
      if (!ReadOp(doc, op)) return false;
      out.push_back(std::move(op));
      return true;
    });
  }

  Status DoGetMilestones(mongoc_client_t* client, const std::string& id, std::vector<HistoryMilestone>& out) const {
    return Find(client, "history_snapshots", DocumentIdFilter(id), SortBy("Revision", -1).get(), "milestones",
                [&out](const bson_t* doc) {
                  HistoryMilestone milestone;
                  bson_iter_t it;
                  if (!bson_iter_init(&it, doc)) return false;
                  bool have_revision = false;
                  while (bson_iter_next(&it)) {
                    const std::string_view key = bson_iter_key(&it);
                    if (key == "Revision") {
                      have_revision = ReadInt64(it, milestone.revision);
                    } else if (key == "Timestamp") {
                      ReadTime(it, milestone.timestamp);
                    } else if (key == "Name") {
                      milestone.name = ReadOptionalString(it);
                    }
                  }
                  out.push_back(std::move(milestone));
                  return have_revision;
                });
  }

  // One single-document write: an upsert that inserts only when no snapshot of (document, revision)
  // exists. It lands whole or not at all; there is no find-then-insert window for a crash or a
  // second writer of this store to fall into. The server gives the new document an ObjectId `_id`,
  // as the reference's inserts do.
  Status DoWriteHistorySnapshot(mongoc_client_t* client, const std::string& id, const Snapshot& snapshot,
                                const std::optional<std::string>& name) const {
    BsonPtr exact = NewBson();
    AppendString(exact.get(), "DocumentId", id);
    BSON_APPEND_INT64(exact.get(), "Revision", snapshot.revision);
    BsonPtr update = NewBson();
    bson_t fields;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$setOnInsert", &fields);
    AppendTime(&fields, "Timestamp", snapshot.timestamp);
    const bool fits = AppendBytes(&fields, "State", snapshot.state);
    AppendOptionalString(&fields, "Name", name);
    bson_append_document_end(update.get(), &fields);
    if (!fits) {
      return Status::Error("MongoDB history snapshot write failed: the snapshot is too large for a BSON document.");
    }
    Collection coll = GetCollection(client, "history_snapshots");
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "upsert", true);
    Bson reply;
    bson_error_t error;
    if (!mongoc_collection_update_one(coll.get(), exact.get(), update.get(), opts.get(), reply.get(), &error)) {
      return Failure("history snapshot write", error);
    }
    int64_t upserted = 0;
    bson_iter_t it;
    if (bson_iter_init_find(&it, reply.get(), "upsertedCount")) ReadInt64(it, upserted);
    // The interface refuses a second snapshot at one revision (the reference would insert it).
    if (upserted == 0) return HistorySnapshotExistsError(id, snapshot.revision);
    return Status::Ok();
  }

  Status DoAppendHistoryOp(mongoc_client_t* client, const std::string& id, const StoredOp& op) const {
    BsonPtr doc = OpDocument(id, op);
    if (!doc) return Status::Error("MongoDB history append failed: the op is too large for a BSON document.");
    bool duplicate = false;
    Status status = InsertOne(client, "history_ops", doc, "history append", duplicate);
    if (duplicate) return DuplicateRevisionError(id, op.revision);
    return status;
  }

  Status DoDeleteHistory(mongoc_client_t* client, const std::string& id) const {
    if (Status status = DeleteMany(client, "history_ops", DocumentIdFilter(id), "history delete"); !status.ok()) {
      return status;
    }
    return DeleteMany(client, "history_snapshots", DocumentIdFilter(id), "history delete");
  }

  Status DoPurgeHistory(mongoc_client_t* client, const std::string& id, int64_t up_to) const {
    if (Status status = DeleteMany(client, "history_ops", OpsUpToFilter(id, up_to), "history purge"); !status.ok()) {
      return status;
    }
    return DeleteMany(client, "history_snapshots", OpsUpToFilter(id, up_to), "history purge");
  }

  Status DoDeleteHistoryByPrefix(mongoc_client_t* client, const std::string& prefix, int64_t& count) const {
    std::set<std::string> ids;
    for (const char* collection : {"history_ops", "history_snapshots"}) {
      if (Status status = DistinctDocuments(client, collection, prefix, "history prefix delete", ids); !status.ok()) {
        return status;
      }
    }
    for (const char* collection : {"history_ops", "history_snapshots"}) {
      if (Status status = DeleteMany(client, collection, PrefixFilter("DocumentId", prefix), "history prefix delete");
          !status.ok()) {
        return status;
      }
    }
    count = static_cast<int64_t>(ids.size());
    return Status::Ok();
  }

  // ---- comments (collection `comments`, the reference library's layout, §3.6) ----

  static BsonPtr CommentDocument(const Comment& c) {
    BsonPtr doc = NewBson();
    AppendString(doc.get(), "_id", c.id);
    AppendString(doc.get(), "DocumentId", c.document_id);
    AppendOptionalString(doc.get(), "ParentCommentId", c.parent_comment_id);
    AppendString(doc.get(), "AuthorPeerId", c.author_peer_id);
    AppendString(doc.get(), "AuthorName", c.author_name);
    AppendString(doc.get(), "Body", c.body);
    AppendOptionalString(doc.get(), "AnchorJson", c.anchor_json);
    BSON_APPEND_INT64(doc.get(), "AnchoredAtRevision", c.anchored_at_revision);
    AppendDateTimeOffset(doc.get(), "CreatedAt", c.created_at);
    AppendOptionalDateTimeOffset(doc.get(), "ResolvedAt", c.resolved_at);
    AppendOptionalString(doc.get(), "ResolvedByPeerId", c.resolved_by_peer_id);
    BSON_APPEND_BOOL(doc.get(), "IsOrphaned", c.is_orphaned);
    return doc;
  }

  static bool ReadComment(const bson_t* doc, Comment& c) {
    bson_iter_t it;
    if (!bson_iter_init(&it, doc)) return false;
    bool have_id = false;
    while (bson_iter_next(&it)) {
      const std::string_view key = bson_iter_key(&it);
      if (key == "_id") {
        have_id = BSON_ITER_HOLDS_UTF8(&it);
        c.id = ReadString(it);
      } else if (key == "DocumentId") {
        c.document_id = ReadString(it);
      } else if (key == "ParentCommentId") {
        c.parent_comment_id = ReadOptionalString(it);
      } else if (key == "AuthorPeerId") {
        c.author_peer_id = ReadString(it);
      } else if (key == "AuthorName") {
        c.author_name = ReadString(it);
      } else if (key == "Body") {
        c.body = ReadString(it);
      } else if (key == "AnchorJson") {
        c.anchor_json = ReadOptionalString(it);
      } else if (key == "AnchoredAtRevision") {
        ReadInt64(it, c.anchored_at_revision);
      } else if (key == "CreatedAt") {
        ReadDateTimeOffset(it, c.created_at);
      } else if (key == "ResolvedAt") {
        Timestamp t;
        if (ReadDateTimeOffset(it, t)) c.resolved_at = t;
      } else if (key == "ResolvedByPeerId") {
        c.resolved_by_peer_id = ReadOptionalString(it);
      } else if (key == "IsOrphaned") {
        c.is_orphaned = BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
      }
    }
    return have_id;
  }

  Status FindComments(mongoc_client_t* client, const BsonPtr& filter, std::string_view operation,
                      std::vector<Comment>& out) const {
    Status status = Find(client, "comments", filter, nullptr, operation, [&out](const bson_t* doc) {
      Comment c;
      if (!ReadComment(doc, c)) return false;
      out.push_back(std::move(c));
      return true;
    });
    // Sorted here: the creation time is an array, which servers (and the stand-in) sort differently.
    std::sort(out.begin(), out.end(), [](const Comment& a, const Comment& b) {
      return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id);
    });
    return status;
  }

  Status DoAddComment(mongoc_client_t* client, const Comment& comment) const {
    bool duplicate = false;
    Status status = InsertOne(client, "comments", CommentDocument(comment), "comment add", duplicate);
    if (duplicate) return Status::Error(fmt::format("Comment '{}' already exists.", comment.id));
    return status;
  }

  Status DoUpdateComment(mongoc_client_t* client, const Comment& c) const {
    BsonPtr update = NewBson();
    bson_t set;
    BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
    AppendString(&set, "Body", c.body);
    AppendOptionalString(&set, "AnchorJson", c.anchor_json);
    BSON_APPEND_INT64(&set, "AnchoredAtRevision", c.anchored_at_revision);
    AppendOptionalDateTimeOffset(&set, "ResolvedAt", c.resolved_at);
    AppendOptionalString(&set, "ResolvedByPeerId", c.resolved_by_peer_id);
    BSON_APPEND_BOOL(&set, "IsOrphaned", c.is_orphaned);
    bson_append_document_end(update.get(), &set);
    int64_t matched = 0;
    if (Status status = UpdateOne(client, "comments", IdFilter(c.id), update, "comment update", &matched);
        !status.ok()) {
      return status;
    }
    if (matched == 0) return Status::Error(fmt::format("Comment '{}' not found.", c.id));
    return Status::Ok();
  }

  Status DoDeleteComment(mongoc_client_t* client, const std::string& id) const {
    std::vector<Comment> found;
    if (Status status = FindComments(client, IdFilter(id), "comment delete", found); !status.ok()) return status;
    if (found.empty()) return Status::Ok();
    // A reply goes alone; a root takes its replies with it.
    if (found.front().parent_comment_id) return DeleteMany(client, "comments", IdFilter(id), "comment delete");
    BsonPtr filter = NewBson();
    bson_t any, first, second;
    BSON_APPEND_ARRAY_BEGIN(filter.get(), "$or", &any);
    BSON_APPEND_DOCUMENT_BEGIN(&any, "0", &first);
    AppendString(&first, "_id", id);
    bson_append_document_end(&any, &first);
    BSON_APPEND_DOCUMENT_BEGIN(&any, "1", &second);
    AppendString(&second, "ParentCommentId", id);
    bson_append_document_end(&any, &second);
    bson_append_array_end(filter.get(), &any);
    return DeleteMany(client, "comments", filter, "comment delete");
  }

  // UpdateAnchors without transactions: the whole change is first written as one intent document
  // in `pending_anchor_updates` (a single-document insert: all of it or nothing), then applied as
  // one ordered bulk of idempotent updates, then the intent is deleted. A failure or crash after
  // the intent was written leaves it behind, and whoever touches that document's comments next
  // (or the next Initialize) applies it again before doing anything else, so no reader of this
  // store sees a half-applied change for longer than until then.
  Status DoUpdateAnchors(mongoc_client_t* client, const std::string& document_id, int64_t revision,
                         const std::vector<AnchorUpdate>& updates) const {
    if (Status pending = CompletePendingAnchors(client, &document_id); !pending.ok()) return pending;
    if (updates.empty()) return Status::Ok();
    BsonPtr intent = NewBson();
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(intent.get(), "_id", &oid);
    AppendString(intent.get(), "DocumentId", document_id);
    BSON_APPEND_INT64(intent.get(), "Revision", revision);
    bson_t list;
    BSON_APPEND_ARRAY_BEGIN(intent.get(), "Updates", &list);
    for (size_t i = 0; i < updates.size(); ++i) {
      bson_t entry;
      const std::string key = std::to_string(i);
      BSON_APPEND_DOCUMENT_BEGIN(&list, key.c_str(), &entry);
      AppendString(&entry, "CommentId", updates[i].comment_id);
      AppendOptionalString(&entry, "AnchorJson", updates[i].anchor_json);
      BSON_APPEND_BOOL(&entry, "Orphaned", updates[i].outcome == AnchorOutcome::kOrphaned);
      bson_append_document_end(&list, &entry);
    }
    bson_append_array_end(intent.get(), &list);
    bool duplicate = false;
    if (Status written = InsertOne(client, kPendingAnchors, intent, "anchor update", duplicate); !written.ok()) {
      return written;
    }
    return ApplyPendingAnchors(client, intent.get());
  }

  // Applies (again) every intent left behind, oldest first: of `document_id`, or of every document.
  Status CompletePendingAnchors(mongoc_client_t* client, const std::string* document_id) const {
    std::vector<BsonPtr> pending;
    Status status = Find(client, kPendingAnchors, document_id ? DocumentIdFilter(*document_id) : NewBson(),
                         SortBy("_id", 1).get(), "anchor update", [&pending](const bson_t* doc) {
                           pending.push_back(BsonPtr(bson_copy(doc)));
                           return true;
                         });
    for (size_t i = 0; status.ok() && i < pending.size(); ++i) {
      spdlog::info("storage.mongo: completing an anchor update left half-done");
      status = ApplyPendingAnchors(client, pending[i].get());
    }
    return status;
  }

  // One ordered bulk of the intent's updates, then the intent's removal. Every update sets fixed
  // values (anchor, revision, and IsOrphaned only to true), so running it twice changes nothing.
  Status ApplyPendingAnchors(mongoc_client_t* client, const bson_t* intent) const {
    bson_iter_t it;
    std::string document_id;
    int64_t revision = 0;
    bson_iter_t updates;
    bool have_updates = false;
    bson_value_t intent_id{};
    if (bson_iter_init_find(&it, intent, "_id")) intent_id = *bson_iter_value(&it);
    if (bson_iter_init_find(&it, intent, "DocumentId")) document_id = ReadString(it);
    if (bson_iter_init_find(&it, intent, "Revision")) ReadInt64(it, revision);
    if (bson_iter_init_find(&it, intent, "Updates") && BSON_ITER_HOLDS_ARRAY(&it)) {
      have_updates = bson_iter_recurse(&it, &updates);
    }
    if (intent_id.value_type == BSON_TYPE_EOD) {
      return Status::Error("MongoDB anchor update failed: a pending anchor update has no _id.");
    }
    BsonPtr done = NewBson();
    BSON_APPEND_VALUE(done.get(), "_id", &intent_id);
    if (!have_updates) {
      // Not one this store wrote: applying it is impossible, keeping it would block the document.
      spdlog::error("storage.mongo: removing an unreadable pending anchor update of document '{}'", document_id);
      return DeleteMany(client, kPendingAnchors, done, "anchor update");
    }
    Collection coll = GetCollection(client, "comments");
    Bson opts;
    BSON_APPEND_BOOL(opts.get(), "ordered", true);
    std::unique_ptr<mongoc_bulk_operation_t, void (*)(mongoc_bulk_operation_t*)> bulk(
        mongoc_collection_create_bulk_operation_with_opts(coll.get(), opts.get()), mongoc_bulk_operation_destroy);
    bson_error_t error;
    size_t count = 0;
    while (bson_iter_next(&updates)) {
      bson_iter_t entry, field;
      if (!BSON_ITER_HOLDS_DOCUMENT(&updates) || !bson_iter_recurse(&updates, &entry)) continue;
      BsonPtr filter = NewBson();
      BsonPtr update = NewBson();
      bson_t set;
      BSON_APPEND_DOCUMENT_BEGIN(update.get(), "$set", &set);
      BSON_APPEND_INT64(&set, "AnchoredAtRevision", revision);
      while (bson_iter_next(&entry)) {
        const std::string_view key = bson_iter_key(&entry);
        field = entry;
        if (key == "CommentId") {
          AppendString(filter.get(), "_id", ReadString(field));
        } else if (key == "AnchorJson") {
          AppendOptionalString(&set, "AnchorJson", ReadOptionalString(field));
        } else if (key == "Orphaned" && BSON_ITER_HOLDS_BOOL(&field) && bson_iter_bool(&field)) {
          // isOrphaned = previous OR orphaned: only an orphaning outcome writes it.
          BSON_APPEND_BOOL(&set, "IsOrphaned", true);
        }
      }
      bson_append_document_end(update.get(), &set);
      AppendString(filter.get(), "DocumentId", document_id);
      if (!mongoc_bulk_operation_update_one_with_opts(bulk.get(), filter.get(), update.get(), nullptr, &error)) {
        return Failure("anchor update", error);
      }
      ++count;
    }
    if (count > 0) {
      Bson reply;
      if (!mongoc_bulk_operation_execute(bulk.get(), reply.get(), &error)) return Failure("anchor update", error);
    }
    return DeleteMany(client, kPendingAnchors, done, "anchor update");
  }

  Status DoGetMinAnchoredRevision(mongoc_client_t* client, const std::string& document_id,
                                  std::optional<int64_t>& out) const {
    BsonPtr filter = DocumentIdFilter(document_id);
    BSON_APPEND_NULL(filter.get(), "ParentCommentId");
    BSON_APPEND_NULL(filter.get(), "ResolvedAt");
    std::vector<Comment> roots;
    if (Status pending = CompletePendingAnchors(client, &document_id); !pending.ok()) return pending;
    if (Status status = FindComments(client, filter, "comment revision", roots); !status.ok()) return status;
    for (const Comment& c : roots) {
      if (!IsAnchorObject(c.anchor_json)) continue;
      out = out ? std::min(*out, c.anchored_at_revision) : c.anchored_at_revision;
    }
    return Status::Ok();
  }

  // Anchor text that is not a JSON object counts as no anchor (server.md §3.4.7).
  static bool IsAnchorObject(const std::optional<std::string>& anchor) {
    if (!anchor) return false;
    const size_t first = anchor->find_first_not_of(" \t\r\n");
    return first != std::string::npos && (*anchor)[first] == '{';
  }

  // ---- refs (collections document_names, document_branches, document_versions) ----

  static BsonPtr NameDocument(const DocumentName& n) {
    BsonPtr doc = NewBson();
    AppendString(doc.get(), "_id", n.global_name);
    AppendString(doc.get(), "DefaultBranchId", n.default_branch_id);
    AppendString(doc.get(), "EngineType", n.engine_type);
    AppendDateTimeOffset(doc.get(), "CreatedAt", n.created_at);
    return doc;
  }

  static bool ReadName(const bson_t* doc, DocumentName& n) {
    bson_iter_t it;
    if (!bson_iter_init(&it, doc)) return false;
    bool have_id = false;
    while (bson_iter_next(&it)) {
      const std::string_view key = bson_iter_key(&it);
      if (key == "_id") {
        have_id = BSON_ITER_HOLDS_UTF8(&it);
        n.global_name = ReadString(it);
      } else if (key == "DefaultBranchId") {
        n.default_branch_id = ReadString(it);
      } else if (key == "EngineType") {
        n.engine_type = ReadString(it);
      } else if (key == "CreatedAt") {
        ReadDateTimeOffset(it, n.created_at);
      }
    }
    return have_id;
  }

  static BsonPtr BranchDocument(const DocumentBranch& b) {
    BsonPtr doc = NewBson();
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(doc.get(), "_id", &oid);
    AppendString(doc.get(), "GlobalName", b.global_name);
    AppendString(doc.get(), "BranchId", b.branch_id);
    AppendString(doc.get(), "PhysicalDocumentId", b.physical_document_id);
    AppendOptionalString(doc.get(), "ForkParentBranchId", b.fork_parent_branch_id);
    BSON_APPEND_INT64(doc.get(), "ForkRevision", b.fork_revision);
    AppendDateTimeOffset(doc.get(), "CreatedAt", b.created_at);
    BSON_APPEND_BOOL(doc.get(), "IsReadOnly", b.is_read_only);
    return doc;
  }

  static bool ReadBranch(const bson_t* doc, DocumentBranch& b) {
    bson_iter_t it;
    if (!bson_iter_init(&it, doc)) return false;
    while (bson_iter_next(&it)) {
      const std::string_view key = bson_iter_key(&it);
      if (key == "GlobalName") {
        b.global_name = ReadString(it);
      } else if (key == "BranchId") {
        b.branch_id = ReadString(it);
      } else if (key == "PhysicalDocumentId") {
        b.physical_document_id = ReadString(it);
      } else if (key == "ForkParentBranchId") {
        b.fork_parent_branch_id = ReadOptionalString(it);
      } else if (key == "ForkRevision") {
        ReadInt64(it, b.fork_revision);
      } else if (key == "CreatedAt") {
        ReadDateTimeOffset(it, b.created_at);
      } else if (key == "IsReadOnly") {
        b.is_read_only = BSON_ITER_HOLDS_BOOL(&it) && bson_iter_bool(&it);
      }
    }
    return true;
  }

  static BsonPtr VersionDocument(const DocumentVersion& v) {
    BsonPtr doc = NewBson();
    bson_oid_t oid;
    bson_oid_init(&oid, nullptr);
    BSON_APPEND_OID(doc.get(), "_id", &oid);
    AppendString(doc.get(), "GlobalName", v.global_name);
    AppendString(doc.get(), "BranchId", v.branch_id);
    AppendString(doc.get(), "Tag", v.tag);
    BSON_APPEND_INT64(doc.get(), "Revision", v.revision);
    AppendString(doc.get(), "HistorySnapshotName", v.history_snapshot_name);
    AppendDateTimeOffset(doc.get(), "CreatedAt", v.created_at);
    return doc;
  }

  static bool ReadVersion(const bson_t* doc, DocumentVersion& v) {
    bson_iter_t it;
    if (!bson_iter_init(&it, doc)) return false;
    while (bson_iter_next(&it)) {
      const std::string_view key = bson_iter_key(&it);
      if (key == "GlobalName") {
        v.global_name = ReadString(it);
      } else if (key == "BranchId") {
        v.branch_id = ReadString(it);
      } else if (key == "Tag") {
        v.tag = ReadString(it);
      } else if (key == "Revision") {
        ReadInt64(it, v.revision);
      } else if (key == "HistorySnapshotName") {
        v.history_snapshot_name = ReadString(it);
      } else if (key == "CreatedAt") {
        ReadDateTimeOffset(it, v.created_at);
      }
    }
    return true;
  }

  template <typename T, typename Reader>
  Status FindRecords(mongoc_client_t* client, const char* collection, const BsonPtr& filter, std::string_view operation,
                     Reader read, std::vector<T>& out) const {
    return Find(client, collection, filter, nullptr, operation, [&out, &read](const bson_t* doc) {
      T record;
      if (!read(doc, record)) return false;
      out.push_back(std::move(record));
      return true;
    });
  }

  static BsonPtr BranchFilter(const std::string& name, const std::string& branch) {
    BsonPtr filter = NewBson();
    AppendString(filter.get(), "GlobalName", name);
    AppendString(filter.get(), "BranchId", branch);
    return filter;
  }

  Status DoDump(mongoc_client_t* client, const std::string& collection, std::vector<std::string>& out) const {
    return Find(client, collection.c_str(), NewBson(), SortBy("_id", 1).get(), "dump", [&out](const bson_t* doc) {
      out.push_back(CanonicalJson(doc));
      return true;
    });
  }

 private:
  struct Lane {
    std::deque<Task> queue;
    bool busy = false;
    std::thread thread;
  };

  void Run(size_t index) {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "opstream-mongo");
#endif
    Lane& lane = lanes_[index];
    for (;;) {
      Task task;
      {
        std::unique_lock lock(mutex_);
        work_cv_.wait(lock, [&] { return stopping_ || !lane.queue.empty(); });
        if (lane.queue.empty()) break;  // stopping, and this lane's queue is done
        task = std::move(lane.queue.front());
        lane.queue.pop_front();
        lane.busy = true;
      }
      // At most `workers` clients exist and each worker holds one at a time, so this never waits.
      mongoc_client_t* client = mongoc_client_pool_pop(pool_);
      task(client);
      mongoc_client_pool_push(pool_, client);
      {
        std::lock_guard lock(mutex_);
        lane.busy = false;
      }
      idle_cv_.notify_all();
    }
  }

  mongoc_uri_t* uri_;
  mongoc_client_pool_t* pool_;
  const MongoStoreSettings settings_;
  const std::string password_;

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  bool stopping_ = false;
  jobs::ProbeWatchdog watchdog_{fmt::format("MongoDB did not answer within {} ms", settings_.health_timeout.count())};
  std::vector<Lane> lanes_;  // last: the threads start once everything above exists
};

MongoDocumentStore::MongoDocumentStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

MongoDocumentStore::~MongoDocumentStore() = default;

void MongoDocumentStore::Initialize(Completion done) {
  impl_->Enqueue({}, [this, done = std::move(done)](mongoc_client_t* client) mutable {
    Invoke(done, impl_->DoInitialize(client));
  });
}

void MongoDocumentStore::Load(std::string document_id, LoadCompletion done) {
  const std::string key = document_id;
  impl_->Enqueue(key, [this, id = std::move(document_id), done = std::move(done)](mongoc_client_t* client) mutable {
    LoadedDocument loaded;
    Status status = impl_->DoLoad(client, id, loaded);
    if (!status.ok()) loaded = {};
    Invoke(done, std::move(status), std::move(loaded));
  });
}

void MongoDocumentStore::Append(std::string document_id, std::vector<StoredOp> ops, Completion done) {
  const std::string key = document_id;
  impl_->Enqueue(key, [this, id = std::move(document_id), ops = std::move(ops), done = std::move(done)](
                          mongoc_client_t* client) mutable { Invoke(done, impl_->DoAppend(client, id, ops)); });
}

void MongoDocumentStore::WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) {
  const std::string key = document_id;
  impl_->Enqueue(key,
                 [this, id = std::move(document_id), snapshot = std::move(snapshot), done = std::move(done)](
                     mongoc_client_t* client) mutable { Invoke(done, impl_->DoWriteSnapshot(client, id, snapshot)); });
}

void MongoDocumentStore::Compact(std::string document_id, int64_t up_to, Completion done) {
  const std::string key = document_id;
  impl_->Enqueue(key, [this, id = std::move(document_id), up_to, done = std::move(done)](
                          mongoc_client_t* client) mutable { Invoke(done, impl_->DoCompact(client, id, up_to)); });
}

void MongoDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  const std::string key = prefix;
  impl_->Enqueue(key,
                 [this, prefix = std::move(prefix), query, done = std::move(done)](mongoc_client_t* client) mutable {
                   std::vector<DocumentInfo> out;
                   Status status = impl_->DoEnumerate(client, prefix, query, out);
                   if (!status.ok()) out.clear();
                   Invoke(done, std::move(status), std::move(out));
                 });
}

void MongoDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  const std::string key = document_id;
  impl_->Enqueue(key, [this, id = std::move(document_id), done = std::move(done)](mongoc_client_t* client) mutable {
    std::optional<DocumentInfo> out;
    Status status = impl_->DoGetInfo(client, id, out);
    if (!status.ok()) out.reset();
    Invoke(done, std::move(status), std::move(out));
  });
}

void MongoDocumentStore::Delete(std::string document_id, Completion done) {
  const std::string key = document_id;
  impl_->Enqueue(key, [this, id = std::move(document_id), done = std::move(done)](mongoc_client_t* client) mutable {
    Invoke(done, impl_->DoDelete(client, id));
  });
}

void MongoDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  const std::string key = prefix;
  impl_->Enqueue(key, [this, prefix = std::move(prefix), done = std::move(done)](mongoc_client_t* client) mutable {
    int64_t count = 0;
    Status status = impl_->DoDeleteByPrefix(client, prefix, count);
    if (!status.ok()) count = 0;
    Invoke(done, std::move(status), count);
  });
}

namespace {

constexpr std::string_view kCommentsLane = "\x01comments";
constexpr std::string_view kRefsLane = "\x01refs";

// Runs `work(client, result)` on the lane of `key` and hands (status, result) to `done`; the
// result is reset to its empty value when the status is a failure.
template <typename Result, typename Done, typename Work>
void Submit(MongoDocumentStore::Impl& impl, std::string_view key, Done done, Work work) {
  impl.Enqueue(key, [done = std::move(done), work = std::move(work)](mongoc_client_t* client) mutable {
    Result result{};
    Status status = work(client, result);
    if (!status.ok()) result = Result{};
    Invoke(done, std::move(status), std::move(result));
  });
}

template <typename Done, typename Work>
void SubmitStatus(MongoDocumentStore::Impl& impl, std::string_view key, Done done, Work work) {
  impl.Enqueue(key, [done = std::move(done), work = std::move(work)](mongoc_client_t* client) mutable {
    Invoke(done, work(client));
  });
}

}  // namespace

void MongoDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  Submit<std::optional<Snapshot>>(impl, key, std::move(done),
                                  [&impl, id = std::move(document_id), max_revision](mongoc_client_t* c, auto& out) {
                                    return impl.DoLoadHistorySnapshot(c, id, max_revision, out);
                                  });
}

void MongoDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  Submit<std::vector<StoredOp>>(impl, key, std::move(done),
                                [&impl, id = std::move(document_id), since, up_to](mongoc_client_t* c, auto& out) {
                                  return impl.DoStreamHistoryOps(c, id, since, up_to, out);
                                });
}

void MongoDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<HistoryMilestone>>(
      impl, document_id, std::move(done),
      [&impl, id = std::move(document_id)](mongoc_client_t* c, auto& out) { return impl.DoGetMilestones(c, id, out); });
}

void MongoDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                              std::optional<std::string> name, HistoryStore::Completion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  SubmitStatus(impl, key, std::move(done),
               [&impl, id = std::move(document_id), snapshot = std::move(snapshot), name = std::move(name)](
                   mongoc_client_t* c) { return impl.DoWriteHistorySnapshot(c, id, snapshot, name); });
}

void MongoDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  SubmitStatus(impl, key, std::move(done),
               [&impl, id = std::move(document_id), op = std::move(op)](mongoc_client_t* c) {
                 return impl.DoAppendHistoryOp(c, id, op);
               });
}

void MongoDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  SubmitStatus(impl, key, std::move(done),
               [&impl, id = std::move(document_id)](mongoc_client_t* c) { return impl.DoDeleteHistory(c, id); });
}

void MongoDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  Impl& impl = *impl_;
  const std::string key = document_id;
  SubmitStatus(impl, key, std::move(done), [&impl, id = std::move(document_id), up_to](mongoc_client_t* c) {
    return impl.DoPurgeHistory(c, id, up_to);
  });
}

void MongoDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  Impl& impl = *impl_;
  const std::string key = prefix;
  Submit<int64_t>(impl, key, std::move(done), [&impl, prefix](mongoc_client_t* c, int64_t& count) {
    return impl.DoDeleteHistoryByPrefix(c, prefix, count);
  });
}

void MongoDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<Comment>>(impl, kCommentsLane, std::move(done),
                               [&impl, id = std::move(document_id)](mongoc_client_t* c, auto& out) {
                                 if (Status pending = impl.CompletePendingAnchors(c, &id); !pending.ok()) {
                                   return pending;
                                 }
                                 return impl.FindComments(c, DocumentIdFilter(id), "comment load", out);
                               });
}

void MongoDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  Impl& impl = *impl_;
  Submit<std::optional<Comment>>(impl, kCommentsLane, std::move(done),
                                 [&impl, id = std::move(comment_id)](mongoc_client_t* c, auto& out) {
                                   std::vector<Comment> found;
                                   Status status = impl.FindComments(c, IdFilter(id), "comment get", found);
                                   if (status.ok() && !found.empty()) out = std::move(found.front());
                                   return status;
                                 });
}

void MongoDocumentStore::AddComment(Comment comment, CommentStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kCommentsLane, std::move(done),
               [&impl, comment = std::move(comment)](mongoc_client_t* c) { return impl.DoAddComment(c, comment); });
}

void MongoDocumentStore::UpdateComment(Comment comment, CommentStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kCommentsLane, std::move(done),
               [&impl, comment = std::move(comment)](mongoc_client_t* c) { return impl.DoUpdateComment(c, comment); });
}

void MongoDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kCommentsLane, std::move(done),
               [&impl, id = std::move(comment_id)](mongoc_client_t* c) { return impl.DoDeleteComment(c, id); });
}

void MongoDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                       CommentStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kCommentsLane, std::move(done),
               [&impl, id = std::move(document_id), revision, updates = std::move(updates)](mongoc_client_t* c) {
                 return impl.DoUpdateAnchors(c, id, revision, updates);
               });
}

void MongoDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Impl& impl = *impl_;
  Submit<std::optional<int64_t>>(impl, kCommentsLane, std::move(done),
                                 [&impl, id = std::move(document_id)](mongoc_client_t* c, auto& out) {
                                   return impl.DoGetMinAnchoredRevision(c, id, out);
                                 });
}

void MongoDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Impl& impl = *impl_;
  Submit<std::optional<DocumentName>>(
      impl, kRefsLane, std::move(done), [&impl, name = std::move(global_name)](mongoc_client_t* c, auto& out) {
        std::vector<DocumentName> found;
        Status status = impl.FindRecords(c, "document_names", IdFilter(name), "name get", Impl::ReadName, found);
        if (status.ok() && !found.empty()) out = std::move(found.front());
        return status;
      });
}

void MongoDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<DocumentName>>(
      impl, kRefsLane, std::move(done), [&impl, prefix = std::move(prefix)](mongoc_client_t* c, auto& out) {
        Status status =
            impl.FindRecords(c, "document_names", PrefixFilter("_id", prefix), "name enumeration", Impl::ReadName, out);
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.global_name < b.global_name; });
        return status;
      });
}

void MongoDocumentStore::CreateName(DocumentName name, RefStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kRefsLane, std::move(done), [&impl, name = std::move(name)](mongoc_client_t* c) {
    bool duplicate = false;
    Status status = impl.InsertOne(c, "document_names", Impl::NameDocument(name), "name create", duplicate);
    if (duplicate) return Status::Error(fmt::format("Name '{}' already exists.", name.global_name));
    return status;
  });
}

void MongoDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Impl& impl = *impl_;
  Submit<std::optional<DocumentBranch>>(
      impl, kRefsLane, std::move(done),
      [&impl, name = std::move(global_name), branch = std::move(branch_id)](mongoc_client_t* c, auto& out) {
        std::vector<DocumentBranch> found;
        Status status = impl.FindRecords(c, "document_branches", Impl::BranchFilter(name, branch), "branch get",
                                         Impl::ReadBranch, found);
        if (status.ok() && !found.empty()) out = std::move(found.front());
        return status;
      });
}

void MongoDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<DocumentBranch>>(
      impl, kRefsLane, std::move(done), [&impl, name = std::move(global_name)](mongoc_client_t* c, auto& out) {
        BsonPtr filter = NewBson();
        AppendString(filter.get(), "GlobalName", name);
        Status status = impl.FindRecords(c, "document_branches", filter, "branch enumeration", Impl::ReadBranch, out);
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.branch_id < b.branch_id; });
        return status;
      });
}

void MongoDocumentStore::CreateBranch(DocumentBranch branch, RefStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kRefsLane, std::move(done), [&impl, branch = std::move(branch)](mongoc_client_t* c) {
    bool duplicate = false;
    Status status = impl.InsertOne(c, "document_branches", Impl::BranchDocument(branch), "branch create", duplicate);
    if (duplicate) return Status::Error(fmt::format("Branch '{}' already exists.", branch.branch_id));
    return status;
  });
}

void MongoDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kRefsLane, std::move(done),
               [&impl, name = std::move(global_name), branch = std::move(branch_id)](mongoc_client_t* c) {
                 return impl.DeleteMany(c, "document_branches", Impl::BranchFilter(name, branch), "branch delete");
               });
}

void MongoDocumentStore::CreateVersion(DocumentVersion version, RefStore::Completion done) {
  Impl& impl = *impl_;
  SubmitStatus(impl, kRefsLane, std::move(done), [&impl, version = std::move(version)](mongoc_client_t* c) {
    bool duplicate = false;
    Status status = impl.InsertOne(c, "document_versions", Impl::VersionDocument(version), "version create", duplicate);
    if (duplicate) {
      return Status::Error(fmt::format("Tag '{}' already exists on branch '{}'.", version.tag, version.branch_id));
    }
    return status;
  });
}

void MongoDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                    VersionCompletion done) {
  Impl& impl = *impl_;
  Submit<std::optional<DocumentVersion>>(impl, kRefsLane, std::move(done),
                                         [&impl, name = std::move(global_name), branch = std::move(branch_id),
                                          tag = std::move(tag)](mongoc_client_t* c, auto& out) {
                                           BsonPtr filter = Impl::BranchFilter(name, branch);
                                           AppendString(filter.get(), "Tag", tag);
                                           std::vector<DocumentVersion> found;
                                           Status status = impl.FindRecords(c, "document_versions", filter,
                                                                            "version get", Impl::ReadVersion, found);
                                           if (status.ok() && !found.empty()) out = std::move(found.front());
                                           return status;
                                         });
}

void MongoDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<DocumentVersion>>(
      impl, kRefsLane, std::move(done),
      [&impl, name = std::move(global_name), branch = std::move(branch_id)](mongoc_client_t* c, auto& out) {
        Status status = impl.FindRecords(c, "document_versions", Impl::BranchFilter(name, branch),
                                         "version enumeration", Impl::ReadVersion, out);
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
        return status;
      });
}

void MongoDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  Impl& impl = *impl_;
  Submit<std::vector<DocumentVersion>>(
      impl, kRefsLane, std::move(done), [&impl, id = std::move(physical_document_id)](mongoc_client_t* c, auto& out) {
        BsonPtr filter = NewBson();
        AppendString(filter.get(), "PhysicalDocumentId", id);
        std::vector<DocumentBranch> branches;
        if (Status status = impl.FindRecords(c, "document_branches", filter, "pin guard", Impl::ReadBranch, branches);
            !status.ok()) {
          return status;
        }
        for (const DocumentBranch& b : branches) {
          if (Status status = impl.FindRecords(c, "document_versions", Impl::BranchFilter(b.global_name, b.branch_id),
                                               "pin guard", Impl::ReadVersion, out);
              !status.ok()) {
            return status;
          }
        }
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
          return std::tie(a.revision, a.global_name, a.branch_id, a.tag) <
                 std::tie(b.revision, b.global_name, b.branch_id, b.tag);
        });
        return Status::Ok();
      });
}

void MongoDocumentStore::CheckHealth(HealthCompletion done) { impl_->EnqueueProbe(std::move(done)); }

void MongoDocumentStore::Flush(std::chrono::milliseconds timeout) { impl_->Flush(timeout); }

Status MongoDocumentStore::DumpCollection(const std::string& collection, std::vector<std::string>& out) {
  std::promise<Status> promise;
  impl_->Enqueue(collection,
                 [&](mongoc_client_t* client) { promise.set_value(impl_->DoDump(client, collection, out)); });
  return promise.get_future().get();
}

Status MongoDocumentStore::RunCommand(const std::string& command, std::string& reply) {
  std::promise<Status> promise;
  impl_->Enqueue(command, [&](mongoc_client_t* client) {
    bson_error_t error;
    BsonPtr parsed(bson_new_from_json(reinterpret_cast<const uint8_t*>(command.data()),
                                      static_cast<ssize_t>(command.size()), &error));
    if (!parsed) {
      promise.set_value(Status::Error(fmt::format("not a JSON command: {}", error.message)));
      return;
    }
    Bson answer;
    const bool ok =
        mongoc_client_command_simple(client, impl_->db().c_str(), parsed.get(), nullptr, answer.get(), &error);
    reply = CanonicalJson(answer.get());
    promise.set_value(ok ? Status::Ok() : impl_->Failure("command", error));
  });
  return promise.get_future().get();
}

Status OpenMongoStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      MongoStoreSettings settings) {
  InitializeDriver();
  if (Status valid = ValidateDatabaseName(settings.database_name); !valid.ok()) return valid;
  const std::string text(connection_string);
  const std::string password = UriPassword(text);
  bson_error_t error;
  mongoc_uri_t* uri = mongoc_uri_new_with_error(text.c_str(), &error);
  if (uri == nullptr) {
    return Status::Error(
        fmt::format("The MongoDB connection string is not valid: {}", RedactSecret(error.message, password)));
  }
  if (mongoc_uri_get_appname(uri) == nullptr) mongoc_uri_set_appname(uri, "OpStreamServer");
  mongoc_client_pool_t* pool = mongoc_client_pool_new_with_error(uri, &error);
  if (pool == nullptr) {
    mongoc_uri_destroy(uri);
    return Status::Error(
        fmt::format("The MongoDB connection string is not usable: {}", RedactSecret(error.message, password)));
  }
  mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
  const size_t workers = std::max<size_t>(1, settings.workers);
  mongoc_client_pool_max_size(pool, static_cast<uint32_t>(workers));
  const char* uri_password = mongoc_uri_get_password(uri);
  auto impl = std::make_unique<MongoDocumentStore::Impl>(uri, pool, std::move(settings),
                                                         uri_password ? std::string(uri_password) : password);
  out = std::make_unique<MongoDocumentStore>(std::move(impl));
  return Status::Ok();
}

}  // namespace opstream::storage
