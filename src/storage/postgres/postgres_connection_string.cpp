#include "storage/postgres/postgres_connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

#include "storage/connection_string.hpp"

namespace opstream::storage {
namespace {

constexpr std::string_view kValidKeywords =
    "Host (or Server), Port, Database (or DB), Username (or User Name, User ID, UID), Password (or PWD, PSW), "
    "Passfile, SSL Mode, Trust Server Certificate, Root Certificate, SSL Certificate, SSL Key, SSL Password, "
    "Timeout, Command Timeout, Keepalive, Tcp Keepalive, Pooling, Minimum Pool Size, Maximum Pool Size, "
    "Connection Idle Lifetime, Connection Pruning Interval, Connection Lifetime, Application Name, Search Path, "
    "Timezone, Client Encoding, Encoding, Target Session Attributes, Include Error Detail, Log Parameters, "
    "Enlist, Persist Security Info, No Reset On Close, Max Auto Prepare, Auto Prepare Min Usages, Multiplexing, "
    "Read Buffer Size, Write Buffer Size, Internal Command Timeout, Cancellation Timeout, Server Compatibility Mode";

using connection_string::EqualsIgnoreCase;
using connection_string::IsSpace;
using connection_string::Trim;

constexpr connection_string::ValueRules kRules{"PostgreSQL"};

Status ParseSslMode(std::string_view value, std::string& out) {
  static constexpr std::pair<std::string_view, std::string_view> kModes[] = {
      {"Disable", "disable"}, {"Allow", "allow"},        {"Prefer", "prefer"},
      {"Require", "require"}, {"VerifyCA", "verify-ca"}, {"VerifyFull", "verify-full"},
  };
  const std::string wanted = connection_string::CompactKeyword(value);
  for (const auto& [name, libpq] : kModes) {
    if (EqualsIgnoreCase(wanted, name) || EqualsIgnoreCase(value, libpq)) {
      out = std::string(libpq);
      return Status::Ok();
    }
  }
  return kRules.Invalid(fmt::format(
      "'SSL Mode' must be one of Disable, Allow, Prefer, Require, VerifyCA, VerifyFull (got '{}').", value));
}

Status ParseTargetSessionAttributes(std::string_view value, std::string& out) {
  static constexpr std::pair<std::string_view, std::string_view> kAttributes[] = {
      {"any", "any"},         {"readwrite", "read-write"}, {"readonly", "read-only"},
      {"primary", "primary"}, {"standby", "standby"},      {"preferstandby", "prefer-standby"},
  };
  std::string wanted;
  for (char c : value) {
    if (c != '-' && !IsSpace(c)) wanted += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (const auto& [name, libpq] : kAttributes) {
    if (wanted == name) {
      out = std::string(libpq);
      return Status::Ok();
    }
  }
  return kRules.Invalid(fmt::format(
      "'Target Session Attributes' must be one of Any, ReadWrite, ReadOnly, Primary, Standby, PreferStandby "
      "(got '{}').",
      value));
}

// `host`, `host:port`, `[v6]:port`, comma-separated.
Status ParseHosts(std::string_view value, std::vector<std::pair<std::string, int>>& out) {
  out.clear();
  size_t start = 0;
  while (start <= value.size()) {
    size_t comma = value.find(',', start);
    if (comma == std::string_view::npos) comma = value.size();
    std::string_view item = Trim(value.substr(start, comma - start));
    start = comma + 1;
    if (item.empty()) return kRules.Invalid("'Host' has an empty host name.");
    std::string_view name = item;
    int port = 0;
    size_t colon = std::string_view::npos;
    if (item.front() == '[') {
      const size_t close = item.find(']');
      if (close == std::string_view::npos)
        return kRules.Invalid(fmt::format("'Host' has an unclosed '[' in '{}'.", item));
      name = item.substr(1, close - 1);
      if (close + 1 < item.size()) {
        if (item[close + 1] != ':')
          return kRules.Invalid(fmt::format("'Host' has characters after ']' in '{}'.", item));
        colon = close + 1;
      }
    } else if (item.find(':') == item.rfind(':')) {  // exactly one colon: host:port (a bare IPv6 has several)
      colon = item.find(':');
      if (colon != std::string_view::npos) name = item.substr(0, colon);
    }
    if (colon != std::string_view::npos) {
      if (Status status = kRules.Int("Host", item.substr(colon + 1), 1, 65535, port); !status.ok()) return status;
    }
    if (name.empty()) return kRules.Invalid("'Host' has an empty host name.");
    out.emplace_back(std::string(name), port);
    if (comma == value.size()) break;
  }
  return Status::Ok();
}

// `keyword` is the text as written (for messages), `normalized` the lookup form. The password's
// value never appears in a message.
Status ApplyKeyword(std::string_view keyword, const std::string& normalized, std::string_view value,
                    PostgresConnectionOptions& o) {
  int ignored_int = 0;
  bool ignored_bool = false;
  if (normalized == "host" || normalized == "server") return ParseHosts(value, o.hosts);
  if (normalized == "port") return kRules.Int(keyword, value, 1, 65535, o.port);
  if (normalized == "database" || normalized == "db") {
    o.database = std::string(value);
    return Status::Ok();
  }
  if (normalized == "username" || normalized == "userid" || normalized == "uid") {
    o.username = std::string(value);
    return Status::Ok();
  }
  if (normalized == "password" || normalized == "pwd" || normalized == "psw") {
    o.password = std::string(value);
    return Status::Ok();
  }
  if (normalized == "passfile") {
    o.passfile = std::string(value);
    return Status::Ok();
  }
  if (normalized == "sslmode") return ParseSslMode(value, o.ssl_mode);
  if (normalized == "trustservercertificate") return kRules.Bool(keyword, value, ignored_bool);
  if (normalized == "rootcertificate") {
    o.root_certificate = std::string(value);
    return Status::Ok();
  }
  if (normalized == "sslcertificate") {
    o.ssl_certificate = std::string(value);
    return Status::Ok();
  }
  if (normalized == "sslkey") {
    o.ssl_key = std::string(value);
    return Status::Ok();
  }
  if (normalized == "sslpassword") {
    o.ssl_password = std::string(value);
    return Status::Ok();
  }
  if (normalized == "timeout") return kRules.Seconds(keyword, value, 1024, o.connect_timeout);
  if (normalized == "commandtimeout") {
    return kRules.Seconds(keyword, value, std::numeric_limits<int32_t>::max(), o.command_timeout);
  }
  if (normalized == "keepalive" || normalized == "tcpkeepalive") {
    if (normalized == "tcpkeepalive") {
      bool on = false;
      Status status = kRules.Bool(keyword, value, on);
      if (status.ok() && on && o.keepalive_s == 0) o.keepalive_s = 60;
      return status;
    }
    return kRules.Int(keyword, value, 0, std::numeric_limits<int32_t>::max(), o.keepalive_s);
  }
  if (normalized == "pooling") return kRules.Bool(keyword, value, o.pooling);
  if (normalized == "minimumpoolsize" || normalized == "minpoolsize") {
    return kRules.Int(keyword, value, 0, 1024, o.min_pool_size);
  }
  if (normalized == "maximumpoolsize" || normalized == "maxpoolsize") {
    return kRules.Int(keyword, value, 1, 1024, o.max_pool_size);
  }
  if (normalized == "connectionidlelifetime" || normalized == "connectionpruninginterval" ||
      normalized == "connectionlifetime" || normalized == "maxautoprepare" || normalized == "autoprepareminusages" ||
      normalized == "readbuffersize" || normalized == "writebuffersize" || normalized == "internalcommandtimeout" ||
      normalized == "cancellationtimeout") {
    return kRules.Int(keyword, value, -1, std::numeric_limits<int32_t>::max(), ignored_int);
  }
  if (normalized == "includeerrordetail" || normalized == "logparameters" || normalized == "enlist" ||
      normalized == "persistsecurityinfo" || normalized == "noresetonclose" || normalized == "multiplexing") {
    return kRules.Bool(keyword, value, ignored_bool);
  }
  if (normalized == "applicationname") {
    o.application_name = std::string(value);
    return Status::Ok();
  }
  if (normalized == "searchpath") {
    o.search_path = std::string(value);
    return Status::Ok();
  }
  if (normalized == "timezone") {
    o.timezone = std::string(value);
    return Status::Ok();
  }
  if (normalized == "clientencoding" || normalized == "encoding") {
    // Text columns travel as raw bytes and are read as UTF-8.
    if (connection_string::CompactKeyword(value) == "utf8" || connection_string::CompactKeyword(value) == "utf-8" ||
        value.empty())
      return Status::Ok();
    return kRules.Invalid(fmt::format("'{}' must be UTF8 (got '{}').", keyword, value));
  }
  if (normalized == "targetsessionattributes") return ParseTargetSessionAttributes(value, o.target_session_attributes);
  if (normalized == "servercompatibilitymode") {
    if (connection_string::CompactKeyword(value) == "none" || value.empty()) return Status::Ok();
    return kRules.Invalid(fmt::format("'{}' is not supported (got '{}'); only None is.", keyword, value));
  }
  return kRules.Invalid(fmt::format("'{}' is not a valid keyword. Valid keywords: {}.", keyword, kValidKeywords));
}

// A libpq `options` value: backslash escapes spaces and backslashes.
std::string EscapeOption(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == ' ' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> PostgresConnectionOptions::LibpqParameters() const {
  std::vector<std::pair<std::string, std::string>> p;
  std::string host_list, port_list;
  for (const auto& [name, host_port] : hosts) {
    if (!host_list.empty()) {
      host_list += ',';
      port_list += ',';
    }
    host_list += name;
    port_list += std::to_string(host_port != 0 ? host_port : port);
  }
  if (hosts.empty()) port_list = std::to_string(port);
  if (!host_list.empty()) p.emplace_back("host", host_list);
  p.emplace_back("port", port_list);
  if (!database.empty()) p.emplace_back("dbname", database);
  if (!username.empty()) p.emplace_back("user", username);
  if (!password.empty()) p.emplace_back("password", password);
  if (!passfile.empty()) p.emplace_back("passfile", passfile);
  if (!ssl_mode.empty()) p.emplace_back("sslmode", ssl_mode);
  if (!root_certificate.empty()) p.emplace_back("sslrootcert", root_certificate);
  if (!ssl_certificate.empty()) p.emplace_back("sslcert", ssl_certificate);
  if (!ssl_key.empty()) p.emplace_back("sslkey", ssl_key);
  if (!ssl_password.empty()) p.emplace_back("sslpassword", ssl_password);
  // libpq treats 1 as 2 seconds; 0 waits without limit, as in Npgsql.
  if (connect_timeout.count() > 0) p.emplace_back("connect_timeout", std::to_string(connect_timeout.count()));
  if (keepalive_s > 0) {
    p.emplace_back("keepalives", "1");
    p.emplace_back("keepalives_idle", std::to_string(keepalive_s));
  }
  if (!application_name.empty()) p.emplace_back("application_name", application_name);
  if (!target_session_attributes.empty()) p.emplace_back("target_session_attrs", target_session_attributes);
  p.emplace_back("client_encoding", "UTF8");
  std::string options;
  if (!search_path.empty()) options += "-c search_path=" + EscapeOption(search_path);
  if (!timezone.empty()) options += std::string(options.empty() ? "" : " ") + "-c TimeZone=" + EscapeOption(timezone);
  if (!options.empty()) p.emplace_back("options", options);
  return p;
}

std::string PostgresConnectionOptions::Describe() const {
  std::string where;
  for (const auto& [name, host_port] : hosts) {
    if (!where.empty()) where += ',';
    where += fmt::format("{}:{}", name, host_port != 0 ? host_port : port);
  }
  return fmt::format("{}/{} as {}", where, database.empty() ? username : database,
                     username.empty() ? "(default user)" : username);
}

Status ParsePostgresConnectionString(std::string_view text, PostgresConnectionOptions& out) {
  PostgresConnectionOptions options;
  const Status parsed = kRules.ForEachPair(text, [&options](std::string_view keyword, std::string_view value) {
    return ApplyKeyword(keyword, connection_string::CompactKeyword(keyword), value, options);
  });
  if (!parsed.ok()) return parsed;
  if (options.hosts.empty()) return kRules.Invalid("'Host' is required (for example Host=localhost).");
  out = std::move(options);
  return Status::Ok();
}

}  // namespace opstream::storage
