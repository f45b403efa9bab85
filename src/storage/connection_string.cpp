#include "storage/connection_string.hpp"

#include <fmt/format.h>

#include <cctype>

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

}  // namespace opstream::storage::connection_string
