#include "storage/sqlite/sqlite_connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

namespace opstream::storage {
namespace {

constexpr std::string_view kValidKeywords =
    "Data Source (or DataSource, Filename), Mode, Cache, Password, Foreign Keys, Recursive Triggers, "
    "Default Timeout (or Command Timeout), Pooling, Vfs";

Status Invalid(std::string_view reason) {
  return Status::Error(fmt::format("Invalid SQLite connection string: {}", reason));
}

bool IsSpace(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

std::string_view Trim(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Lower-cased with inner runs of whitespace collapsed, so `foreign   KEYS` finds `foreign keys`.
std::string NormalizeKeyword(std::string_view keyword) {
  std::string out;
  bool pending_space = false;
  for (char c : Trim(keyword)) {
    if (IsSpace(c)) {
      pending_space = true;
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

Status ParseBool(std::string_view keyword, std::string_view value, bool& out) {
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
  return Invalid(fmt::format("'{}' must be True or False (got '{}').", keyword, value));
}

Status ParseMode(std::string_view value, SqliteOpenMode& out) {
  static constexpr std::pair<std::string_view, SqliteOpenMode> kModes[] = {
      {"ReadWriteCreate", SqliteOpenMode::kReadWriteCreate},
      {"ReadWrite", SqliteOpenMode::kReadWrite},
      {"ReadOnly", SqliteOpenMode::kReadOnly},
      {"Memory", SqliteOpenMode::kMemory},
  };
  for (const auto& [name, mode] : kModes) {
    if (EqualsIgnoreCase(value, name)) {
      out = mode;
      return Status::Ok();
    }
  }
  return Invalid(fmt::format("'Mode' must be one of ReadWriteCreate, ReadWrite, ReadOnly, Memory (got '{}').", value));
}

Status ParseCache(std::string_view value, SqliteCacheMode& out) {
  static constexpr std::pair<std::string_view, SqliteCacheMode> kCaches[] = {
      {"Default", SqliteCacheMode::kDefault},
      {"Private", SqliteCacheMode::kPrivate},
      {"Shared", SqliteCacheMode::kShared},
  };
  for (const auto& [name, cache] : kCaches) {
    if (EqualsIgnoreCase(value, name)) {
      out = cache;
      return Status::Ok();
    }
  }
  return Invalid(fmt::format("'Cache' must be one of Default, Private, Shared (got '{}').", value));
}

Status ParseSeconds(std::string_view keyword, std::string_view value, std::chrono::seconds& out) {
  int64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || seconds < 0 ||
      seconds > std::numeric_limits<int32_t>::max()) {
    return Invalid(fmt::format("'{}' must be a non-negative number of seconds (got '{}').", keyword, value));
  }
  out = std::chrono::seconds(seconds);
  return Status::Ok();
}

// `keyword` is the text as written (for messages), `normalized` the lookup form.
Status ApplyKeyword(std::string_view keyword, const std::string& normalized, std::string_view value,
                    SqliteConnectionOptions& options) {
  if (normalized == "data source" || normalized == "datasource" || normalized == "filename") {
    options.data_source = std::string(value);
    return Status::Ok();
  }
  if (normalized == "mode") return ParseMode(value, options.mode);
  if (normalized == "cache") return ParseCache(value, options.cache);
  if (normalized == "password") {
    // An empty password means "no encryption" to Microsoft.Data.Sqlite as well.
    if (value.empty()) return Status::Ok();
    return Status::Error(
        "Encrypted SQLite databases are not supported: remove 'Password' from the SQLite connection string.");
  }
  if (normalized == "foreign keys") {
    if (value.empty()) {
      options.foreign_keys.reset();
      return Status::Ok();
    }
    bool enabled = false;
    Status status = ParseBool(keyword, value, enabled);
    if (status.ok()) options.foreign_keys = enabled;
    return status;
  }
  if (normalized == "recursive triggers") return ParseBool(keyword, value, options.recursive_triggers);
  if (normalized == "default timeout" || normalized == "command timeout") {
    return ParseSeconds(keyword, value, options.default_timeout);
  }
  if (normalized == "pooling") return ParseBool(keyword, value, options.pooling);
  if (normalized == "vfs") {
    options.vfs = std::string(value);
    return Status::Ok();
  }
  return Invalid(fmt::format("'{}' is not a valid keyword. Valid keywords: {}.", keyword, kValidKeywords));
}

}  // namespace

bool SqliteConnectionOptions::in_memory() const { return mode == SqliteOpenMode::kMemory || data_source == ":memory:"; }

bool SqliteConnectionOptions::is_uri() const { return data_source.starts_with("file:"); }

Status ParseSqliteConnectionString(std::string_view text, SqliteConnectionOptions& out) {
  SqliteConnectionOptions options;
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
    // The segment is not quoted in messages: it may be the tail of a password containing `;`.
    if (!found_equals) {
      return Invalid(fmt::format("expected 'keyword=value' at position {}.", segment_start));
    }
    const std::string_view written_keyword = Trim(keyword);
    if (written_keyword.empty()) return Invalid(fmt::format("missing keyword at position {}.", segment_start));
    const std::string normalized = NormalizeKeyword(written_keyword);

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
      if (!closed) return Invalid(fmt::format("unterminated quoted value for '{}'.", written_keyword));
      while (pos < text.size() && IsSpace(text[pos])) ++pos;
      if (pos < text.size() && text[pos] != ';') {
        return Invalid(fmt::format("unexpected characters after the quoted value of '{}'.", written_keyword));
      }
    } else {
      const size_t value_start = pos;
      while (pos < text.size() && text[pos] != ';') ++pos;
      value = std::string(Trim(text.substr(value_start, pos - value_start)));
    }
    if (Status status = ApplyKeyword(written_keyword, normalized, value, options); !status.ok()) return status;
  }
  out = std::move(options);
  return Status::Ok();
}

}  // namespace opstream::storage
