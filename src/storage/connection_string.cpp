#include "storage/connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace opstream::storage::connection_string {

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

Status Invalid(std::string_view provider, std::string_view reason) {
  return Status::Error(fmt::format("Invalid {} connection string: {}", provider, reason));
}

Status ForEachPair(std::string_view text, std::string_view provider, const PairHandler& apply) {
  size_t pos = 0;
  while (pos < text.size()) {
    // Empty segments (`;;`, a trailing `;`) are allowed.
    if (IsSpace(text[pos]) || text[pos] == ';') {
      ++pos;
      continue;
    }
    const size_t segment_start = pos;
    // Keyword: up to the first single `=`; `==` stands for a literal `=` inside a keyword.
    std::string keyword;
    bool found_equals = false;
    while (pos < text.size() && text[pos] != ';') {
      if (text[pos] == '=') {
        if (pos + 1 < text.size() && text[pos + 1] == '=') {
          keyword += '=';
          pos += 2;
          continue;
        }
        found_equals = true;
        ++pos;
        break;
      }
      keyword += text[pos++];
    }
    if (!found_equals) {
      return Invalid(provider, fmt::format("expected 'keyword=value' at position {}.", segment_start));
    }
    const std::string_view written_keyword = Trim(keyword);
    if (written_keyword.empty()) {
      return Invalid(provider, fmt::format("missing keyword at position {}.", segment_start));
    }

    while (pos < text.size() && IsSpace(text[pos])) ++pos;
    std::string value;
    if (pos < text.size() && (text[pos] == '"' || text[pos] == '\'')) {
      const char quote = text[pos++];
      bool closed = false;
      while (pos < text.size()) {
        if (text[pos] == quote) {
          if (pos + 1 < text.size() && text[pos + 1] == quote) {
            value += quote;
            pos += 2;
            continue;
          }
          closed = true;
          ++pos;
          break;
        }
        value += text[pos++];
      }
      if (!closed) return Invalid(provider, fmt::format("unterminated quoted value for '{}'.", written_keyword));
      while (pos < text.size() && IsSpace(text[pos])) ++pos;
      if (pos < text.size() && text[pos] != ';') {
        return Invalid(provider, fmt::format("unexpected characters after the quoted value of '{}'.", written_keyword));
      }
    } else {
      const size_t value_start = pos;
      while (pos < text.size() && text[pos] != ';') ++pos;
      value = std::string(Trim(text.substr(value_start, pos - value_start)));
    }
    if (Status status = apply(written_keyword, value); !status.ok()) return status;
  }
  return Status::Ok();
}

Status ParseBool(std::string_view provider, std::string_view keyword, std::string_view value, bool& out) {
  for (std::string_view yes : {"true", "yes", "1"}) {
    if (EqualsIgnoreCase(value, yes)) {
      out = true;
      return Status::Ok();
    }
  }
  for (std::string_view no : {"false", "no", "0"}) {
    if (EqualsIgnoreCase(value, no)) {
      out = false;
      return Status::Ok();
    }
  }
  return Invalid(provider, fmt::format("'{}' must be True or False (got '{}').", keyword, value));
}

std::string CompactKeyword(std::string_view keyword, std::string_view dropped) {
  std::string out;
  for (char c : keyword) {
    if (!IsSpace(c) && dropped.find(c) == std::string_view::npos) {
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

Status ValueRules::ForEachPair(std::string_view text, const PairHandler& apply) const {
  return connection_string::ForEachPair(text, provider_, apply);
}

Status ValueRules::Invalid(std::string_view reason) const { return connection_string::Invalid(provider_, reason); }

Status ValueRules::Bool(std::string_view keyword, std::string_view value, bool& out) const {
  return ParseBool(provider_, keyword, value, out);
}

Status ValueRules::Int(std::string_view keyword, std::string_view value, int64_t min, int64_t max, int64_t& out) const {
  int64_t number = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), number);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || number < min || number > max) {
    return Invalid(fmt::format("'{}' must be a whole number from {} to {} (got '{}').", keyword, min, max, value));
  }
  out = number;
  return Status::Ok();
}

Status ValueRules::Int(std::string_view keyword, std::string_view value, int min, int max, int& out) const {
  int64_t number = 0;
  Status status = Int(keyword, value, int64_t{min}, int64_t{max}, number);
  if (status.ok()) out = static_cast<int>(number);
  return status;
}

Status ValueRules::Seconds(std::string_view keyword, std::string_view value, int max, std::chrono::seconds& out) const {
  int seconds = 0;
  Status status = Int(keyword, value, 0, max, seconds);
  if (status.ok()) out = std::chrono::seconds(seconds);
  return status;
}

}  // namespace opstream::storage::connection_string
