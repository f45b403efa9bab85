#pragma once
// Semantics every provider of the §3.1 management, history, comment and ref calls shares, so the
// memory and persistent stores page, match prefixes and refuse with the same texts.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "storage/document_store.hpp"

namespace opstream::storage {

// Applies `skip` only when > 0 and `take` only when > 0 (take = 0 is "no limit", server.md §3.1)
// to a list already ordered by id.
void ApplyPaging(std::vector<DocumentInfo>& documents, const DocumentQuery& query);

// The smallest string greater than every string that starts with `prefix` (byte-wise), for index
// range scans; none when no such string exists (empty prefix, or only 0xFF bytes).
std::optional<std::string> PrefixUpperBound(std::string_view prefix);

// Persistent providers read an anchor that is not a JSON object as "no anchor" (§3.4.7).
std::optional<std::string> ReadableAnchor(std::optional<std::string> anchor_json);

// Refusals with the texts of the versioning layer (server.md §6, §12 error catalogue).
Status HistoryOpExistsError(std::string_view document_id, int64_t revision);
Status HistorySnapshotExistsError(std::string_view document_id, int64_t revision);
Status CommentExistsError(std::string_view comment_id);
Status CommentNotFoundError(std::string_view comment_id);
Status NameExistsError(std::string_view global_name);
Status BranchExistsError(std::string_view branch_id);
Status TagExistsError(std::string_view tag, std::string_view branch_id);

// Refuses a database whose __EFMigrationsHistory holds a migration id this build does not know:
// its schema is newer (server.md §3.4.5). `product` ("MySQL") and `database` (the connection's
// description) name it in the message.
Status NewerSchemaError(std::string_view product, std::string_view database, std::string_view unknown_id,
                        const std::vector<std::string_view>& known_ids);
template <typename Migrations>
Status CheckAppliedMigrations(const std::vector<std::string>& applied_ids, const Migrations& known,
                              std::string_view product, std::string_view database) {
  std::vector<std::string_view> known_ids;
  for (const auto& migration : known) known_ids.push_back(migration.id);
  for (const std::string& id : applied_ids) {
    if (std::find(known_ids.begin(), known_ids.end(), id) == known_ids.end()) {
      return NewerSchemaError(product, database, id, known_ids);
    }
  }
  return Status::Ok();
}

}  // namespace opstream::storage
