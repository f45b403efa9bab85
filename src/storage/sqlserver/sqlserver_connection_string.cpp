#include "storage/sqlserver/sqlserver_connection_string.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>

#include "storage/connection_string.hpp"

namespace opstream::storage {
namespace {

constexpr std::string_view kValidKeywords =
    "Server (or Data Source, Address, Addr, Network Address), Initial Catalog (or Database), User ID (or UID, User), "
    "Password (or PWD), Integrated Security (or Trusted_Connection), Encrypt, TrustServerCertificate, "
    "Connect Timeout (or Connection Timeout, Timeout), Command Timeout, Application Name (or App), "
    "Workstation ID (or WSID), Current Language (or Language), Packet Size, ApplicationIntent, "
    "MultipleActiveResultSets, Pooling, Min Pool Size, Max Pool Size, Connect Retry Count, Connect Retry Interval, "
    "Load Balance Timeout (or Connection Lifetime), Persist Security Info, MultiSubnetFailover, Enlist, "
    "Authentication (SqlPassword only), Host Name In Certificate, Type System Version, Pool Blocking Period, "
    "IP Address Preference";

using connection_string::EqualsIgnoreCase;
using connection_string::Trim;

constexpr connection_string::ValueRules kRules{"SQL Server"};

Status ParseEncrypt(std::string_view keyword, std::string_view value, SqlServerEncrypt& out) {
  const std::string v = connection_string::CompactKeyword(value);
  if (v == "true" || v == "yes" || v == "mandatory") {
    out = SqlServerEncrypt::kMandatory;
  } else if (v == "false" || v == "no" || v == "optional") {
    out = SqlServerEncrypt::kOptional;
  } else if (v == "strict") {
    // TDS 8.0 (TLS before the prelogin) arrived in FreeTDS 1.4; Debian 12 ships 1.3.
    return kRules.Invalid(
        fmt::format("'{}=Strict' (TDS 8.0) is not supported by the FreeTDS driver of this build; use "
                    "Encrypt=True.",
                    keyword));
  } else {
    return kRules.Invalid(
        fmt::format("'{}' must be True, False, Mandatory, Optional or Strict (got '{}').", keyword, value));
  }
  return Status::Ok();
}

// `[tcp:]host[\instance][,port]` as SqlClient reads its Data Source.
Status ParseServer(std::string_view value, SqlServerConnectionOptions& o) {
  std::string_view rest = Trim(value);
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos && colon <= 5) {
    const std::string_view protocol = rest.substr(0, colon);
    if (EqualsIgnoreCase(protocol, "tcp")) {
      rest = Trim(rest.substr(colon + 1));
    } else if (EqualsIgnoreCase(protocol, "np") || EqualsIgnoreCase(protocol, "lpc") ||
               EqualsIgnoreCase(protocol, "admin")) {
      return kRules.Invalid(
          fmt::format("'Server' uses protocol '{}:', which the FreeTDS driver cannot use; only TCP "
                      "(`tcp:host,port`) is supported.",
                      protocol));
    }
  }
  if (const size_t comma = rest.rfind(','); comma != std::string_view::npos) {
    if (Status port = kRules.Int("Server", Trim(rest.substr(comma + 1)), 1, 65535, o.port); !port.ok()) return port;
    o.port_given = true;
    rest = Trim(rest.substr(0, comma));
  }
  if (const size_t slash = rest.find('\\'); slash != std::string_view::npos) {
    o.instance = std::string(Trim(rest.substr(slash + 1)));
    rest = Trim(rest.substr(0, slash));
    if (o.instance.empty()) return kRules.Invalid("'Server' has an empty instance name after '\\'.");
  }
  if (rest.empty()) return kRules.Invalid("'Server' has an empty host name.");
  if (EqualsIgnoreCase(rest, "(localdb)")) {
    return kRules.Invalid("'Server=(localdb)\\...' names SQL Server Express LocalDB, which exists only on Windows.");
  }
  o.host = (rest == "." || EqualsIgnoreCase(rest, "(local)")) ? std::string("localhost") : std::string(rest);
  return Status::Ok();
}

Status Store(std::string_view value, std::string& out) {
  out = std::string(value);
  return Status::Ok();
}

// `keyword` as written (for messages), `k` normalized. The password's value never appears in a message.
Status ApplyKeyword(std::string_view keyword, const std::string& k, std::string_view value,
                    SqlServerConnectionOptions& o) {
  bool ignored_bool = false;
  int ignored_int = 0;
  if (k == "server" || k == "datasource" || k == "address" || k == "addr" || k == "networkaddress") {
    return ParseServer(value, o);
  }
  if (k == "initialcatalog" || k == "database") return Store(value, o.database);
  if (k == "userid" || k == "uid" || k == "user") return Store(value, o.user);
  if (k == "password" || k == "pwd") return Store(value, o.password);
  if (k == "integratedsecurity" || k == "trusted_connection") {
    // SqlClient also accepts `SSPI` for true.
    if (EqualsIgnoreCase(Trim(value), "sspi")) {
      o.integrated_security = true;
      return Status::Ok();
    }
    return kRules.Bool(keyword, value, o.integrated_security);
  }
  if (k == "encrypt") return ParseEncrypt(keyword, value, o.encrypt);
  if (k == "trustservercertificate") return kRules.Bool(keyword, value, o.trust_server_certificate);
  if (k == "connecttimeout" || k == "connectiontimeout" || k == "timeout") {
    return kRules.Seconds(keyword, value, std::numeric_limits<int>::max(), o.connect_timeout);
  }
  if (k == "commandtimeout") return kRules.Seconds(keyword, value, std::numeric_limits<int>::max(), o.command_timeout);
  if (k == "applicationname" || k == "app") return Store(value, o.application_name);
  if (k == "workstationid" || k == "wsid") return Store(value, o.workstation_id);
  if (k == "currentlanguage" || k == "language") return Store(value, o.language);
  if (k == "packetsize") return kRules.Int(keyword, value, 512, 32768, o.packet_size);
  if (k == "applicationintent") {
    const std::string v = connection_string::CompactKeyword(value);
    if (v == "readonly" || v == "readwrite") {
      o.read_only_intent = v == "readonly";
      return Status::Ok();
    }
    return kRules.Invalid(fmt::format("'{}' must be ReadWrite or ReadOnly (got '{}').", keyword, value));
  }
  if (k == "pooling") return kRules.Bool(keyword, value, o.pooling);
  if (k == "maxpoolsize") return kRules.Int(keyword, value, 1, 32767, o.max_pool_size);
  if (k == "minpoolsize" || k == "connectretrycount" || k == "connectretryinterval" || k == "loadbalancetimeout" ||
      k == "connectionlifetime") {
    return kRules.Int(keyword, value, 0, std::numeric_limits<int>::max(), ignored_int);
  }
  if (k == "multipleactiveresultsets" || k == "persistsecurityinfo" || k == "multisubnetfailover" || k == "enlist") {
    return kRules.Bool(keyword, value, ignored_bool);
  }
  if (k == "authentication") {
    const std::string v = connection_string::CompactKeyword(value);
    if (v == "sqlpassword" || v == "notspecified") return Status::Ok();
    return kRules.Invalid(
        fmt::format("'{}={}' is not supported by the FreeTDS driver of this build; only SQL Server "
                    "logins (SqlPassword) and Integrated Security are.",
                    keyword, value));
  }
  if (k == "hostnameincertificate" || k == "typesystemversion" || k == "poolblockingperiod" ||
      k == "ipaddresspreference") {
    return Status::Ok();
  }
  return kRules.Invalid(fmt::format("'{}' is not a valid keyword. Valid keywords: {}.", keyword, kValidKeywords));
}

// ODBC's escaping: a braced value may contain anything; `}` is doubled.
std::string Braced(std::string_view value) {
  std::string out = "{";
  for (char c : value) {
    out += c;
    if (c == '}') out += '}';
  }
  out += '}';
  return out;
}

}  // namespace

std::string SqlServerConnectionOptions::Describe() const {
  std::string where = host;
  if (!instance.empty()) where += "\\" + instance;
  if (instance.empty() || port_given) where += fmt::format(",{}", port);
  const std::string who = integrated_security ? "(integrated security)" : user.empty() ? "(no user)" : user;
  return fmt::format("{}/{} as {}", where, database.empty() ? "(default database)" : database, who);
}

Status ParseSqlServerConnectionString(std::string_view text, SqlServerConnectionOptions& out) {
  SqlServerConnectionOptions options;
  const Status parsed = kRules.ForEachPair(text, [&options](std::string_view keyword, std::string_view value) {
    return ApplyKeyword(keyword, connection_string::CompactKeyword(keyword), value, options);
  });
  if (!parsed.ok()) return parsed;
  if (!options.integrated_security && options.user.empty()) {
    return kRules.Invalid("'User ID' is required unless 'Integrated Security=True' is set.");
  }
  out = std::move(options);
  return Status::Ok();
}

std::string ToFreeTdsOdbcConnectionString(const SqlServerConnectionOptions& o, std::string_view driver,
                                          std::string_view database_override) {
  std::string out = fmt::format("DRIVER={};", Braced(driver));
  // FreeTDS resolves `host\instance` through the SQL Server Browser unless a port is given.
  if (!o.instance.empty() && !o.port_given) {
    out += fmt::format("SERVER={};", Braced(o.host + "\\" + o.instance));
  } else {
    out += fmt::format("SERVER={};PORT={};", Braced(o.host), o.port);
  }
  const std::string_view database = database_override.empty() ? std::string_view(o.database) : database_override;
  if (!database.empty()) out += fmt::format("DATABASE={};", Braced(database));
  if (o.integrated_security) {
    out += "Trusted_Connection=Yes;";
  } else {
    out += fmt::format("UID={};PWD={};", Braced(o.user), Braced(o.password));
  }
  // TDS 7.4 is SQL Server 2012 and later; UTF-8 is what every string parameter and column is read as.
  out += "TDS_Version=7.4;ClientCharset=UTF-8;";
  out += fmt::format("Encryption={};", o.encrypt == SqlServerEncrypt::kMandatory ? "require" : "off");
  out += fmt::format("APP={};", Braced(o.application_name));
  if (!o.workstation_id.empty()) out += fmt::format("WSID={};", Braced(o.workstation_id));
  if (!o.language.empty()) out += fmt::format("Language={};", Braced(o.language));
  out += fmt::format("PacketSize={};", o.packet_size);
  if (o.read_only_intent) out += "ApplicationIntent=ReadOnly;";
  return out;
}

}  // namespace opstream::storage
