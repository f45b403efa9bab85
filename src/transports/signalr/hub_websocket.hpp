#pragma once
// The SignalR WebSockets transport (wire-protocol §3.1) on the shared WebSocket channel
// (net::websocket::Channel, the framing and write path of /collab-ws). The socket only adapts
// frames: client messages of either type are a byte stream of records for the HubConnection
// (records may span or share messages), and the connection queues its records on the socket as
// frames. Everything else (handshake, invocations, keep-alive, Close) stays in HubConnection.
#include <memory>

#include "net/server.hpp"
#include "net/websocket_channel.hpp"
#include "transports/signalr/hub_connection.hpp"

namespace opstream::transports::signalr {

class HubWebSocket final : public net::websocket::Channel, public std::enable_shared_from_this<HubWebSocket> {
 public:
  // Completes the opening handshake for `connection` (already attached to WebSockets), then
  // serves it. A handshake that fails, or a client that goes away during it, ends the connection.
  static void Accept(boost::beast::tcp_stream stream, net::UpgradeRequest request,
                     std::shared_ptr<HubConnection> connection, net::Server& server,
                     const net::websocket::ChannelOptions& options);

  // Serves an open WebSocket (after its opening handshake) for `connection`.
  static void Serve(boost::asio::ip::tcp::socket socket, std::shared_ptr<HubConnection> connection, net::Server& server,
                    const net::websocket::ChannelOptions& options);

  HubWebSocket(boost::asio::ip::tcp::socket socket, std::shared_ptr<HubConnection> connection, net::Server& server,
               const net::websocket::ChannelOptions& options);
  ~HubWebSocket() override;

  // Server shutdown: the hub's Close with allowReconnect, then the close frame (1000).
  void Shutdown() override;

 private:
  void Open(const std::shared_ptr<HubConnection>& connection);
  bool OnMessage(std::string_view payload, bool is_text) override;
  void OnClosed() override;
  std::shared_ptr<void> KeepAlive() override { return shared_from_this(); }

  // Weak: the connection owns its socket until it is destroyed.
  const std::weak_ptr<HubConnection> connection_;
  net::Server& server_;
  uint64_t live_id_ = 0;
};

}  // namespace opstream::transports::signalr
