#pragma once
// Listener addresses, read like Kestrel reads `urls` (ASPNETCORE_URLS) and `http_ports`
// (ASPNETCORE_HTTP_PORTS), reduced to what a plain-HTTP server binds: an address and a port.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"

namespace opstream::config {

struct ListenBinding {
  // Numeric IP literal in canonical form ("127.0.0.1", "::1", "0.0.0.0", "::"), or empty for every
  // interface. Every interface means what Kestrel does for `+`, `*` and host names: an IPv6 socket
  // with IPV6_V6ONLY off, falling back to IPv4 0.0.0.0 when IPv6 is unavailable. An explicit "::" is
  // also dual-stack in Kestrel; an explicit "0.0.0.0" is IPv4 only.
  std::string address;
  // 0 asks the OS for an ephemeral port.
  std::uint16_t port = 0;
  // The configured URL this binding comes from, for logs and error messages.
  std::string url;
  // Set on both bindings of a `localhost` URL (127.0.0.1 and ::1). Like Kestrel, startup fails only
  // if neither can be bound, so hosts without IPv6 still start.
  bool loopback_pair = false;

  bool AllInterfaces() const noexcept { return address.empty(); }
  friend bool operator==(const ListenBinding&, const ListenBinding&) = default;
};

// Parses a `;`-separated URL list (entries trimmed, empty entries skipped). Accepts `http://` URLs
// whose host is `localhost`, an IPv4 literal, a bracketed IPv6 literal, or anything else (`+`, `*`, a
// host name: every interface, as Kestrel does; a host name also adds a warning). The port defaults to
// 80 and must be 0–65535. `https://` is rejected because TLS is terminated in front of this server;
// a path (other than "/"), another scheme, a Unix socket or a malformed URL is a startup error.
// An empty list yields no bindings.
Status ParseListenUrls(std::string_view urls, std::vector<ListenBinding>& out, std::vector<std::string>& warnings);

// Expands ASPNETCORE_HTTP_PORTS (`8080;8081`) the way the web host does: one `http://*:{port}` URL per
// entry, joined with ';'. Entries are trimmed; empty entries are skipped.
std::string ExpandHttpPorts(std::string_view ports);

}  // namespace opstream::config
