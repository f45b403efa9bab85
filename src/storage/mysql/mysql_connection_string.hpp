#pragma once
// MySqlConnector connection strings (server.md §3.5), parsed so that a configuration written for
// the reference server reaches the same database here:
//
//   Server=localhost;Port=3306;Database=opstream;Uid=root;Pwd=root
//
// Keywords are case-insensitive and their inner spaces and dashes do not matter (`Ssl Mode` =
// `SslMode` = `Ssl-Mode`), as with MySqlConnector's builder; values may be quoted. Unknown keywords
// and bad values are errors. No message and no log line ever contains the password (use Describe()).
#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"

namespace opstream::storage {

enum class MySqlSslMode { kNone, kPreferred, kRequired, kVerifyCa, kVerifyFull };

struct MySqlConnectionOptions {
  // MySqlConnector's defaults.
  static constexpr std::chrono::seconds kDefaultConnectTimeout{15};
  static constexpr std::chrono::seconds kDefaultCommandTimeout{30};

  std::vector<std::string> hosts;  // `Server` may list several, tried in order
  int port = 3306;
  std::string database;
  std::string user;
  std::string password;
  MySqlSslMode ssl_mode = MySqlSslMode::kPreferred;
  std::string ssl_ca, ssl_cert, ssl_key;
  std::chrono::seconds connect_timeout = kDefaultConnectTimeout;  // 0 = no limit
  std::chrono::seconds command_timeout = kDefaultCommandTimeout;  // 0 = no limit
  bool allow_public_key_retrieval = false;
  // Accepted for compatibility; the store keeps a few connections of its own (docs/storage/mysql.md).
  bool pooling = true;
  int min_pool_size = 0;
  int max_pool_size = 100;

  // `host:port/database as user` for logs and messages: never the password.
  std::string Describe() const;
};

Status ParseMySqlConnectionString(std::string_view text, MySqlConnectionOptions& out);

}  // namespace opstream::storage
