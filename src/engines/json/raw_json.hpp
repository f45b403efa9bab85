#pragma once
// Token-level JSON: a strict validator that keeps the exact source text of every value.
//
// Opaque values (JSON-engine `value`, awareness `data`, rich-text attribute values, ...) must be kept
// as a parsed tree plus their exact source slice, and re-emitted with number tokens copied verbatim
// (engines.md §1.3 item 7, §1.4). simdjson's DOM keeps neither the slices nor the number tokens, so
// this small parser exists next to it. It applies the same rules as StrictJsonParser (§1.3 item 6):
// RFC 8259 only (no comments, no trailing commas, no NaN), valid UTF-8, no escaped lone surrogates,
// at most kMaxDepth nested containers, nothing after the value. Unlike simdjson it accepts number
// tokens of any size (`1e400`, 30-digit integers), as System.Text.Json does for JsonElement values.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace opstream::engines::json {

// System.Text.Json's default maximum depth: 64 nested containers are accepted, 65 are not.
inline constexpr int kMaxDepth = 64;

enum class JsonKind : uint8_t { kNull, kFalse, kTrue, kNumber, kString, kArray, kObject };

std::string_view JsonKindName(JsonKind kind) noexcept;

struct RawJsonNode {
  JsonKind kind = JsonKind::kNull;
  // Elements of an array or members of an object.
  uint32_t child_count = 0;
  // Index one past the last node of this value's subtree (the next sibling, if any).
  uint32_t subtree_end = 0;
  // Exact source slice of the value. Strings include their quotes and original escapes; containers
  // include the insignificant whitespace inside them.
  std::string_view raw;
  // For the value of an object member: the raw key token (with quotes). Empty otherwise.
  std::string_view raw_key;
};

// A validated JSON text as a flat pre-order array of nodes. Node 0 is the root; the first child of
// node i is i + 1 and the sibling after child c is nodes[c].subtree_end. The tree points into the
// parsed text, which must outlive it.
class RawJsonTree {
 public:
  // Validates `json` and builds the tree. On failure the tree is empty and the message says where.
  Status Parse(std::string_view json);

  bool empty() const noexcept { return nodes_.empty(); }
  size_t size() const noexcept { return nodes_.size(); }
  const RawJsonNode& node(uint32_t index) const noexcept { return nodes_[index]; }
  const RawJsonNode& root() const noexcept { return nodes_[0]; }

  // Index of the last member of object `object_index` whose unescaped name equals `name` (ordinal,
  // case-sensitive), or -1. Last wins, like JsonElement.TryGetProperty.
  int64_t FindMember(uint32_t object_index, std::string_view name) const;
  // Same with ASCII case-insensitive names (the binder's PropertyNameCaseInsensitive, §1.3 item 1).
  int64_t FindMemberIgnoreCase(uint32_t object_index, std::string_view name) const;

 private:
  std::vector<RawJsonNode> nodes_;
};

// Validation only (same rules as RawJsonTree::Parse).
Status ValidateJson(std::string_view json);

// Appends the unescaped UTF-8 content of a string token (with quotes) taken from a validated text.
void AppendUnescapedString(std::string_view raw_string_token, std::string& out);
std::string UnescapeString(std::string_view raw_string_token);
// Ordinal equality of two string tokens after unescaping.
bool StringTokensEqual(std::string_view raw_a, std::string_view raw_b);

// Appends a validated JSON text without insignificant whitespace; every token (numbers, strings
// with their escapes) is copied verbatim.
void AppendMinifiedVerbatim(std::string_view validated_json, std::string& out);

// Appends a validated JSON text the way the reference re-emits an opaque value (§1.4): minified,
// members in source order with duplicates kept, number tokens verbatim, strings unescaped and
// re-escaped with the .NET table.
void AppendReserializedValidated(std::string_view validated_json, std::string& out);
// Same after validating `json`; on failure nothing is appended.
Status AppendReserialized(std::string_view json, std::string& out);

}  // namespace opstream::engines::json
