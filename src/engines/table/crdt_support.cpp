#include "engines/table/crdt_support.hpp"

#include <chrono>

#include "common/text.hpp"
#include "engines/json/raw_fields.hpp"

namespace opstream::engines::crdt {

int64_t WallClockMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string NormalizedValue(const json::RawJsonTree& tree, uint32_t node) {
  std::string out;
  json::AppendReserializedValidated(tree.node(node).raw, out);
  return out;
}

FieldReader::FieldReader(const json::RawJsonTree& tree, uint32_t object, Location where)
    : tree_(tree), object_(object), where_(where) {
  const auto& o = tree.node(object);
  if (o.kind != json::JsonKind::kObject || o.child_count > kIndexedMembers) return;
  uint32_t child = object + 1;
  for (uint32_t k = 0; k < o.child_count; ++k) {
    const std::string_view raw = tree.node(child).raw_key;
    if (raw.size() < 2) return;
    const std::string_view inner = raw.substr(1, raw.size() - 2);
    if (inner.find('\\') != std::string_view::npos) return;
    members_[member_count_++] = Member{inner, child};
    child = tree.node(child).subtree_end;
  }
  indexed_ = true;
}

std::optional<uint32_t> FieldReader::Node(std::string_view name) const {
  if (indexed_) {
    // Last duplicate wins, as in RawJsonTree::FindMemberIgnoreCase.
    for (uint32_t k = member_count_; k-- > 0;) {
      if (AsciiIEquals(members_[k].name, name)) return members_[k].node;
    }
    return std::nullopt;
  }
  const int64_t found = tree_.FindMemberIgnoreCase(object_, name);
  if (found < 0) return std::nullopt;
  return static_cast<uint32_t>(found);
}

std::string Location::Text() const {
  std::string out(prefix);
  if (index >= 0) out.append("[").append(std::to_string(index)).append("]");
  if (has_key) out.append("[\"").append(key).append("\"]");
  out.append(suffix);
  return out;
}

Status FieldReader::Error(std::string_view name, std::string_view problem) const {
  std::string message = where_.Text();
  message.append(".").append(name).append(" ").append(problem);
  return Status::Error(std::move(message));
}

Status FieldReader::RequiredString(std::string_view name, std::string& out) const {
  const auto node = Node(name);
  if (!node) return Error(name, "is required.");
  const auto& n = tree_.node(*node);
  if (n.kind == json::JsonKind::kNull) return Error(name, "must not be null.");
  if (n.kind != json::JsonKind::kString) {
    return Error(name, std::string("must be a string, not ").append(json::JsonKindName(n.kind)).append("."));
  }
  out.clear();
  json::AppendUnescapedString(n.raw, out);
  return Status::Ok();
}

Status FieldReader::OptionalString(std::string_view name, std::string& out, std::string_view fallback) const {
  const auto node = Node(name);
  if (!node || tree_.node(*node).kind == json::JsonKind::kNull) {
    out.assign(fallback);
    return Status::Ok();
  }
  return RequiredString(name, out);
}

Status FieldReader::Int64(std::string_view name, int64_t& out) const {
  const auto node = Node(name);
  if (!node) {
    out = 0;
    return Status::Ok();
  }
  const auto& n = tree_.node(*node);
  if (n.kind != json::JsonKind::kNumber || !json::ParseInt64Literal(n.raw, out)) {
    return Error(name, "must be a 64-bit integer literal.");
  }
  return Status::Ok();
}

Status FieldReader::Bool(std::string_view name, bool& out) const {
  const auto node = Node(name);
  if (!node) {
    out = false;
    return Status::Ok();
  }
  const auto kind = tree_.node(*node).kind;
  if (kind != json::JsonKind::kTrue && kind != json::JsonKind::kFalse) return Error(name, "must be a boolean.");
  out = kind == json::JsonKind::kTrue;
  return Status::Ok();
}

Status FieldReader::RequiredValue(std::string_view name, std::string& out) const {
  const auto node = Node(name);
  if (!node) return Error(name, "is required (send null explicitly for an empty value).");
  out = NormalizedValue(tree_, *node);
  return Status::Ok();
}

void FieldReader::OptionalValue(std::string_view name, std::string& out) const {
  const auto node = Node(name);
  if (node) {
    out = NormalizedValue(tree_, *node);
  } else {
    out = "null";
  }
}

Status FindOperations(const json::RawJsonTree& tree, std::string_view type_name, uint32_t& array) {
  if (tree.root().kind != json::JsonKind::kObject) {
    return Status::Error(std::string("Invalid ").append(type_name).append(": the op must be a JSON object."));
  }
  const int64_t found = tree.FindMemberIgnoreCase(0, "operations");
  if (found < 0) {
    return Status::Error(std::string("Invalid ").append(type_name).append(": \"operations\" is required."));
  }
  if (tree.node(static_cast<uint32_t>(found)).kind != json::JsonKind::kArray) {
    return Status::Error(std::string("Invalid ").append(type_name).append(": \"operations\" must be an array."));
  }
  array = static_cast<uint32_t>(found);
  return Status::Ok();
}

Status ReadDiscriminator(const json::RawJsonTree& tree, uint32_t object, const Location& where, std::string& out) {
  if (tree.node(object).kind != json::JsonKind::kObject) {
    return Status::Error(where.Text() + " must be an object, not " +
                         std::string(json::JsonKindName(tree.node(object).kind)) + ".");
  }
  const int64_t found = tree.FindMember(object, "$type");
  if (found < 0) return Status::Error(where.Text() + " has no \"$type\" discriminator.");
  const auto& n = tree.node(static_cast<uint32_t>(found));
  if (n.kind != json::JsonKind::kString) return Status::Error(where.Text() + ".$type must be a string.");
  out.clear();
  json::AppendUnescapedString(n.raw, out);
  return Status::Ok();
}

}  // namespace opstream::engines::crdt
