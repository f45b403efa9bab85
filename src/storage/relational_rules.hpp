#pragma once
// What the relational providers (MySQL, SQL Server) share beyond their SQL dialects: the prefix
// matching, aggregation and paging of the management calls (server.md §3.4.7), the anchor rule of
// the comment store, the orderings the ref store promises, and the refusal texts.
//
// Prefix matching is done twice on purpose: LIKE narrows the rows on the server (using the key
// index), then StartsWith keeps only ordinal matches, because both databases compare text with
// case-insensitive collations by default.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/comment_store.hpp"
#include "storage/document_store.hpp"
#include "storage/history_store.hpp"
#include "storage/ref_store.hpp"

namespace opstream::storage::relational {

// A LIKE pattern for ids starting with `prefix`, escaping `\`, `%`, `_` and any of `specials`
// (SQL Server also treats `[` as special) with `\` (use `ESCAPE '\'`).
std::string LikePrefixPattern(std::string_view prefix, std::string_view specials = {});

// Ordinal (byte-wise UTF-8) "starts with"; an empty prefix matches everything.
inline bool StartsWith(std::string_view id, std::string_view prefix) { return id.substr(0, prefix.size()) == prefix; }

// Merges the snapshot rows and the per-document op aggregates into DocumentInfo (§3.1 GetInfo).
class InfoMerger {
 public:
  void AddSnapshot(const std::string& id, int64_t revision, Timestamp timestamp);
  void AddOps(const std::string& id, int64_t max_revision, Timestamp max_timestamp, int64_t count);
  // Ordinal by id, filtered by `prefix`, then `skip`/`take` when > 0.
  std::vector<DocumentInfo> Take(std::string_view prefix, const DocumentQuery& query);
  std::optional<DocumentInfo> TakeOne(const std::string& id);

 private:
  std::map<std::string, DocumentInfo> infos_;
};

// §3.1 orderings: names by name; branches by id; versions by tag; pinning versions by revision,
// then name, branch, tag; comments by creation time, then id.
void SortNames(std::vector<DocumentName>& names);
void SortBranches(std::vector<DocumentBranch>& branches);
void SortVersionsByTag(std::vector<DocumentVersion>& versions);
void SortPinningVersions(std::vector<DocumentVersion>& versions);
void SortComments(std::vector<Comment>& comments);
// The minimum anchoredAtRevision over root, unresolved comments whose anchor reads as one.
std::optional<int64_t> MinAnchoredRevision(const std::vector<Comment>& comments);

// A result row as both stores read it: every column as text (bigint as decimal, bit/tinyint as
// 0/1), nulls as nullopt.
using Row = std::vector<std::optional<std::string>>;
using TimeParser = std::optional<Timestamp> (*)(std::string_view);

// A whole decimal text as int64 (what the drivers return for bigint columns).
bool ParseInt64(std::string_view text, int64_t& out);

// Reads a row's columns left to right; any missing or malformed column clears ok().
class RowReader {
 public:
  RowReader(const Row& row, TimeParser parse_time) : row_(row), parse_time_(parse_time) {}
  std::string Text();
  std::optional<std::string> OptionalText();
  int64_t Int();
  bool Bool();
  Timestamp Time();
  std::optional<Timestamp> OptionalTime();
  bool ok() const { return ok_ && next_ == row_.size(); }

 private:
  const std::optional<std::string>* Next();
  const Row& row_;
  TimeParser parse_time_;
  size_t next_ = 0;
  bool ok_ = true;
};

// Column orders of the decoders below (identifiers without quoting; each dialect quotes them).
inline constexpr std::string_view kCommentColumns[] = {
    "Id",         "DocumentId",         "ParentCommentId", "AuthorPeerId", "AuthorName",       "Body",
    "AnchorJson", "AnchoredAtRevision", "CreatedAt",       "ResolvedAt",   "ResolvedByPeerId", "IsOrphaned"};
inline constexpr std::string_view kNameColumns[] = {"GlobalName", "DefaultBranchId", "EngineType", "CreatedAt"};
inline constexpr std::string_view kBranchColumns[] = {
    "GlobalName", "BranchId", "PhysicalDocumentId", "ForkParentBranchId", "ForkRevision", "CreatedAt", "IsReadOnly"};
inline constexpr std::string_view kVersionColumns[] = {"GlobalName",          "BranchId", "Tag", "Revision",
                                                       "HistorySnapshotName", "CreatedAt"};
// `open` + column + `close`, comma-separated, each prefixed by `table_alias.` when given.
template <size_t N>
std::string ColumnList(const std::string_view (&columns)[N], std::string_view open, std::string_view close,
                       std::string_view table_alias = {}) {
  std::string out;
  for (size_t i = 0; i < N; ++i) {
    if (i > 0) out += ", ";
    if (!table_alias.empty()) out += std::string(table_alias) + ".";
    out += std::string(open) + std::string(columns[i]) + std::string(close);
  }
  return out;
}

// The rows of a load query: (0, Revision, NULL, Timestamp, State, NULL) for the snapshot and
// (1, Revision, AuthorId, Timestamp, Payload, EngineType) for each op after it, ops ascending.
// `product` ("MySQL") names the store in the error for an unreadable row.
Status ReadLoadedDocument(const std::vector<Row>& rows, TimeParser parse_time, std::string_view product,
                          std::string_view document_id, LoadedDocument& loaded);

// History rows: (Revision, Timestamp, State); (Revision, AuthorId, Timestamp, Payload, EngineType);
// (Revision, Timestamp, Name).
bool ReadSnapshot(const Row& row, TimeParser parse_time, Snapshot& out);
bool ReadHistoryOp(const Row& row, TimeParser parse_time, StoredOp& out);
bool ReadMilestone(const Row& row, TimeParser parse_time, HistoryMilestone& out);
bool ReadComment(const Row& row, TimeParser parse_time, Comment& out);
bool ReadName(const Row& row, TimeParser parse_time, DocumentName& out);
bool ReadBranch(const Row& row, TimeParser parse_time, DocumentBranch& out);
bool ReadVersion(const Row& row, TimeParser parse_time, DocumentVersion& out);

}  // namespace opstream::storage::relational
