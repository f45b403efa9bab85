#include "storage/sqlite/sqlite_connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

#include "storage/connection_string.hpp"

namespace opstream::storage {
namespace {

constexpr std::string_view kValidKeywords =
    "Data Source (or DataSource, Filename), Mode, Cache, Password, Foreign Keys, Recursive Triggers, "
    "Default Timeout (or Command Timeout), Pooling, Vfs";

using connection_string::EqualsIgnoreCase;
using connection_string::IsSpace;
using connection_string::Trim;

constexpr connection_string::ValueRules kRules{"SQLite"};

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
  return kRules.Invalid(
      fmt::format("'Mode' must be one of ReadWriteCreate, ReadWrite, ReadOnly, Memory (got '{}').", value));
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
  return kRules.Invalid(fmt::format("'Cache' must be one of Default, Private, Shared (got '{}').", value));
}

Status ParseSeconds(std::string_view keyword, std::string_view value, std::chrono::seconds& out) {
  int64_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (value.empty() || error != std::errc() || end != value.data() + value.size() || seconds < 0 ||
      seconds > std::numeric_limits<int32_t>::max()) {
    return kRules.Invalid(fmt::format("'{}' must be a non-negative number of seconds (got '{}').", keyword, value));
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
    Status status = kRules.Bool(keyword, value, enabled);
    if (status.ok()) options.foreign_keys = enabled;
    return status;
  }
  if (normalized == "recursive triggers") return kRules.Bool(keyword, value, options.recursive_triggers);
  if (normalized == "default timeout" || normalized == "command timeout") {
    return ParseSeconds(keyword, value, options.default_timeout);
  }
  if (normalized == "pooling") return kRules.Bool(keyword, value, options.pooling);
  if (normalized == "vfs") {
    options.vfs = std::string(value);
    return Status::Ok();
  }
  return kRules.Invalid(fmt::format("'{}' is not a valid keyword. Valid keywords: {}.", keyword, kValidKeywords));
}

}  // namespace

bool SqliteConnectionOptions::in_memory() const { return mode == SqliteOpenMode::kMemory || data_source == ":memory:"; }

bool SqliteConnectionOptions::is_uri() const { return data_source.starts_with("file:"); }

Status ParseSqliteConnectionString(std::string_view text, SqliteConnectionOptions& out) {
  SqliteConnectionOptions options;
  const Status parsed = kRules.ForEachPair(text, [&options](std::string_view keyword, std::string_view value) {
    return ApplyKeyword(keyword, NormalizeKeyword(keyword), value, options);
  });
  if (!parsed.ok()) return parsed;
  out = std::move(options);
  return Status::Ok();
}

}  // namespace opstream::storage
