#include "storage/mongo/mongo_document_store.hpp"

#include <fmt/format.h>
#include <mongoc/mongoc.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "storage/append_rules.hpp"
#include "storage/mongo/mongo_support.hpp"
#include "storage/probe_watchdog.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage {

using namespace mongo;

namespace {

constexpr std::string_view kProvider = "mongo";

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
    return Status::Ok();
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
