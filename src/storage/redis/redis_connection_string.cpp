#include "storage/redis/redis_connection_string.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <limits>

#include "common/text.hpp"

namespace opstream::redis {
namespace {

// Options StackExchange.Redis 2.8 understands that change nothing for a single plain-TCP client:
// accepted so reference configurations keep working (docs/storage/redis.md lists them).
constexpr std::array<std::string_view, 13> kAcceptedWithoutEffect = {"allowAdmin",    "checkCertificateRevocation",
                                                                     "configChannel", "configCheckSeconds",
                                                                     "resolveDns",    "sslHost",
                                                                     "sslProtocols",  "tiebreaker",
                                                                     "version",       "setlib",
                                                                     "highIntegrity", "responseTimeout",
                                                                     "writeBuffer"};

Status Invalid(std::string_view key, std::string_view value, std::string_view expected) {
  return Status::Error(
      fmt::format("Redis connection string: '{}' has the invalid value '{}' ({} expected).", key, value, expected));
}

bool ParseBool(std::string_view text, bool& out) {
  if (AsciiIEquals(text, "true")) {
    out = true;
    return true;
  }
  if (AsciiIEquals(text, "false")) {
    out = false;
    return true;
  }
  return false;
}

bool ParseInt(std::string_view text, int64_t min, int64_t max, int64_t& out) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < min || value > max) return false;
  out = value;
  return true;
}

Status ParseEndpoint(std::string_view text, Endpoint& out) {
  std::string_view host = text;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::Error(fmt::format("Redis connection string: endpoint '{}' has no closing ']'.", text));
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) {
        return Status::Error(fmt::format("Redis connection string: endpoint '{}' is malformed.", text));
      }
      port = rest.substr(1);
    }
  } else if (const size_t colon = text.rfind(':'); colon != std::string_view::npos) {
    if (text.find(':') != colon) {
      return Status::Error(
          fmt::format("Redis connection string: IPv6 endpoint '{}' must be written as [address]:port.", text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (host.empty()) return Status::Error(fmt::format("Redis connection string: endpoint '{}' has no host.", text));
  out.host = std::string(host);
  out.port = 6379;
  if (!port.empty() || text.ends_with(':')) {
    int64_t value = 0;
    if (!ParseInt(port, 1, 65535, value)) {
      return Status::Error(fmt::format("Redis connection string: endpoint '{}' has an invalid port.", text));
    }
    out.port = static_cast<uint16_t>(value);
  }
  return Status::Ok();
}

Status ApplyOption(std::string_view key, std::string_view value, ConnectionOptions& out) {
  auto is = [key](std::string_view name) { return AsciiIEquals(key, name); };
  int64_t number = 0;
  bool flag = false;
  if (is("password")) {
    out.password = std::string(value);
  } else if (is("user")) {
    out.user = std::string(value);
  } else if (is("defaultDatabase")) {
    if (!ParseInt(value, 0, std::numeric_limits<int>::max(), number)) return Invalid(key, value, "a database number");
    out.database = static_cast<int>(number);
  } else if (is("name")) {
    // CLIENT SETNAME refuses spaces; catch it here rather than at every connect.
    if (value.find_first_of(" \r\n") != std::string_view::npos) return Invalid(key, value, "a name without spaces");
    out.client_name = std::string(value);
  } else if (is("channelPrefix")) {
    out.channel_prefix = std::string(value);
  } else if (is("abortConnect")) {
    if (!ParseBool(value, flag)) return Invalid(key, value, "true or false");
    out.abort_connect = flag;
  } else if (is("ssl")) {
    if (!ParseBool(value, flag)) return Invalid(key, value, "true or false");
    if (flag) {
      return Status::Error(
          "Redis connection string: ssl=true is not supported by this build (Debian's hiredis 0.14 has no TLS). "
          "Reach Redis over a trusted network or a local TLS tunnel (e.g. stunnel) and set ssl=false.");
    }
  } else if (is("connectRetry")) {
    if (!ParseInt(value, 0, 1000, number)) return Invalid(key, value, "a number of attempts");
    out.connect_retry = static_cast<int>(number);
  } else if (is("connectTimeout")) {
    if (!ParseInt(value, 1, std::numeric_limits<int>::max(), number)) return Invalid(key, value, "milliseconds");
    out.connect_timeout = std::chrono::milliseconds(number);
  } else if (is("syncTimeout") || is("asyncTimeout")) {
    if (!ParseInt(value, 1, std::numeric_limits<int>::max(), number)) return Invalid(key, value, "milliseconds");
    out.command_timeout = std::chrono::milliseconds(number);
  } else if (is("keepAlive")) {
    if (!ParseInt(value, -1, std::numeric_limits<int>::max(), number)) return Invalid(key, value, "seconds");
    out.keep_alive = std::chrono::seconds(number < 0 ? 60 : number);
  } else if (is("proxy")) {
    if (!AsciiIEquals(value, "None")) {
      return Status::Error(fmt::format(
          "Redis connection string: proxy={} is not supported (only a direct connection, proxy=None).", value));
    }
  } else if (is("serviceName")) {
    return Status::Error(
        "Redis connection string: serviceName (Redis Sentinel) is not supported; list the primary's endpoint.");
  } else if (is("protocol")) {
    if (!AsciiIEquals(value, "resp2")) {
      return Status::Error(
          fmt::format("Redis connection string: protocol={} is not supported (this client speaks RESP2 only).", value));
    }
  } else if (key.starts_with('$')) {
    return Status::Error(
        fmt::format("Redis connection string: command renaming ('{}') is not supported.", std::string(key)));
  } else {
    for (std::string_view accepted : kAcceptedWithoutEffect) {
      if (is(accepted)) return Status::Ok();
    }
    return Status::Error(fmt::format("Redis connection string: unknown option '{}'.", key));
  }
  return Status::Ok();
}

}  // namespace

Status ParseConnectionString(std::string_view text, ConnectionOptions& out) {
  ConnectionOptions options;
  for (std::string_view part : Split(text, ',')) {
    part = TrimWhitespace(part);
    if (part.empty()) continue;  // StackExchange.Redis skips empty segments ("a:1,,b:2")
    const size_t equals = part.find('=');
    if (equals == std::string_view::npos) {
      Endpoint endpoint;
      if (Status status = ParseEndpoint(part, endpoint); !status.ok()) return status;
      options.endpoints.push_back(std::move(endpoint));
      continue;
    }
    const std::string_view key = TrimWhitespace(part.substr(0, equals));
    const std::string_view value = TrimWhitespace(part.substr(equals + 1));
    if (key.empty()) return Status::Error("Redis connection string: an option has no name before '='.");
    if (Status status = ApplyOption(key, value, options); !status.ok()) return status;
  }
  if (options.endpoints.empty()) {
    return Status::Error("Redis connection string: no endpoint given (expected e.g. 'redis:6379').");
  }
  out = std::move(options);
  return Status::Ok();
}

std::string ConnectionOptions::Describe() const {
  std::string text;
  for (const Endpoint& endpoint : endpoints) {
    if (!text.empty()) text += ',';
    const bool v6 = endpoint.host.find(':') != std::string::npos;
    text +=
        v6 ? fmt::format("[{}]:{}", endpoint.host, endpoint.port) : fmt::format("{}:{}", endpoint.host, endpoint.port);
  }
  if (database != 0) text += fmt::format(",defaultDatabase={}", database);
  if (!user.empty()) text += ",user=" + user;
  if (!password.empty()) text += ",password=*****";
  if (!abort_connect) text += ",abortConnect=false";
  return text;
}

}  // namespace opstream::redis
