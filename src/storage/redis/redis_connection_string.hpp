#pragma once
// StackExchange.Redis connection strings (server.md §3.5), parsed so that a configuration written
// for the reference server reaches the same Redis here:
//
//   redis:6379,password=secret,abortConnect=false,connectTimeout=5000,defaultDatabase=0
//
// A comma-separated list of endpoints (`host`, `host:port`, `[v6]:port`; port 6379 by default)
// and `key=value` options. Option names are case-insensitive, as in StackExchange.Redis. Unknown
// options are an error (the reference driver rejects them too); options this client has no use
// for are accepted and listed in docs/storage/redis.md. Error messages never repeat a password.
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace opstream::redis {

struct Endpoint {
  std::string host;
  uint16_t port = 6379;
};

struct ConnectionOptions {
  std::vector<Endpoint> endpoints;
  std::string user;      // ACL user (Redis 6+); empty: AUTH with the password only
  std::string password;  // never logged
  int database = 0;      // defaultDatabase
  std::string client_name;
  std::string channel_prefix;  // for the backplane's pub/sub; the storage does not use it
  bool abort_connect = true;   // fail startup when Redis is unreachable
  int connect_retry = 3;       // connect attempts before abortConnect gives up
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds command_timeout{5000};  // syncTimeout / asyncTimeout
  std::chrono::seconds keep_alive{60};              // TCP keep-alive idle time; 0 disables it

  // `host:port,...` with the options that matter, without the password (for logs).
  std::string Describe() const;
};

Status ParseConnectionString(std::string_view text, ConnectionOptions& out);

}  // namespace opstream::redis
