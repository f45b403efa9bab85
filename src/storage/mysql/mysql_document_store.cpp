#include "storage/mysql/mysql_document_store.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>
#include <mariadb/mysqld_error.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "storage/append_rules.hpp"
#include "storage/lane_pool.hpp"
#include "storage/relational_rules.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::string_view kProvider = "mysql";
constexpr std::string_view kEfProductVersion = "9.0.0";
constexpr const char* kMigrationLock = "opstream_migrations";
constexpr const char* kNotAcknowledged = "The ops were not acknowledged.";

using jobs::AppendJob;
using jobs::CompactJob;
using jobs::InitializeJob;
using jobs::Job;
using jobs::LoadJob;
using jobs::ProbeJob;
using jobs::SnapshotJob;

class Lane;
// A management, history, comment or ref call: runs alone on a lane, and calls its own completion.
using CallJob = jobs::LaneCall<Lane>;
using LaneJob = jobs::JobWith<CallJob>;

template <typename Callback, typename... Args>
void Invoke(Callback& callback, Args&&... args) noexcept {
  jobs::InvokeCompletion(kProvider, callback, std::forward<Args>(args)...);
}

size_t CountCodePoints(std::string_view text) {
  size_t n = 0;
  for (char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// SV-10: refused up front with a clear message instead of a truncation error from the server.
Status CheckId(std::string_view id) {
  if (CountCodePoints(id) <= kMySqlMaxIdCharacters) return Status::Ok();
  return Status::Error(
      fmt::format("Document id '{}...' is {} characters long; the MySQL store keeps ids of at most {} characters.",
                  id.substr(0, 32), CountCodePoints(id), kMySqlMaxIdCharacters));
}

// datetime(6) holds UTC wall-clock microseconds (§3.4.3); the 100 ns tick is truncated.
std::string FormatDateTime(Timestamp t) {
  const auto us = std::chrono::floor<std::chrono::microseconds>(t);
  const auto seconds = std::chrono::floor<std::chrono::seconds>(us);
  return fmt::format("'{:%Y-%m-%d %H:%M:%S}.{:06}'", seconds, (us - seconds).count());
}

bool ParseDigits(std::string_view text, size_t at, size_t count, int& out) {
  if (at + count > text.size()) return false;
  out = 0;
  for (size_t i = at; i < at + count; ++i) {
    if (text[i] < '0' || text[i] > '9') return false;
    out = out * 10 + (text[i] - '0');
  }
  return true;
}

// `YYYY-MM-DD HH:MM:SS[.ffffff]` as the text protocol returns it.
bool ParseDateTime(std::string_view text, Timestamp& out) {
  int y, mo, d, h, mi, s;
  if (text.size() < 19 || !ParseDigits(text, 0, 4, y) || !ParseDigits(text, 5, 2, mo) || !ParseDigits(text, 8, 2, d) ||
      !ParseDigits(text, 11, 2, h) || !ParseDigits(text, 14, 2, mi) || !ParseDigits(text, 17, 2, s)) {
    return false;
  }
  int64_t micros = 0;
  if (text.size() > 20 && text[19] == '.') {
    const std::string_view fraction = text.substr(20);
    if (fraction.size() > 6) return false;
    int digits = 0;
    if (!ParseDigits(fraction, 0, fraction.size(), digits)) return false;
    micros = digits;
    for (size_t i = fraction.size(); i < 6; ++i) micros *= 10;
  }
  using namespace std::chrono;
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (!date.ok()) return false;
  out = Timestamp(sys_days{date} + hours{h} + minutes{mi} + seconds{s} + microseconds{micros});
  return true;
}

using relational::ParseInt64;

std::optional<Timestamp> ParseMySqlTime(std::string_view text) {
  Timestamp t;
  if (!ParseDateTime(text, t)) return std::nullopt;
  return t;
}

// A client-side error code (CR_*), or the server ending this session (KILL: 1927, shutdown: 1053):
// the connection is unusable, or its state unknown.
bool IsConnectionError(unsigned code) {
  return (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) || code == 1927 || code == 1053;
}

// The outcome of one statement: ok, or the server's error code and message.
struct Outcome {
  Status status = Status::Ok();
  unsigned code = 0;
  bool ok() const { return status.ok(); }
};

// One connection and the thread that owns it.
class Lane {
 public:
  Lane(const MySqlConnectionOptions& options, const MySqlStoreSettings& settings, jobs::LaneQueue<LaneJob>& queue)
      : options_(options),
        backoff_(kProvider, "MySQL", options.Describe(), settings, queue.counters().connections),
        queue_(queue) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Lane() { thread_.join(); }
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;
  std::thread::id thread_id() const { return thread_.get_id(); }

 private:
  void Run() {
#ifdef __linux__
    pthread_setname_np(pthread_self(), "opstream-mysql");
#endif
    mysql_thread_init();
    jobs::ServeLane(kProvider, options_.Describe(), queue_, *this);
    Disconnect(false);
    mysql_thread_end();
  }

 private:
  template <typename J, typename L>
  friend void jobs::ServeLane(std::string_view, const std::string&, jobs::LaneQueue<J>&, L&);

  // ----- connection -----

  Status EnsureConnected(bool force) {
    if (conn_ != nullptr) return Status::Ok();
    if (backoff_.Waiting(force)) return backoff_.Unavailable();
    std::string failure;
    for (const std::string& host : options_.hosts) {
      unsigned code = 0;
      conn_ = Connect(host, options_.database.c_str(), failure, code);
      // §3.4.5 step 1: the migrator creates a missing database when the credentials allow it.
      if (conn_ == nullptr && code == ER_BAD_DB_ERROR && force) {
        if (MYSQL* admin = Connect(host, nullptr, failure, code)) {
          const std::string create =
              "CREATE DATABASE IF NOT EXISTS `" + EscapeIdentifier(options_.database) + "` CHARACTER SET utf8mb4";
          const bool created = mysql_real_query(admin, create.data(), create.size()) == 0;
          if (!created) failure = mysql_error(admin);
          mysql_close(admin);
          if (created) {
            spdlog::info("storage.mysql: created database {}", options_.Describe());
            conn_ = Connect(host, options_.database.c_str(), failure, code);
          }
        }
      }
      if (conn_ != nullptr) break;
    }
    if (conn_ == nullptr) {
      backoff_.Failed(std::move(failure));
      return backoff_.Unavailable();
    }
    backoff_.Connected();
    queue_.counters().connections.fetch_add(1);
    spdlog::info("storage.mysql: connected to {} (server {})", options_.Describe(), mysql_get_server_info(conn_));
    return Status::Ok();
  }

  static std::string EscapeIdentifier(std::string_view name) {
    std::string out;
    for (char c : name) {
      out += c;
      if (c == '`') out += '`';
    }
    return out;
  }

  // A new connection to `host`, or null with the driver's message and error code.
  MYSQL* Connect(const std::string& host, const char* database, std::string& failure, unsigned& code) const {
    MYSQL* conn = mysql_init(nullptr);
    if (conn == nullptr) {
      failure = "out of memory";
      return nullptr;
    }
    const unsigned connect_timeout = static_cast<unsigned>(options_.connect_timeout.count());
    const unsigned command_timeout = static_cast<unsigned>(options_.command_timeout.count());
    if (connect_timeout > 0) mysql_optionsv(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    if (command_timeout > 0) {
      mysql_optionsv(conn, MYSQL_OPT_READ_TIMEOUT, &command_timeout);
      mysql_optionsv(conn, MYSQL_OPT_WRITE_TIMEOUT, &command_timeout);
    }
    mysql_optionsv(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    const my_bool yes = 1;
    if (options_.ssl_mode != MySqlSslMode::kNone && options_.ssl_mode != MySqlSslMode::kPreferred) {
      mysql_optionsv(conn, MYSQL_OPT_SSL_ENFORCE, &yes);
    }
    if (options_.ssl_mode == MySqlSslMode::kVerifyCa || options_.ssl_mode == MySqlSslMode::kVerifyFull) {
      mysql_optionsv(conn, MYSQL_OPT_SSL_VERIFY_SERVER_CERT, &yes);
    }
    if (!options_.ssl_ca.empty()) mysql_optionsv(conn, MYSQL_OPT_SSL_CA, options_.ssl_ca.c_str());
    if (!options_.ssl_cert.empty()) mysql_optionsv(conn, MYSQL_OPT_SSL_CERT, options_.ssl_cert.c_str());
    if (!options_.ssl_key.empty()) mysql_optionsv(conn, MYSQL_OPT_SSL_KEY, options_.ssl_key.c_str());
    // Strict mode turns bad text into an error instead of a silently mangled row.
    mysql_optionsv(conn, MYSQL_INIT_COMMAND,
                   "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00'");
    if (mysql_real_connect(conn, host.c_str(), options_.user.c_str(), options_.password.c_str(), database,
                           static_cast<unsigned>(options_.port), nullptr, CLIENT_FOUND_ROWS) != nullptr) {
      return conn;
    }
    failure = mysql_error(conn);
    code = mysql_errno(conn);
    mysql_close(conn);
    return nullptr;
  }

  void Disconnect(bool lost) {
    if (conn_ == nullptr) return;
    if (lost) spdlog::warn("storage.mysql: connection to {} lost; reconnecting", options_.Describe());
    mysql_close(conn_);
    conn_ = nullptr;
    backoff_.Lost();
  }

  // ----- statements -----

  std::string Quote(std::string_view text) const {
    std::string out(text.size() * 2 + 3, '\0');
    out[0] = '\'';
    const unsigned long n = mysql_real_escape_string(conn_, out.data() + 1, text.data(), text.size());
    out.resize(n + 1);
    out += '\'';
    return out;
  }
  // Bytes that need not be valid UTF-8 (payload/state columns are longblob).
  std::string QuoteBinary(std::string_view bytes) const { return "_binary" + Quote(bytes); }

  // Runs `sql`; with `rows`, keeps every row of its result (nulls as nullopt).
  using Row = std::vector<std::optional<std::string>>;
  Outcome Exec(const std::string& sql, std::string_view operation, std::vector<Row>* rows = nullptr) {
    if (conn_ == nullptr) return {backoff_.Unavailable(), CR_SERVER_GONE_ERROR};
    if (mysql_real_query(conn_, sql.data(), sql.size()) != 0) return Failure(operation);
    MYSQL_RES* result = mysql_store_result(conn_);
    if (result == nullptr) {
      if (mysql_field_count(conn_) != 0) return Failure(operation);
      return {};
    }
    if (rows != nullptr) {
      const unsigned columns = mysql_num_fields(result);
      while (MYSQL_ROW row = mysql_fetch_row(result)) {
        const unsigned long* lengths = mysql_fetch_lengths(result);
        Row& out = rows->emplace_back();
        for (unsigned c = 0; c < columns; ++c) {
          if (row[c] == nullptr) {
            out.emplace_back();
          } else {
            out.emplace_back(std::string(row[c], lengths[c]));
          }
        }
      }
    }
    mysql_free_result(result);
    return {};
  }

  Outcome Failure(std::string_view operation) {
    const unsigned code = mysql_errno(conn_);
    Outcome outcome{Status::Error(fmt::format("MySQL {} failed: {} (error {})", operation, mysql_error(conn_), code)),
                    code};
    if (IsConnectionError(code)) Disconnect(true);
    return outcome;
  }

  // ----- Initialize -----

  // Under a named lock, re-reading the history, so nodes starting together apply each step once
  // (§3.4.5). MySQL DDL is not transactional: each step's statements are written to be re-runnable.
  Status Migrate() {
    Outcome o = Exec(fmt::format("SELECT GET_LOCK('{}', 60)", kMigrationLock), "migration lock");
    if (!o.ok()) return o.status;
    Status status = MigrateLocked();
    if (conn_ != nullptr) (void)Exec(fmt::format("SELECT RELEASE_LOCK('{}')", kMigrationLock), "migration unlock");
    return status;
  }

  Status MigrateLocked() {
    Outcome o = Exec(
        "CREATE TABLE IF NOT EXISTS `__EFMigrationsHistory` (\n"
        "    `MigrationId` varchar(150) CHARACTER SET utf8mb4 NOT NULL,\n"
        "    `ProductVersion` varchar(32) CHARACTER SET utf8mb4 NOT NULL,\n"
        "    CONSTRAINT `PK___EFMigrationsHistory` PRIMARY KEY (`MigrationId`)\n"
        ") CHARACTER SET=utf8mb4",
        "migration history");
    if (!o.ok()) return o.status;
    std::vector<Row> rows;
    o = Exec("SELECT `MigrationId` FROM `__EFMigrationsHistory` ORDER BY `MigrationId`", "migration history", &rows);
    if (!o.ok()) return o.status;
    std::vector<std::string> ids;
    for (const Row& row : rows) {
      if (!row.empty() && row[0]) ids.push_back(*row[0]);
    }
    if (Status known = CheckAppliedMigrations(ids, MySqlMigrations(), "MySQL", options_.Describe()); !known.ok())
      return known;
    const std::set<std::string> applied(ids.begin(), ids.end());
    for (const MySqlMigration& m : MySqlMigrations()) {
      if (applied.contains(std::string(m.id))) continue;
      const std::string operation = fmt::format("migration {}", m.id);
      for (std::string_view statement : m.statements) {
        o = Exec(std::string(statement), operation);
        // A step interrupted after its ALTER: the column is there already.
        if (!o.ok() && o.code != ER_DUP_FIELDNAME) return o.status;
      }
      o = Exec(fmt::format("INSERT INTO `__EFMigrationsHistory` (`MigrationId`, `ProductVersion`) VALUES ({}, {})",
                           Quote(m.id), Quote(kEfProductVersion)),
               operation);
      if (!o.ok()) return o.status;
      spdlog::info("storage.mysql: applied migration {}", m.id);
    }
    return Status::Ok();
  }

  // ----- batches -----

  // The group's rows as INSERT statements of about kStatementBytes each (split between appends):
  // one statement per group could exceed the server's max_allowed_packet (16 MiB by default).
  static constexpr size_t kStatementBytes = 1 << 20;
  std::vector<std::string> InsertSqls(const std::vector<const AppendJob*>& appends) const {
    static constexpr std::string_view kHead =
        "INSERT INTO `DocumentOps` (`DocumentId`, `Revision`, `AuthorId`, `Timestamp`, `Payload`, `EngineType`) "
        "VALUES ";
    std::vector<std::string> statements;
    std::string sql;
    for (const AppendJob* append : appends) {
      if (sql.size() > kStatementBytes) statements.push_back(std::exchange(sql, {}));
      const std::string id = Quote(append->document_id);
      for (const StoredOp& op : append->ops) {
        sql += sql.empty() ? kHead : ",";
        sql += fmt::format("({},{},{},{},{},{})", id, op.revision, Quote(op.author_id), FormatDateTime(op.timestamp),
                           QuoteBinary(op.payload), Quote(op.engine_type));
      }
    }
    if (!sql.empty()) statements.push_back(std::move(sql));
    return statements;
  }

  // One transaction for all of `appends`.
  Outcome InsertInTransaction(const std::vector<const AppendJob*>& appends) {
    Outcome o = Exec("START TRANSACTION", "append");
    nothing_sent_ = !o.ok();
    if (!o.ok()) return o;
    for (const std::string& sql : InsertSqls(appends)) {
      o = Exec(sql, "append");
      if (!o.ok()) {
        if (conn_ != nullptr) (void)Exec("ROLLBACK", "append");
        return o;
      }
    }
    return Exec("COMMIT", "append");
  }

  // The connection died while idle: nothing was sent, so a fresh one may try again.
  bool MayRetryAppends(const Outcome&) const { return nothing_sent_ && conn_ == nullptr; }
  static Status ValidId(std::string_view id) { return CheckId(id); }

  int64_t ExistingRevision(const AppendJob& append) {
    if (append.ops.size() == 1 || conn_ == nullptr) return append.ops.front().revision;
    std::string list;
    for (const StoredOp& op : append.ops) list += fmt::format("{}{}", list.empty() ? "" : ",", op.revision);
    std::vector<Row> rows;
    int64_t revision = 0;
    if (Exec(fmt::format("SELECT `Revision` FROM `DocumentOps` WHERE `DocumentId` = {} AND `Revision` IN ({}) "
                         "ORDER BY `Revision` LIMIT 1",
                         Quote(append.document_id), list),
             "append", &rows)
            .ok() &&
        !rows.empty() && rows[0][0] && ParseInt64(*rows[0][0], revision)) {
      return revision;
    }
    return append.ops.front().revision;
  }

  Status Refusal(const AppendJob& append, const Outcome& o) {
    if (o.code == ER_DUP_ENTRY) return DuplicateRevisionError(append.document_id, ExistingRevision(append));
    return Status::Error(fmt::format("{} {}", o.status.message(), kNotAcknowledged));
  }

  Status RunLoad(const LoadJob& job, LoadedDocument& loaded) {
    if (Status valid = CheckId(job.document_id); !valid.ok()) return valid;
    const std::string id = Quote(job.document_id);
    // Snapshot and later ops in one statement, so both come from the same database state.
    const std::string sql = fmt::format(
        "SELECT 0, `Revision`, NULL, `Timestamp`, `State`, NULL FROM `DocumentSnapshots` WHERE `DocumentId` = {0} "
        "UNION ALL "
        "SELECT 1, o.`Revision`, o.`AuthorId`, o.`Timestamp`, o.`Payload`, o.`EngineType` FROM `DocumentOps` o "
        "WHERE o.`DocumentId` = {0} AND o.`Revision` > COALESCE((SELECT s.`Revision` FROM `DocumentSnapshots` s "
        "WHERE s.`DocumentId` = {0}), -9223372036854775807) ORDER BY 1, 2",
        id);
    std::vector<Row> rows;
    Outcome o = Exec(sql, "load", &rows);
    if (!o.ok()) return o.status;
    return relational::ReadLoadedDocument(rows, ParseMySqlTime, "MySQL", job.document_id, loaded);
  }

  Status RunOther(LaneJob& job, LoadedDocument& loaded) {
    if (auto* load = std::get_if<LoadJob>(&job)) return RunLoad(*load, loaded);
    if (auto* snapshot = std::get_if<SnapshotJob>(&job)) {
      if (Status valid = CheckId(snapshot->document_id); !valid.ok()) return valid;
      return Exec(fmt::format("INSERT INTO `DocumentSnapshots` (`DocumentId`, `Revision`, `Timestamp`, `State`) "
                              "VALUES ({}, {}, {}, {}) ON DUPLICATE KEY UPDATE `Revision` = VALUES(`Revision`), "
                              "`Timestamp` = VALUES(`Timestamp`), `State` = VALUES(`State`)",
                              Quote(snapshot->document_id), snapshot->snapshot.revision,
                              FormatDateTime(snapshot->snapshot.timestamp), QuoteBinary(snapshot->snapshot.state)),
                  "snapshot write")
          .status;
    }
    if (auto* compact = std::get_if<CompactJob>(&job)) {
      if (Status valid = CheckId(compact->document_id); !valid.ok()) return valid;
      return Exec(fmt::format("DELETE FROM `DocumentOps` WHERE `DocumentId` = {} AND `Revision` <= {}",
                              Quote(compact->document_id), compact->up_to),
                  "compaction")
          .status;
    }
    return Exec("SELECT 1", "health probe").status;
  }

  void RunBatch(std::vector<LaneJob>& batch, bool may_retry) {
    std::vector<Status> results(batch.size(), Status::Ok());
    jobs::RunGroupedAppends(kProvider, *this, batch, results, may_retry, queue_.counters());
    jobs::RunOthersAndAnswer(kProvider, *this, batch, results, may_retry, "MySQL reachable");
  }

 public:
  // ----- what jobs::RunOthersAndAnswer uses (besides EnsureConnected and RunOther) -----
  template <typename L, typename J>
  friend void jobs::RunOthersAndAnswer(std::string_view, L&, std::vector<J>&, std::vector<Status>&, bool,
                                       std::string_view);
  template <typename L, typename J>
  friend void jobs::RunGroupedAppends(std::string_view, L&, std::vector<J>&, std::vector<Status>&, bool,
                                      jobs::LaneCounters&);
  bool Disconnected() const { return conn_ == nullptr; }

  // ----- what calls (CallJob) use -----
  Status Connected() { return EnsureConnected(false); }
  Outcome Run(const std::string& sql, std::string_view operation, std::vector<Row>* rows = nullptr) {
    return Exec(sql, operation, rows);
  }
  std::string Text(std::string_view text) const { return Quote(text); }
  std::string Bytes(std::string_view bytes) const { return QuoteBinary(bytes); }
  uint64_t AffectedRows() const { return conn_ == nullptr ? 0 : mysql_affected_rows(conn_); }
  // Runs `body` (returning an Outcome) in one transaction: committed when it succeeds.
  template <typename Body>
  Outcome Transaction(std::string_view operation, Body&& body) {
    Outcome o = Exec("START TRANSACTION", operation);
    if (!o.ok()) return o;
    o = body();
    if (!o.ok()) {
      if (conn_ != nullptr) (void)Exec("ROLLBACK", operation);
      return o;
    }
    return Exec("COMMIT", operation);
  }

 private:
  const MySqlConnectionOptions& options_;
  MYSQL* conn_ = nullptr;
  jobs::ReconnectBackoff backoff_;
  bool nothing_sent_ = false;  // the last InsertInTransaction failed to start its transaction
  jobs::LaneQueue<LaneJob>& queue_;
  std::thread thread_;  // last: everything above exists before the thread starts
};

// ----- management, history, comments and refs (server.md §3.1, §3.4.7) -----

using Row = relational::Row;

Outcome Unreadable(std::string_view operation) {
  return {Status::Error(fmt::format("MySQL {} failed: a row could not be read.", operation)), 0};
}

std::string Nullable(const Lane& lane, const std::optional<std::string>& text) {
  return text ? lane.Text(*text) : std::string("NULL");
}
std::string NullableTime(const std::optional<Timestamp>& t) { return t ? FormatDateTime(*t) : std::string("NULL"); }

// The snapshot rows and per-document op aggregates of `ops`/`snapshots` matching `where`.
Outcome CollectInfos(Lane& lane, const std::string& where, relational::InfoMerger& merger) {
  std::vector<Row> rows;
  Outcome o = lane.Run("SELECT `DocumentId`, `Revision`, `Timestamp` FROM `DocumentSnapshots` WHERE " + where,
                       "document info", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    relational::RowReader r(row, ParseMySqlTime);
    const std::string id = r.Text();
    const int64_t revision = r.Int();
    const Timestamp timestamp = r.Time();
    if (!r.ok()) return Unreadable("document info");
    merger.AddSnapshot(id, revision, timestamp);
  }
  rows.clear();
  o = lane.Run("SELECT `DocumentId`, MAX(`Revision`), MAX(`Timestamp`), COUNT(*) FROM `DocumentOps` WHERE " + where +
                   " GROUP BY `DocumentId`",
               "document info", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    relational::RowReader r(row, ParseMySqlTime);
    const std::string id = r.Text();
    const int64_t revision = r.Int();
    const Timestamp timestamp = r.Time();
    const int64_t count = r.Int();
    if (!r.ok()) return Unreadable("document info");
    merger.AddOps(id, revision, timestamp, count);
  }
  return {};
}

// Removes every document of `ops` ∪ `snapshots` whose id starts (ordinally) with `prefix`; `count`
// is the number of distinct documents removed.
Outcome DeleteByPrefix(Lane& lane, std::string_view prefix, std::string_view ops, std::string_view snapshots,
                       int64_t& count) {
  const std::string where = "`DocumentId` LIKE " + lane.Text(relational::LikePrefixPattern(prefix));
  std::vector<Row> rows;
  Outcome o = lane.Run(fmt::format("SELECT DISTINCT `DocumentId` FROM `{}` WHERE {} UNION SELECT `DocumentId` FROM "
                                   "`{}` WHERE {}",
                                   ops, where, snapshots, where),
                       "prefix delete", &rows);
  if (!o.ok()) return o;
  std::vector<std::string> lists;  // quoted ids, about 500 per statement
  count = 0;
  for (const Row& row : rows) {
    if (row.empty() || !row[0] || !relational::StartsWith(*row[0], prefix)) continue;
    if (count % 500 == 0) lists.emplace_back();
    lists.back() += (lists.back().empty() ? "" : ",") + lane.Text(*row[0]);
    ++count;
  }
  if (lists.empty()) return {};
  return lane.Transaction("prefix delete", [&]() -> Outcome {
    for (const std::string& list : lists) {
      for (std::string_view table : {ops, snapshots}) {
        Outcome d = lane.Run(fmt::format("DELETE FROM `{}` WHERE `DocumentId` IN ({})", table, list), "prefix delete");
        if (!d.ok()) return d;
      }
    }
    return {};
  });
}

Outcome DeleteDocument(Lane& lane, const std::string& id, std::string_view ops, std::string_view snapshots,
                       const std::string& revision_clause = {}) {
  const std::string quoted = lane.Text(id);
  return lane.Transaction("delete", [&]() -> Outcome {
    for (std::string_view table : {ops, snapshots}) {
      Outcome d =
          lane.Run(fmt::format("DELETE FROM `{}` WHERE `DocumentId` = {}{}", table, quoted, revision_clause), "delete");
      if (!d.ok()) return d;
    }
    return {};
  });
}

const std::string& CommentSelect() {
  static const std::string kSelect =
      "SELECT " + relational::ColumnList(relational::kCommentColumns, "`", "`") + " FROM `Comments` ";
  return kSelect;
}

// The rows of `sql`, each read by `read` into `out`.
template <typename Record>
Status ReadRows(Lane& lane, const std::string& sql, std::string_view operation,
                bool (*read)(const Row&, relational::TimeParser, Record&), std::vector<Record>& out) {
  std::vector<Row> rows;
  if (Outcome o = lane.Run(sql, operation, &rows); !o.ok()) return o.status;
  for (const Row& row : rows) {
    Record record;
    if (!read(row, ParseMySqlTime, record)) return Unreadable(operation).status;
    out.push_back(std::move(record));
  }
  return Status::Ok();
}

Status QueryComments(Lane& lane, const std::string& where, std::vector<Comment>& out) {
  return ReadRows(lane, CommentSelect() + where, "comment query", relational::ReadComment, out);
}

template <typename Record, size_t N>
Status QueryRecords(Lane& lane, const std::string_view (&columns)[N], std::string_view from, const std::string& where,
                    bool (*read)(const Row&, relational::TimeParser, Record&), std::vector<Record>& out) {
  return ReadRows(
      lane, fmt::format("SELECT {} FROM {} WHERE {}", relational::ColumnList(columns, "`", "`", "t"), from, where),
      "ref query", read, out);
}

// The first of `found`, if any.
template <typename Record>
void TakeFirst(std::vector<Record>& found, std::optional<Record>& out) {
  if (!found.empty()) out = std::move(found.front());
}

// Every key a call writes must fit varchar(255) (SV-10).
Status CheckIds(std::initializer_list<std::string_view> ids) {
  for (std::string_view id : ids) {
    if (Status valid = CheckId(id); !valid.ok()) return valid;
  }
  return Status::Ok();
}

}  // namespace

// The lanes, and the options and settings they refer to (which outlive them).
class MySqlDocumentStore::Worker {
 public:
  Worker(MySqlConnectionOptions options, MySqlStoreSettings settings)
      : options_(std::move(options)), settings_(settings) {
    mysql_library_init(0, nullptr, nullptr);  // not thread-safe by itself; first call here, before the lanes
    lanes_ = std::make_unique<jobs::LanePool<Lane, LaneJob>>(
        jobs::PoolOptions(kProvider, "MySQL", settings_, 4, options_.max_pool_size, /*calls_run_alone=*/true),
        [this](jobs::LaneQueue<LaneJob>& queue) { return std::make_unique<Lane>(options_, settings_, queue); });
  }

  jobs::LanePool<Lane, LaneJob>& lanes() { return *lanes_; }

 private:
  const MySqlConnectionOptions options_;
  const MySqlStoreSettings settings_;
  std::unique_ptr<jobs::LanePool<Lane, LaneJob>> lanes_;
};

MySqlDocumentStore::MySqlDocumentStore(MySqlConnectionOptions options, MySqlStoreSettings settings)
    : worker_(std::make_unique<Worker>(std::move(options), settings)) {}

MySqlDocumentStore::~MySqlDocumentStore() = default;

void MySqlDocumentStore::EnqueueJob(jobs::Job job) { worker_->lanes().Enqueue(jobs::Widen<LaneJob>(std::move(job))); }

void MySqlDocumentStore::CheckHealth(HealthCompletion done) { worker_->lanes().EnqueueProbe(std::move(done)); }

void MySqlDocumentStore::Flush(std::chrono::milliseconds timeout) { worker_->lanes().Flush(timeout); }

MySqlStoreCounters MySqlDocumentStore::counters() const { return worker_->lanes().counters<MySqlStoreCounters>(); }

Status OpenMySqlStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      MySqlStoreSettings settings) {
  MySqlConnectionOptions options;
  if (Status status = ParseMySqlConnectionString(connection_string, options); !status.ok()) return status;
  out = std::make_unique<MySqlDocumentStore>(std::move(options), settings);
  return Status::Ok();
}

// ----- management calls (server.md §3.1, §3.4.7) -----

void MySqlDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  worker_->lanes().Call<std::vector<DocumentInfo>>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix), query](Lane& lane, std::vector<DocumentInfo>& out) {
        relational::InfoMerger merger;
        Status status =
            CollectInfos(lane, "`DocumentId` LIKE " + lane.Text(relational::LikePrefixPattern(prefix)), merger).status;
        if (status.ok()) out = merger.Take(prefix, query);
        return status;
      });
}

void MySqlDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<DocumentInfo>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::optional<DocumentInfo>& out) {
        relational::InfoMerger merger;
        Status status = CollectInfos(lane, "`DocumentId` = " + lane.Text(id), merger).status;
        if (status.ok()) out = merger.TakeOne(id);
        return status;
      });
}

void MySqlDocumentStore::Delete(std::string document_id, Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane) {
    return DeleteDocument(lane, id, "DocumentOps", "DocumentSnapshots").status;
  });
}

void MySqlDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  worker_->lanes().Call<int64_t>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix)](Lane& lane, int64_t& count) {
        return DeleteByPrefix(lane, prefix, "DocumentOps", "DocumentSnapshots", count).status;
      });
}

// ----- history store -----

void MySqlDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<Snapshot>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), max_revision](Lane& lane, std::optional<Snapshot>& out) {
        std::vector<Snapshot> found;
        Status status = ReadRows(lane,
                                 fmt::format("SELECT `Revision`, `Timestamp`, `State` FROM `HistorySnapshots` WHERE "
                                             "`DocumentId` = {} AND `Revision` <= {} ORDER BY `Revision` DESC LIMIT 1",
                                             lane.Text(id), max_revision),
                                 "history snapshot load", relational::ReadSnapshot, found);
        TakeFirst(found, out);
        return status;
      });
}

void MySqlDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<StoredOp>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), since, up_to](Lane& lane, std::vector<StoredOp>& out) {
        return ReadRows(lane,
                        fmt::format("SELECT `Revision`, `AuthorId`, `Timestamp`, `Payload`, `EngineType` FROM "
                                    "`HistoryOps` WHERE `DocumentId` = {} AND `Revision` > {} AND `Revision` <= {} "
                                    "ORDER BY `Revision`",
                                    lane.Text(id), since, up_to),
                        "history op stream", relational::ReadHistoryOp, out);
      });
}

void MySqlDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<HistoryMilestone>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id)](Lane& lane, std::vector<HistoryMilestone>& out) {
        return ReadRows(lane,
                        fmt::format("SELECT `Revision`, `Timestamp`, `Name` FROM `HistorySnapshots` WHERE "
                                    "`DocumentId` = {} ORDER BY `Revision` DESC",
                                    lane.Text(id)),
                        "milestones", relational::ReadMilestone, out);
      });
}

void MySqlDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                              std::optional<std::string> name, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), snapshot = std::move(snapshot), name = std::move(name)](Lane& lane) {
        const Outcome o = lane.Run(
            fmt::format("INSERT INTO `HistorySnapshots` (`DocumentId`, `Revision`, `Timestamp`, `State`, `Name`) "
                        "VALUES ({}, {}, {}, {}, {})",
                        lane.Text(id), snapshot.revision, FormatDateTime(snapshot.timestamp),
                        lane.Bytes(snapshot.state), Nullable(lane, name)),
            "history snapshot write");
        return o.code == ER_DUP_ENTRY ? HistorySnapshotExistsError(id, snapshot.revision) : o.status;
      });
}

void MySqlDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done), [id = std::move(document_id), op = std::move(op)](Lane& lane) {
        const Outcome o =
            lane.Run(fmt::format("INSERT INTO `HistoryOps` (`DocumentId`, `Revision`, `AuthorId`, `Timestamp`, "
                                 "`Payload`, `EngineType`) VALUES ({}, {}, {}, {}, {}, {})",
                                 lane.Text(id), op.revision, lane.Text(op.author_id), FormatDateTime(op.timestamp),
                                 lane.Bytes(op.payload), lane.Text(op.engine_type)),
                     "history append");
        return o.code == ER_DUP_ENTRY ? HistoryOpExistsError(id, op.revision) : o.status;
      });
}

void MySqlDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane) {
    return DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots").status;
  });
}

void MySqlDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id), up_to](Lane& lane) {
    return DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots", fmt::format(" AND `Revision` <= {}", up_to))
        .status;
  });
}

void MySqlDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  worker_->lanes().Call<int64_t>(Status::Ok(), std::move(done),
                                 [prefix = std::move(prefix)](Lane& lane, int64_t& count) {
                                   return DeleteByPrefix(lane, prefix, "HistoryOps", "HistorySnapshots", count).status;
                                 });
}

// ----- comment store (the reference's Comments table, §3.4.2) -----

void MySqlDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<Comment>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::vector<Comment>& out) {
        Status status = QueryComments(lane, "WHERE `DocumentId` = " + lane.Text(id), out);
        relational::SortComments(out);
        return status;
      });
}

void MySqlDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  Status checked = CheckId(comment_id);
  worker_->lanes().Call<std::optional<Comment>>(
      std::move(checked), std::move(done), [id = std::move(comment_id)](Lane& lane, std::optional<Comment>& out) {
        std::vector<Comment> found;
        Status status = QueryComments(lane, "WHERE `Id` = " + lane.Text(id), found);
        TakeFirst(found, out);
        return status;
      });
}

void MySqlDocumentStore::AddComment(Comment c, CommentStore::Completion done) {
  Status checked = CheckIds({c.id, c.document_id, c.parent_comment_id.value_or("")});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [c = std::move(c)](Lane& lane) {
    const Outcome o =
        lane.Run(fmt::format("INSERT INTO `Comments` ({}) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                             relational::ColumnList(relational::kCommentColumns, "`", "`"), lane.Text(c.id),
                             lane.Text(c.document_id), Nullable(lane, c.parent_comment_id), lane.Text(c.author_peer_id),
                             lane.Text(c.author_name), lane.Text(c.body), Nullable(lane, c.anchor_json),
                             c.anchored_at_revision, FormatDateTime(c.created_at), NullableTime(c.resolved_at),
                             Nullable(lane, c.resolved_by_peer_id), c.is_orphaned ? 1 : 0),
                 "comment add");
    return o.code == ER_DUP_ENTRY ? CommentExistsError(c.id) : o.status;
  });
}

void MySqlDocumentStore::UpdateComment(Comment c, CommentStore::Completion done) {
  Status checked = CheckId(c.id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [c = std::move(c)](Lane& lane) {
    // CLIENT_FOUND_ROWS: the affected count is the matched count, so an unchanged row still counts.
    Status status = lane.Run(fmt::format("UPDATE `Comments` SET `Body` = {}, `AnchorJson` = {}, `AnchoredAtRevision` = "
                                         "{}, `ResolvedAt` = {}, `ResolvedByPeerId` = {}, `IsOrphaned` = {} WHERE `Id` "
                                         "= {}",
                                         lane.Text(c.body), Nullable(lane, c.anchor_json), c.anchored_at_revision,
                                         NullableTime(c.resolved_at), Nullable(lane, c.resolved_by_peer_id),
                                         c.is_orphaned ? 1 : 0, lane.Text(c.id)),
                             "comment update")
                        .status;
    if (status.ok() && lane.AffectedRows() == 0) status = CommentNotFoundError(c.id);
    return status;
  });
}

void MySqlDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  Status checked = CheckId(comment_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(comment_id)](Lane& lane) {
    const std::string quoted = lane.Text(id);
    return lane
        .Transaction("comment delete",
                     [&]() -> Outcome {
                       // Replies go with their root; a reply's own children (there are none) are not looked for.
                       Outcome o = lane.Run(fmt::format("DELETE FROM `Comments` WHERE `ParentCommentId` = {0} AND "
                                                        "EXISTS (SELECT 1 FROM (SELECT `Id` FROM `Comments` WHERE `Id` "
                                                        "= {0} AND `ParentCommentId` IS NULL) AS root)",
                                                        quoted),
                                            "comment delete");
                       if (!o.ok()) return o;
                       return lane.Run("DELETE FROM `Comments` WHERE `Id` = " + quoted, "comment delete");
                     })
        .status;
  });
}

void MySqlDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                       CommentStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), revision, updates = std::move(updates)](Lane& lane) {
        if (updates.empty()) return Status::Ok();
        std::vector<std::string> statements;
        const std::string quoted_document = lane.Text(id);
        for (const AnchorUpdate& u : updates) {
          statements.push_back(fmt::format(
              "UPDATE `Comments` SET `AnchorJson` = {}, `AnchoredAtRevision` = {}, `IsOrphaned` = (`IsOrphaned` OR {}) "
              "WHERE `Id` = {} AND `DocumentId` = {}",
              Nullable(lane, u.anchor_json), revision, u.outcome == AnchorOutcome::kOrphaned ? 1 : 0,
              lane.Text(u.comment_id), quoted_document));
        }
        return lane
            .Transaction("anchor update",
                         [&]() -> Outcome {
                           for (const std::string& sql : statements) {
                             Outcome o = lane.Run(sql, "anchor update");
                             if (!o.ok()) return o;
                           }
                           return {};
                         })
            .status;
      });
}

void MySqlDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<int64_t>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::optional<int64_t>& out) {
        // The anchor rule (not a JSON object = no anchor) is applied in ReadComment, so rows are read.
        std::vector<Comment> comments;
        Status status =
            QueryComments(lane,
                          "WHERE `DocumentId` = " + lane.Text(id) +
                              " AND `ParentCommentId` IS NULL AND `ResolvedAt` IS NULL AND `AnchorJson` IS NOT NULL",
                          comments);
        out = relational::MinAnchoredRevision(comments);
        return status;
      });
}

// ----- ref store (DocumentNames, DocumentBranches, DocumentVersions, §3.4.2) -----

void MySqlDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Status checked = CheckId(global_name);
  worker_->lanes().Call<std::optional<DocumentName>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name)](Lane& lane, std::optional<DocumentName>& out) {
        std::vector<DocumentName> found;
        Status status = QueryRecords(lane, relational::kNameColumns, "`DocumentNames` AS t",
                                     "t.`GlobalName` = " + lane.Text(name), relational::ReadName, found);
        TakeFirst(found, out);
        return status;
      });
}

void MySqlDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  worker_->lanes().Call<std::vector<DocumentName>>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix)](Lane& lane, std::vector<DocumentName>& out) {
        Status status = QueryRecords(lane, relational::kNameColumns, "`DocumentNames` AS t",
                                     "t.`GlobalName` LIKE " + lane.Text(relational::LikePrefixPattern(prefix)),
                                     relational::ReadName, out);
        std::erase_if(out, [&](const DocumentName& n) { return !relational::StartsWith(n.global_name, prefix); });
        relational::SortNames(out);
        return status;
      });
}

void MySqlDocumentStore::CreateName(DocumentName n, RefStore::Completion done) {
  Status checked = CheckId(n.global_name);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [n = std::move(n)](Lane& lane) {
    const Outcome o =
        lane.Run(fmt::format("INSERT INTO `DocumentNames` ({}) VALUES ({}, {}, {}, {})",
                             relational::ColumnList(relational::kNameColumns, "`", "`"), lane.Text(n.global_name),
                             lane.Text(n.default_branch_id), lane.Text(n.engine_type), FormatDateTime(n.created_at)),
                 "name create");
    return o.code == ER_DUP_ENTRY ? NameExistsError(n.global_name) : o.status;
  });
}

void MySqlDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<std::optional<DocumentBranch>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane, std::optional<DocumentBranch>& out) {
        std::vector<DocumentBranch> found;
        Status status = QueryRecords(lane, relational::kBranchColumns, "`DocumentBranches` AS t",
                                     "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch),
                                     relational::ReadBranch, found);
        TakeFirst(found, out);
        return status;
      });
}

void MySqlDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Status checked = CheckId(global_name);
  worker_->lanes().Call<std::vector<DocumentBranch>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name)](Lane& lane, std::vector<DocumentBranch>& out) {
        Status status = QueryRecords(lane, relational::kBranchColumns, "`DocumentBranches` AS t",
                                     "t.`GlobalName` = " + lane.Text(name), relational::ReadBranch, out);
        relational::SortBranches(out);
        return status;
      });
}

void MySqlDocumentStore::CreateBranch(DocumentBranch b, RefStore::Completion done) {
  Status checked = CheckIds({b.global_name, b.branch_id, b.physical_document_id});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [b = std::move(b)](Lane& lane) {
    const Outcome o = lane.Run(
        fmt::format("INSERT INTO `DocumentBranches` ({}) VALUES ({}, {}, {}, {}, {}, {}, {})",
                    relational::ColumnList(relational::kBranchColumns, "`", "`"), lane.Text(b.global_name),
                    lane.Text(b.branch_id), lane.Text(b.physical_document_id), Nullable(lane, b.fork_parent_branch_id),
                    b.fork_revision, FormatDateTime(b.created_at), b.is_read_only ? 1 : 0),
        "branch create");
    return o.code == ER_DUP_ENTRY ? BranchExistsError(b.branch_id) : o.status;
  });
}

void MySqlDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done), [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane) {
        return lane
            .Run(fmt::format("DELETE FROM `DocumentBranches` WHERE `GlobalName` = {} AND `BranchId` = {}",
                             lane.Text(name), lane.Text(branch)),
                 "branch delete")
            .status;
      });
}

void MySqlDocumentStore::CreateVersion(DocumentVersion v, RefStore::Completion done) {
  Status checked = CheckIds({v.global_name, v.branch_id, v.tag});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [v = std::move(v)](Lane& lane) {
    const Outcome o =
        lane.Run(fmt::format("INSERT INTO `DocumentVersions` ({}) VALUES ({}, {}, {}, {}, {}, {})",
                             relational::ColumnList(relational::kVersionColumns, "`", "`"), lane.Text(v.global_name),
                             lane.Text(v.branch_id), lane.Text(v.tag), v.revision, lane.Text(v.history_snapshot_name),
                             FormatDateTime(v.created_at)),
                 "version create");
    return o.code == ER_DUP_ENTRY ? TagExistsError(v.tag, v.branch_id) : o.status;
  });
}

void MySqlDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                    VersionCompletion done) {
  Status checked = CheckIds({global_name, branch_id, tag});
  worker_->lanes().Call<std::optional<DocumentVersion>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id), tag = std::move(tag)](
          Lane& lane, std::optional<DocumentVersion>& out) {
        std::vector<DocumentVersion> found;
        Status status =
            QueryRecords(lane, relational::kVersionColumns, "`DocumentVersions` AS t",
                         "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch) +
                             " AND t.`Tag` = " + lane.Text(tag),
                         relational::ReadVersion, found);
        TakeFirst(found, out);
        return status;
      });
}

void MySqlDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<std::vector<DocumentVersion>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane, std::vector<DocumentVersion>& out) {
        Status status = QueryRecords(lane, relational::kVersionColumns, "`DocumentVersions` AS t",
                                     "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch),
                                     relational::ReadVersion, out);
        relational::SortVersionsByTag(out);
        return status;
      });
}

void MySqlDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  Status checked = CheckId(physical_document_id);
  worker_->lanes().Call<std::vector<DocumentVersion>>(
      std::move(checked), std::move(done),
      [id = std::move(physical_document_id)](Lane& lane, std::vector<DocumentVersion>& out) {
        Status status = QueryRecords(lane, relational::kVersionColumns,
                                     "`DocumentVersions` AS t JOIN `DocumentBranches` AS b ON b.`GlobalName` = "
                                     "t.`GlobalName` AND b.`BranchId` = t.`BranchId`",
                                     "b.`PhysicalDocumentId` = " + lane.Text(id), relational::ReadVersion, out);
        relational::SortPinningVersions(out);
        return status;
      });
}

}  // namespace opstream::storage
