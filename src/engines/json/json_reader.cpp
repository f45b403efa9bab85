#include "engines/json/json_reader.hpp"

#include <limits>

#include "engines/json/raw_json.hpp"

namespace opstream::engines::json {
namespace {

namespace dom = simdjson::dom;

// simdjson counts a scalar inside the innermost container as one more level, so with a limit of
// 65 it accepts exactly what System.Text.Json accepts, plus 65 nested containers whose innermost
// one is empty. CheckDepth rejects that remaining case.
constexpr size_t kSimdjsonMaxDepth = kMaxDepth + 1;

// True when `value` nests more than `remaining` containers (a scalar nests none, `[]` one).
bool DeeperThan(dom::element value, int remaining) {
  const dom::element_type type = value.type();
  if (type != dom::element_type::ARRAY && type != dom::element_type::OBJECT) return false;
  if (remaining == 0) return true;
  // Copy the array/object out of the simdjson_result before iterating: value_unsafe() returns a
  // reference into the temporary result.
  if (type == dom::element_type::ARRAY) {
    const dom::array array = value.get_array().value_unsafe();
    for (dom::element child : array) {
      if (DeeperThan(child, remaining - 1)) return true;
    }
  } else {
    const dom::object object = value.get_object().value_unsafe();
    for (dom::key_value_pair member : object) {
      if (DeeperThan(member.value, remaining - 1)) return true;
    }
  }
  return false;
}

Status SimdjsonError(simdjson::error_code error) {
  return Status::Error(std::string("Invalid JSON: ") + simdjson::error_message(error));
}

}  // namespace

StrictJsonParser::StrictJsonParser() {
  // Reserve a small document up front; capacity grows on demand and keeps the depth limit.
  // A failed allocation here is retried by the first Parse, which reports it.
  [[maybe_unused]] const simdjson::error_code error = parser_.allocate(4096, kSimdjsonMaxDepth);
}

StrictJsonParser& StrictJsonParser::ForCurrentThread() {
  thread_local StrictJsonParser parser;
  return parser;
}

Status StrictJsonParser::Parse(std::string_view json, dom::element& root) {
  const simdjson::error_code error = parser_.parse(json.data(), json.size(), true).get(root);
  if (error == simdjson::NUMBER_ERROR) return ParseWithOversizedNumbers(json, root);
  if (error) return SimdjsonError(error);
  return CheckDepth(json, root);
}

Status StrictJsonParser::CheckDepth(std::string_view json, dom::element root) const {
  // 65 nested containers need at least 130 bytes; smaller documents cannot be too deep.
  if (json.size() < 2 * (kMaxDepth + 1)) return Status::Ok();
  if (DeeperThan(root, kMaxDepth)) {
    return Status::Error("Invalid JSON: nesting deeper than 64 levels.");
  }
  return Status::Ok();
}

Status StrictJsonParser::ParseWithOversizedNumbers(std::string_view json, dom::element& root) {
  // Rare path: either the text is invalid, or it holds numbers simdjson cannot represent.
  RawJsonTree tree;
  Status valid = tree.Parse(json);
  if (!valid.ok()) return valid;
  std::string sanitized(json);
  dom::parser token_parser;
  bool replaced = false;
  for (uint32_t i = 0; i < tree.size(); ++i) {
    const RawJsonNode& node = tree.node(i);
    if (node.kind != JsonKind::kNumber) continue;
    dom::element ignored;
    if (!token_parser.parse(node.raw.data(), node.raw.size(), true).get(ignored)) continue;
    // Same length, so every other offset stays put; "0.0" is not an integer literal, so integer
    // fields still reject the value.
    if (node.raw.size() < 3) return SimdjsonError(simdjson::NUMBER_ERROR);
    const size_t offset = static_cast<size_t>(node.raw.data() - json.data());
    sanitized.replace(offset, node.raw.size(), "0.0" + std::string(node.raw.size() - 3, ' '));
    replaced = true;
  }
  if (!replaced) return SimdjsonError(simdjson::NUMBER_ERROR);
  // simdjson copies strings into its own buffers, so the DOM does not point into `sanitized`.
  const simdjson::error_code error = parser_.parse(sanitized.data(), sanitized.size(), true).get(root);
  if (error) return SimdjsonError(error);
  return CheckDepth(json, root);
}

bool FindMemberIgnoreCase(dom::object object, std::string_view name, dom::element& value) {
  bool found = false;
  for (dom::key_value_pair member : object) {
    if (NameEqualsIgnoreCase(member.key, name)) {
      value = member.value;
      found = true;
    }
  }
  return found;
}

Status ReadInt64(dom::element value, std::string_view what, int64_t& out) {
  switch (value.type()) {
    case dom::element_type::INT64:
      out = value.get_int64().value_unsafe();
      return Status::Ok();
    case dom::element_type::UINT64:
      return Status::Error(std::string(what) + " is out of range for a 64-bit integer.");
    case dom::element_type::DOUBLE:
      return Status::Error(std::string(what) + " must be an integer literal (no fraction or exponent).");
    default:
      return Status::Error(std::string(what) + " must be an integer, not " + std::string(KindName(value)) + ".");
  }
}

Status ReadInt32(dom::element value, std::string_view what, int32_t& out) {
  int64_t wide = 0;
  Status status = ReadInt64(value, what, wide);
  if (!status.ok()) {
    if (value.type() == dom::element_type::UINT64) {
      return Status::Error(std::string(what) + " is out of range for a 32-bit integer.");
    }
    return status;
  }
  if (wide < std::numeric_limits<int32_t>::min() || wide > std::numeric_limits<int32_t>::max()) {
    return Status::Error(std::string(what) + " is out of range for a 32-bit integer.");
  }
  out = static_cast<int32_t>(wide);
  return Status::Ok();
}

std::string_view KindName(dom::element value) noexcept {
  switch (value.type()) {
    case dom::element_type::ARRAY:
      return "an array";
    case dom::element_type::OBJECT:
      return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE:
      return "a number";
    case dom::element_type::STRING:
      return "a string";
    case dom::element_type::BOOL:
      return "a boolean";
    case dom::element_type::NULL_VALUE:
      return "null";
  }
  return "a value";
}

}  // namespace opstream::engines::json
