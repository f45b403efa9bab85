#pragma once
// Microsoft.Data.SqlClient connection strings (server.md §3.5), parsed so that a configuration
// written for the reference server reaches the same database here, and translated into the
// connection string of the FreeTDS ODBC driver that this build talks through:
//
//   Server=tcp:db.example.com,1433;Database=OpStream;User Id=sa;Password=...;TrustServerCertificate=True
//
// Keywords are case-insensitive and their inner spaces do not matter (`Connect Timeout` =
// `ConnectTimeout`); values may be quoted. Unknown keywords, bad values and features FreeTDS cannot
// provide (named pipes, Azure AD authentication, TDS 8 strict encryption) are startup errors. No
// message and no log line ever contains the password (use Describe()).
#include <chrono>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::storage {

// SqlClient's Encrypt values: False/Optional, True/Mandatory (the default since SqlClient 4), Strict.
enum class SqlServerEncrypt { kOptional, kMandatory, kStrict };

struct SqlServerConnectionOptions {
  // SqlClient's defaults.
  static constexpr std::chrono::seconds kDefaultConnectTimeout{15};
  static constexpr std::chrono::seconds kDefaultCommandTimeout{30};
  static constexpr int kDefaultPort = 1433;

  std::string host = "localhost";
  std::string instance;  // `host\instance`: resolved through the SQL Server Browser (UDP 1434)
  int port = kDefaultPort;
  bool port_given = false;
  std::string database;  // empty: the login's default database
  std::string user;
  std::string password;
  bool integrated_security = false;
  SqlServerEncrypt encrypt = SqlServerEncrypt::kMandatory;
  bool trust_server_certificate = false;
  std::chrono::seconds connect_timeout = kDefaultConnectTimeout;  // 0 = no limit
  std::chrono::seconds command_timeout = kDefaultCommandTimeout;  // 0 = no limit
  std::string application_name = "OpStream Server";
  std::string workstation_id;
  std::string language;
  int packet_size = 8000;
  bool read_only_intent = false;
  // Accepted for compatibility; the store keeps a few connections of its own (docs/storage/sqlserver.md).
  bool pooling = true;
  int max_pool_size = 100;

  // `host,port/database as user` for logs and messages: never the password.
  std::string Describe() const;
};

Status ParseSqlServerConnectionString(std::string_view text, SqlServerConnectionOptions& out);

// The FreeTDS ODBC connection string (attribute names of FreeTDS 1.3's odbc/connectparams.c) for
// `options`, naming the ODBC driver `driver` as registered in odbcinst.ini. Every value is braced,
// so `;`, `=` and `}` in a password survive. Contains the password: never log it.
std::string ToFreeTdsOdbcConnectionString(const SqlServerConnectionOptions& options, std::string_view driver,
                                          std::string_view database_override = {});

}  // namespace opstream::storage
