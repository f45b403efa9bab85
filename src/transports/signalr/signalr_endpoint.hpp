#pragma once
// The HTTP surface of one hub path P (wire-protocol §3.1): `POST P/negotiate`, and on `P` the
// WebSockets upgrade, the Server-Sent Events stream, long polls, client sends (POST) and DELETE.
// It owns the table of live connections keyed by connection token; everything past the transport
// is the HubConnection's and the Hub's.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "net/server.hpp"
#include "net/websocket_channel.hpp"
#include "transports/signalr/hub_connection.hpp"
#include "transports/signalr/signalr_options.hpp"

namespace opstream::transports::signalr {

class SignalREndpoint {
 public:
  SignalREndpoint(boost::asio::io_context& io, net::Server& server, Hub& hub, std::string path,
                  const SignalROptions& options);
  SignalREndpoint(const SignalREndpoint&) = delete;
  SignalREndpoint& operator=(const SignalREndpoint&) = delete;

  // Adds the routes `path` and `path/negotiate` to the server.
  void Register();
  size_t ConnectionCount() const;

 private:
  boost::asio::awaitable<net::StreamRouteResult> Handle(boost::beast::tcp_stream& stream, net::UpgradeRequest& request);
  boost::asio::awaitable<net::StreamRouteResult> Negotiate(boost::beast::tcp_stream& stream,
                                                           net::UpgradeRequest& request, std::string_view query);
  std::shared_ptr<HubConnection> NewConnection(std::string connection_id, std::string token);
  std::shared_ptr<HubConnection> Find(const std::string& token) const;

  boost::asio::io_context& io_;
  net::Server& server_;
  Hub& hub_;
  const std::string path_;
  const SignalROptions& options_;
  const net::websocket::ChannelOptions websocket_options_;

  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<HubConnection>> connections_;
};

// 16 random bytes as 22 base64url characters (the reference's connection id and token format).
std::string NewConnectionId();

}  // namespace opstream::transports::signalr
