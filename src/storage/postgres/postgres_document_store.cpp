#include "storage/postgres/postgres_document_store.hpp"

#include <fmt/format.h>
#include <poll.h>
#include <postgresql/libpq-fe.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <set>
#include <thread>
#include <variant>

#include "storage/append_rules.hpp"
#include "storage/lane_pool.hpp"
#include "storage/postgres/postgres_migrations.hpp"
#include "storage/postgres/postgres_sql_job.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {
namespace {

using Clock = std::chrono::steady_clock;

// Type OIDs (pg_type), fixed since PostgreSQL 7.
constexpr Oid kInt8Oid = 20;
constexpr Oid kTextOid = 25;
constexpr Oid kByteaOid = 17;
constexpr Oid kTimestamptzOid = 1184;
constexpr Oid kTextArrayOid = 1009;
constexpr Oid kInt8ArrayOid = 1016;
constexpr Oid kByteaArrayOid = 1001;
constexpr Oid kTimestamptzArrayOid = 1185;

// Binary timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
constexpr int64_t kPostgresEpochMicros = 946684800LL * 1000000LL;

// Snapshot and later ops in one statement, so both come from the same database state. The
// document without a snapshot gets every op (server.md §2.2 with SV-39).
constexpr const char* kLoadSql =
    "WITH s AS (SELECT \"Revision\", \"Timestamp\", \"State\" FROM opstream.\"DocumentSnapshots\" "
    "WHERE \"DocumentId\" = $1) "
    "SELECT 0, \"Revision\", NULL::text, \"Timestamp\", \"State\", NULL::text FROM s "
    "UNION ALL "
    "SELECT 1, o.\"Revision\", o.\"AuthorId\", o.\"Timestamp\", o.\"Payload\", o.\"EngineType\" "
    "FROM opstream.\"DocumentOps\" o WHERE o.\"DocumentId\" = $1 "
    "AND o.\"Revision\" > COALESCE((SELECT \"Revision\" FROM s), -9223372036854775807) "
    "ORDER BY 1, 2";
// Every op of a group in one statement; the primary key refuses a duplicate (document, revision).
// The group insert runs for every append round trip: prepared once per connection, the server
// does not parse and plan it again each time (that was about half of PostgreSQL's CPU per op).
constexpr const char* kInsertOpsStatement = "opstream_insert_ops";
constexpr const char* kInsertOpsSql =
    "INSERT INTO opstream.\"DocumentOps\" (\"DocumentId\", \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", "
    "\"EngineType\") SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::bytea[], "
    "$6::text[])";
constexpr const char* kExistingRevisionSql =
    "SELECT \"Revision\" FROM opstream.\"DocumentOps\" WHERE \"DocumentId\" = $1 AND \"Revision\" = ANY($2) "
    "ORDER BY \"Revision\" LIMIT 1";
constexpr const char* kUpsertSnapshotSql =
    "INSERT INTO opstream.\"DocumentSnapshots\" (\"DocumentId\", \"Revision\", \"Timestamp\", \"State\") "
    "VALUES ($1, $2, $3, $4) ON CONFLICT (\"DocumentId\") DO UPDATE SET \"Revision\" = excluded.\"Revision\", "
    "\"Timestamp\" = excluded.\"Timestamp\", \"State\" = excluded.\"State\"";
constexpr const char* kCompactSql =
    "DELETE FROM opstream.\"DocumentOps\" WHERE \"DocumentId\" = $1 AND \"Revision\" <= $2";

constexpr std::string_view kUniqueViolation = "23505";

constexpr std::string_view kProvider = "postgres";

// One lane per core, 2 to 8: every lane adds a thread here and a backend in PostgreSQL, and fewer
// lanes carry more appends per transaction. On 2 cores, 2 lanes committed 21-22k ops/s across 32
// documents where 4 lanes gave 18k and 6 lanes 15-16k (docs/storage/postgres.md).
size_t DefaultLanes() { return std::clamp<size_t>(std::thread::hardware_concurrency(), 2, 8); }
using jobs::AppendJob;
using jobs::CompactJob;
using jobs::HealthProbe;
using jobs::InitializeJob;
using jobs::Job;
using jobs::LoadJob;
using jobs::ProbeJob;
using jobs::SnapshotJob;
using postgres::SqlJob;
// The shared jobs plus the generic statements of postgres_records.cpp.
using LaneJob = jobs::JobWith<SqlJob>;

template <typename Callback, typename... Args>
void Invoke(Callback& callback, Args&&... args) noexcept {
  jobs::InvokeCompletion(kProvider, callback, std::forward<Args>(args)...);
}

void PutInt32(std::string& out, int32_t value) {
  const auto v = static_cast<uint32_t>(value);
  const char bytes[4] = {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  out.append(bytes, 4);
}

void PutInt64(std::string& out, int64_t value) {
  const auto v = static_cast<uint64_t>(value);
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = char(v >> (56 - 8 * i));
  out.append(bytes, 8);
}

int64_t GetInt64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int64_t>(v);
}

int32_t GetInt32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return static_cast<int32_t>(v);
}

// timestamptz keeps microseconds: the 100 ns tick is truncated, as Npgsql does.
int64_t ToPostgresMicros(Timestamp t) {
  const int64_t ns = t.time_since_epoch().count();
  const int64_t us = ns / 1000 - (ns % 1000 < 0 ? 1 : 0);
  return us - kPostgresEpochMicros;
}

Timestamp FromPostgresMicros(int64_t micros) {
  return Timestamp(std::chrono::microseconds(micros + kPostgresEpochMicros));
}

// Parameters for PQsendQueryParams, all in binary format.
class Params {
 public:
  void Text(std::string_view value) { Add(kTextOid, value); }
  void Bytes(std::string_view value) { Add(kByteaOid, value); }
  void Int8(int64_t value) {
    std::string& s = storage_.emplace_back();
    PutInt64(s, value);
    Add(kInt8Oid, s);
  }
  void Time(Timestamp value) {
    std::string& s = storage_.emplace_back();
    PutInt64(s, ToPostgresMicros(value));
    Add(kTimestamptzOid, s);
  }
  void Owned(Oid type, std::string encoded) { Add(type, storage_.emplace_back(std::move(encoded))); }

  int size() const { return static_cast<int>(values_.size()); }
  const Oid* types() const { return types_.data(); }
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

 private:
  void Add(Oid type, std::string_view value) {
    types_.push_back(type);
    // A null pointer would be SQL NULL; an empty value still needs an address.
    values_.push_back(value.empty() ? "" : value.data());
    lengths_.push_back(static_cast<int>(value.size()));
    formats_.push_back(1);
  }

  std::deque<std::string> storage_;  // a deque keeps the addresses handed to libpq stable
  std::vector<Oid> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
};

// A one-dimensional array in PostgreSQL's binary array format (array_recv).
class ArrayParam {
 public:
  explicit ArrayParam(Oid element_type) : element_type_(element_type) {}
  void Add(std::string_view bytes) {
    PutInt32(body_, static_cast<int32_t>(bytes.size()));
    body_.append(bytes);
    ++count_;
  }
  void AddInt64(int64_t value) {
    PutInt32(body_, 8);
    PutInt64(body_, value);
    ++count_;
  }
  std::string Finish() const {
    std::string out;
    out.reserve(20 + body_.size());
    PutInt32(out, 1);  // dimensions
    PutInt32(out, 0);  // no nulls
    PutInt32(out, static_cast<int32_t>(element_type_));
    PutInt32(out, count_);
    PutInt32(out, 1);  // lower bound
    out += body_;
    return out;
  }

 private:
  Oid element_type_;
  std::string body_;
  int32_t count_ = 0;
};

std::string OneLine(const char* text) {
  std::string out = text ? text : "";
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string_view SqlState(const PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state ? std::string_view(state) : std::string_view();
}

// The error of a result that is not the expected success, or Ok.
Status ResultStatus(const PGresult* result, std::string_view operation) {
  const ExecStatusType status = PQresultStatus(result);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) return Status::Ok();
  if (status == PGRES_PIPELINE_ABORTED) {
    return Status::Error(
        fmt::format("PostgreSQL {} failed: not run after an earlier error in its transaction.", operation));
  }
  const char* primary = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  const std::string message = OneLine(primary ? primary : PQresultErrorMessage(result));
  const std::string_view state = SqlState(result);
  if (state.empty()) return Status::Error(fmt::format("PostgreSQL {} failed: {}", operation, message));
  return Status::Error(fmt::format("PostgreSQL {} failed: {} (SQLSTATE {})", operation, message, state));
}

// One expected answer of a pipeline: a query's result, or a sync point (which is when the
// implicit transaction of the queries before it has committed).
struct Expect {
  bool sync = false;
  // Called once: with the result, or with null and the failure that ended the round trip.
  std::function<void(const PGresult*, const Status&)> handler;
};

}  // namespace

// One connection and the thread that owns it. Lanes take batches from the shared queue; the
// session keeps at most one append in flight per document, so appends of one document never race
// across lanes, while appends of different documents commit in parallel and share WAL flushes.
class Lane {
 public:
  Lane(const PostgresConnectionOptions& options, const PostgresStoreSettings& settings, jobs::LaneQueue<LaneJob>& queue)
      : options_(options),
        backoff_(kProvider, "PostgreSQL", options.Describe(), settings, queue.counters().connections),
        queue_(queue) {
    thread_ = std::thread([this] { Run(); });
  }
  // The owner stops the queue first; the lane finishes what is queued, then exits.
  ~Lane() { thread_.join(); }
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  void Run() {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "opstream-pg");
#endif
    jobs::ServeLane(kProvider, options_.Describe(), queue_, *this);
    Disconnect(false);
  }

  // ----- connection -----

  // `force` ignores the backoff (Initialize has its own retry budget in the host).
  Status EnsureConnected(bool force) {
    if (conn_ != nullptr && PQstatus(conn_) == CONNECTION_OK) return Status::Ok();
    Disconnect(true);
    if (backoff_.Waiting(force)) return backoff_.Unavailable();
    const auto parameters = options_.LibpqParameters();
    std::vector<const char*> keywords, values;
    for (const auto& [keyword, value] : parameters) {
      keywords.push_back(keyword.c_str());
      values.push_back(value.c_str());
    }
    keywords.push_back(nullptr);
    values.push_back(nullptr);
    PGconn* conn = PQconnectdbParams(keywords.data(), values.data(), 0);
    std::string failure;
    if (conn == nullptr) {
      failure = "out of memory";
    } else if (PQstatus(conn) != CONNECTION_OK) {
      failure = OneLine(PQerrorMessage(conn));
    } else if (PQsetnonblocking(conn, 1) != 0 || PQenterPipelineMode(conn) != 1) {
      failure = "could not enter pipeline mode: " + OneLine(PQerrorMessage(conn));
    }
    if (!failure.empty()) {
      if (conn != nullptr) PQfinish(conn);
      backoff_.Failed(std::move(failure));
      return backoff_.Unavailable();
    }
    // Notices ("relation ... already exists, skipping") would otherwise go to stderr.
    PQsetNoticeProcessor(
        conn,
        [](void*, const char* message) { spdlog::debug("storage.postgres: server notice: {}", OneLine(message)); },
        nullptr);
    conn_ = conn;
    backoff_.Connected();
    queue_.counters().connections.fetch_add(1);
    spdlog::info("storage.postgres: connected to {} (server {})", options_.Describe(), PQserverVersion(conn_));
    return Status::Ok();
  }

  // `lost`: the connection broke under way; the next call reconnects at once.
  void Disconnect(bool lost) {
    if (conn_ == nullptr) return;
    if (lost) spdlog::warn("storage.postgres: connection to {} lost; reconnecting", options_.Describe());
    PQfinish(conn_);
    conn_ = nullptr;
    insert_prepared_ = false;
    backoff_.Lost();
  }

  // ----- pipeline -----

  bool SendQuery(const char* sql, const Params& params) {
    return PQsendQueryParams(conn_, sql, params.size(), params.types(), params.values(), params.lengths(),
                             params.formats(), 1) == 1;
  }

  Status ConnectionFailure(std::string_view what) const {
    return Status::Error(fmt::format("PostgreSQL connection to {} failed {}: {}", options_.Describe(), what,
                                     conn_ ? OneLine(PQerrorMessage(conn_)) : std::string("not connected")));
  }

  // Flushes what is queued and waits until a result can be read without blocking.
  Status WaitForResult(Clock::time_point deadline) {
    for (;;) {
      const int flushed = PQflush(conn_);
      if (flushed < 0) return ConnectionFailure("while sending");
      if (!PQisBusy(conn_)) return Status::Ok();
      pollfd fd{PQsocket(conn_), static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
      int timeout_ms = -1;
      if (deadline != Clock::time_point::max()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
        if (left <= 0) {
          return Status::Error(
              fmt::format("PostgreSQL did not answer within {} s (Command Timeout); the connection "
                          "is reset and the outcome of the request is unknown.",
                          options_.command_timeout.count()));
        }
        timeout_ms = static_cast<int>(std::min<int64_t>(left, std::numeric_limits<int>::max()));
      }
      const int ready = poll(&fd, 1, timeout_ms);
      if (ready < 0 && errno != EINTR) return Status::Error(fmt::format("poll failed: {}", std::strerror(errno)));
      if (ready > 0 && (fd.revents & (POLLIN | POLLERR | POLLHUP)) != 0 && PQconsumeInput(conn_) != 1) {
        return ConnectionFailure("while receiving");
      }
    }
  }

  // Reads the answers to everything sent, in order, calling each handler once. A broken
  // connection or a timeout answers the rest with that failure and drops the connection.
  Status Collect(std::vector<Expect>& expects) {
    const auto deadline =
        options_.command_timeout.count() > 0 ? Clock::now() + options_.command_timeout : Clock::time_point::max();
    size_t next = 0;
    bool answered = false;  // the query at `next` has had its result; its terminating null is due
    Status failure;
    while (next < expects.size()) {
      if (Status ready = WaitForResult(deadline); !ready.ok()) {
        failure = std::move(ready);
        break;
      }
      PGresult* result = PQgetResult(conn_);
      Expect& expect = expects[next];
      if (result == nullptr) {
        if (!expect.sync && answered) {
          ++next;
          answered = false;
          continue;
        }
        failure = ConnectionFailure("(the server's answers ended early)");
        break;
      }
      const ExecStatusType status = PQresultStatus(result);
      if (expect.sync) {
        if (status != PGRES_PIPELINE_SYNC) {
          failure = ResultStatus(result, "round trip");
          if (failure.ok()) failure = ConnectionFailure("(unexpected answer at a sync point)");
          PQclear(result);
          break;
        }
        expect.handler(result, Status::Ok());
        ++next;
      } else if (status == PGRES_PIPELINE_SYNC || answered) {
        PQclear(result);
        failure = ConnectionFailure("(answers out of order)");
        break;
      } else {
        expect.handler(result, Status::Ok());
        answered = true;
      }
      PQclear(result);
    }
    if (failure.ok()) return failure;
    for (size_t i = next; i < expects.size(); ++i) {
      if (i == next && answered) continue;
      expects[i].handler(nullptr, failure);
    }
    Disconnect(true);
    return failure;
  }

  // One statement in its own implicit transaction; `rows` receives column 0 of every row.
  Status Exec(const char* sql, const Params& params, std::string_view operation,
              std::vector<std::string>* rows = nullptr) {
    if (!SendQuery(sql, params) || PQpipelineSync(conn_) != 1) {
      Status failure = ConnectionFailure("while sending");
      Disconnect(true);
      return failure;
    }
    Status status = Status::Error("not answered");
    std::vector<Expect> expects;
    expects.push_back({false, [&](const PGresult* result, const Status& failure) {
                         if (!result) {
                           status = failure;
                           return;
                         }
                         status = ResultStatus(result, operation);
                         if (status.ok() && rows) {
                           for (int row = 0; row < PQntuples(result); ++row) {
                             rows->emplace_back(PQgetvalue(result, row, 0), PQgetlength(result, row, 0));
                           }
                         }
                       }});
    expects.push_back({true, [](const PGresult*, const Status&) {}});
    if (Status collected = Collect(expects); !collected.ok() && status.ok()) return collected;
    return status;
  }

  // ----- Initialize -----

 private:
  template <typename J, typename L>
  friend void jobs::ServeLane(std::string_view, const std::string&, jobs::LaneQueue<J>&, L&);

  // Each step in its own transaction under the advisory lock, re-reading the history inside it,
  // so concurrent nodes apply every step exactly once (server.md §3.4.5).
  Status Migrate() {
    const auto& migrations = postgres::Migrations();
    for (const postgres::Migration& migration : migrations) {
      const std::string operation = fmt::format("migration {}", migration.id);
      Status status = Exec("BEGIN", {}, operation);
      if (!status.ok()) return status;
      status = MigrateStep(migration, operation);
      if (status.ok()) status = Exec("COMMIT", {}, operation);
      if (!status.ok()) {
        if (conn_ != nullptr) (void)Exec("ROLLBACK", {}, operation);
        return status;
      }
    }
    return Status::Ok();
  }

  Status MigrateStep(const postgres::Migration& migration, const std::string& operation) {
    Params lock;
    lock.Int8(postgres::kMigrationLockKey);
    if (Status s = Exec("SELECT pg_advisory_xact_lock($1)", lock, operation); !s.ok()) return s;
    if (Status s = Exec(postgres::kCreateHistoryTableSql, {}, operation); !s.ok()) return s;
    std::vector<std::string> applied;
    if (Status s = Exec("SELECT \"MigrationId\" FROM \"__EFMigrationsHistory\" ORDER BY \"MigrationId\"", {}, operation,
                        &applied);
        !s.ok()) {
      return s;
    }
    if (Status s = CheckAppliedMigrations(applied, postgres::Migrations(), "PostgreSQL", options_.Describe());
        !s.ok()) {
      return s;
    }
    if (std::find(applied.begin(), applied.end(), migration.id) != applied.end()) return Status::Ok();
    for (std::string_view statement : migration.statements) {
      if (Status s = Exec(std::string(statement).c_str(), {}, operation); !s.ok()) return s;
    }
    Params history;
    history.Text(migration.id);
    history.Text(postgres::kEfProductVersion);
    if (Status s = Exec("INSERT INTO \"__EFMigrationsHistory\" (\"MigrationId\", \"ProductVersion\") VALUES ($1, $2)",
                        history, operation);
        !s.ok()) {
      return s;
    }
    spdlog::info("storage.postgres: applied migration {}", migration.id);
    return Status::Ok();
  }

  // ----- everything else: one round trip per batch -----

  struct Slot {
    Status status = Status::Error("PostgreSQL request was not answered.");
    LoadedDocument loaded;
    std::string sqlstate;                      // SqlJob: of the first failure
    std::vector<postgres::SqlResult> results;  // SqlJob: one per statement
    bool retried = false;                      // handed to a second attempt, which completes it
  };

 public:
  // `may_retry`: a connection that had been idle may have died unnoticed (the server restarted, an
  // idle timeout); reads, snapshot upserts, compactions and probes are idempotent, so those that
  // failed with it are tried once more on a fresh connection. Appends are not: their outcome is
  // unknown once sent.
  void RunBatch(std::vector<LaneJob>& batch, bool may_retry = true) {
    const bool reused = conn_ != nullptr;
    std::vector<Slot> slots(batch.size());
    if (Status connected = EnsureConnected(false); !connected.ok()) {
      for (Slot& slot : slots) slot.status = connected;
      Complete(batch, slots);
      return;
    }
    std::vector<size_t> group;  // appends that write, in queue order
    for (size_t i = 0; i < batch.size(); ++i) {
      if (auto* append = std::get_if<AppendJob>(&batch[i])) {
        slots[i].status = ValidateAppendBatch(append->document_id, append->ops);
        if (slots[i].status.ok() && !append->ops.empty()) group.push_back(i);
      }
    }

    std::vector<Expect> expects;
    bool prepared = false;
    const bool used_prepared = insert_prepared_ && !group.empty();
    bool statement_lost = false;  // SQLSTATE 26000: the server does not know the prepared insert
    Status group_status = Status::Error("not answered");
    bool group_committed = false;
    bool sent = true;
    bool group_sent = group.empty();
    for (size_t i = 0; i < batch.size() && sent; ++i) {
      Slot& slot = slots[i];
      if (std::holds_alternative<AppendJob>(batch[i])) {
        if (group_sent) continue;
        group_sent = true;
        // The group goes where its first append was queued.
        if (!insert_prepared_) {
          // In a segment of its own, for the next round trips: if it fails (the schema is not
          // there yet) only this segment is aborted, and the insert below goes as plain text.
          sent =
              PQsendPrepare(conn_, kInsertOpsStatement, kInsertOpsSql, 0, nullptr) == 1 && PQpipelineSync(conn_) == 1;
          expects.push_back({false, [&prepared](const PGresult* r, const Status&) {
                               prepared = r != nullptr && PQresultStatus(r) == PGRES_COMMAND_OK;
                             }});
          expects.push_back({true, [](const PGresult*, const Status&) {}});
          sent = sent && SendQuery(kInsertOpsSql, InsertParams(batch, group)) && PQpipelineSync(conn_) == 1;
        } else {
          const Params params = InsertParams(batch, group);
          sent = PQsendQueryPrepared(conn_, kInsertOpsStatement, params.size(), params.values(), params.lengths(),
                                     params.formats(), 1) == 1 &&
                 PQpipelineSync(conn_) == 1;
        }
        expects.push_back({false, [&group_status, &statement_lost](const PGresult* r, const Status& failure) {
                             group_status = r ? ResultStatus(r, "append") : failure;
                             const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
                             statement_lost = state != nullptr && std::string_view(state) == "26000";
                           }});
        expects.push_back({true, [&group_committed](const PGresult* r, const Status&) { group_committed = r; }});
      } else if (auto* load = std::get_if<LoadJob>(&batch[i])) {
        Params p;
        p.Text(load->document_id);
        sent = SendQuery(kLoadSql, p) && PQpipelineSync(conn_) == 1;
        expects.push_back({false, [&slot, load](const PGresult* r, const Status& failure) {
                             slot.status = r ? ReadLoad(r, load->document_id, slot.loaded) : failure;
                           }});
        expects.push_back({true, [](const PGresult*, const Status&) {}});
      } else if (auto* snapshot = std::get_if<SnapshotJob>(&batch[i])) {
        Params p;
        p.Text(snapshot->document_id);
        p.Int8(snapshot->snapshot.revision);
        p.Time(snapshot->snapshot.timestamp);
        p.Bytes(snapshot->snapshot.state);
        sent = SendQuery(kUpsertSnapshotSql, p) && PQpipelineSync(conn_) == 1;
        AddCommitted(expects, slot, "snapshot write");
      } else if (auto* compact = std::get_if<CompactJob>(&batch[i])) {
        Params p;
        p.Text(compact->document_id);
        p.Int8(compact->up_to);
        sent = SendQuery(kCompactSql, p) && PQpipelineSync(conn_) == 1;
        AddCommitted(expects, slot, "compaction");
      } else if (std::holds_alternative<ProbeJob>(batch[i])) {
        sent = SendQuery("SELECT 1", {}) && PQpipelineSync(conn_) == 1;
        AddCommitted(expects, slot, "health probe");
      } else if (auto* sql = std::get_if<SqlJob>(&batch[i])) {
        sent = SendSqlJob(*sql, slot, expects);
      }
    }
    if (!sent) {
      const Status failure = ConnectionFailure("while sending");
      Disconnect(true);
      for (Slot& slot : slots) {
        if (slot.status.ok() || slot.status.message() == "PostgreSQL request was not answered.") slot.status = failure;
      }
      for (size_t i : group) slots[i].status = failure;
      Complete(batch, slots);
      return;
    }
    const Status collected = Collect(expects);
    if (prepared && conn_ != nullptr) insert_prepared_ = true;

    if (!group.empty()) {
      if (group_status.ok() && group_committed) {
        for (size_t i : group) slots[i].status = Status::Ok();
        queue_.counters().append_transactions.fetch_add(1);
        queue_.counters().appends_committed.fetch_add(group.size());
        if (used_prepared) queue_.counters().prepared_append_transactions.fetch_add(1);
      } else if (collected.ok() && !group_status.ok()) {
        // A pooler between us and the server (PgBouncer in transaction mode) may have lost the
        // statement: prepare it again next time.
        if (statement_lost) insert_prepared_ = false;
        // The server refused the group (a duplicate revision, bad UTF-8 ...): one transaction
        // per append finds the offending ones and commits the rest.
        spdlog::debug("storage.postgres: a group of {} appends was refused ({}); retrying them one by one",
                      group.size(), group_status.message());
        RunAppendsOneByOne(batch, group, slots);
      } else {
        const Status failure = !collected.ok() ? collected : group_status;
        for (size_t i : group) {
          slots[i].status = Status::Error(fmt::format("{} The ops were not acknowledged.", failure.message()));
        }
      }
    }
    if (may_retry && reused && conn_ == nullptr) {
      std::vector<LaneJob> again;
      for (size_t i = 0; i < batch.size(); ++i) {
        if (slots[i].status.ok() || std::holds_alternative<AppendJob>(batch[i])) continue;
        if (auto* sql = std::get_if<SqlJob>(&batch[i]); sql && !sql->idempotent) continue;
        again.push_back(std::move(batch[i]));
        slots[i].retried = true;
      }
      if (!again.empty()) {
        Complete(batch, slots);
        RunBatch(again, false);
        return;
      }
    }
    Complete(batch, slots);
  }

  // Every statement of the job, then one sync point: one implicit transaction, so a failing
  // statement rolls back the ones before it and the later ones are not run.
 private:
  bool SendSqlJob(SqlJob& job, Slot& slot, std::vector<Expect>& expects) {
    slot.status = Status::Ok();
    slot.results.assign(job.statements.size(), {});
    for (size_t k = 0; k < job.statements.size(); ++k) {
      const postgres::SqlStatement& statement = job.statements[k];
      std::vector<Oid> types;
      std::vector<const char*> values;
      std::vector<int> lengths, formats;
      for (const postgres::SqlValue& value : statement.params) {
        types.push_back(value.type);
        // A null pointer is SQL NULL; an empty value still needs an address.
        values.push_back(value.bytes ? (value.bytes->empty() ? "" : value.bytes->data()) : nullptr);
        lengths.push_back(value.bytes ? static_cast<int>(value.bytes->size()) : 0);
        formats.push_back(1);
      }
      if (PQsendQueryParams(conn_, statement.sql, static_cast<int>(types.size()), types.data(), values.data(),
                            lengths.data(), formats.data(), 1) != 1) {
        return false;
      }
      expects.push_back({false, [&slot, &job, k](const PGresult* r, const Status& failure) {
                           if (!slot.status.ok()) return;  // the first failure is the one to report
                           if (!r) {
                             slot.status = failure;
                             return;
                           }
                           if (Status status = ResultStatus(r, job.operation); !status.ok()) {
                             slot.status = std::move(status);
                             slot.sqlstate = std::string(SqlState(r));
                             return;
                           }
                           postgres::SqlResult& result = slot.results[k];
                           const int columns = PQnfields(r);
                           for (int row = 0; row < PQntuples(r); ++row) {
                             auto& out = result.rows.emplace_back();
                             out.reserve(static_cast<size_t>(columns));
                             for (int column = 0; column < columns; ++column) {
                               if (PQgetisnull(r, row, column)) {
                                 out.emplace_back(std::nullopt);
                               } else {
                                 out.emplace_back(std::string(PQgetvalue(r, row, column),
                                                              static_cast<size_t>(PQgetlength(r, row, column))));
                               }
                             }
                           }
                           const char* affected = PQcmdTuples(const_cast<PGresult*>(r));
                           result.affected = affected && *affected ? std::strtoll(affected, nullptr, 10) : 0;
                         }});
    }
    if (PQpipelineSync(conn_) != 1) return false;
    // Success only once the implicit transaction has committed (the sync point).
    expects.push_back({true, [&slot](const PGresult* r, const Status& failure) {
                         if (!r && slot.status.ok()) slot.status = failure;
                       }});
    return true;
  }

  static void AddCommitted(std::vector<Expect>& expects, Slot& slot, std::string_view operation) {
    expects.push_back({false, [&slot, operation](const PGresult* r, const Status& failure) {
                         slot.status = r ? ResultStatus(r, operation) : failure;
                       }});
    // Success only once the implicit transaction has committed (the sync point).
    expects.push_back({true, [&slot](const PGresult* r, const Status& failure) {
                         if (!r && slot.status.ok()) slot.status = failure;
                       }});
  }

  static Params InsertParams(const std::vector<LaneJob>& batch, const std::vector<size_t>& appends) {
    ArrayParam ids(kTextOid), revisions(kInt8Oid), authors(kTextOid), times(kTimestamptzOid), payloads(kByteaOid),
        engines(kTextOid);
    for (size_t i : appends) {
      const auto& append = std::get<AppendJob>(batch[i]);
      for (const StoredOp& op : append.ops) {
        ids.Add(append.document_id);
        revisions.AddInt64(op.revision);
        authors.Add(op.author_id);
        times.AddInt64(ToPostgresMicros(op.timestamp));
        payloads.Add(op.payload);
        engines.Add(op.engine_type);
      }
    }
    Params p;
    p.Owned(kTextArrayOid, ids.Finish());
    p.Owned(kInt8ArrayOid, revisions.Finish());
    p.Owned(kTextArrayOid, authors.Finish());
    p.Owned(kTimestamptzArrayOid, times.Finish());
    p.Owned(kByteaArrayOid, payloads.Finish());
    p.Owned(kTextArrayOid, engines.Finish());
    return p;
  }

  void RunAppendsOneByOne(const std::vector<LaneJob>& batch, const std::vector<size_t>& group,
                          std::vector<Slot>& slots) {
    std::vector<Expect> expects;
    std::vector<Status> inserted(group.size(), Status::Error("not answered"));
    std::vector<bool> duplicate(group.size(), false);
    std::vector<bool> committed(group.size(), false);
    for (size_t g = 0; g < group.size(); ++g) {
      if (!SendQuery(kInsertOpsSql, InsertParams(batch, {group[g]})) || PQpipelineSync(conn_) != 1) {
        const Status failure = ConnectionFailure("while sending");
        Disconnect(true);
        for (size_t i : group) slots[i].status = failure;
        return;
      }
      expects.push_back({false, [&, g](const PGresult* r, const Status& failure) {
                           inserted[g] = r ? ResultStatus(r, "append") : failure;
                           duplicate[g] = r && SqlState(r) == kUniqueViolation;
                         }});
      expects.push_back({true, [&, g](const PGresult* r, const Status&) { committed[g] = r != nullptr; }});
    }
    const Status collected = Collect(expects);
    for (size_t g = 0; g < group.size(); ++g) {
      Slot& slot = slots[group[g]];
      const auto& append = std::get<AppendJob>(batch[group[g]]);
      if (inserted[g].ok() && committed[g]) {
        slot.status = Status::Ok();
        queue_.counters().append_transactions.fetch_add(1);
        queue_.counters().appends_committed.fetch_add(1);
      } else if (duplicate[g]) {
        slot.status = DuplicateRevisionError(append.document_id, ExistingRevision(append));
      } else {
        const Status& failure = inserted[g].ok() ? collected : inserted[g];
        slot.status = Status::Error(fmt::format("{} The ops were not acknowledged.", failure.message()));
      }
    }
  }

  // The first revision of `append` that is already stored (for the refusal message).
  int64_t ExistingRevision(const AppendJob& append) {
    if (append.ops.size() == 1 || conn_ == nullptr) return append.ops.front().revision;
    ArrayParam revisions(kInt8Oid);
    for (const StoredOp& op : append.ops) revisions.AddInt64(op.revision);
    Params p;
    p.Text(append.document_id);
    p.Owned(kInt8ArrayOid, revisions.Finish());
    std::vector<std::string> rows;
    if (Exec(kExistingRevisionSql, p, "append", &rows).ok() && !rows.empty() && rows[0].size() == 8) {
      return GetInt64(rows[0].data());
    }
    return append.ops.front().revision;
  }

  static Status ReadLoad(const PGresult* result, const std::string& document_id, LoadedDocument& loaded) {
    if (Status status = ResultStatus(result, "load"); !status.ok()) return status;
    if (PQnfields(result) != 6) return Status::Error("PostgreSQL load failed: unexpected result shape.");
    auto bytes = [result](int row, int column) {
      return std::string(PQgetvalue(result, row, column), static_cast<size_t>(PQgetlength(result, row, column)));
    };
    const int rows = PQntuples(result);
    loaded.ops.reserve(static_cast<size_t>(rows));
    for (int row = 0; row < rows; ++row) {
      if (PQgetlength(result, row, 0) != 4 || PQgetlength(result, row, 1) != 8 || PQgetlength(result, row, 3) != 8) {
        return Status::Error(
            fmt::format("PostgreSQL load failed: unreadable row {} of document '{}'.", row, document_id));
      }
      const int32_t kind = GetInt32(PQgetvalue(result, row, 0));
      const int64_t revision = GetInt64(PQgetvalue(result, row, 1));
      const Timestamp timestamp = FromPostgresMicros(GetInt64(PQgetvalue(result, row, 3)));
      if (kind == 0) {
        loaded.snapshot = Snapshot{revision, timestamp, bytes(row, 4)};
      } else {
        loaded.ops.push_back(StoredOp{revision, bytes(row, 2), timestamp, bytes(row, 4), bytes(row, 5)});
      }
    }
    return Status::Ok();
  }

  void Complete(std::vector<LaneJob>& batch, std::vector<Slot>& slots) {
    for (size_t i = 0; i < batch.size(); ++i) {
      Slot& slot = slots[i];
      if (slot.retried) continue;
      std::visit(
          [&slot](auto& job) {
            using T = std::decay_t<decltype(job)>;
            if constexpr (std::is_same_v<T, LoadJob>) {
              if (!slot.status.ok()) slot.loaded = {};
              Invoke(job.done, std::move(slot.status), std::move(slot.loaded));
            } else if constexpr (std::is_same_v<T, ProbeJob>) {
              if (slot.status.ok()) {
                job.probe->Answer({HealthStatus::kHealthy, "PostgreSQL reachable"});
              } else {
                job.probe->Answer({HealthStatus::kUnhealthy, slot.status.message()});
              }
            } else if constexpr (std::is_same_v<T, SqlJob>) {
              if (!slot.status.ok()) slot.results.clear();
              Invoke(job.done, std::move(slot.status), std::move(slot.sqlstate), std::move(slot.results));
            } else if constexpr (std::is_same_v<T, InitializeJob>) {
              Invoke(job.done, std::move(slot.status));  // never batched; kept for completeness
            } else {
              Invoke(job.done, std::move(slot.status));
            }
          },
          batch[i]);
    }
  }

  const PostgresConnectionOptions options_;
  // This lane's thread only.
  PGconn* conn_ = nullptr;
  bool insert_prepared_ = false;  // kInsertOpsStatement exists on conn_
  jobs::ReconnectBackoff backoff_;

  jobs::LaneQueue<LaneJob>& queue_;  // shared with the other lanes

  // Last, so that everything above exists before the thread starts.
  std::thread thread_;
};

// The lanes, and the options and settings they refer to (which outlive them).
class PostgresDocumentStore::Worker {
 public:
  Worker(PostgresConnectionOptions options, PostgresStoreSettings settings)
      : options_(std::move(options)),
        settings_(settings),
        // Calls are pipelined with the rest of a batch, not run alone.
        lanes_(jobs::PoolOptions(kProvider, "PostgreSQL", settings_, DefaultLanes(), options_.max_pool_size,
                                 /*calls_run_alone=*/false),
               [this](jobs::LaneQueue<LaneJob>& queue) { return std::make_unique<Lane>(options_, settings_, queue); }) {
  }

  jobs::LanePool<Lane, LaneJob>& lanes() { return lanes_; }

 private:
  const PostgresConnectionOptions options_;
  const PostgresStoreSettings settings_;
  jobs::LanePool<Lane, LaneJob> lanes_;  // last: the lanes start once the options exist
};

PostgresDocumentStore::PostgresDocumentStore(PostgresConnectionOptions options, PostgresStoreSettings settings)
    : worker_(std::make_unique<Worker>(std::move(options), settings)) {}

PostgresDocumentStore::~PostgresDocumentStore() = default;

void PostgresDocumentStore::EnqueueJob(jobs::Job job) {
  worker_->lanes().Enqueue(jobs::Widen<LaneJob>(std::move(job)));
}

void PostgresDocumentStore::CheckHealth(HealthCompletion done) { worker_->lanes().EnqueueProbe(std::move(done)); }

void PostgresDocumentStore::Submit(postgres::SqlJob job) { worker_->lanes().Enqueue(std::move(job)); }

void PostgresDocumentStore::Flush(std::chrono::milliseconds timeout) { worker_->lanes().Flush(timeout); }

PostgresStoreCounters PostgresDocumentStore::counters() const {
  return worker_->lanes().counters<PostgresStoreCounters>();
}

Status OpenPostgresStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                         PostgresStoreSettings settings) {
  PostgresConnectionOptions options;
  if (Status status = ParsePostgresConnectionString(connection_string, options); !status.ok()) return status;
  out = std::make_unique<PostgresDocumentStore>(std::move(options), settings);
  return Status::Ok();
}

}  // namespace opstream::storage
