#include "engines/awareness_data.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace opstream::engines {
namespace {

using json::JsonKind;
using json::RawJsonNode;
using json::RawJsonTree;

// A number token as digits × 10^exponent, without leading or trailing zeros (zero: no digits).
struct DecimalValue {
  bool negative = false;
  std::string digits;
  int64_t exponent = 0;

  bool operator==(const DecimalValue&) const = default;
};

DecimalValue ToDecimal(std::string_view token) {
  DecimalValue value;
  size_t i = 0;
  if (i < token.size() && token[i] == '-') {
    value.negative = true;
    ++i;
  }
  int64_t fraction_digits = 0;
  bool in_fraction = false;
  for (; i < token.size(); ++i) {
    const char c = token[i];
    if (c == '.') {
      in_fraction = true;
    } else if (c >= '0' && c <= '9') {
      if (!(value.digits.empty() && c == '0')) value.digits.push_back(c);  // drop leading zeros
      if (in_fraction) ++fraction_digits;
    } else {
      break;  // exponent
    }
  }
  int64_t exponent = 0;
  if (i < token.size()) {
    ++i;  // 'e' or 'E'
    bool exponent_negative = false;
    if (i < token.size() && (token[i] == '+' || token[i] == '-')) exponent_negative = token[i++] == '-';
    for (; i < token.size(); ++i) {
      // Saturate: such exponents are far outside every range that matters below.
      if (exponent < 1'000'000'000) exponent = exponent * 10 + (token[i] - '0');
    }
    if (exponent_negative) exponent = -exponent;
  }
  value.exponent = exponent - fraction_digits;
  while (!value.digits.empty() && value.digits.back() == '0') {
    value.digits.pop_back();
    ++value.exponent;
  }
  if (value.digits.empty()) {
    value.negative = false;  // -0 == 0
    value.exponent = 0;
  }
  return value;
}

// |value| <= decimal.MaxValue (79228162514264337593543950335, 29 integer digits).
bool InDecimalRange(const DecimalValue& value) {
  if (value.digits.empty()) return true;
  const int64_t integer_digits = static_cast<int64_t>(value.digits.size()) + value.exponent;
  if (integer_digits < 29) return true;
  if (integer_digits > 29) return false;
  constexpr std::string_view kMax = "79228162514264337593543950335";
  std::string integer_part = value.digits.substr(0, 29);
  integer_part.resize(29, '0');
  const bool has_fraction = value.digits.size() > 29;
  return integer_part < kMax || (integer_part == kMax && !has_fraction);
}

bool ToFiniteDouble(std::string_view token, double& out) {
  const auto result = std::from_chars(token.data(), token.data() + token.size(), out);
  return result.ec == std::errc() && result.ptr == token.data() + token.size() && std::isfinite(out);
}

}  // namespace

Status MinifyJson(std::string_view json, std::string& out) {
  Status status = json::ValidateJson(json);
  if (!status.ok()) return status;
  json::AppendMinifiedVerbatim(json, out);
  return Status::Ok();
}

bool JsonNumbersEqual(std::string_view a_token, std::string_view b_token) {
  if (a_token == b_token) return true;
  const DecimalValue a = ToDecimal(a_token);
  const DecimalValue b = ToDecimal(b_token);
  if (InDecimalRange(a) && InDecimalRange(b)) return a == b;
  double a_double = 0, b_double = 0;
  if (ToFiniteDouble(a_token, a_double) && ToFiniteDouble(b_token, b_double)) return a_double == b_double;
  return false;  // the raw texts differ
}

bool JsonValuesEqual(const RawJsonTree& a, uint32_t a_index, const RawJsonTree& b, uint32_t b_index) {
  const RawJsonNode& x = a.node(a_index);
  const RawJsonNode& y = b.node(b_index);
  if (x.kind != y.kind) return false;
  switch (x.kind) {
    case JsonKind::kNull:
    case JsonKind::kTrue:
    case JsonKind::kFalse:
      return true;
    case JsonKind::kNumber:
      return JsonNumbersEqual(x.raw, y.raw);
    case JsonKind::kString:
      return json::StringTokensEqual(x.raw, y.raw);
    case JsonKind::kArray: {
      if (x.child_count != y.child_count) return false;
      uint32_t i = a_index + 1, j = b_index + 1;
      for (uint32_t k = 0; k < x.child_count; ++k) {
        if (!JsonValuesEqual(a, i, b, j)) return false;
        i = a.node(i).subtree_end;
        j = b.node(j).subtree_end;
      }
      return true;
    }
    case JsonKind::kObject: {
      if (x.child_count != y.child_count) return false;
      std::string name;
      for (uint32_t i = a_index + 1; i < x.subtree_end; i = a.node(i).subtree_end) {
        name.clear();
        json::AppendUnescapedString(a.node(i).raw_key, name);
        const int64_t match = b.FindMember(b_index, name);
        if (match < 0 || !JsonValuesEqual(a, i, b, static_cast<uint32_t>(match))) return false;
      }
      return true;
    }
  }
  return false;
}

bool AwarenessDataEquals(std::string_view a_json, std::string_view b_json) {
  if (a_json.empty() || b_json.empty()) return a_json.empty() && b_json.empty();
  RawJsonTree a, b;
  if (!a.Parse(a_json).ok() || !b.Parse(b_json).ok()) return false;
  return JsonValuesEqual(a, 0, b, 0);
}

bool IsAwarenessUpdateNoOp(std::string_view existing_peer, std::string_view existing_data_json,
                           std::string_view incoming_peer, std::string_view incoming_data_json) {
  return existing_peer == incoming_peer && AwarenessDataEquals(existing_data_json, incoming_data_json);
}

bool IsAwarenessExpired(std::chrono::system_clock::time_point last_updated, std::chrono::system_clock::time_point now,
                        std::chrono::nanoseconds ttl) {
  return now - last_updated > ttl;
}

}  // namespace opstream::engines
