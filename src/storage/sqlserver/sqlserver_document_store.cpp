#include "storage/sqlserver/sqlserver_document_store.hpp"

// ODBC's headers define RETCODE, which FreeTDS's sybdb.h also does: no db-lib in this translation unit.
#include <fmt/format.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sql.h>
#include <sqlext.h>

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
#include "storage/sqlserver/sqlserver_sql.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {
namespace {

using Clock = std::chrono::steady_clock;
using sqlserver::ErrorKind;
constexpr std::string_view kProvider = "sqlserver";
constexpr const char* kNotAcknowledged = "The ops were not acknowledged.";
// SQL Server's "Cannot open database requested by the login".
constexpr int32_t kCannotOpenDatabase = 4060;
// Bytes of parameter data per INSERT, so one group never becomes one enormous batch.
constexpr size_t kInsertBytes = 4 << 20;

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

Status CheckId(std::string_view id) {
  const size_t units = sqlserver::CountUtf16Units(id);
  if (units <= sqlserver::kMaxIdUnits) return Status::Ok();
  return Status::Error(fmt::format(
      "Document id '{}...' is {} UTF-16 code units long; the SQL Server store keeps ids of at most {} (nvarchar(450)).",
      id.substr(0, 32), units, sqlserver::kMaxIdUnits));
}

using relational::ParseInt64;

std::optional<Timestamp> ParseTime(std::string_view text) { return sqlserver::ParseDateTimeOffset(text); }

// One bound parameter and the storage ODBC reads it from at execution time.
struct Param {
  SQLSMALLINT c_type = SQL_C_CHAR;
  SQLSMALLINT sql_type = SQL_WVARCHAR;
  SQLULEN size = 1;
  std::string bytes;
  int64_t number = 0;
  SQLLEN indicator = 0;
  bool time = false;  // sent as text and CAST to datetimeoffset in the statement
};

// Text for an nvarchar column: UTF-8 here, converted by FreeTDS (ClientCharset=UTF-8). Key columns
// are declared nvarchar(450) so every call shares one cached plan.
Param Text(std::string_view text, bool key = false) {
  Param p;
  p.bytes = std::string(text);
  p.size = key ? sqlserver::kMaxIdUnits : std::max<SQLULEN>(1, sqlserver::CountUtf16Units(text));
  p.indicator = static_cast<SQLLEN>(p.bytes.size());
  return p;
}
Param Key(std::string_view text) { return Text(text, true); }
Param BigInt(int64_t value) {
  Param p;
  p.c_type = SQL_C_SBIGINT;
  p.sql_type = SQL_BIGINT;
  p.number = value;
  return p;
}
Param Binary(std::string_view bytes) {
  Param p;
  p.c_type = SQL_C_BINARY;
  p.sql_type = SQL_VARBINARY;
  p.bytes = std::string(bytes);
  p.size = std::max<SQLULEN>(1, p.bytes.size());
  p.indicator = static_cast<SQLLEN>(p.bytes.size());
  return p;
}
// A datetimeoffset as the text the statements CAST.
Param Time(Timestamp t) {
  Param p;
  p.sql_type = SQL_VARCHAR;
  p.bytes = sqlserver::FormatDateTimeOffset(t);
  p.size = 34;
  p.indicator = static_cast<SQLLEN>(p.bytes.size());
  p.time = true;
  return p;
}
Param Null(Param p) {
  p.indicator = SQL_NULL_DATA;
  return p;
}
Param OptionalText(const std::optional<std::string>& text) { return text ? Text(*text) : Null(Text({})); }
Param OptionalTime(const std::optional<Timestamp>& t) { return t ? Time(*t) : Null(Time({})); }
// `?` markers for `params`, a datetimeoffset one CAST.
std::string Markers(const std::vector<Param>& params) {
  std::string out;
  for (const Param& p : params) {
    if (!out.empty()) out += ", ";
    out += p.time ? "CAST(? AS datetimeoffset)" : "?";
  }
  return out;
}

struct Outcome {
  Status status = Status::Ok();
  ErrorKind kind = ErrorKind::kOther;
  bool ok() const { return status.ok(); }
};

// The diagnostic records of `handle`: the first record's SQLSTATE and native error, every message.
struct Diagnostics {
  std::string sqlstate;
  int32_t native = 0;
  std::string message;
};
Diagnostics ReadDiagnostics(SQLSMALLINT handle_type, SQLHANDLE handle) {
  Diagnostics d;
  for (SQLSMALLINT record = 1; record <= 4; ++record) {
    SQLCHAR state[6] = {};
    SQLINTEGER native = 0;
    SQLCHAR text[1024] = {};
    SQLSMALLINT length = 0;
    const SQLRETURN rc = SQLGetDiagRec(handle_type, handle, record, state, &native, text, sizeof text, &length);
    if (!SQL_SUCCEEDED(rc)) break;
    if (record == 1) {
      d.sqlstate = reinterpret_cast<const char*>(state);
      d.native = native;
    }
    if (!d.message.empty()) d.message += "; ";
    d.message += reinterpret_cast<const char*>(text);
  }
  if (d.message.empty()) d.message = "no diagnostic from the ODBC driver";
  return d;
}

using Row = relational::Row;

// One connection and the thread that owns it.
class Lane {
 public:
  Lane(const SqlServerConnectionOptions& options, const SqlServerStoreSettings& settings, SQLHENV env,
       jobs::LaneQueue<LaneJob>& queue)
      : options_(options),
        settings_(settings),
        env_(env),
        backoff_(kProvider, "SQL Server", options.Describe(), settings, queue.counters().connections),
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
    pthread_setname_np(pthread_self(), "opstream-mssql");
#endif
    jobs::ServeLane(kProvider, options_.Describe(), queue_, *this);
    Disconnect(false);
  }

 private:
  template <typename J, typename L>
  friend void jobs::ServeLane(std::string_view, const std::string&, jobs::LaneQueue<J>&, L&);

  // ----- connection -----

  Status EnsureConnected(bool force) {
    if (dbc_ != SQL_NULL_HDBC) return Status::Ok();
    if (backoff_.Waiting(force)) return backoff_.Unavailable();
    Diagnostics failure;
    dbc_ = Connect({}, failure);
    // §3.4.5 step 1: the migrator creates a missing database when the login may.
    if (dbc_ == SQL_NULL_HDBC && force && failure.native == kCannotOpenDatabase && !options_.database.empty()) {
      if (CreateDatabase(failure)) dbc_ = Connect({}, failure);
    }
    if (dbc_ == SQL_NULL_HDBC) {
      if (failure.sqlstate == "IM002" || failure.sqlstate == "01000") {
        failure.message += fmt::format(
            " (is the ODBC driver '{}' installed and registered in odbcinst.ini? On Debian: "
            "apt-get install tdsodbc)",
            settings_.odbc_driver);
      }
      backoff_.Failed(std::move(failure.message));
      return backoff_.Unavailable();
    }
    backoff_.Connected();
    queue_.counters().connections.fetch_add(1);
    spdlog::info("storage.sqlserver: connected to {}", options_.Describe());
    return Status::Ok();
  }

  // A new connection (to `database` instead of the configured one when given), or null with the
  // driver's diagnostics.
  SQLHDBC Connect(std::string_view database, Diagnostics& failure) const {
    SQLHDBC dbc = SQL_NULL_HDBC;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, env_, &dbc))) {
      failure = ReadDiagnostics(SQL_HANDLE_ENV, env_);
      return SQL_NULL_HDBC;
    }
    const auto login_timeout = static_cast<SQLULEN>(options_.connect_timeout.count());
    SQLSetConnectAttr(dbc, SQL_ATTR_LOGIN_TIMEOUT, reinterpret_cast<SQLPOINTER>(login_timeout), 0);
    std::string text = ToFreeTdsOdbcConnectionString(options_, settings_.odbc_driver, database);
    const SQLRETURN rc = SQLDriverConnect(dbc, nullptr, reinterpret_cast<SQLCHAR*>(text.data()), SQL_NTS, nullptr, 0,
                                          nullptr, SQL_DRIVER_NOPROMPT);
    std::fill(text.begin(), text.end(), '\0');  // the password does not linger in freed memory
    if (SQL_SUCCEEDED(rc)) return dbc;
    failure = ReadDiagnostics(SQL_HANDLE_DBC, dbc);
    SQLFreeHandle(SQL_HANDLE_DBC, dbc);
    return SQL_NULL_HDBC;
  }

  bool CreateDatabase(Diagnostics& failure) {
    SQLHDBC admin = Connect("master", failure);
    if (admin == SQL_NULL_HDBC) return false;
    std::swap(dbc_, admin);
    const Outcome o = Exec(sqlserver::CreateDatabaseSql(options_.database), {}, "database creation");
    std::swap(dbc_, admin);
    if (admin != SQL_NULL_HDBC) {
      SQLDisconnect(admin);
      SQLFreeHandle(SQL_HANDLE_DBC, admin);
    }
    if (!o.ok()) {
      failure.message = o.status.message();
      return false;
    }
    spdlog::info("storage.sqlserver: created database {}", options_.Describe());
    return true;
  }

  void Disconnect(bool lost) {
    if (dbc_ == SQL_NULL_HDBC) return;
    if (lost) spdlog::warn("storage.sqlserver: connection to {} lost; reconnecting", options_.Describe());
    SQLDisconnect(dbc_);
    SQLFreeHandle(SQL_HANDLE_DBC, dbc_);
    dbc_ = SQL_NULL_HDBC;
    backoff_.Lost();
  }

  // ----- statements -----

  Outcome Failure(std::string_view operation, SQLSMALLINT handle_type, SQLHANDLE handle) {
    const Diagnostics d = ReadDiagnostics(handle_type, handle);
    const ErrorKind kind = sqlserver::ClassifyError(d.sqlstate, d.native);
    Outcome outcome{Status::Error(fmt::format("SQL Server {} failed: {} (SQLSTATE {}, error {})", operation, d.message,
                                              d.sqlstate, d.native)),
                    kind};
    return outcome;
  }

  // Reads column `column` of the current row in chunks (nvarchar(max)/varbinary(max) have no bound).
  bool ReadColumn(SQLHSTMT stmt, SQLUSMALLINT column, bool binary, std::optional<std::string>& out) {
    out.emplace();
    char buffer[16384];
    const size_t room = binary ? sizeof buffer : sizeof buffer - 1;  // text chunks end with a NUL
    for (;;) {
      SQLLEN indicator = 0;
      const SQLRETURN rc =
          SQLGetData(stmt, column, binary ? SQL_C_BINARY : SQL_C_CHAR, buffer, sizeof buffer, &indicator);
      if (rc == SQL_NO_DATA) return true;
      if (!SQL_SUCCEEDED(rc)) return false;
      if (indicator == SQL_NULL_DATA) {
        out.reset();
        return true;
      }
      const bool whole = indicator != SQL_NO_TOTAL && static_cast<size_t>(indicator) <= room;
      out->append(buffer, whole ? static_cast<size_t>(indicator) : room);
      if (rc == SQL_SUCCESS || whole) return true;
    }
  }

  // Runs `sql` with `params`; with `rows`, keeps every row of its first result set.
  Outcome Exec(std::string_view sql, std::vector<Param> params, std::string_view operation,
               std::vector<Row>* rows = nullptr) {
    if (dbc_ == SQL_NULL_HDBC) return {backoff_.Unavailable(), ErrorKind::kConnectionLost};
    SQLHSTMT stmt = SQL_NULL_HSTMT;
    if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, dbc_, &stmt)))
      return Lost(Failure(operation, SQL_HANDLE_DBC, dbc_));
    const auto timeout = static_cast<SQLULEN>(options_.command_timeout.count());
    SQLSetStmtAttr(stmt, SQL_ATTR_QUERY_TIMEOUT, reinterpret_cast<SQLPOINTER>(timeout), 0);
    Outcome outcome;
    for (size_t i = 0; i < params.size() && outcome.ok(); ++i) {
      Param& p = params[i];
      SQLPOINTER value =
          p.c_type == SQL_C_SBIGINT ? static_cast<SQLPOINTER>(&p.number) : static_cast<SQLPOINTER>(p.bytes.data());
      const SQLLEN buffer_length = p.c_type == SQL_C_SBIGINT ? 0 : static_cast<SQLLEN>(p.bytes.size());
      const SQLRETURN rc = SQLBindParameter(stmt, static_cast<SQLUSMALLINT>(i + 1), SQL_PARAM_INPUT, p.c_type,
                                            p.sql_type, p.size, 0, value, buffer_length, &p.indicator);
      if (!SQL_SUCCEEDED(rc)) outcome = Failure(operation, SQL_HANDLE_STMT, stmt);
    }
    if (outcome.ok()) {
      std::string text(sql);
      SQLRETURN rc = SQLExecDirect(stmt, reinterpret_cast<SQLCHAR*>(text.data()), static_cast<SQLINTEGER>(text.size()));
      if (rc != SQL_NO_DATA && !SQL_SUCCEEDED(rc)) outcome = Failure(operation, SQL_HANDLE_STMT, stmt);
      row_count_ = 0;
      if (outcome.ok() && rc != SQL_NO_DATA) SQLRowCount(stmt, &row_count_);
      bool first = true;
      // Every result of the batch is drained: an error in a later statement only surfaces there.
      while (outcome.ok() && rc != SQL_NO_DATA) {
        SQLSMALLINT columns = 0;
        SQLNumResultCols(stmt, &columns);
        if (columns > 0 && rows != nullptr && first) {
          first = false;
          outcome = Fetch(stmt, columns, *rows, operation);
        }
        if (!outcome.ok()) break;
        rc = SQLMoreResults(stmt);
        if (rc != SQL_NO_DATA && !SQL_SUCCEEDED(rc)) outcome = Failure(operation, SQL_HANDLE_STMT, stmt);
      }
    }
    SQLFreeHandle(SQL_HANDLE_STMT, stmt);
    return Lost(std::move(outcome));
  }

  Outcome Fetch(SQLHSTMT stmt, SQLSMALLINT columns, std::vector<Row>& rows, std::string_view operation) {
    std::vector<bool> binary(static_cast<size_t>(columns), false);
    for (SQLSMALLINT c = 1; c <= columns; ++c) {
      SQLSMALLINT type = 0;
      SQLDescribeCol(stmt, static_cast<SQLUSMALLINT>(c), nullptr, 0, nullptr, &type, nullptr, nullptr, nullptr);
      binary[static_cast<size_t>(c - 1)] = type == SQL_BINARY || type == SQL_VARBINARY || type == SQL_LONGVARBINARY;
    }
    for (;;) {
      const SQLRETURN rc = SQLFetch(stmt);
      if (rc == SQL_NO_DATA) return {};
      if (!SQL_SUCCEEDED(rc)) return Failure(operation, SQL_HANDLE_STMT, stmt);
      Row& row = rows.emplace_back(static_cast<size_t>(columns));
      for (SQLSMALLINT c = 1; c <= columns; ++c) {
        const auto index = static_cast<size_t>(c - 1);
        if (!ReadColumn(stmt, static_cast<SQLUSMALLINT>(c), binary[index], row[index])) {
          return Failure(operation, SQL_HANDLE_STMT, stmt);
        }
      }
    }
  }

  // A connection whose link failed, or whose statement was cancelled half-way, is not reused.
  Outcome Lost(Outcome outcome) {
    if (!outcome.ok() && (outcome.kind == ErrorKind::kConnectionLost || outcome.kind == ErrorKind::kTimeout)) {
      Disconnect(true);
    }
    return outcome;
  }

  void SetAutocommit(bool on) {
    if (dbc_ == SQL_NULL_HDBC) return;
    SQLSetConnectAttr(dbc_, SQL_ATTR_AUTOCOMMIT,
                      reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(on ? SQL_AUTOCOMMIT_ON : SQL_AUTOCOMMIT_OFF)),
                      0);
  }

  // Runs `body` in one transaction: committed when it succeeds, rolled back otherwise.
  template <typename Body>
  Outcome InTransaction(std::string_view operation, Body&& body) {
    if (dbc_ == SQL_NULL_HDBC) return {backoff_.Unavailable(), ErrorKind::kConnectionLost};
    if (!SQL_SUCCEEDED(SQLSetConnectAttr(
            dbc_, SQL_ATTR_AUTOCOMMIT, reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(SQL_AUTOCOMMIT_OFF)), 0))) {
      return Lost(Failure(operation, SQL_HANDLE_DBC, dbc_));
    }
    Outcome o = body();
    if (dbc_ == SQL_NULL_HDBC) return o;
    if (o.ok()) {
      if (!SQL_SUCCEEDED(SQLEndTran(SQL_HANDLE_DBC, dbc_, SQL_COMMIT))) {
        o = Failure(operation, SQL_HANDLE_DBC, dbc_);
        // A failed commit leaves the outcome unknown: the connection is not trusted again.
        o.kind = o.kind == ErrorKind::kDuplicateKey ? o.kind : ErrorKind::kConnectionLost;
        return Lost(std::move(o));
      }
    } else {
      SQLEndTran(SQL_HANDLE_DBC, dbc_, SQL_ROLLBACK);
    }
    SetAutocommit(true);
    return o;
  }

  // ----- Initialize -----

  // Under EF Core's application lock, re-reading the history, so nodes starting together apply
  // each step once (§3.4.5); each step and its history row commit together.
  Status Migrate() {
    std::vector<Row> rows;
    Outcome o = Exec(sqlserver::kAcquireMigrationLockSql, {}, "migration lock", &rows);
    if (!o.ok()) return o.status;
    int64_t granted = -1;
    if (rows.empty() || !rows[0][0] || !ParseInt64(*rows[0][0], granted) || granted < 0) {
      return Status::Error(
          fmt::format("SQL Server migration lock on {} was not granted within 60 s.", options_.Describe()));
    }
    Status status = MigrateLocked();
    if (dbc_ != SQL_NULL_HDBC) (void)Exec(sqlserver::kReleaseMigrationLockSql, {}, "migration unlock");
    return status;
  }

  Status MigrateLocked() {
    Outcome o = Exec(sqlserver::kCreateHistoryTableSql, {}, "migration history");
    if (!o.ok()) return o.status;
    std::vector<Row> rows;
    o = Exec(sqlserver::kSelectHistorySql, {}, "migration history", &rows);
    if (!o.ok()) return o.status;
    std::vector<std::string> ids;
    for (const Row& row : rows) {
      if (!row.empty() && row[0]) ids.push_back(*row[0]);
    }
    if (Status known = CheckAppliedMigrations(ids, sqlserver::Migrations(), "SQL Server", options_.Describe());
        !known.ok())
      return known;
    const std::set<std::string> applied(ids.begin(), ids.end());
    for (const sqlserver::Migration& m : sqlserver::Migrations()) {
      if (applied.contains(std::string(m.id))) continue;
      const std::string operation = fmt::format("migration {}", m.id);
      o = InTransaction(operation, [&]() -> Outcome {
        for (std::string_view statement : m.statements) {
          Outcome step = Exec(statement, {}, operation);
          if (!step.ok()) return step;
        }
        return Exec(sqlserver::kInsertHistorySql, {Text(m.id), Text(sqlserver::kEfProductVersion)}, operation);
      });
      if (!o.ok()) return o.status;
      spdlog::info("storage.sqlserver: applied migration {}", m.id);
    }
    return Status::Ok();
  }

  // ----- batches -----

  // The group's rows as INSERTs of at most kMaxOpsPerInsert rows and about kInsertBytes each.
  Outcome InsertRows(const std::vector<const AppendJob*>& appends) {
    std::vector<Param> params;
    size_t rows = 0, bytes = 0;
    auto flush = [&]() -> Outcome {
      if (rows == 0) return {};
      Outcome o = Exec(sqlserver::InsertOpsSql(rows), std::move(params), "append");
      params = {};
      rows = bytes = 0;
      return o;
    };
    for (const AppendJob* append : appends) {
      for (const StoredOp& op : append->ops) {
        if (rows == sqlserver::kMaxOpsPerInsert || bytes > kInsertBytes) {
          if (Outcome o = flush(); !o.ok()) return o;
        }
        params.push_back(Key(append->document_id));
        params.push_back(BigInt(op.revision));
        params.push_back(Text(op.author_id));
        params.push_back(Time(op.timestamp));
        params.push_back(Binary(op.payload));
        params.push_back(Text(op.engine_type));
        ++rows;
        bytes += op.payload.size() + op.author_id.size() + op.engine_type.size();
      }
    }
    return flush();
  }

  Outcome InsertInTransaction(const std::vector<const AppendJob*>& appends) {
    return InTransaction("append", [&] { return InsertRows(appends); });
  }

  // A connection found dead before anything was committed (the server went away while it was
  // idle): an uncommitted transaction is rolled back with its session.
  bool MayRetryAppends(const Outcome& o) const { return dbc_ == SQL_NULL_HDBC && o.kind == ErrorKind::kConnectionLost; }
  static Status ValidId(std::string_view id) { return CheckId(id); }

  int64_t ExistingRevision(const AppendJob& append) {
    if (append.ops.size() == 1 || dbc_ == SQL_NULL_HDBC) return append.ops.front().revision;
    std::vector<Param> params{Key(append.document_id)};
    for (const StoredOp& op : append.ops) params.push_back(BigInt(op.revision));
    std::vector<Row> rows;
    int64_t revision = 0;
    if (append.ops.size() < 2000 &&
        Exec(sqlserver::ExistingRevisionSql(append.ops.size()), std::move(params), "append", &rows).ok() &&
        !rows.empty() && rows[0][0] && ParseInt64(*rows[0][0], revision)) {
      return revision;
    }
    return append.ops.front().revision;
  }

  Status Refusal(const AppendJob& append, const Outcome& o) {
    if (o.kind == ErrorKind::kDuplicateKey) return DuplicateRevisionError(append.document_id, ExistingRevision(append));
    return Status::Error(fmt::format("{} {}", o.status.message(), kNotAcknowledged));
  }

  Status RunLoad(const LoadJob& job, LoadedDocument& loaded) {
    if (Status valid = CheckId(job.document_id); !valid.ok()) return valid;
    std::vector<Row> rows;
    Outcome o =
        Exec(sqlserver::kLoadSql, {Key(job.document_id), Key(job.document_id), Key(job.document_id)}, "load", &rows);
    if (!o.ok()) return o.status;
    return relational::ReadLoadedDocument(rows, ParseTime, "SQL Server", job.document_id, loaded);
  }

  Status RunOther(LaneJob& job, LoadedDocument& loaded) {
    if (auto* load = std::get_if<LoadJob>(&job)) return RunLoad(*load, loaded);
    if (auto* snapshot = std::get_if<SnapshotJob>(&job)) {
      if (Status valid = CheckId(snapshot->document_id); !valid.ok()) return valid;
      const Snapshot& s = snapshot->snapshot;
      return Exec(sqlserver::kUpsertSnapshotSql,
                  {Key(snapshot->document_id), BigInt(s.revision), Time(s.timestamp), Binary(s.state)},
                  "snapshot write")
          .status;
    }
    if (auto* compact = std::get_if<CompactJob>(&job)) {
      if (Status valid = CheckId(compact->document_id); !valid.ok()) return valid;
      return Exec(sqlserver::kCompactSql, {Key(compact->document_id), BigInt(compact->up_to)}, "compaction").status;
    }
    return Exec(sqlserver::kProbeSql, {}, "health probe").status;
  }

  void RunBatch(std::vector<LaneJob>& batch, bool may_retry) {
    std::vector<Status> results(batch.size(), Status::Ok());
    jobs::RunGroupedAppends(kProvider, *this, batch, results, may_retry, queue_.counters());
    jobs::RunOthersAndAnswer(kProvider, *this, batch, results, may_retry, "SQL Server reachable");
  }

 public:
  // ----- what jobs::RunOthersAndAnswer uses (besides EnsureConnected and RunOther) -----
  template <typename L, typename J>
  friend void jobs::RunOthersAndAnswer(std::string_view, L&, std::vector<J>&, std::vector<Status>&, bool,
                                       std::string_view);
  template <typename L, typename J>
  friend void jobs::RunGroupedAppends(std::string_view, L&, std::vector<J>&, std::vector<Status>&, bool,
                                      jobs::LaneCounters&);
  bool Disconnected() const { return dbc_ == SQL_NULL_HDBC; }

  // ----- what calls (CallJob) use -----
  Status Connected() { return EnsureConnected(false); }
  Outcome Run(std::string_view sql, std::vector<Param> params, std::string_view operation,
              std::vector<Row>* rows = nullptr) {
    return Exec(sql, std::move(params), operation, rows);
  }
  // Rows the last statement changed (its first result).
  int64_t AffectedRows() const { return static_cast<int64_t>(row_count_); }
  template <typename Body>
  Outcome Transaction(std::string_view operation, Body&& body) {
    return InTransaction(operation, std::forward<Body>(body));
  }

 private:
  const SqlServerConnectionOptions& options_;
  const SqlServerStoreSettings& settings_;
  SQLLEN row_count_ = 0;
  SQLHENV env_;
  SQLHDBC dbc_ = SQL_NULL_HDBC;
  jobs::ReconnectBackoff backoff_;
  jobs::LaneQueue<LaneJob>& queue_;
  std::thread thread_;  // last: everything above exists before the thread starts
};

// ----- management, history, comments and refs (server.md §3.1, §3.4.7) -----

Outcome Unreadable(std::string_view operation) {
  return {Status::Error(fmt::format("SQL Server {} failed: a row could not be read.", operation)), ErrorKind::kOther};
}

// `[column]` of `alias`, read as text the decoders understand: datetimeoffset as its CAST text, bit as int.
std::string SelectColumn(std::string_view column, std::string_view alias) {
  const std::string name = fmt::format("{}[{}]", alias.empty() ? "" : std::string(alias) + ".", column);
  if (column == "CreatedAt" || column == "ResolvedAt" || column == "Timestamp") {
    return fmt::format("CAST({} AS varchar(34))", name);
  }
  if (column == "IsOrphaned" || column == "IsReadOnly") return fmt::format("CAST({} AS int)", name);
  return name;
}

template <size_t N>
std::string SelectList(const std::string_view (&columns)[N], std::string_view alias) {
  std::string out;
  for (std::string_view column : columns) out += (out.empty() ? "" : ", ") + SelectColumn(column, alias);
  return out;
}

constexpr std::string_view kLikeEscape = " ESCAPE '\\'";
Param LikePattern(std::string_view prefix) { return Text(relational::LikePrefixPattern(prefix, "[")); }

Outcome CollectInfos(Lane& lane, std::string_view where, const std::vector<Param>& params,
                     relational::InfoMerger& merger) {
  std::vector<Row> rows;
  Outcome o = lane.Run(fmt::format("SELECT [DocumentId], [Revision], CAST([Timestamp] AS varchar(34)) FROM "
                                   "[opstream].[DocumentSnapshots] WHERE {};",
                                   where),
                       params, "document info", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    relational::RowReader r(row, ParseTime);
    const std::string id = r.Text();
    const int64_t revision = r.Int();
    const Timestamp timestamp = r.Time();
    if (!r.ok()) return Unreadable("document info");
    merger.AddSnapshot(id, revision, timestamp);
  }
  rows.clear();
  o = lane.Run(fmt::format("SELECT [DocumentId], MAX([Revision]), CAST(MAX([Timestamp]) AS varchar(34)), COUNT_BIG(*) "
                           "FROM [opstream].[DocumentOps] WHERE {} GROUP BY [DocumentId];",
                           where),
               params, "document info", &rows);
  if (!o.ok()) return o;
  for (const Row& row : rows) {
    relational::RowReader r(row, ParseTime);
    const std::string id = r.Text();
    const int64_t revision = r.Int();
    const Timestamp timestamp = r.Time();
    const int64_t count = r.Int();
    if (!r.ok()) return Unreadable("document info");
    merger.AddOps(id, revision, timestamp, count);
  }
  return {};
}

Outcome DeleteByPrefix(Lane& lane, std::string_view prefix, std::string_view ops, std::string_view snapshots,
                       int64_t& count) {
  std::vector<Row> rows;
  Outcome o = lane.Run(fmt::format("SELECT [DocumentId] FROM [opstream].[{0}] WHERE [DocumentId] LIKE ?{2} UNION "
                                   "SELECT [DocumentId] FROM [opstream].[{1}] WHERE [DocumentId] LIKE ?{2};",
                                   ops, snapshots, kLikeEscape),
                       {LikePattern(prefix), LikePattern(prefix)}, "prefix delete", &rows);
  if (!o.ok()) return o;
  std::vector<std::string> ids;
  for (const Row& row : rows) {
    if (!row.empty() && row[0] && relational::StartsWith(*row[0], prefix)) ids.push_back(*row[0]);
  }
  count = static_cast<int64_t>(ids.size());
  if (ids.empty()) return {};
  // At most 500 ids per statement (SQL Server takes 2100 parameters).
  return lane.Transaction("prefix delete", [&]() -> Outcome {
    for (size_t start = 0; start < ids.size(); start += 500) {
      const size_t end = std::min(ids.size(), start + 500);
      for (std::string_view table : {ops, snapshots}) {
        std::vector<Param> params;
        for (size_t i = start; i < end; ++i) params.push_back(Key(ids[i]));
        const std::string markers = Markers(params);
        Outcome d = lane.Run(fmt::format("DELETE FROM [opstream].[{}] WHERE [DocumentId] IN ({});", table, markers),
                             std::move(params), "prefix delete");
        if (!d.ok()) return d;
      }
    }
    return {};
  });
}

Outcome DeleteDocument(Lane& lane, const std::string& id, std::string_view ops, std::string_view snapshots,
                       std::optional<int64_t> up_to = std::nullopt) {
  return lane.Transaction("delete", [&]() -> Outcome {
    for (std::string_view table : {ops, snapshots}) {
      std::vector<Param> params{Key(id)};
      if (up_to) params.push_back(BigInt(*up_to));
      Outcome d = lane.Run(fmt::format("DELETE FROM [opstream].[{}] WHERE [DocumentId] = ?{};", table,
                                       up_to ? " AND [Revision] <= ?" : ""),
                           std::move(params), "delete");
      if (!d.ok()) return d;
    }
    return {};
  });
}

// The rows of `sql`, each read by `read` into `out`.
template <typename Record>
Status ReadRows(Lane& lane, std::string_view sql, std::vector<Param> params, std::string_view operation,
                bool (*read)(const Row&, relational::TimeParser, Record&), std::vector<Record>& out) {
  std::vector<Row> rows;
  if (Outcome o = lane.Run(sql, std::move(params), operation, &rows); !o.ok()) return o.status;
  for (const Row& row : rows) {
    Record record;
    if (!read(row, ParseTime, record)) return Unreadable(operation).status;
    out.push_back(std::move(record));
  }
  return Status::Ok();
}

template <typename Record, size_t N>
Status QueryRecords(Lane& lane, const std::string_view (&columns)[N], std::string_view from, std::string_view where,
                    std::vector<Param> params, bool (*read)(const Row&, relational::TimeParser, Record&),
                    std::vector<Record>& out) {
  return ReadRows(lane, fmt::format("SELECT {} FROM {} WHERE {};", SelectList(columns, "t"), from, where),
                  std::move(params), "query", read, out);
}

// The first of `found`, if any.
template <typename Record>
void TakeFirst(std::vector<Record>& found, std::optional<Record>& out) {
  if (!found.empty()) out = std::move(found.front());
}

constexpr std::string_view kComments = "[opstream].[Comments] AS t";
constexpr std::string_view kNames = "[opstream].[DocumentNames] AS t";
constexpr std::string_view kBranches = "[opstream].[DocumentBranches] AS t";
constexpr std::string_view kVersions = "[opstream].[DocumentVersions] AS t";

Status CheckIds(std::initializer_list<std::string_view> ids) {
  for (std::string_view id : ids) {
    if (Status valid = CheckId(id); !valid.ok()) return valid;
  }
  return Status::Ok();
}

// An INSERT of `params` into every column of `table` in `columns` order.
template <size_t N>
Outcome Insert(Lane& lane, std::string_view table, const std::string_view (&columns)[N], std::vector<Param> params,
               std::string_view operation) {
  const std::string markers = Markers(params);
  return lane.Run(fmt::format("INSERT INTO [opstream].[{}] ({}) VALUES ({});", table,
                              relational::ColumnList(columns, "[", "]"), markers),
                  std::move(params), operation);
}

}  // namespace

// The lanes, and the ODBC environment, options and settings they refer to (which outlive them).
class SqlServerDocumentStore::Worker {
 public:
  Worker(SqlServerConnectionOptions options, SqlServerStoreSettings settings)
      : options_(std::move(options)), settings_(std::move(settings)) {
    SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env_);
    if (env_ != SQL_NULL_HENV) {
      SQLSetEnvAttr(env_, SQL_ATTR_ODBC_VERSION, reinterpret_cast<SQLPOINTER>(static_cast<uintptr_t>(SQL_OV_ODBC3)), 0);
    }
    if (options_.encrypt == SqlServerEncrypt::kMandatory && !options_.trust_server_certificate) {
      spdlog::warn(
          "storage.sqlserver: Encrypt=True without TrustServerCertificate: FreeTDS verifies the server certificate "
          "only when freetds.conf names a CA file ('ca file'); see docs/storage/sqlserver.md");
    }
    lanes_ = std::make_unique<jobs::LanePool<Lane, LaneJob>>(
        jobs::PoolOptions(kProvider, "SQL Server", settings_, 4, options_.max_pool_size, /*calls_run_alone=*/true),
        [this](jobs::LaneQueue<LaneJob>& queue) { return std::make_unique<Lane>(options_, settings_, env_, queue); });
  }

  ~Worker() {
    lanes_.reset();  // the lanes finish the queue and close their connections first
    if (env_ != SQL_NULL_HENV) SQLFreeHandle(SQL_HANDLE_ENV, env_);
  }

  jobs::LanePool<Lane, LaneJob>& lanes() { return *lanes_; }

 private:
  const SqlServerConnectionOptions options_;
  const SqlServerStoreSettings settings_;
  SQLHENV env_ = SQL_NULL_HENV;
  std::unique_ptr<jobs::LanePool<Lane, LaneJob>> lanes_;
};

SqlServerDocumentStore::SqlServerDocumentStore(SqlServerConnectionOptions options, SqlServerStoreSettings settings)
    : worker_(std::make_unique<Worker>(std::move(options), std::move(settings))) {}

SqlServerDocumentStore::~SqlServerDocumentStore() = default;

void SqlServerDocumentStore::EnqueueJob(jobs::Job job) {
  worker_->lanes().Enqueue(jobs::Widen<LaneJob>(std::move(job)));
}

void SqlServerDocumentStore::CheckHealth(HealthCompletion done) { worker_->lanes().EnqueueProbe(std::move(done)); }

void SqlServerDocumentStore::Flush(std::chrono::milliseconds timeout) { worker_->lanes().Flush(timeout); }

SqlServerStoreCounters SqlServerDocumentStore::counters() const {
  return worker_->lanes().counters<SqlServerStoreCounters>();
}

// ----- management calls (server.md §3.1, §3.4.7) -----

void SqlServerDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  worker_->lanes().Call<std::vector<DocumentInfo>>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix), query](Lane& lane, std::vector<DocumentInfo>& out) {
        relational::InfoMerger merger;
        Status status =
            CollectInfos(lane, fmt::format("[DocumentId] LIKE ?{}", kLikeEscape), {LikePattern(prefix)}, merger).status;
        if (status.ok()) out = merger.Take(prefix, query);
        return status;
      });
}

void SqlServerDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<DocumentInfo>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::optional<DocumentInfo>& out) {
        relational::InfoMerger merger;
        Status status = CollectInfos(lane, "[DocumentId] = ?", {Key(id)}, merger).status;
        if (status.ok()) out = merger.TakeOne(id);
        return status;
      });
}

void SqlServerDocumentStore::Delete(std::string document_id, Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane) {
    return DeleteDocument(lane, id, "DocumentOps", "DocumentSnapshots").status;
  });
}

void SqlServerDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  worker_->lanes().Call<int64_t>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix)](Lane& lane, int64_t& count) {
        return DeleteByPrefix(lane, prefix, "DocumentOps", "DocumentSnapshots", count).status;
      });
}

// ----- history store -----

void SqlServerDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision,
                                                 SnapshotCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<Snapshot>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), max_revision](Lane& lane, std::optional<Snapshot>& out) {
        std::vector<Snapshot> found;
        Status status =
            ReadRows(lane,
                     "SELECT TOP (1) [Revision], CAST([Timestamp] AS varchar(34)), [State] FROM "
                     "[opstream].[HistorySnapshots] WHERE [DocumentId] = ? AND [Revision] <= ? ORDER BY "
                     "[Revision] DESC;",
                     {Key(id), BigInt(max_revision)}, "history snapshot load", relational::ReadSnapshot, found);
        TakeFirst(found, out);
        return status;
      });
}

void SqlServerDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to,
                                              OpsCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<StoredOp>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), since, up_to](Lane& lane, std::vector<StoredOp>& out) {
        return ReadRows(lane,
                        "SELECT [Revision], [AuthorId], CAST([Timestamp] AS varchar(34)), [Payload], [EngineType] "
                        "FROM [opstream].[HistoryOps] WHERE [DocumentId] = ? AND [Revision] > ? AND [Revision] <= ? "
                        "ORDER BY [Revision];",
                        {Key(id), BigInt(since), BigInt(up_to)}, "history op stream", relational::ReadHistoryOp, out);
      });
}

void SqlServerDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<HistoryMilestone>>(
      std::move(checked), std::move(done),
      [id = std::move(document_id)](Lane& lane, std::vector<HistoryMilestone>& out) {
        return ReadRows(lane,
                        "SELECT [Revision], CAST([Timestamp] AS varchar(34)), [Name] FROM "
                        "[opstream].[HistorySnapshots] WHERE [DocumentId] = ? ORDER BY [Revision] DESC;",
                        {Key(id)}, "milestones", relational::ReadMilestone, out);
      });
}

void SqlServerDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                                  std::optional<std::string> name, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), snapshot = std::move(snapshot), name = std::move(name)](Lane& lane) {
        const Outcome o = lane.Run(
            "INSERT INTO [opstream].[HistorySnapshots] ([DocumentId], [Revision], [Timestamp], [State], [Name]) "
            "VALUES (?, ?, CAST(? AS datetimeoffset), ?, ?);",
            {Key(id), BigInt(snapshot.revision), Time(snapshot.timestamp), Binary(snapshot.state), OptionalText(name)},
            "history snapshot write");
        return o.kind == ErrorKind::kDuplicateKey ? HistorySnapshotExistsError(id, snapshot.revision) : o.status;
      });
}

void SqlServerDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done), [id = std::move(document_id), op = std::move(op)](Lane& lane) {
        const Outcome o = lane.Run(
            "INSERT INTO [opstream].[HistoryOps] ([DocumentId], [Revision], [AuthorId], [Timestamp], [Payload], "
            "[EngineType]) VALUES (?, ?, ?, CAST(? AS datetimeoffset), ?, ?);",
            {Key(id), BigInt(op.revision), Text(op.author_id), Time(op.timestamp), Binary(op.payload),
             Text(op.engine_type)},
            "history append");
        return o.kind == ErrorKind::kDuplicateKey ? HistoryOpExistsError(id, op.revision) : o.status;
      });
}

void SqlServerDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane) {
    return DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots").status;
  });
}

void SqlServerDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(document_id), up_to](Lane& lane) {
    return DeleteDocument(lane, id, "HistoryOps", "HistorySnapshots", up_to).status;
  });
}

void SqlServerDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  worker_->lanes().Call<int64_t>(Status::Ok(), std::move(done),
                                 [prefix = std::move(prefix)](Lane& lane, int64_t& count) {
                                   return DeleteByPrefix(lane, prefix, "HistoryOps", "HistorySnapshots", count).status;
                                 });
}

// ----- comment store (the reference's Comments table, §3.4.2) -----

void SqlServerDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::vector<Comment>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::vector<Comment>& out) {
        Status status = QueryRecords(lane, relational::kCommentColumns, kComments, "t.[DocumentId] = ?", {Key(id)},
                                     relational::ReadComment, out);
        relational::SortComments(out);
        return status;
      });
}

void SqlServerDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  Status checked = CheckId(comment_id);
  worker_->lanes().Call<std::optional<Comment>>(
      std::move(checked), std::move(done), [id = std::move(comment_id)](Lane& lane, std::optional<Comment>& out) {
        std::vector<Comment> found;
        Status status = QueryRecords(lane, relational::kCommentColumns, kComments, "t.[Id] = ?", {Key(id)},
                                     relational::ReadComment, found);
        TakeFirst(found, out);
        return status;
      });
}

void SqlServerDocumentStore::AddComment(Comment c, CommentStore::Completion done) {
  Status checked = CheckIds({c.id, c.document_id, c.parent_comment_id.value_or("")});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [c = std::move(c)](Lane& lane) {
    const Outcome o = Insert(
        lane, "Comments", relational::kCommentColumns,
        {Key(c.id), Key(c.document_id), OptionalText(c.parent_comment_id), Text(c.author_peer_id), Text(c.author_name),
         Text(c.body), OptionalText(c.anchor_json), BigInt(c.anchored_at_revision), Time(c.created_at),
         OptionalTime(c.resolved_at), OptionalText(c.resolved_by_peer_id), BigInt(c.is_orphaned ? 1 : 0)},
        "comment add");
    return o.kind == ErrorKind::kDuplicateKey ? CommentExistsError(c.id) : o.status;
  });
}

void SqlServerDocumentStore::UpdateComment(Comment c, CommentStore::Completion done) {
  Status checked = CheckId(c.id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [c = std::move(c)](Lane& lane) {
    Status status =
        lane.Run(
                "UPDATE [opstream].[Comments] SET [Body] = ?, [AnchorJson] = ?, [AnchoredAtRevision] = ?, "
                "[ResolvedAt] = CAST(? AS datetimeoffset), [ResolvedByPeerId] = ?, [IsOrphaned] = ? "
                "WHERE [Id] = ?;",
                {Text(c.body), OptionalText(c.anchor_json), BigInt(c.anchored_at_revision), OptionalTime(c.resolved_at),
                 OptionalText(c.resolved_by_peer_id), BigInt(c.is_orphaned ? 1 : 0), Key(c.id)},
                "comment update")
            .status;
    if (status.ok() && lane.AffectedRows() == 0) status = CommentNotFoundError(c.id);
    return status;
  });
}

void SqlServerDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  Status checked = CheckId(comment_id);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [id = std::move(comment_id)](Lane& lane) {
    // Replies go with their root.
    return lane
        .Transaction(
            "comment delete",
            [&]() -> Outcome {
              Outcome o = lane.Run(
                  "DELETE FROM [opstream].[Comments] WHERE [ParentCommentId] = ? AND EXISTS "
                  "(SELECT 1 FROM [opstream].[Comments] AS r WHERE r.[Id] = ? AND r.[ParentCommentId] IS NULL);",
                  {Key(id), Key(id)}, "comment delete");
              if (!o.ok()) return o;
              return lane.Run("DELETE FROM [opstream].[Comments] WHERE [Id] = ?;", {Key(id)}, "comment delete");
            })
        .status;
  });
}

void SqlServerDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                           CommentStore::Completion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done),
      [id = std::move(document_id), revision, updates = std::move(updates)](Lane& lane) {
        if (updates.empty()) return Status::Ok();
        return lane
            .Transaction("anchor update",
                         [&]() -> Outcome {
                           for (const AnchorUpdate& u : updates) {
                             Outcome o = lane.Run(
                                 "UPDATE [opstream].[Comments] SET [AnchorJson] = ?, [AnchoredAtRevision] = ?, "
                                 "[IsOrphaned] = CASE WHEN [IsOrphaned] = 1 OR ? = 1 THEN 1 ELSE 0 END "
                                 "WHERE [Id] = ? AND [DocumentId] = ?;",
                                 {OptionalText(u.anchor_json), BigInt(revision),
                                  BigInt(u.outcome == AnchorOutcome::kOrphaned ? 1 : 0), Key(u.comment_id), Key(id)},
                                 "anchor update");
                             if (!o.ok()) return o;
                           }
                           return {};
                         })
            .status;
      });
}

void SqlServerDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Status checked = CheckId(document_id);
  worker_->lanes().Call<std::optional<int64_t>>(
      std::move(checked), std::move(done), [id = std::move(document_id)](Lane& lane, std::optional<int64_t>& out) {
        // The anchor rule (not a JSON object = no anchor) is applied in ReadComment, so rows are read.
        std::vector<Comment> comments;
        Status status = QueryRecords(lane, relational::kCommentColumns, kComments,
                                     "t.[DocumentId] = ? AND t.[ParentCommentId] IS NULL AND t.[ResolvedAt] IS NULL "
                                     "AND t.[AnchorJson] IS NOT NULL",
                                     {Key(id)}, relational::ReadComment, comments);
        out = relational::MinAnchoredRevision(comments);
        return status;
      });
}

// ----- ref store (DocumentNames, DocumentBranches, DocumentVersions, §3.4.2) -----

void SqlServerDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Status checked = CheckId(global_name);
  worker_->lanes().Call<std::optional<DocumentName>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name)](Lane& lane, std::optional<DocumentName>& out) {
        std::vector<DocumentName> found;
        Status status = QueryRecords(lane, relational::kNameColumns, kNames, "t.[GlobalName] = ?", {Key(name)},
                                     relational::ReadName, found);
        TakeFirst(found, out);
        return status;
      });
}

void SqlServerDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  worker_->lanes().Call<std::vector<DocumentName>>(
      Status::Ok(), std::move(done), [prefix = std::move(prefix)](Lane& lane, std::vector<DocumentName>& out) {
        Status status =
            QueryRecords(lane, relational::kNameColumns, kNames, fmt::format("t.[GlobalName] LIKE ?{}", kLikeEscape),
                         {LikePattern(prefix)}, relational::ReadName, out);
        std::erase_if(out, [&](const DocumentName& n) { return !relational::StartsWith(n.global_name, prefix); });
        relational::SortNames(out);
        return status;
      });
}

void SqlServerDocumentStore::CreateName(DocumentName n, RefStore::Completion done) {
  Status checked = CheckId(n.global_name);
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [n = std::move(n)](Lane& lane) {
    const Outcome o =
        Insert(lane, "DocumentNames", relational::kNameColumns,
               {Key(n.global_name), Text(n.default_branch_id), Text(n.engine_type), Time(n.created_at)}, "name create");
    return o.kind == ErrorKind::kDuplicateKey ? NameExistsError(n.global_name) : o.status;
  });
}

void SqlServerDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<std::optional<DocumentBranch>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane, std::optional<DocumentBranch>& out) {
        std::vector<DocumentBranch> found;
        Status status =
            QueryRecords(lane, relational::kBranchColumns, kBranches, "t.[GlobalName] = ? AND t.[BranchId] = ?",
                         {Key(name), Key(branch)}, relational::ReadBranch, found);
        TakeFirst(found, out);
        return status;
      });
}

void SqlServerDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Status checked = CheckId(global_name);
  worker_->lanes().Call<std::vector<DocumentBranch>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name)](Lane& lane, std::vector<DocumentBranch>& out) {
        Status status = QueryRecords(lane, relational::kBranchColumns, kBranches, "t.[GlobalName] = ?", {Key(name)},
                                     relational::ReadBranch, out);
        relational::SortBranches(out);
        return status;
      });
}

void SqlServerDocumentStore::CreateBranch(DocumentBranch b, RefStore::Completion done) {
  Status checked = CheckIds({b.global_name, b.branch_id, b.physical_document_id});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [b = std::move(b)](Lane& lane) {
    const Outcome o = Insert(
        lane, "DocumentBranches", relational::kBranchColumns,
        {Key(b.global_name), Key(b.branch_id), Key(b.physical_document_id), OptionalText(b.fork_parent_branch_id),
         BigInt(b.fork_revision), Time(b.created_at), BigInt(b.is_read_only ? 1 : 0)},
        "branch create");
    return o.kind == ErrorKind::kDuplicateKey ? BranchExistsError(b.branch_id) : o.status;
  });
}

void SqlServerDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<void>(
      std::move(checked), std::move(done), [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane) {
        return lane
            .Run("DELETE FROM [opstream].[DocumentBranches] WHERE [GlobalName] = ? AND [BranchId] = ?;",
                 {Key(name), Key(branch)}, "branch delete")
            .status;
      });
}

void SqlServerDocumentStore::CreateVersion(DocumentVersion v, RefStore::Completion done) {
  Status checked = CheckIds({v.global_name, v.branch_id, v.tag});
  worker_->lanes().Call<void>(std::move(checked), std::move(done), [v = std::move(v)](Lane& lane) {
    const Outcome o = Insert(lane, "DocumentVersions", relational::kVersionColumns,
                             {Key(v.global_name), Key(v.branch_id), Key(v.tag), BigInt(v.revision),
                              Text(v.history_snapshot_name), Time(v.created_at)},
                             "version create");
    return o.kind == ErrorKind::kDuplicateKey ? TagExistsError(v.tag, v.branch_id) : o.status;
  });
}

void SqlServerDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                        VersionCompletion done) {
  Status checked = CheckIds({global_name, branch_id, tag});
  worker_->lanes().Call<std::optional<DocumentVersion>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id), tag = std::move(tag)](
          Lane& lane, std::optional<DocumentVersion>& out) {
        std::vector<DocumentVersion> found;
        Status status = QueryRecords(lane, relational::kVersionColumns, kVersions,
                                     "t.[GlobalName] = ? AND t.[BranchId] = ? AND t.[Tag] = ?",
                                     {Key(name), Key(branch), Key(tag)}, relational::ReadVersion, found);
        TakeFirst(found, out);
        return status;
      });
}

void SqlServerDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id,
                                               VersionsCompletion done) {
  Status checked = CheckIds({global_name, branch_id});
  worker_->lanes().Call<std::vector<DocumentVersion>>(
      std::move(checked), std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Lane& lane, std::vector<DocumentVersion>& out) {
        Status status =
            QueryRecords(lane, relational::kVersionColumns, kVersions, "t.[GlobalName] = ? AND t.[BranchId] = ?",
                         {Key(name), Key(branch)}, relational::ReadVersion, out);
        relational::SortVersionsByTag(out);
        return status;
      });
}

void SqlServerDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  Status checked = CheckId(physical_document_id);
  worker_->lanes().Call<std::vector<DocumentVersion>>(
      std::move(checked), std::move(done),
      [id = std::move(physical_document_id)](Lane& lane, std::vector<DocumentVersion>& out) {
        Status status = QueryRecords(lane, relational::kVersionColumns,
                                     "[opstream].[DocumentVersions] AS t JOIN [opstream].[DocumentBranches] AS b ON "
                                     "b.[GlobalName] = t.[GlobalName] AND b.[BranchId] = t.[BranchId]",
                                     "b.[PhysicalDocumentId] = ?", {Key(id)}, relational::ReadVersion, out);
        relational::SortPinningVersions(out);
        return status;
      });
}

Status OpenSqlServerStore(std::string_view connection_string, std::unique_ptr<DocumentStore>& out,
                          SqlServerStoreSettings settings) {
  SqlServerConnectionOptions options;
  if (Status status = ParseSqlServerConnectionString(connection_string, options); !status.ok()) return status;
  out = std::make_unique<SqlServerDocumentStore>(std::move(options), std::move(settings));
  return Status::Ok();
}

}  // namespace opstream::storage
