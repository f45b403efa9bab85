#pragma once
// ADO.NET connection strings ("Keyword=Value;Keyword2='quoted;value'"), tokenized the way
// DbConnectionStringBuilder does, for every provider whose reference driver uses that format
// (Microsoft.Data.Sqlite, Npgsql, and later MySqlConnector and SqlClient). Each provider keeps
// its own keywords and values; errors read "Invalid <provider> connection string: <reason>".
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::storage::connection_string {

bool IsSpace(char c);
std::string_view Trim(std::string_view text);
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// "Invalid <provider> connection string: <reason>".
Status Invalid(std::string_view provider, std::string_view reason);

// Calls `apply` with every keyword (trimmed, as written, `==` unescaped) and value (trimmed, or
// unquoted with doubled quotes unescaped), in order. Empty segments are allowed. A malformed
// string or the first error of `apply` stops the walk. Messages never quote a value: a segment
// without `=` may be the tail of a password that contains `;`.
using PairHandler = std::function<Status(std::string_view keyword, std::string_view value)>;
Status ForEachPair(std::string_view text, std::string_view provider, const PairHandler& apply);

// True/False, Yes/No, 1/0, case-insensitive.
Status ParseBool(std::string_view provider, std::string_view keyword, std::string_view value, bool& out);

// `keyword` lower-cased without whitespace and without any character of `dropped`, the lookup form
// of drivers that accept `SSL Mode`, `SslMode` (and, for MySqlConnector, `Ssl-Mode`) alike.
std::string CompactKeyword(std::string_view keyword, std::string_view dropped = {});

// The value checks one provider's keywords share; every refusal reads "Invalid <provider>
// connection string: <reason>".
class ValueRules {
 public:
  constexpr explicit ValueRules(std::string_view provider) : provider_(provider) {}

  // connection_string::ForEachPair for this provider.
  Status ForEachPair(std::string_view text, const PairHandler& apply) const;
  Status Invalid(std::string_view reason) const;
  Status Bool(std::string_view keyword, std::string_view value, bool& out) const;
  // A whole number from `min` to `max`.
  Status Int(std::string_view keyword, std::string_view value, int64_t min, int64_t max, int64_t& out) const;
  Status Int(std::string_view keyword, std::string_view value, int min, int max, int& out) const;
  // Whole seconds from 0 to `max`.
  Status Seconds(std::string_view keyword, std::string_view value, int max, std::chrono::seconds& out) const;

 private:
  std::string_view provider_;
};

}  // namespace opstream::storage::connection_string
