// The SQLite provider's management, history, comment and ref calls (server.md §3.1, §3.4.7) on the
// reference's tables. Each call is one task on the store's worker; writes that touch several rows
// run in one IMMEDIATE transaction, so they are all or nothing.
#include <fmt/format.h>

#include <algorithm>
#include <deque>
#include <limits>

#include "storage/sqlite/sqlite_database.hpp"
#include "storage/sqlite/sqlite_document_store.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {
namespace {

using sqlite::Database;

constexpr std::string_view kProvider = "sqlite";

// Prefix match as a byte-wise range on the BINARY collation (LIKE would be case-insensitive and
// treat % and _ as wildcards): ?1 = prefix, ?2 = PrefixUpperBound(prefix) or NULL. ForPrefix()
// turns the template into the bounded or the open-ended statement, so the planner sees a plain
// index range either way (an OR in the condition would make it scan to the end of the index).
#define OPSTREAM_PREFIX(column) "(" column " >= ?1 AND (?2 IS NULL OR " column " < ?2))"

constexpr const char* kEnumerateSql =
    "WITH ids AS (SELECT \"DocumentId\" AS id FROM \"DocumentSnapshots\" WHERE " OPSTREAM_PREFIX(
        "\"DocumentId\"") " UNION SELECT \"DocumentId\" FROM \"DocumentOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"") "), "
    "o AS (SELECT \"DocumentId\" AS id, MAX(\"Revision\") AS r, MAX(\"Timestamp\") AS t, COUNT(*) AS n "
    "FROM \"DocumentOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"") " GROUP BY \"DocumentId\") "
    "SELECT ids.id, s.\"Revision\", s.\"Timestamp\", o.r, o.t, o.n FROM ids "
    "LEFT JOIN \"DocumentSnapshots\" s ON s.\"DocumentId\" = ids.id LEFT JOIN o ON o.id = ids.id "
    "ORDER BY ids.id LIMIT ?3 OFFSET ?4";
constexpr const char* kInfoSql =
    "SELECT ?1, (SELECT \"Revision\" FROM \"DocumentSnapshots\" WHERE \"DocumentId\" = ?1), "
    "(SELECT \"Timestamp\" FROM \"DocumentSnapshots\" WHERE \"DocumentId\" = ?1), "
    "MAX(\"Revision\"), MAX(\"Timestamp\"), COUNT(*) FROM \"DocumentOps\" WHERE \"DocumentId\" = ?1";
constexpr const char* kDeleteOpsSql = "DELETE FROM \"DocumentOps\" WHERE \"DocumentId\" = ?1";
constexpr const char* kDeleteSnapshotSql = "DELETE FROM \"DocumentSnapshots\" WHERE \"DocumentId\" = ?1";
constexpr const char* kCountPrefixSql =
    "SELECT COUNT(*) FROM (SELECT \"DocumentId\" FROM \"DocumentSnapshots\" WHERE " OPSTREAM_PREFIX(
        "\"DocumentId\"") " UNION SELECT \"DocumentId\" FROM \"DocumentOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"") ")";
constexpr const char* kDeleteOpsPrefixSql = "DELETE FROM \"DocumentOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"");
constexpr const char* kDeleteSnapshotsPrefixSql =
    "DELETE FROM \"DocumentSnapshots\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"");

constexpr const char* kLoadHistorySnapshotSql =
    "SELECT \"Revision\", \"Timestamp\", \"State\" FROM \"HistorySnapshots\" WHERE \"DocumentId\" = ?1 "
    "AND \"Revision\" <= ?2 ORDER BY \"Revision\" DESC LIMIT 1";
constexpr const char* kStreamHistoryOpsSql =
    "SELECT \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", \"EngineType\" FROM \"HistoryOps\" "
    "WHERE \"DocumentId\" = ?1 AND \"Revision\" > ?2 AND \"Revision\" <= ?3 ORDER BY \"Revision\"";
constexpr const char* kMilestonesSql =
    "SELECT \"Revision\", \"Timestamp\", \"Name\" FROM \"HistorySnapshots\" WHERE \"DocumentId\" = ?1 "
    "ORDER BY \"Revision\" DESC";
constexpr const char* kInsertHistorySnapshotSql =
    "INSERT INTO \"HistorySnapshots\" (\"DocumentId\", \"Revision\", \"Timestamp\", \"State\", \"Name\") "
    "VALUES (?1, ?2, ?3, ?4, ?5)";
constexpr const char* kInsertHistoryOpSql =
    "INSERT INTO \"HistoryOps\" (\"DocumentId\", \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", "
    "\"EngineType\") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kDeleteHistoryOpsSql = "DELETE FROM \"HistoryOps\" WHERE \"DocumentId\" = ?1";
constexpr const char* kDeleteHistorySnapshotsSql = "DELETE FROM \"HistorySnapshots\" WHERE \"DocumentId\" = ?1";
constexpr const char* kPurgeHistoryOpsSql =
    "DELETE FROM \"HistoryOps\" WHERE \"DocumentId\" = ?1 AND \"Revision\" <= ?2";
constexpr const char* kPurgeHistorySnapshotsSql =
    "DELETE FROM \"HistorySnapshots\" WHERE \"DocumentId\" = ?1 AND \"Revision\" <= ?2";
constexpr const char* kCountHistoryPrefixSql =
    "SELECT COUNT(*) FROM (SELECT \"DocumentId\" FROM \"HistorySnapshots\" WHERE " OPSTREAM_PREFIX(
        "\"DocumentId\"") " UNION SELECT \"DocumentId\" FROM \"HistoryOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"") ")";
constexpr const char* kDeleteHistoryOpsPrefixSql =
    "DELETE FROM \"HistoryOps\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"");
constexpr const char* kDeleteHistorySnapshotsPrefixSql =
    "DELETE FROM \"HistorySnapshots\" WHERE " OPSTREAM_PREFIX("\"DocumentId\"");

#define OPSTREAM_COMMENT_COLUMNS                                                              \
  "\"Id\", \"DocumentId\", \"ParentCommentId\", \"AuthorPeerId\", \"Body\", \"AnchorJson\", " \
  "\"AnchoredAtRevision\", \"CreatedAt\", \"ResolvedAt\", \"ResolvedByPeerId\", \"IsOrphaned\", \"AuthorName\""
constexpr const char* kLoadCommentsSql =
    "SELECT " OPSTREAM_COMMENT_COLUMNS " FROM \"Comments\" WHERE \"DocumentId\" = ?1";
constexpr const char* kGetCommentSql = "SELECT " OPSTREAM_COMMENT_COLUMNS " FROM \"Comments\" WHERE \"Id\" = ?1";
constexpr const char* kInsertCommentSql = "INSERT INTO \"Comments\" (" OPSTREAM_COMMENT_COLUMNS
                                          ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";
constexpr const char* kUpdateCommentSql =
    "UPDATE \"Comments\" SET \"Body\" = ?2, \"AnchorJson\" = ?3, \"AnchoredAtRevision\" = ?4, \"ResolvedAt\" = ?5, "
    "\"ResolvedByPeerId\" = ?6, \"IsOrphaned\" = ?7 WHERE \"Id\" = ?1";
// Replies go first, while the root they depend on is still there to be checked.
constexpr const char* kDeleteRepliesSql =
    "DELETE FROM \"Comments\" WHERE \"ParentCommentId\" = ?1 AND EXISTS "
    "(SELECT 1 FROM \"Comments\" WHERE \"Id\" = ?1 AND \"ParentCommentId\" IS NULL)";
constexpr const char* kDeleteCommentSql = "DELETE FROM \"Comments\" WHERE \"Id\" = ?1";
constexpr const char* kUpdateAnchorSql =
    "UPDATE \"Comments\" SET \"AnchorJson\" = ?3, \"AnchoredAtRevision\" = ?4, "
    "\"IsOrphaned\" = (\"IsOrphaned\" <> 0 OR ?5 <> 0) WHERE \"Id\" = ?1 AND \"DocumentId\" = ?2";
constexpr const char* kMinAnchoredSql =
    "SELECT MIN(\"AnchoredAtRevision\") FROM \"Comments\" WHERE \"DocumentId\" = ?1 AND \"ParentCommentId\" IS NULL "
    "AND \"ResolvedAt\" IS NULL AND \"AnchorJson\" IS NOT NULL";

constexpr const char* kGetNameSql =
    "SELECT \"GlobalName\", \"DefaultBranchId\", \"EngineType\", \"CreatedAt\" FROM \"DocumentNames\" "
    "WHERE \"GlobalName\" = ?1";
constexpr const char* kEnumerateNamesSql =
    "SELECT \"GlobalName\", \"DefaultBranchId\", \"EngineType\", \"CreatedAt\" FROM \"DocumentNames\" "
    "WHERE " OPSTREAM_PREFIX("\"GlobalName\"") " ORDER BY \"GlobalName\"";
constexpr const char* kInsertNameSql =
    "INSERT INTO \"DocumentNames\" (\"GlobalName\", \"DefaultBranchId\", \"EngineType\", \"CreatedAt\") "
    "VALUES (?1, ?2, ?3, ?4)";
#define OPSTREAM_BRANCH_COLUMNS                                                                                     \
  "\"GlobalName\", \"BranchId\", \"PhysicalDocumentId\", \"ForkParentBranchId\", \"ForkRevision\", \"CreatedAt\", " \
  "\"IsReadOnly\""
constexpr const char* kGetBranchSql =
    "SELECT " OPSTREAM_BRANCH_COLUMNS " FROM \"DocumentBranches\" WHERE \"GlobalName\" = ?1 AND \"BranchId\" = ?2";
constexpr const char* kEnumerateBranchesSql =
    "SELECT " OPSTREAM_BRANCH_COLUMNS " FROM \"DocumentBranches\" WHERE \"GlobalName\" = ?1 ORDER BY \"BranchId\"";
constexpr const char* kInsertBranchSql =
    "INSERT INTO \"DocumentBranches\" (" OPSTREAM_BRANCH_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr const char* kDeleteBranchSql =
    "DELETE FROM \"DocumentBranches\" WHERE \"GlobalName\" = ?1 AND \"BranchId\" = ?2";
#define OPSTREAM_VERSION_COLUMNS \
  "\"GlobalName\", \"BranchId\", \"Tag\", \"Revision\", \"HistorySnapshotName\", \"CreatedAt\""
constexpr const char* kInsertVersionSql =
    "INSERT INTO \"DocumentVersions\" (" OPSTREAM_VERSION_COLUMNS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr const char* kGetVersionSql = "SELECT " OPSTREAM_VERSION_COLUMNS
                                       " FROM \"DocumentVersions\" WHERE \"GlobalName\" = ?1 AND \"BranchId\" = ?2 "
                                       "AND \"Tag\" = ?3";
constexpr const char* kEnumerateVersionsSql =
    "SELECT " OPSTREAM_VERSION_COLUMNS
    " FROM \"DocumentVersions\" WHERE \"GlobalName\" = ?1 AND \"BranchId\" = ?2 ORDER BY \"Tag\"";
constexpr const char* kPinningSql =
    "SELECT v.\"GlobalName\", v.\"BranchId\", v.\"Tag\", v.\"Revision\", v.\"HistorySnapshotName\", v.\"CreatedAt\" "
    "FROM \"DocumentVersions\" v JOIN \"DocumentBranches\" b ON b.\"GlobalName\" = v.\"GlobalName\" AND "
    "b.\"BranchId\" = v.\"BranchId\" WHERE b.\"PhysicalDocumentId\" = ?1 "
    "ORDER BY v.\"Revision\", v.\"GlobalName\", v.\"BranchId\", v.\"Tag\"";

#undef OPSTREAM_PREFIX

// One use of a cached prepared statement: binds in order, steps, reads columns. The first failure
// sticks in status(); later calls do nothing.
class Query {
 public:
  Query(Database& db, const std::string& sql, std::string_view operation) : db_(db), operation_(operation) {
    status_ = db.Prepared(sql, operation, statement_);
    if (status_.ok()) use_.emplace(statement_);
  }

  Query& Text(std::string_view value) { return Bind(sqlite::BindText(statement_, Next(), Keep(value))); }
  Query& Blob(std::string_view value) { return Bind(sqlite::BindBlob(statement_, Next(), Keep(value))); }
  Query& Int(int64_t value) { return Bind(statement_ ? sqlite3_bind_int64(statement_, Next(), value) : SQLITE_OK); }
  Query& Null() { return Bind(statement_ ? sqlite3_bind_null(statement_, Next()) : SQLITE_OK); }
  Query& OptionalText(const std::optional<std::string>& value) { return value ? Text(*value) : Null(); }
  Query& Time(Timestamp value) { return Text(FormatSqliteTimestamp(value)); }
  Query& OptionalTime(const std::optional<Timestamp>& value) { return value ? Time(*value) : Null(); }

  // True while there is a row; false at the end or on failure (see status()).
  bool Step() {
    if (!status_.ok()) return false;
    const int rc = sqlite3_step(statement_);
    if (rc == SQLITE_ROW) return true;
    if (rc != SQLITE_DONE) {
      last_rc_ = rc;
      status_ = db_.Error(rc, operation_);
    }
    return false;
  }
  // Runs a statement without rows.
  Status Run() {
    while (Step()) {
    }
    return status_;
  }
  bool constraint_failed() const { return (last_rc_ & 0xFF) == SQLITE_CONSTRAINT; }
  int64_t changes() const { return sqlite3_changes64(db_.handle()); }

  bool IsNull(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }
  int64_t IntAt(int column) const { return sqlite3_column_int64(statement_, column); }
  std::string BytesAt(int column) const { return sqlite::ColumnBytes(statement_, column); }
  std::optional<std::string> OptionalBytesAt(int column) const {
    return IsNull(column) ? std::nullopt : std::optional<std::string>(BytesAt(column));
  }
  // EF writes `2026-06-24 15:41:39.1234567+00:00`; a value without offset is read as UTC.
  Timestamp TimeAt(int column) {
    const std::string text = BytesAt(column);
    if (auto parsed = ParseTimestamp(text)) return *parsed;
    if (auto parsed = ParseTimestamp(text + "+00:00")) return *parsed;
    if (status_.ok()) {
      status_ = Status::Error(fmt::format("SQLite {} failed: unreadable timestamp '{}'.", operation_, text));
    }
    return {};
  }
  std::optional<Timestamp> OptionalTimeAt(int column) {
    return IsNull(column) ? std::nullopt : std::optional<Timestamp>(TimeAt(column));
  }

  const Status& status() const { return status_; }

 private:
  int Next() { return ++index_; }
  // Bindings are SQLITE_STATIC: the text must live until the statement is reset.
  std::string_view Keep(std::string_view value) { return kept_.emplace_back(value); }
  Query& Bind(int rc) {
    if (status_.ok() && rc != SQLITE_OK) status_ = db_.Error(rc, operation_);
    return *this;
  }

  Database& db_;
  std::string_view operation_;
  Status status_;
  sqlite3_stmt* statement_ = nullptr;
  std::deque<std::string> kept_;
  std::optional<sqlite::StatementUse> use_;  // declared after kept_: resets before the text goes
  int index_ = 0;
  int last_rc_ = SQLITE_OK;
};

// The statement for this prefix: every `(?2 IS NULL OR col < ?2)` becomes `(col < ?2)` when the
// prefix has an upper bound, else `(?2 IS NULL)` (still naming ?2, which BindPrefix binds to NULL).
std::string ForPrefix(std::string_view sql, const std::string& prefix) {
  constexpr std::string_view kMarker = "(?2 IS NULL OR ";
  const bool bounded = PrefixUpperBound(prefix).has_value();
  std::string out;
  size_t position = 0;
  for (size_t found; (found = sql.find(kMarker, position)) != std::string_view::npos;) {
    const size_t condition = found + kMarker.size();
    const size_t end = sql.find(')', condition);  // quoted column names hold no ')'
    out.append(sql.substr(position, found - position));
    out += bounded ? "(" + std::string(sql.substr(condition, end - condition)) + ")" : std::string("(?2 IS NULL)");
    position = end + 1;
  }
  out.append(sql.substr(position));
  return out;
}

Query& BindPrefix(Query& query, const std::string& prefix) {
  query.Text(prefix);
  const auto bound = PrefixUpperBound(prefix);
  return bound ? query.Text(*bound) : query.Null();
}

// Runs `body` inside BEGIN IMMEDIATE ... COMMIT, rolling back on failure.
template <typename Body>
Status InTransaction(Database& db, std::string_view operation, Body&& body) {
  if (Status begun = db.Execute("BEGIN IMMEDIATE", operation); !begun.ok()) return begun;
  Status status = body();
  if (status.ok()) status = db.Execute("COMMIT", operation);
  if (!status.ok() && db.in_transaction()) (void)db.Execute("ROLLBACK", operation);
  return status;
}

template <typename Body>
Status Guarded(std::string_view operation, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return Status::Error(fmt::format("SQLite {} failed: {}", operation, e.what()));
  } catch (...) {
    return Status::Error(fmt::format("SQLite {} failed: unknown exception", operation));
  }
}

// The task for a call whose completion gets (Status, Result): `body(db, result)` fills the result.
template <typename Result, typename Completion, typename Body>
auto ResultTask(std::string_view operation, Completion done, Body body) {
  return [operation, done = std::move(done), body = std::move(body)](Status opened, Database* db) mutable {
    Result result{};
    Status status = opened.ok() ? Guarded(operation, [&] { return body(*db, result); }) : opened;
    if (!status.ok()) result = Result{};
    jobs::InvokeCompletion(kProvider, done, std::move(status), std::move(result));
  };
}

// The same for a plain Status completion.
template <typename Completion, typename Body>
auto StatusTask(std::string_view operation, Completion done, Body body) {
  return [operation, done = std::move(done), body = std::move(body)](Status opened, Database* db) mutable {
    Status status = opened.ok() ? Guarded(operation, [&] { return body(*db); }) : opened;
    jobs::InvokeCompletion(kProvider, done, std::move(status));
  };
}

DocumentInfo ReadInfo(Query& q) {
  DocumentInfo info;
  info.document_id = q.BytesAt(0);
  const bool has_snapshot = !q.IsNull(1);
  const bool has_ops = !q.IsNull(3);
  if (has_snapshot) {
    info.revision = q.IntAt(1);
    info.last_modified = q.TimeAt(2);
  }
  if (has_ops) {
    const Timestamp op_time = q.TimeAt(4);
    info.revision = has_snapshot ? std::max(info.revision, q.IntAt(3)) : q.IntAt(3);
    info.last_modified = has_snapshot ? std::max(info.last_modified, op_time) : op_time;
    info.op_count = q.IntAt(5);
  }
  return info;
}

Comment ReadComment(Query& q) {
  Comment c;
  c.id = q.BytesAt(0);
  c.document_id = q.BytesAt(1);
  c.parent_comment_id = q.OptionalBytesAt(2);
  c.author_peer_id = q.BytesAt(3);
  c.body = q.BytesAt(4);
  c.anchor_json = ReadableAnchor(q.OptionalBytesAt(5));
  c.anchored_at_revision = q.IntAt(6);
  c.created_at = q.TimeAt(7);
  c.resolved_at = q.OptionalTimeAt(8);
  c.resolved_by_peer_id = q.OptionalBytesAt(9);
  c.is_orphaned = q.IntAt(10) != 0;
  c.author_name = q.BytesAt(11);
  return c;
}

DocumentBranch ReadBranch(Query& q) {
  return DocumentBranch{q.BytesAt(0), q.BytesAt(1), q.BytesAt(2),   q.OptionalBytesAt(3),
                        q.IntAt(4),   q.TimeAt(5),  q.IntAt(6) != 0};
}

DocumentVersion ReadVersion(Query& q) {
  return DocumentVersion{q.BytesAt(0), q.BytesAt(1), q.BytesAt(2), q.IntAt(3), q.BytesAt(4), q.TimeAt(5)};
}

Status DeleteDocumentRows(Database& db, const char* ops_sql, const char* snapshots_sql, const std::string& id,
                          std::string_view operation) {
  Query ops(db, ops_sql, operation);
  if (Status s = ops.Text(id).Run(); !s.ok()) return s;
  Query snapshots(db, snapshots_sql, operation);
  return snapshots.Text(id).Run();
}

Status DeletePrefixRows(Database& db, const char* count_sql, const char* ops_sql, const char* snapshots_sql,
                        const std::string& prefix, std::string_view operation, int64_t& removed) {
  return InTransaction(db, operation, [&] {
    Query count(db, ForPrefix(count_sql, prefix), operation);
    BindPrefix(count, prefix);
    if (count.Step()) removed = count.IntAt(0);
    if (!count.status().ok()) return count.status();
    Query ops(db, ForPrefix(ops_sql, prefix), operation);
    if (Status s = BindPrefix(ops, prefix).Run(); !s.ok()) return s;
    Query snapshots(db, ForPrefix(snapshots_sql, prefix), operation);
    return BindPrefix(snapshots, prefix).Run();
  });
}

}  // namespace

// ----- DocumentStore management calls -----

void SqliteDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  Submit(ResultTask<std::vector<DocumentInfo>>("enumerate", std::move(done),
                                               [prefix = std::move(prefix), query](Database& db, auto& documents) {
                                                 Query q(db, ForPrefix(kEnumerateSql, prefix), "enumerate");
                                                 BindPrefix(q, prefix);
                                                 q.Int(query.take && *query.take > 0 ? *query.take : -1);
                                                 q.Int(query.skip && *query.skip > 0 ? *query.skip : 0);
                                                 while (q.Step()) documents.push_back(ReadInfo(q));
                                                 return q.status();
                                               }));
}

void SqliteDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  Submit(ResultTask<std::optional<DocumentInfo>>("document info", std::move(done),
                                                 [id = std::move(document_id)](Database& db, auto& info) {
                                                   Query q(db, kInfoSql, "document info");
                                                   q.Text(id);
                                                   if (q.Step() && (!q.IsNull(1) || !q.IsNull(3))) info = ReadInfo(q);
                                                   return q.status();
                                                 }));
}

void SqliteDocumentStore::Delete(std::string document_id, DocumentStore::Completion done) {
  Submit(StatusTask("delete", std::move(done), [id = std::move(document_id)](Database& db) {
    return InTransaction(db, "delete",
                         [&] { return DeleteDocumentRows(db, kDeleteOpsSql, kDeleteSnapshotSql, id, "delete"); });
  }));
}

void SqliteDocumentStore::DeleteByTenantPrefix(std::string prefix, DocumentStore::CountCompletion done) {
  Submit(ResultTask<int64_t>("tenant delete", std::move(done), [prefix = std::move(prefix)](Database& db, int64_t& n) {
    return DeletePrefixRows(db, kCountPrefixSql, kDeleteOpsPrefixSql, kDeleteSnapshotsPrefixSql, prefix,
                            "tenant delete", n);
  }));
}

// ----- HistoryStore -----

void SqliteDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision, SnapshotCompletion done) {
  Submit(ResultTask<std::optional<Snapshot>>("history snapshot load", std::move(done),
                                             [id = std::move(document_id), max_revision](Database& db, auto& snapshot) {
                                               Query q(db, kLoadHistorySnapshotSql, "history snapshot load");
                                               q.Text(id).Int(max_revision);
                                               if (q.Step()) snapshot = Snapshot{q.IntAt(0), q.TimeAt(1), q.BytesAt(2)};
                                               return q.status();
                                             }));
}

void SqliteDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to, OpsCompletion done) {
  Submit(ResultTask<std::vector<StoredOp>>(
      "history ops load", std::move(done), [id = std::move(document_id), since, up_to](Database& db, auto& ops) {
        Query q(db, kStreamHistoryOpsSql, "history ops load");
        q.Text(id).Int(since).Int(up_to);
        while (q.Step()) ops.push_back(StoredOp{q.IntAt(0), q.BytesAt(1), q.TimeAt(2), q.BytesAt(3), q.BytesAt(4)});
        return q.status();
      }));
}

void SqliteDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Submit(ResultTask<std::vector<HistoryMilestone>>(
      "milestones", std::move(done), [id = std::move(document_id)](Database& db, auto& milestones) {
        Query q(db, kMilestonesSql, "milestones");
        q.Text(id);
        while (q.Step()) milestones.push_back(HistoryMilestone{q.IntAt(0), q.TimeAt(1), q.OptionalBytesAt(2)});
        return q.status();
      }));
}

void SqliteDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                               std::optional<std::string> name, HistoryStore::Completion done) {
  Submit(
      StatusTask("history snapshot write", std::move(done),
                 [id = std::move(document_id), snapshot = std::move(snapshot), name = std::move(name)](Database& db) {
                   Query q(db, kInsertHistorySnapshotSql, "history snapshot write");
                   q.Text(id).Int(snapshot.revision).Time(snapshot.timestamp).Blob(snapshot.state).OptionalText(name);
                   Status status = q.Run();
                   if (!status.ok() && q.constraint_failed()) return HistorySnapshotExistsError(id, snapshot.revision);
                   return status;
                 }));
}

void SqliteDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, HistoryStore::Completion done) {
  Submit(StatusTask("history append", std::move(done), [id = std::move(document_id), op = std::move(op)](Database& db) {
    Query q(db, kInsertHistoryOpSql, "history append");
    q.Text(id).Int(op.revision).Text(op.author_id).Time(op.timestamp).Blob(op.payload).Text(op.engine_type);
    Status status = q.Run();
    if (!status.ok() && q.constraint_failed()) return HistoryOpExistsError(id, op.revision);
    return status;
  }));
}

void SqliteDocumentStore::DeleteHistory(std::string document_id, HistoryStore::Completion done) {
  Submit(StatusTask("history delete", std::move(done), [id = std::move(document_id)](Database& db) {
    return InTransaction(db, "history delete", [&] {
      return DeleteDocumentRows(db, kDeleteHistoryOpsSql, kDeleteHistorySnapshotsSql, id, "history delete");
    });
  }));
}

void SqliteDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, HistoryStore::Completion done) {
  Submit(StatusTask("history purge", std::move(done), [id = std::move(document_id), up_to](Database& db) {
    return InTransaction(db, "history purge", [&] {
      Query ops(db, kPurgeHistoryOpsSql, "history purge");
      if (Status s = ops.Text(id).Int(up_to).Run(); !s.ok()) return s;
      Query snapshots(db, kPurgeHistorySnapshotsSql, "history purge");
      return snapshots.Text(id).Int(up_to).Run();
    });
  }));
}

void SqliteDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, HistoryStore::CountCompletion done) {
  Submit(ResultTask<int64_t>(
      "history tenant delete", std::move(done), [prefix = std::move(prefix)](Database& db, int64_t& n) {
        return DeletePrefixRows(db, kCountHistoryPrefixSql, kDeleteHistoryOpsPrefixSql,
                                kDeleteHistorySnapshotsPrefixSql, prefix, "history tenant delete", n);
      }));
}

// ----- CommentStore -----

void SqliteDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Submit(ResultTask<std::vector<Comment>>(
      "comments load", std::move(done), [id = std::move(document_id)](Database& db, auto& comments) {
        Query q(db, kLoadCommentsSql, "comments load");
        q.Text(id);
        while (q.Step()) comments.push_back(ReadComment(q));
        // Sorted here rather than by SQL: CreatedAt is text, and ordering must not depend on its spelling.
        std::sort(comments.begin(), comments.end(), [](const Comment& a, const Comment& b) {
          return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
        });
        return q.status();
      }));
}

void SqliteDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  Submit(ResultTask<std::optional<Comment>>("comment load", std::move(done),
                                            [id = std::move(comment_id)](Database& db, auto& comment) {
                                              Query q(db, kGetCommentSql, "comment load");
                                              q.Text(id);
                                              if (q.Step()) comment = ReadComment(q);
                                              return q.status();
                                            }));
}

void SqliteDocumentStore::AddComment(Comment comment, CommentStore::Completion done) {
  Submit(StatusTask("comment insert", std::move(done), [c = std::move(comment)](Database& db) {
    Query q(db, kInsertCommentSql, "comment insert");
    q.Text(c.id).Text(c.document_id).OptionalText(c.parent_comment_id).Text(c.author_peer_id).Text(c.body);
    q.OptionalText(c.anchor_json).Int(c.anchored_at_revision).Time(c.created_at).OptionalTime(c.resolved_at);
    q.OptionalText(c.resolved_by_peer_id).Int(c.is_orphaned ? 1 : 0).Text(c.author_name);
    Status status = q.Run();
    if (!status.ok() && q.constraint_failed()) return CommentExistsError(c.id);
    return status;
  }));
}

void SqliteDocumentStore::UpdateComment(Comment comment, CommentStore::Completion done) {
  Submit(StatusTask("comment update", std::move(done), [c = std::move(comment)](Database& db) {
    Query q(db, kUpdateCommentSql, "comment update");
    q.Text(c.id).Text(c.body).OptionalText(c.anchor_json).Int(c.anchored_at_revision).OptionalTime(c.resolved_at);
    q.OptionalText(c.resolved_by_peer_id).Int(c.is_orphaned ? 1 : 0);
    if (Status status = q.Run(); !status.ok()) return status;
    return q.changes() == 0 ? CommentNotFoundError(c.id) : Status::Ok();
  }));
}

void SqliteDocumentStore::DeleteComment(std::string comment_id, CommentStore::Completion done) {
  Submit(StatusTask("comment delete", std::move(done), [id = std::move(comment_id)](Database& db) {
    return InTransaction(db, "comment delete", [&] {
      Query replies(db, kDeleteRepliesSql, "comment delete");
      if (Status s = replies.Text(id).Run(); !s.ok()) return s;
      Query comment(db, kDeleteCommentSql, "comment delete");
      return comment.Text(id).Run();
    });
  }));
}

void SqliteDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                        CommentStore::Completion done) {
  Submit(StatusTask("anchor update", std::move(done),
                    [id = std::move(document_id), revision, updates = std::move(updates)](Database& db) {
                      if (updates.empty()) return Status::Ok();
                      return InTransaction(db, "anchor update", [&] {
                        for (const AnchorUpdate& update : updates) {
                          Query q(db, kUpdateAnchorSql, "anchor update");
                          q.Text(update.comment_id).Text(id).OptionalText(update.anchor_json).Int(revision);
                          q.Int(update.outcome == AnchorOutcome::kOrphaned ? 1 : 0);
                          if (Status s = q.Run(); !s.ok()) return s;
                        }
                        return Status::Ok();
                      });
                    }));
}

void SqliteDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Submit(ResultTask<std::optional<int64_t>>("minimum anchored revision", std::move(done),
                                            [id = std::move(document_id)](Database& db, auto& minimum) {
                                              Query q(db, kMinAnchoredSql, "minimum anchored revision");
                                              q.Text(id);
                                              if (q.Step() && !q.IsNull(0)) minimum = q.IntAt(0);
                                              return q.status();
                                            }));
}

// ----- RefStore -----

void SqliteDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Submit(ResultTask<std::optional<DocumentName>>(
      "name load", std::move(done), [name = std::move(global_name)](Database& db, auto& found) {
        Query q(db, kGetNameSql, "name load");
        q.Text(name);
        if (q.Step()) found = DocumentName{q.BytesAt(0), q.BytesAt(1), q.BytesAt(2), q.TimeAt(3)};
        return q.status();
      }));
}

void SqliteDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  Submit(ResultTask<std::vector<DocumentName>>(
      "names load", std::move(done), [prefix = std::move(prefix)](Database& db, auto& names) {
        Query q(db, ForPrefix(kEnumerateNamesSql, prefix), "names load");
        BindPrefix(q, prefix);
        while (q.Step()) {
          names.push_back(DocumentName{q.BytesAt(0), q.BytesAt(1), q.BytesAt(2), q.TimeAt(3)});
        }
        return q.status();
      }));
}

void SqliteDocumentStore::CreateName(DocumentName name, RefStore::Completion done) {
  Submit(StatusTask("name insert", std::move(done), [n = std::move(name)](Database& db) {
    Query q(db, kInsertNameSql, "name insert");
    q.Text(n.global_name).Text(n.default_branch_id).Text(n.engine_type).Time(n.created_at);
    Status status = q.Run();
    if (!status.ok() && q.constraint_failed()) return NameExistsError(n.global_name);
    return status;
  }));
}

void SqliteDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Submit(ResultTask<std::optional<DocumentBranch>>(
      "branch load", std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Database& db, auto& found) {
        Query q(db, kGetBranchSql, "branch load");
        q.Text(name).Text(branch);
        if (q.Step()) found = ReadBranch(q);
        return q.status();
      }));
}

void SqliteDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Submit(ResultTask<std::vector<DocumentBranch>>("branches load", std::move(done),
                                                 [name = std::move(global_name)](Database& db, auto& branches) {
                                                   Query q(db, kEnumerateBranchesSql, "branches load");
                                                   q.Text(name);
                                                   while (q.Step()) branches.push_back(ReadBranch(q));
                                                   return q.status();
                                                 }));
}

void SqliteDocumentStore::CreateBranch(DocumentBranch branch, RefStore::Completion done) {
  Submit(StatusTask("branch insert", std::move(done), [b = std::move(branch)](Database& db) {
    Query q(db, kInsertBranchSql, "branch insert");
    q.Text(b.global_name).Text(b.branch_id).Text(b.physical_document_id).OptionalText(b.fork_parent_branch_id);
    q.Int(b.fork_revision).Time(b.created_at).Int(b.is_read_only ? 1 : 0);
    Status status = q.Run();
    if (!status.ok() && q.constraint_failed()) return BranchExistsError(b.branch_id);
    return status;
  }));
}

void SqliteDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, RefStore::Completion done) {
  Submit(StatusTask("branch delete", std::move(done),
                    [name = std::move(global_name), branch = std::move(branch_id)](Database& db) {
                      Query q(db, kDeleteBranchSql, "branch delete");
                      return q.Text(name).Text(branch).Run();
                    }));
}

void SqliteDocumentStore::CreateVersion(DocumentVersion version, RefStore::Completion done) {
  Submit(StatusTask("version insert", std::move(done), [v = std::move(version)](Database& db) {
    Query q(db, kInsertVersionSql, "version insert");
    q.Text(v.global_name).Text(v.branch_id).Text(v.tag).Int(v.revision).Text(v.history_snapshot_name);
    q.Time(v.created_at);
    Status status = q.Run();
    if (!status.ok() && q.constraint_failed()) return TagExistsError(v.tag, v.branch_id);
    return status;
  }));
}

void SqliteDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                     VersionCompletion done) {
  Submit(ResultTask<std::optional<DocumentVersion>>(
      "version load", std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id), tag = std::move(tag)](Database& db, auto& found) {
        Query q(db, kGetVersionSql, "version load");
        q.Text(name).Text(branch).Text(tag);
        if (q.Step()) found = ReadVersion(q);
        return q.status();
      }));
}

void SqliteDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  Submit(ResultTask<std::vector<DocumentVersion>>(
      "versions load", std::move(done),
      [name = std::move(global_name), branch = std::move(branch_id)](Database& db, auto& versions) {
        Query q(db, kEnumerateVersionsSql, "versions load");
        q.Text(name).Text(branch);
        while (q.Step()) versions.push_back(ReadVersion(q));
        return q.status();
      }));
}

void SqliteDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  Submit(ResultTask<std::vector<DocumentVersion>>("pin guard", std::move(done),
                                                  [id = std::move(physical_document_id)](Database& db, auto& versions) {
                                                    Query q(db, kPinningSql, "pin guard");
                                                    q.Text(id);
                                                    while (q.Step()) versions.push_back(ReadVersion(q));
                                                    return q.status();
                                                  }));
}

}  // namespace opstream::storage
