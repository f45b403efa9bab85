#include "storage/mysql/mysql_connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

#include "storage/connection_string.hpp"

namespace opstream::storage {
namespace {

constexpr std::string_view kValidKeywords =
    "Server (or Host, Data Source, Address, Addr, Network Address), Port, Database (or Initial Catalog), "
    "User ID (or UserID, Uid, User, Username, User Name), Password (or Pwd), SslMode, SslCa (or Ssl-Ca), "
    "SslCert, SslKey, Connection Timeout (or Connect Timeout), Default Command Timeout (or Command Timeout), "
    "Pooling, Minimum Pool Size, Maximum Pool Size, Connection Lifetime, Connection Idle Timeout, "
    "Connection Reset, Keep Alive, AllowPublicKeyRetrieval, CharSet (or Character Set), Allow User Variables, "
    "Allow Zero DateTime, Convert Zero DateTime, Use Affected Rows, Use Compression, Persist Security Info, "
    "Treat Tiny As Boolean, Ignore Prepare, Application Name, AutoEnlist, GuidFormat, Server Redirection Mode";

using connection_string::Trim;

constexpr connection_string::ValueRules kRules{"MySQL"};
// Left out of keywords (and enum values) besides whitespace: MySqlConnector accepts `Ssl Mode`,
// `SslMode` and `Ssl-Mode` alike.
constexpr std::string_view kKeywordPunctuation = "-_";

Status ParseSslMode(std::string_view value, MySqlSslMode& out) {
  static constexpr std::pair<std::string_view, MySqlSslMode> kModes[] = {
      {"none", MySqlSslMode::kNone},           {"disabled", MySqlSslMode::kNone},
      {"preferred", MySqlSslMode::kPreferred}, {"required", MySqlSslMode::kRequired},
      {"verifyca", MySqlSslMode::kVerifyCa},   {"verifyfull", MySqlSslMode::kVerifyFull},
  };
  const std::string wanted = connection_string::CompactKeyword(value, kKeywordPunctuation);
  for (const auto& [name, mode] : kModes) {
    if (wanted == name) {
      out = mode;
      return Status::Ok();
    }
  }
  return kRules.Invalid(
      fmt::format("'SslMode' must be one of None, Preferred, Required, VerifyCA, VerifyFull (got '{}').", value));
}

Status ParseHosts(std::string_view value, std::vector<std::string>& out) {
  out.clear();
  size_t start = 0;
  for (;;) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    const std::string_view item = Trim(value.substr(start, comma - start));
    if (item.empty()) return kRules.Invalid("'Server' has an empty host name.");
    out.emplace_back(item);
    if (comma == value.size()) return Status::Ok();
    start = comma + 1;
  }
}

Status Store(std::string_view value, std::string& out) {
  out = std::string(value);
  return Status::Ok();
}

// `keyword` as written (for messages), `k` normalized. The password's value never appears in a message.
Status ApplyKeyword(std::string_view keyword, const std::string& k, std::string_view value, MySqlConnectionOptions& o) {
  bool ignored_bool = false;
  int64_t ignored_int = 0;
  if (k == "server" || k == "host" || k == "datasource" || k == "address" || k == "addr" || k == "networkaddress") {
    return ParseHosts(value, o.hosts);
  }
  if (k == "port") return kRules.Int(keyword, value, 1, 65535, o.port);
  if (k == "database" || k == "initialcatalog") return Store(value, o.database);
  if (k == "userid" || k == "uid" || k == "user" || k == "username") return Store(value, o.user);
  if (k == "password" || k == "pwd") return Store(value, o.password);
  if (k == "sslmode") return ParseSslMode(value, o.ssl_mode);
  if (k == "sslca" || k == "cacertificatefile") return Store(value, o.ssl_ca);
  if (k == "sslcert") return Store(value, o.ssl_cert);
  if (k == "sslkey") return Store(value, o.ssl_key);
  if (k == "connectiontimeout" || k == "connecttimeout")
    return kRules.Seconds(keyword, value, 65535, o.connect_timeout);
  if (k == "defaultcommandtimeout" || k == "commandtimeout")
    return kRules.Seconds(keyword, value, 65535, o.command_timeout);
  if (k == "pooling") return kRules.Bool(keyword, value, o.pooling);
  if (k == "minimumpoolsize" || k == "minpoolsize") return kRules.Int(keyword, value, 0, 1024, o.min_pool_size);
  if (k == "maximumpoolsize" || k == "maxpoolsize") return kRules.Int(keyword, value, 1, 1024, o.max_pool_size);
  if (k == "allowpublickeyretrieval") return kRules.Bool(keyword, value, o.allow_public_key_retrieval);
  if (k == "connectionlifetime" || k == "connectionidletimeout" || k == "keepalive") {
    return kRules.Int(keyword, value, 0, std::numeric_limits<int32_t>::max(), ignored_int);
  }
  if (k == "connectionreset" || k == "allowuservariables" || k == "allowzerodatetime" || k == "convertzerodatetime" ||
      k == "useaffectedrows" || k == "usecompression" || k == "compress" || k == "persistsecurityinfo" ||
      k == "treattinyasboolean" || k == "ignoreprepare" || k == "autoenlist") {
    return kRules.Bool(keyword, value, ignored_bool);
  }
  if (k == "applicationname" || k == "guidformat" || k == "serverredirectionmode") return Status::Ok();
  if (k == "charset" || k == "characterset") {
    // Text travels as utf8mb4 whatever is asked; anything that is not a UTF-8 spelling would be a surprise.
    const std::string wanted = connection_string::CompactKeyword(value, kKeywordPunctuation);
    if (wanted == "utf8mb4" || wanted == "utf8" || wanted == "utf8mb3") return Status::Ok();
    return kRules.Invalid(fmt::format("'{}' must be utf8mb4 (got '{}').", keyword, value));
  }
  return kRules.Invalid(fmt::format("'{}' is not a valid keyword. Valid keywords: {}.", keyword, kValidKeywords));
}

}  // namespace

std::string MySqlConnectionOptions::Describe() const {
  std::string where;
  for (const std::string& host : hosts) {
    if (!where.empty()) where += ',';
    where += fmt::format("{}:{}", host, port);
  }
  return fmt::format("{}/{} as {}", where, database, user.empty() ? "(default user)" : user);
}

Status ParseMySqlConnectionString(std::string_view text, MySqlConnectionOptions& out) {
  MySqlConnectionOptions options;
  const Status parsed = kRules.ForEachPair(text, [&options](std::string_view keyword, std::string_view value) {
    return ApplyKeyword(keyword, connection_string::CompactKeyword(keyword, kKeywordPunctuation), value, options);
  });
  if (!parsed.ok()) return parsed;
  if (options.hosts.empty()) options.hosts.emplace_back("localhost");  // MySqlConnector's default
  if (options.database.empty()) {
    return kRules.Invalid(
        "'Database' is required: the tables are created in the database it names (server.md §3.4.6).");
  }
  out = std::move(options);
  return Status::Ok();
}

}  // namespace opstream::storage
