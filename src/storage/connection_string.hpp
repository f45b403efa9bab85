#pragma once
// ADO.NET connection strings ("Keyword=Value;Keyword2='quoted;value'"), tokenized the way
// DbConnectionStringBuilder does, for every provider whose reference driver uses that format
// (Microsoft.Data.Sqlite, Npgsql, and later MySqlConnector and SqlClient). Each provider keeps
// its own keywords and values; errors read "Invalid <provider> connection string: <reason>".
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

}  // namespace opstream::storage::connection_string
