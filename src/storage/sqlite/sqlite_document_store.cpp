#include "storage/sqlite/sqlite_document_store.hpp"

#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <limits>
#include <mutex>
#include <thread>
#include <variant>

#include "storage/append_rules.hpp"
#include "storage/probe_watchdog.hpp"
#include "storage/sqlite/sqlite_database.hpp"
#include "storage/sqlite/sqlite_migrations.hpp"
#include "storage/store_jobs.hpp"

namespace opstream::storage {
namespace {

using Clock = std::chrono::steady_clock;
using sqlite::Database;
using sqlite::StatementUse;

constexpr const char* kLoadSnapshotSql =
    "SELECT \"Revision\", \"Timestamp\", \"State\" FROM \"DocumentSnapshots\" WHERE \"DocumentId\" = ?1";
constexpr const char* kLoadOpsSql =
    "SELECT \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", \"EngineType\" FROM \"DocumentOps\" "
    "WHERE \"DocumentId\" = ?1 AND \"Revision\" > ?2 ORDER BY \"Revision\"";
constexpr const char* kInsertOpSql =
    "INSERT INTO \"DocumentOps\" (\"DocumentId\", \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", "
    "\"EngineType\") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kUpsertSnapshotSql =
    "INSERT INTO \"DocumentSnapshots\" (\"DocumentId\", \"Revision\", \"Timestamp\", \"State\") "
    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (\"DocumentId\") DO UPDATE SET \"Revision\" = excluded.\"Revision\", "
    "\"Timestamp\" = excluded.\"Timestamp\", \"State\" = excluded.\"State\"";
constexpr const char* kCompactSql = "DELETE FROM \"DocumentOps\" WHERE \"DocumentId\" = ?1 AND \"Revision\" <= ?2";

constexpr std::string_view kProvider = "sqlite";
using jobs::AppendJob;
using jobs::CompactJob;
using jobs::HealthProbe;
using jobs::InitializeJob;
using jobs::LoadJob;
using jobs::ProbeJob;
using jobs::SnapshotJob;

// Any other call (sqlite_records.cpp): the worker opens the database and hands it over.
struct TaskJob {
  std::function<void(Status, Database*)> run;
};
using WorkerJob = std::variant<InitializeJob, LoadJob, AppendJob, SnapshotJob, CompactJob, ProbeJob, TaskJob>;

template <typename Callback, typename... Args>
void Invoke(Callback& callback, Args&&... args) noexcept {
  jobs::InvokeCompletion(kProvider, callback, std::forward<Args>(args)...);
}

Status ExceptionStatus(std::string_view operation, const std::exception* e) {
  return Status::Error(fmt::format("SQLite {} failed: {}", operation, e ? e->what() : "unknown exception"));
}

// Runs `body` (returning Status) and turns an escaping exception into an error Status.
template <typename Body>
Status Guarded(std::string_view operation, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return ExceptionStatus(operation, &e);
  } catch (...) {
    return ExceptionStatus(operation, nullptr);
  }
}

// EF writes `2026-06-24 15:41:39.1234567+00:00`; a value without offset is read as UTC.
std::optional<Timestamp> ReadTimestamp(const std::string& text) {
  if (auto parsed = ParseTimestamp(text)) return parsed;
  return ParseTimestamp(text + "+00:00");
}

Status UnreadableTimestamp(std::string_view document_id, std::string_view table, const std::string& text) {
  return Status::Error(
      fmt::format("SQLite load failed: unreadable timestamp '{}' in {} of document '{}'.", text, table, document_id));
}

}  // namespace

class SqliteDocumentStore::Worker {
 public:
  Worker(SqliteConnectionOptions options, SqliteStoreSettings settings)
      : options_(std::move(options)), settings_(settings) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Worker() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    work_cv_.notify_all();
    thread_.join();
  }

  void Enqueue(WorkerJob job) {
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(job));
    }
    work_cv_.notify_one();
  }

  void EnqueueProbe(DocumentStore::HealthCompletion done) {
    auto probe = watchdog_.Watch(kProvider, std::move(done), settings_.health_timeout);
    {
      // At the front: the probe measures whether the database answers, not how long the queue is.
      std::lock_guard lock(mutex_);
      queue_.push_front(ProbeJob{std::move(probe)});
    }
    work_cv_.notify_one();
  }

  void Flush(std::chrono::milliseconds timeout) {
    if (std::this_thread::get_id() == thread_.get_id()) return;  // waiting for ourselves would never end
    std::unique_lock lock(mutex_);
    idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !busy_; });
  }

  SqliteStoreCounters counters() const { return {append_transactions_.load(), appends_committed_.load()}; }
  const SqliteConnectionOptions& options() const { return options_; }

 private:
  void Run() {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "opstream-sqlite");
#endif
    for (;;) {
      std::vector<WorkerJob> batch;
      {
        std::unique_lock lock(mutex_);
        work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) break;  // stopping, and everything queued is done
        busy_ = true;
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
        // Group commit: every Append waiting right behind this one joins its transaction.
        if (std::holds_alternative<AppendJob>(batch.front())) {
          while (!queue_.empty() && std::holds_alternative<AppendJob>(queue_.front()) &&
                 batch.size() < std::max<size_t>(1, settings_.max_appends_per_transaction)) {
            batch.push_back(std::move(queue_.front()));
            queue_.pop_front();
          }
        }
      }
      if (std::holds_alternative<AppendJob>(batch.front())) {
        std::vector<AppendJob> group;
        group.reserve(batch.size());
        for (WorkerJob& job : batch) group.push_back(std::move(std::get<AppendJob>(job)));
        RunAppends(group);
      } else {
        std::visit([this](auto& job) { RunJob(job); }, batch.front());
      }
      {
        std::lock_guard lock(mutex_);
        busy_ = false;
        if (queue_.empty()) idle_cv_.notify_all();
      }
    }
    db_.reset();
  }

  Status EnsureOpen() {
    if (db_) return Status::Ok();
    return Database::Open(options_, db_);
  }

  // Runs prepared transaction control ("BEGIN", "COMMIT", "SAVEPOINT ...").
  Status Control(const std::string& sql, std::string_view operation) {
    sqlite3_stmt* statement = nullptr;
    if (Status status = db_->Prepared(sql, operation, statement); !status.ok()) return status;
    StatementUse use(statement);
    const int rc = sqlite3_step(statement);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_->Error(rc, operation);
    return Status::Ok();
  }

  void RollbackQuietly() {
    if (db_ && db_->in_transaction()) (void)Control("ROLLBACK", "rollback");
  }

  void RunJob(InitializeJob& job) {
    Status status = Guarded("initialization", [&] {
      if (Status opened = EnsureOpen(); !opened.ok()) return opened;
      sqlite::MigrationSettings migration;
      migration.lock_wait = settings_.migration_lock_wait;
      return sqlite::ApplyMigrations(*db_, migration);
    });
    if (status.ok()) {
      spdlog::info("storage.sqlite: database ready db={}", options_.in_memory() ? ":memory:" : options_.data_source);
    }
    Invoke(job.done, std::move(status));
  }

  void RunJob(LoadJob& job) {
    LoadedDocument loaded;
    Status status = Guarded("load", [&] {
      if (Status opened = EnsureOpen(); !opened.ok()) return opened;
      // One read transaction, so the snapshot and the ops come from the same database state even
      // if another process writes to the file.
      if (Status begun = Control("BEGIN", "load"); !begun.ok()) return begun;
      Status read = ReadDocument(job.document_id, loaded);
      if (read.ok()) read = Control("COMMIT", "load");
      if (!read.ok()) RollbackQuietly();
      return read;
    });
    if (!status.ok()) loaded = {};
    Invoke(job.done, std::move(status), std::move(loaded));
  }

  Status ReadDocument(const std::string& document_id, LoadedDocument& loaded) {
    sqlite3_stmt* snapshot_statement = nullptr;
    if (Status status = db_->Prepared(kLoadSnapshotSql, "load", snapshot_statement); !status.ok()) return status;
    {
      StatementUse use(snapshot_statement);
      sqlite::BindText(snapshot_statement, 1, document_id);
      const int rc = sqlite3_step(snapshot_statement);
      if (rc == SQLITE_ROW) {
        Snapshot snapshot;
        snapshot.revision = sqlite3_column_int64(snapshot_statement, 0);
        const std::string timestamp = sqlite::ColumnBytes(snapshot_statement, 1);
        const auto parsed = ReadTimestamp(timestamp);
        if (!parsed) return UnreadableTimestamp(document_id, "DocumentSnapshots", timestamp);
        snapshot.timestamp = *parsed;
        snapshot.state = sqlite::ColumnBytes(snapshot_statement, 2);
        loaded.snapshot = std::move(snapshot);
      } else if (rc != SQLITE_DONE) {
        return db_->Error(rc, "load");
      }
    }

    sqlite3_stmt* ops_statement = nullptr;
    if (Status status = db_->Prepared(kLoadOpsSql, "load", ops_statement); !status.ok()) return status;
    StatementUse use(ops_statement);
    sqlite::BindText(ops_statement, 1, document_id);
    // Every op when there is no snapshot (server.md §2.2 with SV-39: never skip ops above it).
    sqlite3_bind_int64(ops_statement, 2,
                       loaded.snapshot ? loaded.snapshot->revision : std::numeric_limits<int64_t>::min());
    int rc;
    while ((rc = sqlite3_step(ops_statement)) == SQLITE_ROW) {
      StoredOp op;
      op.revision = sqlite3_column_int64(ops_statement, 0);
      op.author_id = sqlite::ColumnBytes(ops_statement, 1);
      const std::string timestamp = sqlite::ColumnBytes(ops_statement, 2);
      const auto parsed = ReadTimestamp(timestamp);
      if (!parsed) return UnreadableTimestamp(document_id, "DocumentOps", timestamp);
      op.timestamp = *parsed;
      op.payload = sqlite::ColumnBytes(ops_statement, 3);
      op.engine_type = sqlite::ColumnBytes(ops_statement, 4);
      loaded.ops.push_back(std::move(op));
    }
    if (rc != SQLITE_DONE) return db_->Error(rc, "load");
    return Status::Ok();
  }

  void RunJob(AppendJob&) {}  // appends always go through RunAppends

  void RunJob(TaskJob& job) {
    Status opened = Guarded("open", [&] { return EnsureOpen(); });
    try {
      job.run(opened, opened.ok() ? db_.get() : nullptr);
    } catch (...) {
      // Tasks guard their own work; this only keeps a throwing completion from stopping the worker.
      spdlog::error("storage.sqlite: a task threw");
    }
    // A task that failed half-way must not leave its transaction open for the next job.
    RollbackQuietly();
  }

  void RunJob(SnapshotJob& job) {
    Status status = Guarded("snapshot write", [&] {
      if (Status opened = EnsureOpen(); !opened.ok()) return opened;
      sqlite3_stmt* statement = nullptr;
      if (Status prepared = db_->Prepared(kUpsertSnapshotSql, "snapshot write", statement); !prepared.ok()) {
        return prepared;
      }
      StatementUse use(statement);
      const std::string timestamp = FormatSqliteTimestamp(job.snapshot.timestamp);
      int rc = sqlite::BindText(statement, 1, job.document_id);
      if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, 2, job.snapshot.revision);
      if (rc == SQLITE_OK) rc = sqlite::BindText(statement, 3, timestamp);
      if (rc == SQLITE_OK) rc = sqlite::BindBlob(statement, 4, job.snapshot.state);
      if (rc == SQLITE_OK) rc = sqlite3_step(statement);
      if (rc != SQLITE_DONE) return db_->Error(rc, "snapshot write");
      return Status::Ok();
    });
    Invoke(job.done, std::move(status));
  }

  void RunJob(CompactJob& job) {
    Status status = Guarded("compaction", [&] {
      if (Status opened = EnsureOpen(); !opened.ok()) return opened;
      sqlite3_stmt* statement = nullptr;
      if (Status prepared = db_->Prepared(kCompactSql, "compaction", statement); !prepared.ok()) return prepared;
      StatementUse use(statement);
      sqlite::BindText(statement, 1, job.document_id);
      sqlite3_bind_int64(statement, 2, job.up_to);
      const int rc = sqlite3_step(statement);
      if (rc != SQLITE_DONE) return db_->Error(rc, "compaction");
      return Status::Ok();
    });
    Invoke(job.done, std::move(status));
  }

  void RunJob(ProbeJob& job) {
    if (job.probe->answered()) return;  // the watchdog already gave up on it
    std::string one;
    Status status = Guarded("health probe", [&] {
      if (Status opened = EnsureOpen(); !opened.ok()) return opened;
      return db_->QueryText("SELECT 1", "health probe", one);
    });
    if (status.ok()) {
      job.probe->Answer({HealthStatus::kHealthy, "SQLite database reachable"});
    } else {
      job.probe->Answer({HealthStatus::kUnhealthy, status.message()});
    }
  }

  // One transaction for the whole group, one savepoint per Append: a refused append is rolled
  // back alone; completions run after COMMIT, so success always means durable.
  void RunAppends(std::vector<AppendJob>& group) {
    std::vector<Status> results(group.size());
    std::vector<bool> needs_write(group.size(), false);
    bool any_write = false;
    for (size_t i = 0; i < group.size(); ++i) {
      results[i] = ValidateAppendBatch(group[i].document_id, group[i].ops);
      needs_write[i] = results[i].ok() && !group[i].ops.empty();
      any_write = any_write || needs_write[i];
    }
    if (any_write) {
      const Status failure = Guarded("append", [&] { return CommitAppends(group, needs_write, results); });
      if (!failure.ok()) {
        // The transaction as a whole did not commit: nothing written by this group is durable.
        RollbackQuietly();
        for (size_t i = 0; i < group.size(); ++i) {
          if (needs_write[i] && results[i].ok()) results[i] = failure;
        }
      }
    }
    for (size_t i = 0; i < group.size(); ++i) Invoke(group[i].done, std::move(results[i]));
  }

  // Returns an error only when the whole transaction failed; per-append refusals go to `results`.
  Status CommitAppends(std::vector<AppendJob>& group, const std::vector<bool>& needs_write,
                       std::vector<Status>& results) {
    if (Status opened = EnsureOpen(); !opened.ok()) return opened;
    // IMMEDIATE takes the write lock up front, so a busy database fails here, not half-way.
    if (Status begun = Control("BEGIN IMMEDIATE", "append"); !begun.ok()) return begun;
    uint64_t committed = 0;
    for (size_t i = 0; i < group.size(); ++i) {
      if (!needs_write[i]) continue;
      if (Status saved = Control("SAVEPOINT append_call", "append"); !saved.ok()) return saved;
      Status inserted = InsertOps(group[i]);
      if (inserted.ok()) {
        if (Status released = Control("RELEASE append_call", "append"); !released.ok()) return released;
        ++committed;
        continue;
      }
      // After SQLITE_FULL, an I/O error and the like SQLite may roll the whole transaction back by itself.
      if (!db_->in_transaction()) return inserted;
      if (Status undone = Control("ROLLBACK TO append_call", "append"); !undone.ok()) return undone;
      if (Status released = Control("RELEASE append_call", "append"); !released.ok()) return released;
      results[i] = std::move(inserted);
    }
    if (Status done = Control("COMMIT", "append"); !done.ok()) return done;
    append_transactions_.fetch_add(1);
    appends_committed_.fetch_add(committed);
    return Status::Ok();
  }

  Status InsertOps(const AppendJob& job) {
    sqlite3_stmt* statement = nullptr;
    if (Status status = db_->Prepared(kInsertOpSql, "append", statement); !status.ok()) return status;
    for (const StoredOp& op : job.ops) {
      StatementUse use(statement);
      const std::string timestamp = FormatSqliteTimestamp(op.timestamp);
      int rc = sqlite::BindText(statement, 1, job.document_id);
      if (rc == SQLITE_OK) rc = sqlite3_bind_int64(statement, 2, op.revision);
      if (rc == SQLITE_OK) rc = sqlite::BindText(statement, 3, op.author_id);
      if (rc == SQLITE_OK) rc = sqlite::BindText(statement, 4, timestamp);
      if (rc == SQLITE_OK) rc = sqlite::BindBlob(statement, 5, op.payload);
      if (rc == SQLITE_OK) rc = sqlite::BindText(statement, 6, op.engine_type);
      if (rc == SQLITE_OK) rc = sqlite3_step(statement);
      if (rc == SQLITE_DONE) continue;
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
        return DuplicateRevisionError(job.document_id, op.revision);
      }
      return db_->Error(rc, "append");
    }
    return Status::Ok();
  }

  const SqliteConnectionOptions options_;
  const SqliteStoreSettings settings_;
  std::unique_ptr<Database> db_;  // touched by the worker thread only

  std::mutex mutex_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<WorkerJob> queue_;
  bool busy_ = false;  // a batch taken from the queue is still running (completions included)
  bool stopping_ = false;

  jobs::ProbeWatchdog watchdog_{fmt::format("SQLite worker did not answer within {} ms (stuck on a lock or on I/O)",
                                            settings_.health_timeout.count())};

  std::atomic<uint64_t> append_transactions_{0};
  std::atomic<uint64_t> appends_committed_{0};

  // Last, so that everything above exists before the threads start.
  std::thread thread_;
};

SqliteDocumentStore::SqliteDocumentStore(SqliteConnectionOptions options, SqliteStoreSettings settings)
    : worker_(std::make_unique<Worker>(std::move(options), settings)) {}

SqliteDocumentStore::~SqliteDocumentStore() = default;

void SqliteDocumentStore::EnqueueJob(jobs::Job job) { worker_->Enqueue(jobs::Widen<WorkerJob>(std::move(job))); }

void SqliteDocumentStore::CheckHealth(HealthCompletion done) { worker_->EnqueueProbe(std::move(done)); }

void SqliteDocumentStore::Submit(Task task) { worker_->Enqueue(TaskJob{std::move(task)}); }

void SqliteDocumentStore::Flush(std::chrono::milliseconds timeout) { worker_->Flush(timeout); }

SqliteStoreCounters SqliteDocumentStore::counters() const { return worker_->counters(); }

const SqliteConnectionOptions& SqliteDocumentStore::options() const { return worker_->options(); }

Status OpenSqliteStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                       SqliteStoreSettings settings) {
  namespace fs = std::filesystem;
  SqliteConnectionOptions options;
  if (Status status = ParseSqliteConnectionString(connection_string, options); !status.ok()) return status;
  if (!options.in_memory()) {
    if (options.data_source.empty()) {
      return Status::Error(
          "Invalid SQLite connection string: 'Data Source' is required (use Mode=Memory for an in-memory database).");
    }
    // URIs are checked by SQLite when the database is opened.
    if (!options.is_uri()) {
      const fs::path file(options.data_source);
      const fs::path directory = file.has_parent_path() ? file.parent_path() : fs::path(".");
      std::error_code error;
      if (!fs::is_directory(directory, error)) {
        return Status::Error(
            fmt::format("The directory of the SQLite database '{}' does not exist.", options.data_source));
      }
      if ((options.mode == SqliteOpenMode::kReadWrite || options.mode == SqliteOpenMode::kReadOnly) &&
          !fs::exists(file, error)) {
        return Status::Error(fmt::format("The SQLite database '{}' does not exist (Mode={} does not create it).",
                                         options.data_source,
                                         options.mode == SqliteOpenMode::kReadWrite ? "ReadWrite" : "ReadOnly"));
      }
    }
  }
  out = std::make_unique<SqliteDocumentStore>(std::move(options), settings);
  return Status::Ok();
}

}  // namespace opstream::storage
