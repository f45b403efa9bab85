#include "engines/json/raw_json.hpp"

#include <cstring>
#include <limits>

#include "common/text.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/utf16.hpp"

namespace opstream::engines::json {
namespace {

inline bool IsJsonWhitespace(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
inline bool IsDigit(char c) noexcept { return c >= '0' && c <= '9'; }

inline int HexValue(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reads four hex digits at s[pos]; -1 when they are not all hex digits or the text ends.
inline int32_t ReadHex4(std::string_view s, size_t pos) noexcept {
  if (pos + 4 > s.size()) return -1;
  int32_t value = 0;
  for (size_t k = 0; k < 4; ++k) {
    const int digit = HexValue(s[pos + k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Index just past the closing quote of the string token starting at s[start] (a quote). The text
// is known to be valid JSON, so only the escapes need care.
inline size_t SkipStringToken(std::string_view s, size_t start) noexcept {
  size_t i = start + 1;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') return i + 1;
    i += c == '\\' ? 2 : 1;  // an escaped character never ends the token
  }
  return s.size();
}

// Recursive-descent validator that records one node per value. Depth is bounded by kMaxDepth, so
// the recursion is too.
class TreeParser {
 public:
  TreeParser(std::string_view text, std::vector<RawJsonNode>& nodes) : s_(text), nodes_(nodes) {}

  Status Run() {
    if (!IsValidUtf8(s_)) return Status::Error("Invalid JSON: the text is not valid UTF-8.");
    SkipWhitespace();
    if (pos_ >= s_.size()) return Status::Error("Invalid JSON: no value found.");
    if (!ParseValue(0, {})) return Failure();
    SkipWhitespace();
    if (pos_ != s_.size()) {
      error_ = "unexpected text after the JSON value";
      return Failure();
    }
    return Status::Ok();
  }

 private:
  Status Failure() const {
    return Status::Error("Invalid JSON at offset " + std::to_string(pos_) + ": " + error_ + ".");
  }

  bool Fail(const char* message) {
    error_ = message;
    return false;
  }

  void SkipWhitespace() noexcept {
    while (pos_ < s_.size() && IsJsonWhitespace(s_[pos_])) ++pos_;
  }

  bool ParseValue(int depth, std::string_view raw_key) {
    if (pos_ >= s_.size()) return Fail("unexpected end of text, a value was expected");
    if (nodes_.size() >= std::numeric_limits<uint32_t>::max()) return Fail("too many values");
    const size_t index = nodes_.size();
    nodes_.emplace_back();
    nodes_[index].raw_key = raw_key;
    const size_t start = pos_;
    JsonKind kind;
    bool ok;
    switch (s_[pos_]) {
      case '{':
        kind = JsonKind::kObject;
        ok = ParseObject(depth + 1, index);
        break;
      case '[':
        kind = JsonKind::kArray;
        ok = ParseArray(depth + 1, index);
        break;
      case '"':
        kind = JsonKind::kString;
        ok = ParseString();
        break;
      case 't':
        kind = JsonKind::kTrue;
        ok = ParseLiteral("true");
        break;
      case 'f':
        kind = JsonKind::kFalse;
        ok = ParseLiteral("false");
        break;
      case 'n':
        kind = JsonKind::kNull;
        ok = ParseLiteral("null");
        break;
      default:
        kind = JsonKind::kNumber;
        ok = ParseNumber();
        break;
    }
    if (!ok) return false;
    RawJsonNode& node = nodes_[index];
    node.kind = kind;
    node.raw = s_.substr(start, pos_ - start);
    node.subtree_end = static_cast<uint32_t>(nodes_.size());
    return true;
  }

  bool ParseLiteral(std::string_view literal) {
    if (s_.substr(pos_, literal.size()) != literal) return Fail("invalid literal");
    pos_ += literal.size();
    return true;
  }

  bool ParseNumber() {
    if (s_[pos_] == '-') ++pos_;
    if (pos_ >= s_.size() || !IsDigit(s_[pos_])) return Fail("invalid number");
    if (s_[pos_] == '0') {
      ++pos_;
    } else {
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && s_[pos_] == '.') {
      ++pos_;
      if (pos_ >= s_.size() || !IsDigit(s_[pos_])) return Fail("invalid number: digits expected after '.'");
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    }
    if (pos_ < s_.size() && (s_[pos_] == 'e' || s_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < s_.size() && (s_[pos_] == '+' || s_[pos_] == '-')) ++pos_;
      if (pos_ >= s_.size() || !IsDigit(s_[pos_])) return Fail("invalid number: digits expected in the exponent");
      while (pos_ < s_.size() && IsDigit(s_[pos_])) ++pos_;
    }
    // A number directly followed by a letter or digit ("01", "1x") is not a single token.
    if (pos_ < s_.size() && (IsDigit(s_[pos_]) || (s_[pos_] >= 'a' && s_[pos_] <= 'z') ||
                             (s_[pos_] >= 'A' && s_[pos_] <= 'Z') || s_[pos_] == '.')) {
      return Fail("invalid number");
    }
    return true;
  }

  bool ParseString() {
    ++pos_;  // opening quote
    while (pos_ < s_.size()) {
      const auto c = static_cast<unsigned char>(s_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return Fail("unescaped control character in a string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      if (pos_ + 1 >= s_.size()) break;
      const char escaped = s_[pos_ + 1];
      switch (escaped) {
        case '"':
        case '\\':
        case '/':
        case 'b':
        case 'f':
        case 'n':
        case 'r':
        case 't':
          pos_ += 2;
          break;
        case 'u': {
          const int32_t unit = ReadHex4(s_, pos_ + 2);
          if (unit < 0) return Fail("invalid \\u escape");
          pos_ += 6;
          if (unit >= 0xDC00 && unit <= 0xDFFF) return Fail("escaped lone low surrogate");
          if (unit >= 0xD800 && unit <= 0xDBFF) {
            // A high surrogate is only valid when an escaped low surrogate follows immediately.
            if (pos_ + 1 >= s_.size() || s_[pos_] != '\\' || s_[pos_ + 1] != 'u') {
              return Fail("escaped lone high surrogate");
            }
            const int32_t low = ReadHex4(s_, pos_ + 2);
            if (low < 0xDC00 || low > 0xDFFF) return Fail("escaped lone high surrogate");
            pos_ += 6;
          }
          break;
        }
        default:
          return Fail("invalid escape sequence");
      }
    }
    return Fail("unterminated string");
  }

  bool ParseArray(int depth, size_t index) {
    if (depth > kMaxDepth) return Fail("nesting deeper than 64 levels");
    ++pos_;
    SkipWhitespace();
    uint32_t count = 0;
    if (pos_ < s_.size() && s_[pos_] == ']') {
      ++pos_;
      nodes_[index].child_count = 0;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (!ParseValue(depth, {})) return false;
      ++count;
      SkipWhitespace();
      if (pos_ >= s_.size()) return Fail("unterminated array");
      if (s_[pos_] == ']') {
        ++pos_;
        break;
      }
      if (s_[pos_] != ',') return Fail("',' or ']' expected");
      ++pos_;
      SkipWhitespace();
      if (pos_ < s_.size() && s_[pos_] == ']') return Fail("trailing comma");
    }
    nodes_[index].child_count = count;
    return true;
  }

  bool ParseObject(int depth, size_t index) {
    if (depth > kMaxDepth) return Fail("nesting deeper than 64 levels");
    ++pos_;
    SkipWhitespace();
    uint32_t count = 0;
    if (pos_ < s_.size() && s_[pos_] == '}') {
      ++pos_;
      nodes_[index].child_count = 0;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (pos_ >= s_.size() || s_[pos_] != '"') {
        return Fail(count == 0 ? "property name expected" : "property name expected (trailing comma?)");
      }
      const size_t key_start = pos_;
      if (!ParseString()) return false;
      const std::string_view raw_key = s_.substr(key_start, pos_ - key_start);
      SkipWhitespace();
      if (pos_ >= s_.size() || s_[pos_] != ':') return Fail("':' expected");
      ++pos_;
      SkipWhitespace();
      if (!ParseValue(depth, raw_key)) return false;
      ++count;
      SkipWhitespace();
      if (pos_ >= s_.size()) return Fail("unterminated object");
      if (s_[pos_] == '}') {
        ++pos_;
        break;
      }
      if (s_[pos_] != ',') return Fail("',' or '}' expected");
      ++pos_;
    }
    nodes_[index].child_count = count;
    return true;
  }

  std::string_view s_;
  std::vector<RawJsonNode>& nodes_;
  size_t pos_ = 0;
  const char* error_ = "";
};

template <typename Equal>
int64_t FindMemberWith(const std::vector<RawJsonNode>& nodes, uint32_t object_index, std::string_view name,
                       Equal equal) {
  const RawJsonNode& object = nodes[object_index];
  if (object.kind != JsonKind::kObject) return -1;
  int64_t found = -1;
  std::string unescaped;
  for (uint32_t child = object_index + 1; child < object.subtree_end; child = nodes[child].subtree_end) {
    const std::string_view raw_key = nodes[child].raw_key;
    const std::string_view inner = raw_key.substr(1, raw_key.size() - 2);
    if (inner.find('\\') == std::string_view::npos) {
      if (equal(inner, name)) found = child;
    } else {
      unescaped.clear();
      AppendUnescapedString(raw_key, unescaped);
      if (equal(unescaped, name)) found = child;
    }
  }
  return found;
}

}  // namespace

std::string_view JsonKindName(JsonKind kind) noexcept {
  switch (kind) {
    case JsonKind::kNull:
      return "null";
    case JsonKind::kFalse:
    case JsonKind::kTrue:
      return "boolean";
    case JsonKind::kNumber:
      return "number";
    case JsonKind::kString:
      return "string";
    case JsonKind::kArray:
      return "array";
    case JsonKind::kObject:
      return "object";
  }
  return "value";
}

Status RawJsonTree::Parse(std::string_view json) {
  nodes_.clear();
  Status status = TreeParser(json, nodes_).Run();
  if (!status.ok()) nodes_.clear();
  return status;
}

int64_t RawJsonTree::FindMember(uint32_t object_index, std::string_view name) const {
  return FindMemberWith(nodes_, object_index, name, [](std::string_view a, std::string_view b) { return a == b; });
}

int64_t RawJsonTree::FindMemberIgnoreCase(uint32_t object_index, std::string_view name) const {
  return FindMemberWith(nodes_, object_index, name, AsciiIEquals);
}

Status ValidateJson(std::string_view json) {
  std::vector<RawJsonNode> nodes;
  return TreeParser(json, nodes).Run();
}

void AppendUnescapedString(std::string_view raw, std::string& out) {
  if (raw.size() < 2) return;
  const std::string_view inner = raw.substr(1, raw.size() - 2);
  size_t i = 0;
  while (i < inner.size()) {
    const size_t backslash = inner.find('\\', i);
    if (backslash == std::string_view::npos) {
      out.append(inner.substr(i));
      return;
    }
    out.append(inner.substr(i, backslash - i));
    if (backslash + 1 >= inner.size()) return;
    const char escaped = inner[backslash + 1];
    i = backslash + 2;
    switch (escaped) {
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        int32_t unit = ReadHex4(inner, i);
        if (unit < 0) return;  // not reachable for validated text
        i += 4;
        uint32_t code_point = static_cast<uint32_t>(unit);
        if (unit >= 0xD800 && unit <= 0xDBFF && i + 6 <= inner.size() && inner[i] == '\\' && inner[i + 1] == 'u') {
          const int32_t low = ReadHex4(inner, i + 2);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            code_point = 0x10000 + ((code_point - 0xD800) << 10) + static_cast<uint32_t>(low - 0xDC00);
            i += 6;
          }
        }
        if (code_point >= 0xD800 && code_point <= 0xDFFF) code_point = 0xFFFD;  // lone (unvalidated input)
        AppendCodePointAsUtf8(code_point, out);
        break;
      }
      default:  // '"', '\\', '/'
        out.push_back(escaped);
        break;
    }
  }
}

std::string UnescapeString(std::string_view raw_string_token) {
  std::string out;
  AppendUnescapedString(raw_string_token, out);
  return out;
}

bool StringTokensEqual(std::string_view raw_a, std::string_view raw_b) {
  const bool a_plain = raw_a.find('\\') == std::string_view::npos;
  const bool b_plain = raw_b.find('\\') == std::string_view::npos;
  if (a_plain && b_plain) return raw_a == raw_b;
  // Without lone surrogates (rejected by the validator) UTF-8 equality is UTF-16 ordinal equality.
  return UnescapeString(raw_a) == UnescapeString(raw_b);
}

namespace {

// Walks validated JSON text, dropping insignificant whitespace: string tokens go to
// `append_string`, every other token is copied as it is.
template <typename AppendString>
void WalkWithoutWhitespace(std::string_view s, std::string& out, AppendString&& append_string) {
  out.reserve(out.size() + s.size());
  size_t i = 0;
  while (i < s.size()) {
    const char c = s[i];
    if (c == '"') {
      const size_t end = SkipStringToken(s, i);
      append_string(s.substr(i, end - i));
      i = end;
    } else if (IsJsonWhitespace(c)) {
      ++i;
    } else {
      size_t end = i + 1;
      while (end < s.size() && s[end] != '"' && !IsJsonWhitespace(s[end])) ++end;
      out.append(s.substr(i, end - i));
      i = end;
    }
  }
}

}  // namespace

void AppendMinifiedVerbatim(std::string_view s, std::string& out) {
  WalkWithoutWhitespace(s, out, [&](std::string_view token) { out.append(token); });
}

void AppendReserializedValidated(std::string_view s, std::string& out) {
  std::string unescaped;
  WalkWithoutWhitespace(s, out, [&](std::string_view token) {
    const std::string_view inner = token.substr(1, token.size() - 2);
    if (inner.find('\\') == std::string_view::npos) {
      AppendJsonString(out, inner);
    } else {
      unescaped.clear();
      AppendUnescapedString(token, unescaped);
      AppendJsonString(out, unescaped);
    }
  });
}

Status AppendReserialized(std::string_view json, std::string& out) {
  Status status = ValidateJson(json);
  if (!status.ok()) return status;
  AppendReserializedValidated(json, out);
  return Status::Ok();
}

}  // namespace opstream::engines::json
