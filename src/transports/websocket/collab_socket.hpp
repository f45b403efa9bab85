#pragma once
// The raw WebSocket collaboration endpoint (`/collab-ws`, wire-protocol §4): one peer per socket.
// The socket only adapts frames: every decision is taken by the session layer's DocumentRouter.
#include <atomic>
#include <memory>

#include "net/server.hpp"
#include "net/websocket_channel.hpp"
#include "session/connection.hpp"
#include "session/document_router.hpp"

namespace opstream::transports::websocket {

using CollabSocketOptions = net::websocket::ChannelOptions;

class CollabSocket final : public session::Connection, public net::websocket::Channel {
 public:
  // Completes the opening handshake, then serves the socket.
  static void Accept(boost::beast::tcp_stream stream, net::UpgradeRequest request, net::UpgradeHold hold,
                     session::DocumentRouter& router, net::Server& server, const CollabSocketOptions& options);

  CollabSocket(boost::asio::ip::tcp::socket socket, session::DocumentRouter& router, net::Server& server,
               const CollabSocketOptions& options);
  ~CollabSocket() override;

  void Send(session::Outbound message) override;
  void SendOps(std::span<const std::shared_ptr<const session::OpEvent>> events) override;
  void FlushHeldBack(bool write_now) override { Channel::FlushHeldBack(write_now); }

 private:
  bool OnMessage(std::string_view payload, bool is_text) override;
  void OnClosed() override;
  std::shared_ptr<void> KeepAlive() override { return shared_from_this(); }
  std::shared_ptr<CollabSocket> self() { return std::static_pointer_cast<CollabSocket>(shared_from_this()); }

  session::DocumentRouter& router_;
  net::Server& server_;
  uint64_t live_id_ = 0;
  // Set once a join's completion moved the socket to its document's loop. Atomic: it is set after
  // reading resumed, when the next join may already be completing on another thread.
  std::atomic<bool> followed_document_{false};
};

}  // namespace opstream::transports::websocket
