// The PostgreSQL provider's management, history, comment and ref calls (server.md §3.1, §3.4.7)
// on the reference's tables in schema `opstream`. Each call is one SqlJob: its statements travel
// in one round trip on a lane and run in one implicit transaction.
#include <fmt/format.h>

#include <algorithm>

#include "storage/postgres/postgres_document_store.hpp"
#include "storage/postgres/postgres_sql_job.hpp"
#include "storage/store_jobs.hpp"
#include "storage/store_rules.hpp"

namespace opstream::storage {
namespace {

using postgres::SqlJob;
using postgres::SqlResult;
using postgres::SqlStatement;
namespace pg = postgres;

constexpr std::string_view kProvider = "postgres";
constexpr std::string_view kUniqueViolation = "23505";

// starts_with compares code points exactly (LIKE would treat % and _ as patterns); ids are ordered
// with COLLATE "C" so the order is byte-wise whatever the database's collation.
constexpr const char* kEnumerateSql =
    "WITH ids AS (SELECT \"DocumentId\" AS id FROM opstream.\"DocumentSnapshots\" WHERE starts_with(\"DocumentId\", "
    "$1) "
    "UNION SELECT \"DocumentId\" FROM opstream.\"DocumentOps\" WHERE starts_with(\"DocumentId\", $1)), "
    "o AS (SELECT \"DocumentId\" AS id, MAX(\"Revision\") AS r, MAX(\"Timestamp\") AS t, COUNT(*) AS n "
    "FROM opstream.\"DocumentOps\" WHERE starts_with(\"DocumentId\", $1) GROUP BY \"DocumentId\") "
    "SELECT ids.id, s.\"Revision\", s.\"Timestamp\", o.r, o.t, o.n FROM ids "
    "LEFT JOIN opstream.\"DocumentSnapshots\" s ON s.\"DocumentId\" = ids.id LEFT JOIN o ON o.id = ids.id "
    "ORDER BY ids.id COLLATE \"C\" LIMIT $2 OFFSET $3";
constexpr const char* kInfoSql =
    "SELECT $1::text, (SELECT \"Revision\" FROM opstream.\"DocumentSnapshots\" WHERE \"DocumentId\" = $1), "
    "(SELECT \"Timestamp\" FROM opstream.\"DocumentSnapshots\" WHERE \"DocumentId\" = $1), "
    "MAX(\"Revision\"), MAX(\"Timestamp\"), COUNT(*) FROM opstream.\"DocumentOps\" WHERE \"DocumentId\" = $1";
constexpr const char* kDeleteOpsSql = "DELETE FROM opstream.\"DocumentOps\" WHERE \"DocumentId\" = $1";
constexpr const char* kDeleteSnapshotSql = "DELETE FROM opstream.\"DocumentSnapshots\" WHERE \"DocumentId\" = $1";
constexpr const char* kCountPrefixSql =
    "SELECT COUNT(*) FROM (SELECT \"DocumentId\" FROM opstream.\"DocumentSnapshots\" WHERE "
    "starts_with(\"DocumentId\", $1) UNION SELECT \"DocumentId\" FROM opstream.\"DocumentOps\" WHERE "
    "starts_with(\"DocumentId\", $1)) d";
constexpr const char* kDeleteOpsPrefixSql =
    "DELETE FROM opstream.\"DocumentOps\" WHERE starts_with(\"DocumentId\", $1)";
constexpr const char* kDeleteSnapshotsPrefixSql =
    "DELETE FROM opstream.\"DocumentSnapshots\" WHERE starts_with(\"DocumentId\", $1)";

constexpr const char* kLoadHistorySnapshotSql =
    "SELECT \"Revision\", \"Timestamp\", \"State\" FROM opstream.\"HistorySnapshots\" WHERE \"DocumentId\" = $1 "
    "AND \"Revision\" <= $2 ORDER BY \"Revision\" DESC LIMIT 1";
constexpr const char* kStreamHistoryOpsSql =
    "SELECT \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", \"EngineType\" FROM opstream.\"HistoryOps\" "
    "WHERE \"DocumentId\" = $1 AND \"Revision\" > $2 AND \"Revision\" <= $3 ORDER BY \"Revision\"";
constexpr const char* kMilestonesSql =
    "SELECT \"Revision\", \"Timestamp\", \"Name\" FROM opstream.\"HistorySnapshots\" WHERE \"DocumentId\" = $1 "
    "ORDER BY \"Revision\" DESC";
constexpr const char* kInsertHistorySnapshotSql =
    "INSERT INTO opstream.\"HistorySnapshots\" (\"DocumentId\", \"Revision\", \"Timestamp\", \"State\", \"Name\") "
    "VALUES ($1, $2, $3, $4, $5)";
constexpr const char* kInsertHistoryOpSql =
    "INSERT INTO opstream.\"HistoryOps\" (\"DocumentId\", \"Revision\", \"AuthorId\", \"Timestamp\", \"Payload\", "
    "\"EngineType\") VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kDeleteHistoryOpsSql = "DELETE FROM opstream.\"HistoryOps\" WHERE \"DocumentId\" = $1";
constexpr const char* kDeleteHistorySnapshotsSql =
    "DELETE FROM opstream.\"HistorySnapshots\" WHERE \"DocumentId\" = $1";
constexpr const char* kPurgeHistoryOpsSql =
    "DELETE FROM opstream.\"HistoryOps\" WHERE \"DocumentId\" = $1 AND \"Revision\" <= $2";
constexpr const char* kPurgeHistorySnapshotsSql =
    "DELETE FROM opstream.\"HistorySnapshots\" WHERE \"DocumentId\" = $1 AND \"Revision\" <= $2";
constexpr const char* kCountHistoryPrefixSql =
    "SELECT COUNT(*) FROM (SELECT \"DocumentId\" FROM opstream.\"HistorySnapshots\" WHERE "
    "starts_with(\"DocumentId\", $1) UNION SELECT \"DocumentId\" FROM opstream.\"HistoryOps\" WHERE "
    "starts_with(\"DocumentId\", $1)) d";
constexpr const char* kDeleteHistoryOpsPrefixSql =
    "DELETE FROM opstream.\"HistoryOps\" WHERE starts_with(\"DocumentId\", $1)";
constexpr const char* kDeleteHistorySnapshotsPrefixSql =
    "DELETE FROM opstream.\"HistorySnapshots\" WHERE starts_with(\"DocumentId\", $1)";

#define OPSTREAM_COMMENT_COLUMNS                                                              \
  "\"Id\", \"DocumentId\", \"ParentCommentId\", \"AuthorPeerId\", \"Body\", \"AnchorJson\", " \
  "\"AnchoredAtRevision\", \"CreatedAt\", \"ResolvedAt\", \"ResolvedByPeerId\", \"IsOrphaned\", \"AuthorName\""
constexpr const char* kLoadCommentsSql =
    "SELECT " OPSTREAM_COMMENT_COLUMNS " FROM opstream.\"Comments\" WHERE \"DocumentId\" = $1";
constexpr const char* kGetCommentSql =
    "SELECT " OPSTREAM_COMMENT_COLUMNS " FROM opstream.\"Comments\" WHERE \"Id\" = $1";
constexpr const char* kInsertCommentSql = "INSERT INTO opstream.\"Comments\" (" OPSTREAM_COMMENT_COLUMNS
                                          ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";
constexpr const char* kUpdateCommentSql =
    "UPDATE opstream.\"Comments\" SET \"Body\" = $2, \"AnchorJson\" = $3, \"AnchoredAtRevision\" = $4, "
    "\"ResolvedAt\" = $5, \"ResolvedByPeerId\" = $6, \"IsOrphaned\" = $7 WHERE \"Id\" = $1";
// Replies go first, while the root they depend on is still there to be checked.
constexpr const char* kDeleteRepliesSql =
    "DELETE FROM opstream.\"Comments\" WHERE \"ParentCommentId\" = $1 AND EXISTS "
    "(SELECT 1 FROM opstream.\"Comments\" WHERE \"Id\" = $1 AND \"ParentCommentId\" IS NULL)";
constexpr const char* kDeleteCommentSql = "DELETE FROM opstream.\"Comments\" WHERE \"Id\" = $1";
constexpr const char* kUpdateAnchorSql =
    "UPDATE opstream.\"Comments\" SET \"AnchorJson\" = $3, \"AnchoredAtRevision\" = $4, "
    "\"IsOrphaned\" = (\"IsOrphaned\" OR $5) WHERE \"Id\" = $1 AND \"DocumentId\" = $2";
constexpr const char* kMinAnchoredSql =
    "SELECT MIN(\"AnchoredAtRevision\") FROM opstream.\"Comments\" WHERE \"DocumentId\" = $1 "
    "AND \"ParentCommentId\" IS NULL AND \"ResolvedAt\" IS NULL AND \"AnchorJson\" IS NOT NULL";

#define OPSTREAM_NAME_COLUMNS "\"GlobalName\", \"DefaultBranchId\", \"EngineType\", \"CreatedAt\""
constexpr const char* kGetNameSql =
    "SELECT " OPSTREAM_NAME_COLUMNS " FROM opstream.\"DocumentNames\" WHERE \"GlobalName\" = $1";
constexpr const char* kEnumerateNamesSql = "SELECT " OPSTREAM_NAME_COLUMNS
                                           " FROM opstream.\"DocumentNames\" WHERE starts_with(\"GlobalName\", $1) "
                                           "ORDER BY \"GlobalName\" COLLATE \"C\"";
constexpr const char* kInsertNameSql =
    "INSERT INTO opstream.\"DocumentNames\" (" OPSTREAM_NAME_COLUMNS ") VALUES ($1, $2, $3, $4)";
#define OPSTREAM_BRANCH_COLUMNS                                                                      \
  "\"GlobalName\", \"BranchId\", \"PhysicalDocumentId\", \"ForkParentBranchId\", \"ForkRevision\", " \
  "\"CreatedAt\", \"IsReadOnly\""
constexpr const char* kGetBranchSql = "SELECT " OPSTREAM_BRANCH_COLUMNS
                                      " FROM opstream.\"DocumentBranches\" WHERE \"GlobalName\" = $1 AND "
                                      "\"BranchId\" = $2";
constexpr const char* kEnumerateBranchesSql =
    "SELECT " OPSTREAM_BRANCH_COLUMNS
    " FROM opstream.\"DocumentBranches\" WHERE \"GlobalName\" = $1 ORDER BY \"BranchId\" COLLATE \"C\"";
constexpr const char* kInsertBranchSql =
    "INSERT INTO opstream.\"DocumentBranches\" (" OPSTREAM_BRANCH_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6, $7)";
constexpr const char* kDeleteBranchSql =
    "DELETE FROM opstream.\"DocumentBranches\" WHERE \"GlobalName\" = $1 AND \"BranchId\" = $2";
#define OPSTREAM_VERSION_COLUMNS \
  "\"GlobalName\", \"BranchId\", \"Tag\", \"Revision\", \"HistorySnapshotName\", \"CreatedAt\""
constexpr const char* kInsertVersionSql =
    "INSERT INTO opstream.\"DocumentVersions\" (" OPSTREAM_VERSION_COLUMNS ") VALUES ($1, $2, $3, $4, $5, $6)";
constexpr const char* kGetVersionSql = "SELECT " OPSTREAM_VERSION_COLUMNS
                                       " FROM opstream.\"DocumentVersions\" WHERE \"GlobalName\" = $1 AND "
                                       "\"BranchId\" = $2 AND \"Tag\" = $3";
constexpr const char* kEnumerateVersionsSql =
    "SELECT " OPSTREAM_VERSION_COLUMNS
    " FROM opstream.\"DocumentVersions\" WHERE \"GlobalName\" = $1 AND \"BranchId\" = $2 ORDER BY \"Tag\" COLLATE "
    "\"C\"";
constexpr const char* kPinningSql =
    "SELECT v.\"GlobalName\", v.\"BranchId\", v.\"Tag\", v.\"Revision\", v.\"HistorySnapshotName\", v.\"CreatedAt\" "
    "FROM opstream.\"DocumentVersions\" v JOIN opstream.\"DocumentBranches\" b ON b.\"GlobalName\" = v.\"GlobalName\" "
    "AND b.\"BranchId\" = v.\"BranchId\" WHERE b.\"PhysicalDocumentId\" = $1 ORDER BY v.\"Revision\", "
    "v.\"GlobalName\" COLLATE \"C\", v.\"BranchId\" COLLATE \"C\", v.\"Tag\" COLLATE \"C\"";

using Row = std::vector<std::optional<std::string>>;

// Reads the binary columns of one row; a value of unexpected shape (a schema that does not match)
// turns `status` into an error and reads as a default.
class RowReader {
 public:
  RowReader(const Row& row, std::string_view operation, Status& status)
      : row_(row), operation_(operation), status_(status) {}

  bool IsNull(size_t column) const { return column >= row_.size() || !row_[column]; }
  std::string Str(size_t column) {
    if (IsNull(column)) return Fail(column), std::string();
    return *row_[column];
  }
  std::optional<std::string> OptionalStr(size_t column) {
    return IsNull(column) ? std::nullopt : std::optional<std::string>(*row_[column]);
  }
  int64_t Int(size_t column) {
    int64_t value = 0;
    if (column >= row_.size() || !pg::ReadInt8(row_[column], value)) Fail(column);
    return value;
  }
  Timestamp Time(size_t column) {
    Timestamp value;
    if (column >= row_.size() || !pg::ReadTime(row_[column], value)) Fail(column);
    return value;
  }
  std::optional<Timestamp> OptionalTime(size_t column) {
    return IsNull(column) ? std::nullopt : std::optional<Timestamp>(Time(column));
  }
  bool Bool(size_t column) {
    bool value = false;
    if (column >= row_.size() || !pg::ReadBool(row_[column], value)) Fail(column);
    return value;
  }

 private:
  void Fail(size_t column) {
    if (status_.ok()) {
      status_ = Status::Error(fmt::format("PostgreSQL {} failed: unexpected value in column {}.", operation_, column));
    }
  }
  const Row& row_;
  std::string_view operation_;
  Status& status_;
};

// A call whose completion gets (Status, Result): `read(results, result, status)` fills the result.
template <typename Result, typename Completion, typename Read>
SqlJob ReadJob(std::string_view operation, std::vector<SqlStatement> statements, Completion done, Read read) {
  SqlJob job;
  job.operation = operation;
  job.statements = std::move(statements);
  job.done = [done = std::move(done), read = std::move(read)](Status status, std::string,
                                                              std::vector<SqlResult> results) mutable {
    Result result{};
    if (status.ok()) read(results, result, status);
    if (!status.ok()) result = Result{};
    jobs::InvokeCompletion(kProvider, done, std::move(status), std::move(result));
  };
  return job;
}

// A call with a plain Status completion; a unique violation becomes `duplicate` (when given).
template <typename Completion>
SqlJob WriteJob(std::string_view operation, std::vector<SqlStatement> statements, bool idempotent, Completion done,
                std::optional<Status> duplicate = std::nullopt,
                std::function<Status(const std::vector<SqlResult>&)> check = {}) {
  SqlJob job;
  job.operation = operation;
  job.statements = std::move(statements);
  job.idempotent = idempotent;
  job.done = [done = std::move(done), duplicate = std::move(duplicate), check = std::move(check)](
                 Status status, std::string sqlstate, std::vector<SqlResult> results) mutable {
    if (!status.ok() && duplicate && sqlstate == kUniqueViolation) status = *duplicate;
    if (status.ok() && check) status = check(results);
    jobs::InvokeCompletion(kProvider, done, std::move(status));
  };
  return job;
}

// A tenant-prefix delete: count, then delete from both tables, all in one transaction.
template <typename Completion>
SqlJob PrefixDeleteJob(std::string_view operation, const char* count_sql, const char* ops_sql,
                       const char* snapshots_sql, const std::string& prefix, Completion done) {
  return ReadJob<int64_t>(
      operation, {{count_sql, {pg::Text(prefix)}}, {ops_sql, {pg::Text(prefix)}}, {snapshots_sql, {pg::Text(prefix)}}},
      std::move(done), [operation](const std::vector<SqlResult>& results, int64_t& n, Status& s) {
        if (results.empty() || results[0].rows.empty()) {
          s = Status::Error(fmt::format("PostgreSQL {} failed: no count.", operation));
          return;
        }
        n = RowReader(results[0].rows[0], operation, s).Int(0);
      });
}

DocumentInfo ReadInfo(RowReader r) {
  DocumentInfo info;
  info.document_id = r.Str(0);
  const bool has_snapshot = !r.IsNull(1);
  const bool has_ops = !r.IsNull(3);
  if (has_snapshot) {
    info.revision = r.Int(1);
    info.last_modified = r.Time(2);
  }
  if (has_ops) {
    const int64_t revision = r.Int(3);
    const Timestamp op_time = r.Time(4);
    info.revision = has_snapshot ? std::max(info.revision, revision) : revision;
    info.last_modified = has_snapshot ? std::max(info.last_modified, op_time) : op_time;
    info.op_count = r.Int(5);
  }
  return info;
}

Comment ReadComment(RowReader r) {
  Comment c;
  c.id = r.Str(0);
  c.document_id = r.Str(1);
  c.parent_comment_id = r.OptionalStr(2);
  c.author_peer_id = r.Str(3);
  c.body = r.Str(4);
  c.anchor_json = ReadableAnchor(r.OptionalStr(5));
  c.anchored_at_revision = r.Int(6);
  c.created_at = r.Time(7);
  c.resolved_at = r.OptionalTime(8);
  c.resolved_by_peer_id = r.OptionalStr(9);
  c.is_orphaned = r.Bool(10);
  c.author_name = r.Str(11);
  return c;
}

DocumentName ReadName(RowReader r) { return DocumentName{r.Str(0), r.Str(1), r.Str(2), r.Time(3)}; }

DocumentBranch ReadBranch(RowReader r) {
  DocumentBranch b;
  b.global_name = r.Str(0);
  b.branch_id = r.Str(1);
  b.physical_document_id = r.Str(2);
  b.fork_parent_branch_id = r.OptionalStr(3);
  b.fork_revision = r.Int(4);
  b.created_at = r.Time(5);
  b.is_read_only = r.Bool(6);
  return b;
}

DocumentVersion ReadVersion(RowReader r) {
  DocumentVersion v;
  v.global_name = r.Str(0);
  v.branch_id = r.Str(1);
  v.tag = r.Str(2);
  v.revision = r.Int(3);
  v.history_snapshot_name = r.Str(4);
  v.created_at = r.Time(5);
  return v;
}

// Every row of the first statement's result through `read_row`.
template <typename Record, typename ReadRow>
auto ReadAll(std::string_view operation, ReadRow read_row) {
  return [operation, read_row](const std::vector<SqlResult>& results, std::vector<Record>& out, Status& s) {
    for (const Row& row : results.at(0).rows) out.push_back(read_row(RowReader(row, operation, s)));
  };
}

// The first row of the first statement's result, if any.
template <typename Record, typename ReadRow>
auto ReadFirst(std::string_view operation, ReadRow read_row) {
  return [operation, read_row](const std::vector<SqlResult>& results, std::optional<Record>& out, Status& s) {
    if (!results.at(0).rows.empty()) out = read_row(RowReader(results[0].rows[0], operation, s));
  };
}

}  // namespace

// ----- DocumentStore management calls -----

void PostgresDocumentStore::Enumerate(std::string prefix, DocumentQuery query, EnumerateCompletion done) {
  SqlStatement statement{
      kEnumerateSql,
      {pg::Text(prefix), query.take && *query.take > 0 ? pg::Int8(*query.take) : pg::Null(pg::kInt8Oid),
       pg::Int8(query.skip && *query.skip > 0 ? *query.skip : 0)}};
  Submit(ReadJob<std::vector<DocumentInfo>>("enumerate", {std::move(statement)}, std::move(done),
                                            ReadAll<DocumentInfo>("enumerate", ReadInfo)));
}

void PostgresDocumentStore::GetInfo(std::string document_id, InfoCompletion done) {
  Submit(ReadJob<std::optional<DocumentInfo>>(
      "document info", {{kInfoSql, {pg::Text(document_id)}}}, std::move(done),
      [](const std::vector<SqlResult>& results, std::optional<DocumentInfo>& info, Status& s) {
        if (results.at(0).rows.empty()) return;
        RowReader r(results[0].rows[0], "document info", s);
        if (!r.IsNull(1) || !r.IsNull(3)) info = ReadInfo(r);
      }));
}

void PostgresDocumentStore::Delete(std::string document_id, Completion done) {
  Submit(WriteJob("delete", {{kDeleteOpsSql, {pg::Text(document_id)}}, {kDeleteSnapshotSql, {pg::Text(document_id)}}},
                  true, std::move(done)));
}

void PostgresDocumentStore::DeleteByTenantPrefix(std::string prefix, CountCompletion done) {
  Submit(PrefixDeleteJob("tenant delete", kCountPrefixSql, kDeleteOpsPrefixSql, kDeleteSnapshotsPrefixSql, prefix,
                         std::move(done)));
}

// ----- HistoryStore -----

void PostgresDocumentStore::LoadHistorySnapshot(std::string document_id, int64_t max_revision,
                                                SnapshotCompletion done) {
  Submit(ReadJob<std::optional<Snapshot>>(
      "history snapshot load", {{kLoadHistorySnapshotSql, {pg::Text(document_id), pg::Int8(max_revision)}}},
      std::move(done), ReadFirst<Snapshot>("history snapshot load", [](RowReader r) {
        return Snapshot{r.Int(0), r.Time(1), r.Str(2)};
      })));
}

void PostgresDocumentStore::StreamHistoryOps(std::string document_id, int64_t since, int64_t up_to,
                                             OpsCompletion done) {
  Submit(ReadJob<std::vector<StoredOp>>(
      "history ops load", {{kStreamHistoryOpsSql, {pg::Text(document_id), pg::Int8(since), pg::Int8(up_to)}}},
      std::move(done), ReadAll<StoredOp>("history ops load", [](RowReader r) {
        return StoredOp{r.Int(0), r.Str(1), r.Time(2), r.Str(3), r.Str(4)};
      })));
}

void PostgresDocumentStore::GetMilestones(std::string document_id, MilestonesCompletion done) {
  Submit(ReadJob<std::vector<HistoryMilestone>>("milestones", {{kMilestonesSql, {pg::Text(document_id)}}},
                                                std::move(done),
                                                ReadAll<HistoryMilestone>("milestones", [](RowReader r) {
                                                  return HistoryMilestone{r.Int(0), r.Time(1), r.OptionalStr(2)};
                                                })));
}

void PostgresDocumentStore::WriteHistorySnapshot(std::string document_id, Snapshot snapshot,
                                                 std::optional<std::string> name, Completion done) {
  const Status duplicate = HistorySnapshotExistsError(document_id, snapshot.revision);
  Submit(WriteJob("history snapshot write",
                  {{kInsertHistorySnapshotSql,
                    {pg::Text(document_id), pg::Int8(snapshot.revision), pg::Time(snapshot.timestamp),
                     pg::Bytes(snapshot.state), pg::OptionalText(name)}}},
                  false, std::move(done), duplicate));
}

void PostgresDocumentStore::AppendHistoryOp(std::string document_id, StoredOp op, Completion done) {
  const Status duplicate = HistoryOpExistsError(document_id, op.revision);
  Submit(WriteJob("history append",
                  {{kInsertHistoryOpSql,
                    {pg::Text(document_id), pg::Int8(op.revision), pg::Text(op.author_id), pg::Time(op.timestamp),
                     pg::Bytes(op.payload), pg::Text(op.engine_type)}}},
                  false, std::move(done), duplicate));
}

void PostgresDocumentStore::DeleteHistory(std::string document_id, Completion done) {
  Submit(
      WriteJob("history delete",
               {{kDeleteHistoryOpsSql, {pg::Text(document_id)}}, {kDeleteHistorySnapshotsSql, {pg::Text(document_id)}}},
               true, std::move(done)));
}

void PostgresDocumentStore::PurgeHistoryUpTo(std::string document_id, int64_t up_to, Completion done) {
  Submit(WriteJob("history purge",
                  {{kPurgeHistoryOpsSql, {pg::Text(document_id), pg::Int8(up_to)}},
                   {kPurgeHistorySnapshotsSql, {pg::Text(document_id), pg::Int8(up_to)}}},
                  true, std::move(done)));
}

void PostgresDocumentStore::DeleteHistoryByTenantPrefix(std::string prefix, CountCompletion done) {
  Submit(PrefixDeleteJob("history tenant delete", kCountHistoryPrefixSql, kDeleteHistoryOpsPrefixSql,
                         kDeleteHistorySnapshotsPrefixSql, prefix, std::move(done)));
}

// ----- CommentStore -----

void PostgresDocumentStore::LoadComments(std::string document_id, CommentsCompletion done) {
  Submit(ReadJob<std::vector<Comment>>(
      "comments load", {{kLoadCommentsSql, {pg::Text(document_id)}}}, std::move(done),
      [](const std::vector<SqlResult>& results, std::vector<Comment>& comments, Status& s) {
        ReadAll<Comment>("comments load", ReadComment)(results, comments, s);
        std::sort(comments.begin(), comments.end(), [](const Comment& a, const Comment& b) {
          return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
        });
      }));
}

void PostgresDocumentStore::GetComment(std::string comment_id, CommentCompletion done) {
  Submit(ReadJob<std::optional<Comment>>("comment load", {{kGetCommentSql, {pg::Text(comment_id)}}}, std::move(done),
                                         ReadFirst<Comment>("comment load", ReadComment)));
}

void PostgresDocumentStore::AddComment(Comment c, Completion done) {
  const Status duplicate = CommentExistsError(c.id);
  Submit(WriteJob("comment insert",
                  {{kInsertCommentSql,
                    {pg::Text(c.id), pg::Text(c.document_id), pg::OptionalText(c.parent_comment_id),
                     pg::Text(c.author_peer_id), pg::Text(c.body), pg::OptionalText(c.anchor_json),
                     pg::Int8(c.anchored_at_revision), pg::Time(c.created_at), pg::OptionalTime(c.resolved_at),
                     pg::OptionalText(c.resolved_by_peer_id), pg::Bool(c.is_orphaned), pg::Text(c.author_name)}}},
                  false, std::move(done), duplicate));
}

void PostgresDocumentStore::UpdateComment(Comment c, Completion done) {
  Submit(
      WriteJob("comment update",
               {{kUpdateCommentSql,
                 {pg::Text(c.id), pg::Text(c.body), pg::OptionalText(c.anchor_json), pg::Int8(c.anchored_at_revision),
                  pg::OptionalTime(c.resolved_at), pg::OptionalText(c.resolved_by_peer_id), pg::Bool(c.is_orphaned)}}},
               true, std::move(done), std::nullopt, [id = c.id](const std::vector<SqlResult>& results) {
                 return results.at(0).affected == 0 ? CommentNotFoundError(id) : Status::Ok();
               }));
}

void PostgresDocumentStore::DeleteComment(std::string comment_id, Completion done) {
  Submit(WriteJob("comment delete",
                  {{kDeleteRepliesSql, {pg::Text(comment_id)}}, {kDeleteCommentSql, {pg::Text(comment_id)}}}, true,
                  std::move(done)));
}

void PostgresDocumentStore::UpdateAnchors(std::string document_id, int64_t revision, std::vector<AnchorUpdate> updates,
                                          Completion done) {
  if (updates.empty()) {
    jobs::InvokeCompletion(kProvider, done, Status::Ok());
    return;
  }
  std::vector<SqlStatement> statements;
  statements.reserve(updates.size());
  for (const AnchorUpdate& update : updates) {
    statements.push_back({kUpdateAnchorSql,
                          {pg::Text(update.comment_id), pg::Text(document_id), pg::OptionalText(update.anchor_json),
                           pg::Int8(revision), pg::Bool(update.outcome == AnchorOutcome::kOrphaned)}});
  }
  Submit(WriteJob("anchor update", std::move(statements), true, std::move(done)));
}

void PostgresDocumentStore::GetMinAnchoredRevision(std::string document_id, RevisionCompletion done) {
  Submit(ReadJob<std::optional<int64_t>>(
      "minimum anchored revision", {{kMinAnchoredSql, {pg::Text(document_id)}}}, std::move(done),
      [](const std::vector<SqlResult>& results, std::optional<int64_t>& minimum, Status& s) {
        if (results.at(0).rows.empty()) return;
        RowReader r(results[0].rows[0], "minimum anchored revision", s);
        if (!r.IsNull(0)) minimum = r.Int(0);
      }));
}

// ----- RefStore -----

void PostgresDocumentStore::GetName(std::string global_name, NameCompletion done) {
  Submit(ReadJob<std::optional<DocumentName>>("name load", {{kGetNameSql, {pg::Text(global_name)}}}, std::move(done),
                                              ReadFirst<DocumentName>("name load", ReadName)));
}

void PostgresDocumentStore::EnumerateNames(std::string prefix, NamesCompletion done) {
  Submit(ReadJob<std::vector<DocumentName>>("names load", {{kEnumerateNamesSql, {pg::Text(prefix)}}}, std::move(done),
                                            ReadAll<DocumentName>("names load", ReadName)));
}

void PostgresDocumentStore::CreateName(DocumentName n, Completion done) {
  const Status duplicate = NameExistsError(n.global_name);
  Submit(WriteJob(
      "name insert",
      {{kInsertNameSql,
        {pg::Text(n.global_name), pg::Text(n.default_branch_id), pg::Text(n.engine_type), pg::Time(n.created_at)}}},
      false, std::move(done), duplicate));
}

void PostgresDocumentStore::GetBranch(std::string global_name, std::string branch_id, BranchCompletion done) {
  Submit(ReadJob<std::optional<DocumentBranch>>("branch load",
                                                {{kGetBranchSql, {pg::Text(global_name), pg::Text(branch_id)}}},
                                                std::move(done), ReadFirst<DocumentBranch>("branch load", ReadBranch)));
}

void PostgresDocumentStore::EnumerateBranches(std::string global_name, BranchesCompletion done) {
  Submit(ReadJob<std::vector<DocumentBranch>>("branches load", {{kEnumerateBranchesSql, {pg::Text(global_name)}}},
                                              std::move(done), ReadAll<DocumentBranch>("branches load", ReadBranch)));
}

void PostgresDocumentStore::CreateBranch(DocumentBranch b, Completion done) {
  const Status duplicate = BranchExistsError(b.branch_id);
  Submit(WriteJob("branch insert",
                  {{kInsertBranchSql,
                    {pg::Text(b.global_name), pg::Text(b.branch_id), pg::Text(b.physical_document_id),
                     pg::OptionalText(b.fork_parent_branch_id), pg::Int8(b.fork_revision), pg::Time(b.created_at),
                     pg::Bool(b.is_read_only)}}},
                  false, std::move(done), duplicate));
}

void PostgresDocumentStore::DeleteBranch(std::string global_name, std::string branch_id, Completion done) {
  Submit(WriteJob("branch delete", {{kDeleteBranchSql, {pg::Text(global_name), pg::Text(branch_id)}}}, true,
                  std::move(done)));
}

void PostgresDocumentStore::CreateVersion(DocumentVersion v, Completion done) {
  const Status duplicate = TagExistsError(v.tag, v.branch_id);
  Submit(WriteJob("version insert",
                  {{kInsertVersionSql,
                    {pg::Text(v.global_name), pg::Text(v.branch_id), pg::Text(v.tag), pg::Int8(v.revision),
                     pg::Text(v.history_snapshot_name), pg::Time(v.created_at)}}},
                  false, std::move(done), duplicate));
}

void PostgresDocumentStore::GetVersion(std::string global_name, std::string branch_id, std::string tag,
                                       VersionCompletion done) {
  Submit(ReadJob<std::optional<DocumentVersion>>(
      "version load", {{kGetVersionSql, {pg::Text(global_name), pg::Text(branch_id), pg::Text(tag)}}}, std::move(done),
      ReadFirst<DocumentVersion>("version load", ReadVersion)));
}

void PostgresDocumentStore::EnumerateVersions(std::string global_name, std::string branch_id, VersionsCompletion done) {
  Submit(ReadJob<std::vector<DocumentVersion>>(
      "versions load", {{kEnumerateVersionsSql, {pg::Text(global_name), pg::Text(branch_id)}}}, std::move(done),
      ReadAll<DocumentVersion>("versions load", ReadVersion)));
}

void PostgresDocumentStore::ListVersionsPinning(std::string physical_document_id, VersionsCompletion done) {
  Submit(ReadJob<std::vector<DocumentVersion>>("pin guard", {{kPinningSql, {pg::Text(physical_document_id)}}},
                                               std::move(done), ReadAll<DocumentVersion>("pin guard", ReadVersion)));
}

}  // namespace opstream::storage
