#include "storage/store_rules.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "engines/json/json_reader.hpp"

namespace opstream::storage {

void ApplyPaging(std::vector<DocumentInfo>& documents, const DocumentQuery& query) {
  if (query.skip && *query.skip > 0) {
    const auto skip = std::min(static_cast<size_t>(*query.skip), documents.size());
    documents.erase(documents.begin(), documents.begin() + static_cast<std::ptrdiff_t>(skip));
  }
  if (query.take && *query.take > 0 && static_cast<size_t>(*query.take) < documents.size()) {
    documents.resize(static_cast<size_t>(*query.take));
  }
}

std::optional<std::string> PrefixUpperBound(std::string_view prefix) {
  std::string bound(prefix);
  while (!bound.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(bound.back());
    if (last != 0xFF) {
      ++last;
      return bound;
    }
    bound.pop_back();
  }
  return std::nullopt;
}

std::optional<std::string> ReadableAnchor(std::optional<std::string> anchor_json) {
  if (!anchor_json) return std::nullopt;
  simdjson::dom::element root;
  if (!engines::json::StrictJsonParser::ForCurrentThread().Parse(*anchor_json, root).ok() || !root.is_object()) {
    return std::nullopt;
  }
  return anchor_json;
}

Status HistoryOpExistsError(std::string_view document_id, int64_t revision) {
  return Status::Error(fmt::format("History op {} of document '{}' already exists.", revision, document_id));
}

Status HistorySnapshotExistsError(std::string_view document_id, int64_t revision) {
  return Status::Error(
      fmt::format("A history snapshot at revision {} of document '{}' already exists.", revision, document_id));
}

Status CommentExistsError(std::string_view comment_id) {
  return Status::Error(fmt::format("Comment '{}' already exists.", comment_id));
}

Status CommentNotFoundError(std::string_view comment_id) {
  return Status::Error(fmt::format("Comment '{}' not found.", comment_id));
}

Status NameExistsError(std::string_view global_name) {
  return Status::Error(fmt::format("Name '{}' already exists.", global_name));
}

Status BranchExistsError(std::string_view branch_id) {
  return Status::Error(fmt::format("Branch '{}' already exists.", branch_id));
}

Status TagExistsError(std::string_view tag, std::string_view branch_id) {
  return Status::Error(fmt::format("Tag '{}' already exists on branch '{}'.", tag, branch_id));
}

Status NewerSchemaError(std::string_view product, std::string_view database, std::string_view unknown_id,
                        const std::vector<std::string_view>& known_ids) {
  std::string known;
  for (std::string_view id : known_ids) {
    known += known.empty() ? "" : ", ";
    known += id;
  }
  return Status::Error(
      fmt::format("The {} database {} has a newer schema than this server knows: migration '{}' in "
                  "__EFMigrationsHistory is not one of {}. Upgrade OpStream Server or use another "
                  "database.",
                  product, database, unknown_id, known));
}

}  // namespace opstream::storage
