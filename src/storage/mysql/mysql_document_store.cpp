#include "storage/mysql/mysql_document_store.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <mariadb/errmsg.h>
#include <mariadb/mysql.h>
#include <mariadb/mysqld_error.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <variant>

#include "storage/append_rules.hpp"
#include "storage/probe_watchdog.hpp"
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
struct CallJob {
  std::function<void(Lane&)> run;
};
using LaneJob = std::variant<InitializeJob, LoadJob, AppendJob, SnapshotJob, CompactJob, ProbeJob, CallJob>;

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

bool ParseInt64(std::string_view text, int64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

// A client-side error code (CR_*), or the server ending this session (KILL: 1927, shutdown: 1053):
// the connection is unusable, or its state unknown.
bool IsConnectionError(unsigned code) {
  return (code >= CR_MIN_ERROR && code <= CR_MAX_ERROR) || code == 1927 || code == 1053;
}

struct SharedState {
  std::mutex mutex;
  std::condition_variable work_cv;
  std::condition_variable idle_cv;
  std::deque<LaneJob> queue;
  int busy = 0;
  bool stopping = false;
  std::atomic<uint64_t> append_transactions{0};
  std::atomic<uint64_t> appends_committed{0};
  std::atomic<uint64_t> connections{0};
};

// The outcome of one statement: ok, or the server's error code and message.
struct Outcome {
  Status status = Status::Ok();
  unsigned code = 0;
  bool ok() const { return status.ok(); }
};

// One connection and the thread that owns it.
class Lane {
 public:
  Lane(const MySqlConnectionOptions& options, const MySqlStoreSettings& settings, SharedState& shared)
      : options_(options), settings_(settings), reconnect_delay_(settings.reconnect_initial_delay), shared_(shared) {
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
    for (;;) {
      std::vector<LaneJob> batch;
      {
        std::unique_lock lock(shared_.mutex);
        shared_.work_cv.wait(lock, [this] { return shared_.stopping || !shared_.queue.empty(); });
        if (shared_.queue.empty()) break;
        ++shared_.busy;
        size_t appends = 0;
        while (!shared_.queue.empty()) {
          const bool initialize = std::holds_alternative<InitializeJob>(shared_.queue.front()) ||
                                  std::holds_alternative<CallJob>(shared_.queue.front());
          if (initialize && !batch.empty()) break;
          if (std::holds_alternative<AppendJob>(shared_.queue.front()) &&
              ++appends > std::max<size_t>(1, settings_.max_appends_per_transaction)) {
            break;
          }
          batch.push_back(std::move(shared_.queue.front()));
          shared_.queue.pop_front();
          if (initialize) break;
        }
      }
      if (auto* initialize = std::get_if<InitializeJob>(&batch.front())) {
        Status status = EnsureConnected(true);
        if (status.ok()) status = Migrate();
        if (status.ok()) spdlog::info("storage.mysql: database ready {}", options_.Describe());
        Invoke(initialize->done, std::move(status));
      } else if (auto* call = std::get_if<CallJob>(&batch.front())) {
        call->run(*this);
      } else {
        RunBatch(batch, true);
      }
      {
        std::lock_guard lock(shared_.mutex);
        --shared_.busy;
        if (shared_.queue.empty() && shared_.busy == 0) shared_.idle_cv.notify_all();
      }
    }
    Disconnect(false);
    mysql_thread_end();
  }

  // ----- connection -----

  Status EnsureConnected(bool force) {
    if (conn_ != nullptr) return Status::Ok();
    if (!force && Clock::now() < next_attempt_) return Unavailable();
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
      if (last_error_ != failure) {
        spdlog::warn("storage.mysql: cannot connect to {}: {}", options_.Describe(), failure);
      }
      last_error_ = std::move(failure);
      next_attempt_ = Clock::now() + reconnect_delay_;
      reconnect_delay_ = std::min(reconnect_delay_ * 2, settings_.reconnect_max_delay);
      return Unavailable();
    }
    reconnect_delay_ = settings_.reconnect_initial_delay;
    last_error_.clear();
    shared_.connections.fetch_add(1);
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

  Status Unavailable() const {
    return Status::Error(fmt::format("MySQL is unavailable ({}): {}", options_.Describe(), last_error_));
  }

  void Disconnect(bool lost) {
    if (conn_ == nullptr) return;
    if (lost) spdlog::warn("storage.mysql: connection to {} lost; reconnecting", options_.Describe());
    mysql_close(conn_);
    conn_ = nullptr;
    next_attempt_ = Clock::time_point::min();
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
    if (conn_ == nullptr) return {Unavailable(), CR_SERVER_GONE_ERROR};
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
    std::set<std::string> applied;
    std::set<std::string_view> known;
    std::string known_list;
    for (const MySqlMigration& m : MySqlMigrations()) {
      known.insert(m.id);
      known_list += known_list.empty() ? "" : ", ";
      known_list += m.id;
    }
    for (const Row& row : rows) {
      if (row.empty() || !row[0]) continue;
      if (!known.contains(*row[0])) {
        return Status::Error(
            fmt::format("The MySQL database {} has a newer schema than this server knows: migration '{}' in "
                        "__EFMigrationsHistory is not one of {}. Upgrade OpStream Server or use another database.",
                        options_.Describe(), *row[0], known_list));
      }
      applied.insert(*row[0]);
    }
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

  // One transaction for all of `appends`. `start_failed` tells whether nothing was sent yet.
  Outcome InsertInTransaction(const std::vector<const AppendJob*>& appends, bool* start_failed = nullptr) {
    Outcome o = Exec("START TRANSACTION", "append");
    if (start_failed) *start_failed = !o.ok();
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

  void RunAppends(std::vector<LaneJob>& batch, std::vector<Status>& results, bool may_retry) {
    std::vector<size_t> group;
    std::vector<const AppendJob*> appends;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto* append = std::get_if<AppendJob>(&batch[i]);
      if (append == nullptr) continue;
      Status valid = CheckId(append->document_id);
      if (valid.ok()) valid = ValidateAppendBatch(append->document_id, append->ops);
      if (!valid.ok() || append->ops.empty()) {
        results[i] = valid;
        continue;
      }
      group.push_back(i);
      appends.push_back(append);
    }
    if (group.empty()) return;
    if (Status connected = EnsureConnected(false); !connected.ok()) {
      for (size_t i : group) results[i] = connected;
      return;
    }
    bool start_failed = false;
    Outcome o = InsertInTransaction(appends, &start_failed);
    if (!o.ok() && start_failed && may_retry && conn_ == nullptr) {
      // The connection died while idle; nothing was sent, so a fresh one may try again.
      if (EnsureConnected(true).ok()) o = InsertInTransaction(appends);
    }
    if (o.ok()) {
      for (size_t i : group) results[i] = Status::Ok();
      shared_.append_transactions.fetch_add(1);
      shared_.appends_committed.fetch_add(group.size());
      return;
    }
    if (conn_ == nullptr || group.size() == 1) {
      for (size_t g = 0; g < group.size(); ++g) results[group[g]] = Refusal(*appends[g], o);
      return;
    }
    // Refused by the server (a duplicate revision, bad text ...): one transaction per append finds
    // the offending ones and commits the rest.
    spdlog::debug("storage.mysql: a group of {} appends was refused ({}); retrying them one by one", group.size(),
                  o.status.message());
    for (size_t g = 0; g < group.size(); ++g) {
      const Outcome single = InsertInTransaction({appends[g]});
      if (single.ok()) {
        results[group[g]] = Status::Ok();
        shared_.append_transactions.fetch_add(1);
        shared_.appends_committed.fetch_add(1);
      } else {
        results[group[g]] = Refusal(*appends[g], single);
      }
    }
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
    loaded.ops.reserve(rows.size());
    for (size_t r = 0; r < rows.size(); ++r) {
      const Row& row = rows[r];
      int64_t kind = 0, revision = 0;
      Timestamp timestamp;
      if (row.size() != 6 || !row[0] || !row[1] || !row[3] || !row[4] || !ParseInt64(*row[0], kind) ||
          !ParseInt64(*row[1], revision) || !ParseDateTime(*row[3], timestamp) || (kind == 1 && (!row[2] || !row[5]))) {
        return Status::Error(fmt::format("MySQL load failed: unreadable row {} of document '{}'.", r, job.document_id));
      }
      if (kind == 0) {
        loaded.snapshot = Snapshot{revision, timestamp, *row[4]};
      } else {
        loaded.ops.push_back(StoredOp{revision, *row[2], timestamp, *row[4], *row[5]});
      }
    }
    return Status::Ok();
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
    RunAppends(batch, results, may_retry);
    jobs::RunOthersAndAnswer(kProvider, *this, batch, results, may_retry, "MySQL reachable");
  }

 public:
  // ----- what jobs::RunOthersAndAnswer uses (besides EnsureConnected and RunOther) -----
  template <typename L, typename J>
  friend void jobs::RunOthersAndAnswer(std::string_view, L&, std::vector<J>&, std::vector<Status>&, bool,
                                       std::string_view);
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
  const MySqlStoreSettings& settings_;
  MYSQL* conn_ = nullptr;
  Clock::time_point next_attempt_ = Clock::time_point::min();
  std::chrono::milliseconds reconnect_delay_;
  std::string last_error_;
  SharedState& shared_;
  std::thread thread_;  // last: everything above exists before the thread starts
};

// ----- management, history, comments and refs (server.md §3.1, §3.4.7) -----

using Row = relational::Row;

std::optional<Timestamp> ParseMySqlTime(std::string_view text) {
  Timestamp t;
  if (!ParseDateTime(text, t)) return std::nullopt;
  return t;
}

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

Outcome QueryComments(Lane& lane, const std::string& where, std::vector<Comment>& out) {
  std::vector<Row> rows;
  Outcome o = lane.Run(CommentSelect() + where, "comment query", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    Comment comment;
    if (!relational::ReadComment(row, ParseMySqlTime, comment)) return Unreadable("comment query");
    out.push_back(std::move(comment));
  }
  return {};
}

template <typename Record, size_t N>
Outcome QueryRecords(Lane& lane, const std::string_view (&columns)[N], std::string_view from, const std::string& where,
                     bool (*read)(const Row&, relational::TimeParser, Record&), std::vector<Record>& out) {
  std::vector<Row> rows;
  Outcome o =
      lane.Run(fmt::format("SELECT {} FROM {} WHERE {}", relational::ColumnList(columns, "`", "`", "t"), from, where),
               "ref query", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    Record record;
    if (!read(row, ParseMySqlTime, record)) return Unreadable("ref query");
    out.push_back(std::move(record));
  }
  return {};
}

// Every key a call writes must fit varchar(255) (SV-10).
Status CheckIds(std::initializer_list<std::string_view> ids) {
  for (std::string_view id : ids) {
    if (Status valid = CheckId(id); !valid.ok()) return valid;
  }
  return Status::Ok();
}

}  // namespace

class MySqlDocumentStore::Worker {
 public:
  Worker(MySqlConnectionOptions options, MySqlStoreSettings settings)
      : options_(std::move(options)), settings_(settings) {
    mysql_library_init(0, nullptr, nullptr);  // not thread-safe by itself; first call here, before the lanes
    const size_t lanes = std::max<size_t>(
        1, std::min<size_t>(settings_.connections, static_cast<size_t>(std::max(1, options_.max_pool_size))));
    for (size_t i = 0; i < lanes; ++i) lanes_.push_back(std::make_unique<Lane>(options_, settings_, shared_));
  }

  ~Worker() {
    {
      std::lock_guard lock(shared_.mutex);
      shared_.stopping = true;
    }
    shared_.work_cv.notify_all();
    lanes_.clear();  // joins every lane after the queue is drained
  }

  void Enqueue(LaneJob job, bool front = false) {
    {
      std::lock_guard lock(shared_.mutex);
      if (front) {
        shared_.queue.push_front(std::move(job));
      } else {
        shared_.queue.push_back(std::move(job));
      }
    }
    shared_.work_cv.notify_one();
  }

  void EnqueueProbe(DocumentStore::HealthCompletion done) {
    auto probe = watchdog_.Watch(kProvider, std::move(done), settings_.health_timeout);
    // At the front: the probe measures whether the database answers, not how long the queue is.
    Enqueue(ProbeJob{std::move(probe)}, true);
  }

  void Flush(std::chrono::milliseconds timeout) {
    for (const auto& lane : lanes_) {
      if (std::this_thread::get_id() == lane->thread_id()) return;
    }
    std::unique_lock lock(shared_.mutex);
    shared_.idle_cv.wait_for(lock, timeout, [this] { return shared_.queue.empty() && shared_.busy == 0; });
  }

  MySqlStoreCounters counters() const {
    return {shared_.append_transactions.load(), shared_.appends_committed.load(), shared_.connections.load()};
  }

 private:
  const MySqlConnectionOptions options_;
  const MySqlStoreSettings settings_;
  SharedState shared_;
  jobs::ProbeWatchdog watchdog_{fmt::format("MySQL did not answer within {} ms", settings_.health_timeout.count())};
  std::vector<std::unique_ptr<Lane>> lanes_;
};

MySqlDocumentStore::MySqlDocumentStore(MySqlConnectionOptions options, MySqlStoreSettings settings)
    : worker_(std::make_unique<Worker>(std::move(options), settings)) {}

MySqlDocumentStore::~MySqlDocumentStore() = default;

void MySqlDocumentStore::Initialize(Completion done) { worker_->Enqueue(InitializeJob{std::move(done)}); }

void MySqlDocumentStore::Load(std::string document_id, LoadCompletion done) {
  worker_->Enqueue(LoadJob{std::move(document_id), std::move(done)});
}

void MySqlDocumentStore::Append(std::string document_id, std::vector<StoredOp> ops, Completion done) {
  worker_->Enqueue(AppendJob{std::move(document_id), std::move(ops), std::move(done)});
}

void MySqlDocumentStore::WriteSnapshot(std::string document_id, Snapshot snapshot, Completion done) {
  worker_->Enqueue(SnapshotJob{std::move(document_id), std::move(snapshot), std::move(done)});
}

void MySqlDocumentStore::Compact(std::string document_id, int64_t up_to, Completion done) {
  worker_->Enqueue(CompactJob{std::move(document_id), up_to, std::move(done)});
}

void MySqlDocumentStore::CheckHealth(HealthCompletion done) { worker_->EnqueueProbe(std::move(done)); }

void MySqlDocumentStore::Flush(std::chrono::milliseconds timeout) { worker_->Flush(timeout); }

MySqlStoreCounters MySqlDocumentStore::counters() const { return worker_->counters(); }

Status OpenMySqlStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                      MySqlStoreSettings settings) {
  MySqlConnectionOptions options;
  if (Status status = ParseMySqlConnectionString(connection_string, options); !status.ok()) return status;
  out = std::make_unique<MySqlDocumentStore>(std::move(options), settings);
  return Status::Ok();
}

// ----- management calls (server.md §3.1, §3.4.7) -----

void MySqlDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  worker_->Enqueue(CallJob{[prefix = std::move(prefix), query, done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentInfo> infos;
    Status status = lane.Connected();
    if (status.ok()) {
      relational::InfoMerger merger;
      status =
          CollectInfos(lane, "`DocumentId` LIKE " + lane.Text(relational::LikePrefixPattern(prefix)), merger).status;
      if (status.ok()) infos = merger.Take(prefix, query);
    }
    Invoke(done, std::move(status), std::move(infos));
  }});
}

void MySqlDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    std::optional<DocumentInfo> info;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      relational::InfoMerger merger;
      status = CollectInfos(lane, "`DocumentId` = " + lane.Text(id), merger).status;
      if (status.ok()) info = merger.TakeOne(id);
    }
    Invoke(done, std::move(status), std::move(info));
  }});
}

void MySqlDocumentStore::Delete(std::string document_id, Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) status = DeleteDocument(lane, id, "DocumentOps", "DocumentSnapshots").status;
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  worker_->Enqueue(CallJob{[prefix = std::move(prefix), done = std::move(done)](Lane& lane) mutable {
    int64_t count = 0;
    Status status = lane.Connected();
    if (status.ok()) status = DeleteByPrefix(lane, prefix, "DocumentOps", "DocumentSnapshots", count).status;
    Invoke(done, std::move(status), status.ok() ? count : 0);
  }});
}

// ----- history store -----

void MySqlDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), max_revision, done = std::move(done)](Lane& lane) mutable {
    std::optional<Snapshot> snapshot;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    std::vector<Row> rows;
    if (status.ok()) {
      status = lane.Run(fmt::format("SELECT `Revision`, `Timestamp`, `State` FROM `HistorySnapshots` WHERE "
                                    "`DocumentId` = {} AND `Revision` <= {} ORDER BY `Revision` DESC LIMIT 1",
                                    lane.Text(id), max_revision),
                        "history snapshot load", &rows)
                   .status;
    }
    if (status.ok() && !rows.empty()) {
      relational::RowReader r(rows[0], ParseMySqlTime);
      Snapshot s;
      s.revision = r.Int();
      s.timestamp = r.Time();
      s.state = r.Text();
      if (r.ok()) {
        snapshot = std::move(s);
      } else {
        status = Unreadable("history snapshot load").status;
      }
    }
    Invoke(done, std::move(status), std::move(snapshot));
  }});
}

void MySqlDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), since, up_to, done = std::move(done)](Lane& lane) mutable {
    std::vector<StoredOp> ops;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    std::vector<Row> rows;
    if (status.ok()) {
      status = lane.Run(fmt::format("SELECT `Revision`, `AuthorId`, `Timestamp`, `Payload`, `EngineType` FROM "
                                    "`HistoryOps` WHERE `DocumentId` = {} AND `Revision` > {} AND `Revision` <= {} "
                                    "ORDER BY `Revision`",
                                    lane.Text(id), since, up_to),
                        "history op stream", &rows)
                   .status;
    }
    for (size_t i = 0; status.ok() && i < rows.size(); ++i) {
      relational::RowReader r(rows[i], ParseMySqlTime);
      StoredOp op;
      op.revision = r.Int();
      op.author_id = r.Text();
      op.timestamp = r.Time();
      op.payload = r.Text();
      op.engine_type = r.Text();
      if (!r.ok()) status = Unreadable("history op stream").status;
      ops.push_back(std::move(op));
    }
    if (!status.ok()) ops.clear();
    Invoke(done, std::move(status), std::move(ops));
  }});
}

void MySqlDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    std::vector<HistoryMilestone> milestones;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    std::vector<Row> rows;
    if (status.ok()) {
      status = lane.Run(fmt::format("SELECT `Revision`, `Timestamp`, `Name` FROM `HistorySnapshots` WHERE "
                                    "`DocumentId` = {} ORDER BY `Revision` DESC",
                                    lane.Text(id)),
                        "milestones", &rows)
                   .status;
    }
    for (size_t i = 0; status.ok() && i < rows.size(); ++i) {
      relational::RowReader r(rows[i], ParseMySqlTime);
      HistoryMilestone m;
      m.revision = r.Int();
      m.timestamp = r.Time();
      m.name = r.OptionalText();
      if (!r.ok()) status = Unreadable("milestones").status;
      milestones.push_back(std::move(m));
    }
    if (!status.ok()) milestones.clear();
    Invoke(done, std::move(status), std::move(milestones));
  }});
}

void MySqlDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                              std::optional<std::string> name, HistoryStore::Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), snapshot = std::move(snapshot), name = std::move(name),
                            done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const Outcome o = lane.Run(
          fmt::format("INSERT INTO `HistorySnapshots` (`DocumentId`, `Revision`, `Timestamp`, `State`, `Name`) "
                      "VALUES ({}, {}, {}, {}, {})",
                      lane.Text(id), snapshot.revision, FormatDateTime(snapshot.timestamp), lane.Bytes(snapshot.state),
                      Nullable(lane, name)),
          "history snapshot write");
      status = o.code == ER_DUP_ENTRY ? HistorySnapshotExistsError(id, snapshot.revision) : o.status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  worker_->Enqueue(
      CallJob{[id = std::move(document_id), op = std::move(op), done = std::move(done)](Lane& lane) mutable {
        Status status = CheckId(id);
        if (status.ok()) status = lane.Connected();
        if (status.ok()) {
          const Outcome o =
              lane.Run(fmt::format("INSERT INTO `HistoryOps` (`DocumentId`, `Revision`, `AuthorId`, `Timestamp`, "
                                   "`Payload`, `EngineType`) VALUES ({}, {}, {}, {}, {}, {})",
                                   lane.Text(id), op.revision, lane.Text(op.author_id), FormatDateTime(op.timestamp),
                                   lane.Bytes(op.payload), lane.Text(op.engine_type)),
                       "history append");
          status = o.code == ER_DUP_ENTRY ? HistoryOpExistsError(id, op.revision) : o.status;
        }
        Invoke(done, std::move(status));
      }});
}

void MySqlDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) status = DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots").status;
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), up_to, done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      status = DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots", fmt::format(" AND `Revision` <= {}", up_to))
                   .status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  worker_->Enqueue(CallJob{[prefix = std::move(prefix), done = std::move(done)](Lane& lane) mutable {
    int64_t count = 0;
    Status status = lane.Connected();
    if (status.ok()) status = DeleteByPrefix(lane, prefix, "HistoryOps", "HistorySnapshots", count).status;
    Invoke(done, std::move(status), status.ok() ? count : 0);
  }});
}

// ----- comment store (the reference's Comments table, §3.4.2) -----

void MySqlDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    std::vector<Comment> comments;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) status = QueryComments(lane, "WHERE `DocumentId` = " + lane.Text(id), comments).status;
    if (status.ok()) {
      relational::SortComments(comments);
    } else {
      comments.clear();
    }
    Invoke(done, std::move(status), std::move(comments));
  }});
}

void MySqlDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(comment_id), done = std::move(done)](Lane& lane) mutable {
    std::vector<Comment> comments;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) status = QueryComments(lane, "WHERE `Id` = " + lane.Text(id), comments).status;
    std::optional<Comment> comment;
    if (status.ok() && !comments.empty()) comment = std::move(comments.front());
    Invoke(done, std::move(status), std::move(comment));
  }});
}

void MySqlDocumentStore::AddComment(Comment c, CommentStore::Completion done) {
  worker_->Enqueue(CallJob{[c = std::move(c), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckIds({c.id, c.document_id, c.parent_comment_id.value_or("")});
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const Outcome o = lane.Run(
          fmt::format("INSERT INTO `Comments` ({}) VALUES ({}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {}, {})",
                      relational::ColumnList(relational::kCommentColumns, "`", "`"), lane.Text(c.id),
                      lane.Text(c.document_id), Nullable(lane, c.parent_comment_id), lane.Text(c.author_peer_id),
                      lane.Text(c.author_name), lane.Text(c.body), Nullable(lane, c.anchor_json),
                      c.anchored_at_revision, FormatDateTime(c.created_at), NullableTime(c.resolved_at),
                      Nullable(lane, c.resolved_by_peer_id), c.is_orphaned ? 1 : 0),
          "comment add");
      status = o.code == ER_DUP_ENTRY ? CommentExistsError(c.id) : o.status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::UpdateComment(Comment c, CommentStore::Completion done) {
  worker_->Enqueue(CallJob{[c = std::move(c), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(c.id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      // CLIENT_FOUND_ROWS: the affected count is the matched count, so an unchanged row still counts.
      status = lane.Run(fmt::format("UPDATE `Comments` SET `Body` = {}, `AnchorJson` = {}, `AnchoredAtRevision` = {}, "
                                    "`ResolvedAt` = {}, `ResolvedByPeerId` = {}, `IsOrphaned` = {} WHERE `Id` = {}",
                                    lane.Text(c.body), Nullable(lane, c.anchor_json), c.anchored_at_revision,
                                    NullableTime(c.resolved_at), Nullable(lane, c.resolved_by_peer_id),
                                    c.is_orphaned ? 1 : 0, lane.Text(c.id)),
                        "comment update")
                   .status;
      if (status.ok() && lane.AffectedRows() == 0) status = CommentNotFoundError(c.id);
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(comment_id), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const std::string quoted = lane.Text(id);
      status = lane.Transaction("comment delete",
                                [&]() -> Outcome {
                                  // Replies go with their root; a reply's own children (there are none) are not looked
                                  // for.
                                  Outcome o = lane.Run(fmt::format("DELETE FROM `Comments` WHERE `ParentCommentId` = "
                                                                   "{0} AND EXISTS (SELECT 1 FROM (SELECT `Id` FROM "
                                                                   "`Comments` WHERE `Id` = {0} AND `ParentCommentId` "
                                                                   "IS NULL) AS root)",
                                                                   quoted),
                                                       "comment delete");
                                  if (!o.ok()) return o;
                                  return lane.Run("DELETE FROM `Comments` WHERE `Id` = " + quoted, "comment delete");
                                })
                   .status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                       CommentStore::Completion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), revision, updates = std::move(updates),
                            done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok() && !updates.empty()) {
      std::vector<std::string> statements;
      const std::string quoted_document = lane.Text(id);
      for (const AnchorUpdate& u : updates) {
        statements.push_back(fmt::format(
            "UPDATE `Comments` SET `AnchorJson` = {}, `AnchoredAtRevision` = {}, `IsOrphaned` = (`IsOrphaned` OR {}) "
            "WHERE `Id` = {} AND `DocumentId` = {}",
            Nullable(lane, u.anchor_json), revision, u.outcome == AnchorOutcome::kOrphaned ? 1 : 0,
            lane.Text(u.comment_id), quoted_document));
      }
      status = lane.Transaction("anchor update",
                                [&]() -> Outcome {
                                  for (const std::string& sql : statements) {
                                    Outcome o = lane.Run(sql, "anchor update");
                                    if (!o.ok()) return o;
                                  }
                                  return {};
                                })
                   .status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(document_id), done = std::move(done)](Lane& lane) mutable {
    std::vector<Comment> comments;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    // The anchor rule (not a JSON object = no anchor) is applied in ReadComment, so rows are read.
    if (status.ok()) {
      status = QueryComments(lane,
                             "WHERE `DocumentId` = " + lane.Text(id) +
                                 " AND `ParentCommentId` IS NULL AND `ResolvedAt` IS NULL AND `AnchorJson` IS NOT NULL",
                             comments)
                   .status;
    }
    std::optional<int64_t> min;
    if (status.ok()) min = relational::MinAnchoredRevision(comments);
    Invoke(done, std::move(status), min);
  }});
}

// ----- ref store (DocumentNames, DocumentBranches, DocumentVersions, §3.4.2) -----

void MySqlDocumentStore::GetName(std::string global_name, NameCompletion done) {
  worker_->Enqueue(CallJob{[name = std::move(global_name), done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentName> names;
    Status status = CheckId(name);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      status = QueryRecords(lane, relational::kNameColumns, "`DocumentNames` AS t",
                            "t.`GlobalName` = " + lane.Text(name), relational::ReadName, names)
                   .status;
    }
    std::optional<DocumentName> found;
    if (status.ok() && !names.empty()) found = std::move(names.front());
    Invoke(done, std::move(status), std::move(found));
  }});
}

void MySqlDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  worker_->Enqueue(CallJob{[prefix = std::move(prefix), done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentName> names;
    Status status = lane.Connected();
    if (status.ok()) {
      status = QueryRecords(lane, relational::kNameColumns, "`DocumentNames` AS t",
                            "t.`GlobalName` LIKE " + lane.Text(relational::LikePrefixPattern(prefix)),
                            relational::ReadName, names)
                   .status;
    }
    std::erase_if(names, [&](const DocumentName& n) { return !relational::StartsWith(n.global_name, prefix); });
    relational::SortNames(names);
    if (!status.ok()) names.clear();
    Invoke(done, std::move(status), std::move(names));
  }});
}

void MySqlDocumentStore::CreateName(DocumentName n, RefStore::Completion done) {
  worker_->Enqueue(CallJob{[n = std::move(n), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckId(n.global_name);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const Outcome o =
          lane.Run(fmt::format("INSERT INTO `DocumentNames` ({}) VALUES ({}, {}, {}, {})",
                               relational::ColumnList(relational::kNameColumns, "`", "`"), lane.Text(n.global_name),
                               lane.Text(n.default_branch_id), lane.Text(n.engine_type), FormatDateTime(n.created_at)),
                   "name create");
      status = o.code == ER_DUP_ENTRY ? NameExistsError(n.global_name) : o.status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  worker_->Enqueue(CallJob{
      [name = std::move(global_name), branch = std::move(branch_id), done = std::move(done)](Lane& lane) mutable {
        std::vector<DocumentBranch> branches;
        Status status = CheckIds({name, branch});
        if (status.ok()) status = lane.Connected();
        if (status.ok()) {
          status = QueryRecords(lane, relational::kBranchColumns, "`DocumentBranches` AS t",
                                "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch),
                                relational::ReadBranch, branches)
                       .status;
        }
        std::optional<DocumentBranch> found;
        if (status.ok() && !branches.empty()) found = std::move(branches.front());
        Invoke(done, std::move(status), std::move(found));
      }});
}

void MySqlDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  worker_->Enqueue(CallJob{[name = std::move(global_name), done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentBranch> branches;
    Status status = CheckId(name);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      status = QueryRecords(lane, relational::kBranchColumns, "`DocumentBranches` AS t",
                            "t.`GlobalName` = " + lane.Text(name), relational::ReadBranch, branches)
                   .status;
    }
    relational::SortBranches(branches);
    if (!status.ok()) branches.clear();
    Invoke(done, std::move(status), std::move(branches));
  }});
}

void MySqlDocumentStore::CreateBranch(DocumentBranch b, RefStore::Completion done) {
  worker_->Enqueue(CallJob{[b = std::move(b), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckIds({b.global_name, b.branch_id, b.physical_document_id});
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const Outcome o = lane.Run(fmt::format("INSERT INTO `DocumentBranches` ({}) VALUES ({}, {}, {}, {}, {}, {}, {})",
                                             relational::ColumnList(relational::kBranchColumns, "`", "`"),
                                             lane.Text(b.global_name), lane.Text(b.branch_id),
                                             lane.Text(b.physical_document_id), Nullable(lane, b.fork_parent_branch_id),
                                             b.fork_revision, FormatDateTime(b.created_at), b.is_read_only ? 1 : 0),
                                 "branch create");
      status = o.code == ER_DUP_ENTRY ? BranchExistsError(b.branch_id) : o.status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  worker_->Enqueue(CallJob{
      [name = std::move(global_name), branch = std::move(branch_id), done = std::move(done)](Lane& lane) mutable {
        Status status = CheckIds({name, branch});
        if (status.ok()) status = lane.Connected();
        if (status.ok()) {
          status = lane.Run(fmt::format("DELETE FROM `DocumentBranches` WHERE `GlobalName` = {} AND `BranchId` = {}",
                                        lane.Text(name), lane.Text(branch)),
                            "branch delete")
                       .status;
        }
        Invoke(done, std::move(status));
      }});
}

void MySqlDocumentStore::CreateVersion(DocumentVersion v, RefStore::Completion done) {
  worker_->Enqueue(CallJob{[v = std::move(v), done = std::move(done)](Lane& lane) mutable {
    Status status = CheckIds({v.global_name, v.branch_id, v.tag});
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      const Outcome o =
          lane.Run(fmt::format("INSERT INTO `DocumentVersions` ({}) VALUES ({}, {}, {}, {}, {}, {})",
                               relational::ColumnList(relational::kVersionColumns, "`", "`"), lane.Text(v.global_name),
                               lane.Text(v.branch_id), lane.Text(v.tag), v.revision, lane.Text(v.history_snapshot_name),
                               FormatDateTime(v.created_at)),
                   "version create");
      status = o.code == ER_DUP_ENTRY ? TagExistsError(v.tag, v.branch_id) : o.status;
    }
    Invoke(done, std::move(status));
  }});
}

void MySqlDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                    VersionCompletion done) {
  worker_->Enqueue(CallJob{[name = std::move(global_name), branch = std::move(branch_id), tag = std::move(tag),
                            done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentVersion> versions;
    Status status = CheckIds({name, branch, tag});
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      status = QueryRecords(lane, relational::kVersionColumns, "`DocumentVersions` AS t",
                            "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch) +
                                " AND t.`Tag` = " + lane.Text(tag),
                            relational::ReadVersion, versions)
                   .status;
    }
    std::optional<DocumentVersion> found;
    if (status.ok() && !versions.empty()) found = std::move(versions.front());
    Invoke(done, std::move(status), std::move(found));
  }});
}

void MySqlDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  worker_->Enqueue(CallJob{
      [name = std::move(global_name), branch = std::move(branch_id), done = std::move(done)](Lane& lane) mutable {
        std::vector<DocumentVersion> versions;
        Status status = CheckIds({name, branch});
        if (status.ok()) status = lane.Connected();
        if (status.ok()) {
          status = QueryRecords(lane, relational::kVersionColumns, "`DocumentVersions` AS t",
                                "t.`GlobalName` = " + lane.Text(name) + " AND t.`BranchId` = " + lane.Text(branch),
                                relational::ReadVersion, versions)
                       .status;
        }
        relational::SortVersionsByTag(versions);
        if (!status.ok()) versions.clear();
        Invoke(done, std::move(status), std::move(versions));
      }});
}

void MySqlDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  worker_->Enqueue(CallJob{[id = std::move(physical_document_id), done = std::move(done)](Lane& lane) mutable {
    std::vector<DocumentVersion> versions;
    Status status = CheckId(id);
    if (status.ok()) status = lane.Connected();
    if (status.ok()) {
      status = QueryRecords(lane, relational::kVersionColumns,
                            "`DocumentVersions` AS t JOIN `DocumentBranches` AS b ON b.`GlobalName` = t.`GlobalName` "
                            "AND b.`BranchId` = t.`BranchId`",
                            "b.`PhysicalDocumentId` = " + lane.Text(id), relational::ReadVersion, versions)
                   .status;
    }
    relational::SortPinningVersions(versions);
    if (!status.ok()) versions.clear();
    Invoke(done, std::move(status), std::move(versions));
  }});
}

}  // namespace opstream::storage
