#include "storage/relational_rules.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <tuple>

#include "storage/store_rules.hpp"

namespace opstream::storage::relational {

std::string LikePrefixPattern(std::string_view prefix, std::string_view specials) {
  std::string out;
  for (char c : prefix) {
    if (c == '\\' || c == '%' || c == '_' || specials.find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  out += '%';
  return out;
}

void InfoMerger::AddSnapshot(const std::string& id, int64_t revision, Timestamp timestamp) {
  DocumentInfo& info = infos_[id];
  if (info.document_id.empty()) {
    info.document_id = id;
    info.revision = revision;
    info.last_modified = timestamp;
    return;
  }
  info.revision = std::max(info.revision, revision);
  info.last_modified = std::max(info.last_modified, timestamp);
}

void InfoMerger::AddOps(const std::string& id, int64_t max_revision, Timestamp max_timestamp, int64_t count) {
  if (count <= 0) return;
  DocumentInfo& info = infos_[id];
  if (info.document_id.empty()) {
    info.document_id = id;
    info.revision = max_revision;
    info.last_modified = max_timestamp;
  } else {
    info.revision = std::max(info.revision, max_revision);
    info.last_modified = std::max(info.last_modified, max_timestamp);
  }
  info.op_count += count;
}

std::vector<DocumentInfo> InfoMerger::Take(std::string_view prefix, const DocumentQuery& query) {
  std::vector<DocumentInfo> out;
  for (auto& [id, info] : infos_) {
    if (StartsWith(id, prefix)) out.push_back(std::move(info));
  }
  infos_.clear();
  ApplyPaging(out, query);
  return out;
}

std::optional<DocumentInfo> InfoMerger::TakeOne(const std::string& id) {
  const auto it = infos_.find(id);
  if (it == infos_.end()) return std::nullopt;
  DocumentInfo info = std::move(it->second);
  infos_.clear();
  return info;
}

void SortNames(std::vector<DocumentName>& names) {
  std::sort(names.begin(), names.end(), [](const auto& a, const auto& b) { return a.global_name < b.global_name; });
}

void SortBranches(std::vector<DocumentBranch>& branches) {
  std::sort(branches.begin(), branches.end(), [](const auto& a, const auto& b) { return a.branch_id < b.branch_id; });
}

void SortVersionsByTag(std::vector<DocumentVersion>& versions) {
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) { return a.tag < b.tag; });
}

void SortPinningVersions(std::vector<DocumentVersion>& versions) {
  std::sort(versions.begin(), versions.end(), [](const auto& a, const auto& b) {
    return std::tie(a.revision, a.global_name, a.branch_id, a.tag) <
           std::tie(b.revision, b.global_name, b.branch_id, b.tag);
  });
}

void SortComments(std::vector<Comment>& comments) {
  std::sort(comments.begin(), comments.end(),
            [](const auto& a, const auto& b) { return std::tie(a.created_at, a.id) < std::tie(b.created_at, b.id); });
}

std::optional<int64_t> MinAnchoredRevision(const std::vector<Comment>& comments) {
  std::optional<int64_t> min;
  for (const Comment& c : comments) {
    if (c.parent_comment_id || c.resolved_at || !c.anchor_json) continue;
    if (!min || c.anchored_at_revision < *min) min = c.anchored_at_revision;
  }
  return min;
}

const std::optional<std::string>* RowReader::Next() {
  if (next_ >= row_.size()) {
    ok_ = false;
    return nullptr;
  }
  return &row_[next_++];
}

std::string RowReader::Text() {
  const auto* cell = Next();
  if (cell == nullptr || !*cell) {
    ok_ = false;
    return {};
  }
  return **cell;
}

std::optional<std::string> RowReader::OptionalText() {
  const auto* cell = Next();
  return cell == nullptr ? std::nullopt : *cell;
}

bool ParseInt64(std::string_view text, int64_t& out) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && error == std::errc() && end == text.data() + text.size();
}

int64_t RowReader::Int() {
  int64_t value = 0;
  if (!ParseInt64(Text(), value)) ok_ = false;
  return value;
}

bool RowReader::Bool() {
  const std::string text = Text();
  if (text != "0" && text != "1") ok_ = false;
  return text == "1";
}

Timestamp RowReader::Time() {
  const std::string text = Text();
  const std::optional<Timestamp> t = parse_time_(text);
  if (!t) ok_ = false;
  return t.value_or(Timestamp{});
}

std::optional<Timestamp> RowReader::OptionalTime() {
  const std::optional<std::string> text = OptionalText();
  if (!text) return std::nullopt;
  const std::optional<Timestamp> t = parse_time_(*text);
  if (!t) ok_ = false;
  return t;
}

Status ReadLoadedDocument(const std::vector<Row>& rows, TimeParser parse_time, std::string_view product,
                          std::string_view document_id, LoadedDocument& loaded) {
  loaded.ops.reserve(rows.size());
  for (size_t r = 0; r < rows.size(); ++r) {
    const Row& row = rows[r];
    int64_t kind = 0, revision = 0;
    std::optional<Timestamp> timestamp;
    if (row.size() == 6 && row[3]) timestamp = parse_time(*row[3]);
    if (row.size() != 6 || !row[0] || !row[1] || !timestamp || !row[4] || !ParseInt64(*row[0], kind) ||
        !ParseInt64(*row[1], revision) || (kind == 1 && (!row[2] || !row[5]))) {
      return Status::Error(fmt::format("{} load failed: unreadable row {} of document '{}'.", product, r, document_id));
    }
    if (kind == 0) {
      loaded.snapshot = Snapshot{revision, *timestamp, *row[4]};
    } else {
      loaded.ops.push_back(StoredOp{revision, *row[2], *timestamp, *row[4], *row[5]});
    }
  }
  return Status::Ok();
}

bool ReadSnapshot(const Row& row, TimeParser parse_time, Snapshot& out) {
  RowReader r(row, parse_time);
  out.revision = r.Int();
  out.timestamp = r.Time();
  out.state = r.Text();
  return r.ok();
}

bool ReadHistoryOp(const Row& row, TimeParser parse_time, StoredOp& out) {
  RowReader r(row, parse_time);
  out.revision = r.Int();
  out.author_id = r.Text();
  out.timestamp = r.Time();
  out.payload = r.Text();
  out.engine_type = r.Text();
  return r.ok();
}

bool ReadMilestone(const Row& row, TimeParser parse_time, HistoryMilestone& out) {
  RowReader r(row, parse_time);
  out.revision = r.Int();
  out.timestamp = r.Time();
  out.name = r.OptionalText();
  return r.ok();
}

bool ReadComment(const Row& row, TimeParser parse_time, Comment& out) {
  RowReader r(row, parse_time);
  out.id = r.Text();
  out.document_id = r.Text();
  out.parent_comment_id = r.OptionalText();
  out.author_peer_id = r.Text();
  out.author_name = r.Text();
  out.body = r.Text();
  out.anchor_json = ReadableAnchor(r.OptionalText());
  out.anchored_at_revision = r.Int();
  out.created_at = r.Time();
  out.resolved_at = r.OptionalTime();
  out.resolved_by_peer_id = r.OptionalText();
  out.is_orphaned = r.Bool();
  return r.ok();
}

bool ReadName(const Row& row, TimeParser parse_time, DocumentName& out) {
  RowReader r(row, parse_time);
  out.global_name = r.Text();
  out.default_branch_id = r.Text();
  out.engine_type = r.Text();
  out.created_at = r.Time();
  return r.ok();
}

bool ReadBranch(const Row& row, TimeParser parse_time, DocumentBranch& out) {
  RowReader r(row, parse_time);
  out.global_name = r.Text();
  out.branch_id = r.Text();
  out.physical_document_id = r.Text();
  out.fork_parent_branch_id = r.OptionalText();
  out.fork_revision = r.Int();
  out.created_at = r.Time();
  out.is_read_only = r.Bool();
  return r.ok();
}

bool ReadVersion(const Row& row, TimeParser parse_time, DocumentVersion& out) {
  RowReader r(row, parse_time);
  out.global_name = r.Text();
  out.branch_id = r.Text();
  out.tag = r.Text();
  out.revision = r.Int();
  out.history_snapshot_name = r.Text();
  out.created_at = r.Time();
  return r.ok();
}

}  // namespace opstream::storage::relational
