#include "engines/json/raw_fields.hpp"

#include <limits>

#include "engines/json/json_reader.hpp"

namespace opstream::engines::json {

bool ParseInt64Literal(std::string_view token, int64_t& out) noexcept {
  size_t i = 0;
  const bool negative = !token.empty() && token[0] == '-';
  if (negative) ++i;
  if (i >= token.size()) return false;
  // Accumulate negatively so that INT64_MIN fits.
  int64_t value = 0;
  for (; i < token.size(); ++i) {
    const char c = token[i];
    if (c < '0' || c > '9') return false;
    const int digit = c - '0';
    if (value < (std::numeric_limits<int64_t>::min() + digit) / 10) return false;
    value = value * 10 - digit;
  }
  if (!negative) {
    if (value == std::numeric_limits<int64_t>::min()) return false;
    value = -value;
  }
  out = value;
  return true;
}

std::string MemberName(const RawJsonNode& member) { return UnescapeString(member.raw_key); }

bool MemberNameIs(const RawJsonNode& member, std::string_view name) {
  const std::string_view raw = member.raw_key;
  if (raw.size() < 2) return false;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner == name;
  return UnescapeString(raw) == name;
}

bool MemberNameIsIgnoreCase(const RawJsonNode& member, std::string_view name) {
  const std::string_view raw = member.raw_key;
  if (raw.size() < 2) return false;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return NameEqualsIgnoreCase(inner, name);
  return NameEqualsIgnoreCase(UnescapeString(raw), name);
}

std::string_view KindArticle(JsonKind kind) noexcept {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kFalse:
    case JsonKind::kTrue:
      return "a boolean";
    case JsonKind::kNumber:
      return "a number";
    case JsonKind::kString:
      return "a string";
    case JsonKind::kArray:
      return "an array";
    case JsonKind::kObject:
      return "an object";
  }
  return "a value";
}

Status ReadInt64Field(const RawJsonNode& value, std::string_view what, int64_t& out) {
  if (value.kind != JsonKind::kNumber) {
    return Status::Error(std::string(what) + " must be an integer, not " + std::string(KindArticle(value.kind)) + ".");
  }
  if (!ParseInt64Literal(value.raw, out)) {
    return Status::Error(std::string(what) + " must be an integer literal within 64 bits (got " +
                         std::string(value.raw.substr(0, 40)) + ").");
  }
  return Status::Ok();
}

Status ReadNullableStringField(const RawJsonNode& value, std::string_view what, std::string& out, bool& is_null) {
  if (value.kind == JsonKind::kNull) {
    is_null = true;
    out.clear();
    return Status::Ok();
  }
  if (value.kind != JsonKind::kString) {
    return Status::Error(std::string(what) + " must be a string, not " + std::string(KindArticle(value.kind)) + ".");
  }
  is_null = false;
  out.clear();
  AppendUnescapedString(value.raw, out);
  return Status::Ok();
}

Status ReadBoolField(const RawJsonNode& value, std::string_view what, bool& out) {
  if (value.kind != JsonKind::kTrue && value.kind != JsonKind::kFalse) {
    return Status::Error(std::string(what) + " must be a boolean, not " + std::string(KindArticle(value.kind)) + ".");
  }
  out = value.kind == JsonKind::kTrue;
  return Status::Ok();
}

}  // namespace opstream::engines::json
