#include "engines/json_crdt/json_path_anchor.hpp"

#include "engines/json/raw_json.hpp"

namespace opstream::engines {

bool JsonBatchOrphansAnchor(const JsonOpBatch& batch, std::string_view anchored_path) noexcept {
  for (const JsonCrdtOperation& op : batch.operations) {
    if (op.kind != JsonOpKind::kDelete) continue;
    const std::string_view deleted = op.path;
    if (anchored_path.size() < deleted.size() || anchored_path.substr(0, deleted.size()) != deleted) continue;
    if (anchored_path.size() == deleted.size()) return true;
    const char next = anchored_path[deleted.size()];
    if (next == '.' || next == '[') return true;
  }
  return false;
}

std::optional<std::string> ReadJsonAnchorPath(std::string_view anchor_data_json) {
  json::RawJsonTree tree;
  if (!tree.Parse(anchor_data_json).ok() || tree.root().kind != json::JsonKind::kObject) return std::nullopt;
  const int64_t found = tree.FindMemberIgnoreCase(0, "path");
  if (found < 0) return std::nullopt;
  const json::RawJsonNode& value = tree.node(static_cast<uint32_t>(found));
  if (value.kind != json::JsonKind::kString) return std::nullopt;
  return json::UnescapeString(value.raw);
}

}  // namespace opstream::engines
