#pragma once
// Npgsql connection strings (server.md §3.5), parsed so that a configuration written for the
// reference server reaches the same database here:
//
//   Host=postgres;Port=5432;Database=opstream;Username=opstream;Password=opstream
//
// Keywords are case-insensitive and their inner spaces do not matter (`SSL Mode` = `SslMode`,
// `User ID` = `UserId`), as with Npgsql's builder; values may be quoted with `'` or `"` (a doubled
// quote inside stands for itself); a repeated keyword takes the last value. Unknown keywords and
// bad values are errors, as they are for Npgsql. No message and no log line ever contains the
// password (use Describe() for logs).
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace opstream::storage {

struct PostgresConnectionOptions {
  // Npgsql's defaults.
  static constexpr std::chrono::seconds kDefaultConnectTimeout{15};
  static constexpr std::chrono::seconds kDefaultCommandTimeout{30};

  // `Host` may list several hosts, each optionally with `:port` (Npgsql multi-host syntax).
  std::vector<std::pair<std::string, int>> hosts;  // port 0: `Port` (5432 unless set)
  int port = 5432;
  std::string database;  // empty: libpq's default (the user name), as Npgsql does
  std::string username;
  std::string password;
  std::string passfile;
  std::string ssl_mode;  // libpq spelling: disable, allow, prefer, require, verify-ca, verify-full
  std::string root_certificate, ssl_certificate, ssl_key, ssl_password;
  std::chrono::seconds connect_timeout = kDefaultConnectTimeout;  // 0 = no limit
  std::chrono::seconds command_timeout = kDefaultCommandTimeout;  // 0 = no limit
  int keepalive_s = 0;                                            // 0 = the OS default
  std::string application_name = "OpStream Server";
  std::string search_path;
  std::string timezone;
  std::string target_session_attributes;  // libpq spelling
  // Accepted for compatibility; the store keeps one pipelined connection (see docs/storage/postgres.md).
  bool pooling = true;
  int min_pool_size = 0;
  int max_pool_size = 100;

  // libpq keyword/value pairs for PQconnectdbParams (the password included).
  std::vector<std::pair<std::string, std::string>> LibpqParameters() const;
  // `host:port/database as user` for logs and messages: never the password.
  std::string Describe() const;
};

Status ParsePostgresConnectionString(std::string_view text, PostgresConnectionOptions& out);

}  // namespace opstream::storage
