#pragma once
// Shared by the last-writer-wins engines whose batches are `{"operations": [...]}` (form, json):
// the batch envelope and the peer field are read and written the same way for both, only the
// per-operation fields differ.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_fields.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::engines::json {

// Parses the envelope and hands each element to `parse_one(tree, node_index, position, op)`.
// `invalid(message)` builds the engine's error status for envelope faults. On failure `out` is
// left empty, so a rejected batch never leaves half its operations behind.
template <class Operation, class Invalid, class ParseOne>
Status ParseOperationsBatch(std::string_view payload_json, std::vector<Operation>& out, Invalid invalid,
                            ParseOne parse_one) {
  out.clear();
  RawJsonTree tree;
  Status status = tree.Parse(payload_json);
  if (!status.ok()) return invalid(status.message());
  if (tree.root().kind != JsonKind::kObject) {
    return invalid("the op must be a JSON object, not " + std::string(KindArticle(tree.root().kind)) + ".");
  }
  const int64_t list = tree.FindMemberIgnoreCase(0, "operations");
  if (list < 0) return invalid("\"operations\" is missing.");
  const RawJsonNode& array = tree.node(static_cast<uint32_t>(list));
  if (array.kind != JsonKind::kArray) {
    return invalid("\"operations\" must be an array, not " + std::string(KindArticle(array.kind)) + ".");
  }
  out.reserve(array.child_count);
  size_t position = 0;
  for (uint32_t child = static_cast<uint32_t>(list) + 1; child < array.subtree_end;
       child = tree.node(child).subtree_end) {
    Operation op;
    status = parse_one(tree, child, position++, op);
    if (!status.ok()) {
      out.clear();
      return status;
    }
    out.push_back(std::move(op));
  }
  return Status::Ok();
}

// A nullable peer id: the string, or JSON null.
inline void WritePeer(JsonWriter& writer, const std::optional<std::string>& peer) {
  if (peer) {
    writer.String(std::string_view(*peer));
  } else {
    writer.Null();
  }
}

}  // namespace opstream::engines::json
