#include "config/listen_bindings.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include "common/text.hpp"

namespace opstream::config {

namespace {

constexpr std::string_view kTlsAdvice =
    "OpStream Server serves plain HTTP only: terminate TLS at a reverse proxy or load balancer "
    "(Traefik, NGINX, Caddy, a cloud load balancer) and forward plain HTTP to this server.";

Status InvalidAddress(std::string_view url, std::string_view reason) {
  return Status::Error(fmt::format("Invalid server address '{}' in ASPNETCORE_URLS/urls: {}", url, reason));
}

// int.TryParse(NumberStyles.Integer) as Kestrel's BindingAddress uses it: surrounding whitespace and a
// leading sign are allowed. Range is checked by the caller.
bool ParsePortNumber(std::string_view text, long long& port) {
  text = TrimWhitespace(text);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || text.size() > 10) return false;
  long long value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  port = negative ? -value : value;
  return true;
}

// Canonical text of an IP literal, or empty if `host` is not one.
std::string CanonicalIp(const std::string& host, bool& is_ipv6) {
  char buffer[INET6_ADDRSTRLEN] = {};
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    is_ipv6 = false;
    return inet_ntop(AF_INET, &v4, buffer, sizeof buffer);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    is_ipv6 = true;
    return inet_ntop(AF_INET6, &v6, buffer, sizeof buffer);
  }
  return {};
}

Status ParseOneUrl(std::string_view url, std::vector<ListenBinding>& out, std::vector<std::string>& warnings) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return InvalidAddress(url, "expected scheme://host:port, for example http://+:8080.");
  }
  const std::string_view scheme = url.substr(0, scheme_end);
  if (AsciiIEquals(scheme, "https")) {
    return Status::Error(fmt::format("HTTPS is not supported (server address '{}'). {}", url, kTlsAdvice));
  }
  if (!AsciiIEquals(scheme, "http")) {
    return InvalidAddress(url, "unrecognized scheme; only http:// is supported.");
  }

  std::string_view rest = url.substr(scheme_end + 3);
  if (rest.starts_with("unix:/") || rest.starts_with("pipe:/")) {
    return InvalidAddress(url, "Unix domain sockets and named pipes are not supported; use an IP address and port.");
  }
  const size_t path_start = rest.find('/');
  std::string_view authority = rest.substr(0, path_start);
  if (path_start != std::string_view::npos && rest.substr(path_start) != "/") {
    return InvalidAddress(url, "a path base is not supported; the URL must end after the port.");
  }

  std::string host;
  std::string_view port_text;
  bool has_port = false;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return InvalidAddress(url, "missing ']' after the IPv6 address.");
    host = std::string(authority.substr(1, close - 1));
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return InvalidAddress(url, "expected ':port' after the IPv6 address.");
      port_text = after.substr(1);
      has_port = true;
    }
    bool is_ipv6 = false;
    if (CanonicalIp(host, is_ipv6).empty() || !is_ipv6) {
      return InvalidAddress(url, fmt::format("'{}' is not a valid IPv6 address (zone ids are not supported).", host));
    }
  } else {
    // Like Kestrel, the last ':' separates the port, so an unbracketed IPv6 literal needs a port.
    const size_t colon = authority.rfind(':');
    if (colon == std::string_view::npos) {
      host = std::string(authority);
    } else {
      host = std::string(authority.substr(0, colon));
      port_text = authority.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) return InvalidAddress(url, "the host is missing; use + for every interface.");

  long long port = 80;
  if (has_port) {
    // Kestrel would quietly treat an unparsable port as part of the host name and bind every interface
    // on port 80; a typo deserves a startup error instead.
    if (!ParsePortNumber(port_text, port)) {
      return InvalidAddress(url, fmt::format("'{}' is not a port number.", port_text));
    }
    if (port < 0 || port > 65535) return InvalidAddress(url, "the port must be between 0 and 65535.");
  }
  const auto port16 = static_cast<std::uint16_t>(port);
  const std::string url_text(url);

  if (AsciiIEquals(host, "localhost")) {
    out.push_back({"127.0.0.1", port16, url_text, true});
    out.push_back({"::1", port16, url_text, true});
    return Status::Ok();
  }
  bool is_ipv6 = false;
  std::string ip = CanonicalIp(host, is_ipv6);
  if (!ip.empty()) {
    out.push_back({std::move(ip), port16, url_text, false});
    return Status::Ok();
  }
  if (host.find(':') != std::string::npos) {
    return InvalidAddress(url, fmt::format("'{}' is not a valid address; write IPv6 addresses in brackets.", host));
  }
  if (host != "+" && host != "*") {
    warnings.push_back(fmt::format(
        "Server address '{}' names host '{}', which is not an IP address; listening on every interface (as Kestrel "
        "does).",
        url_text, host));
  }
  out.push_back({std::string(), port16, url_text, false});
  return Status::Ok();
}

}  // namespace

Status ParseListenUrls(std::string_view urls, std::vector<ListenBinding>& out, std::vector<std::string>& warnings) {
  std::vector<ListenBinding> bindings;
  for (std::string_view entry : Split(urls, ';')) {
    // Kestrel does not trim entries (a space after ';' makes the scheme unrecognisable); trimming only
    // accepts lists the reference would reject, so it cannot change a working configuration.
    entry = TrimWhitespace(entry);
    if (entry.empty()) continue;
    Status status = ParseOneUrl(entry, bindings, warnings);
    if (!status.ok()) return status;
  }
  out = std::move(bindings);
  return Status::Ok();
}

std::string ExpandHttpPorts(std::string_view ports) {
  std::string urls;
  for (std::string_view entry : Split(ports, ';')) {
    entry = TrimWhitespace(entry);
    if (entry.empty()) continue;
    if (!urls.empty()) urls.push_back(';');
    urls.append("http://*:").append(entry);
  }
  return urls;
}

}  // namespace opstream::config
