#pragma once
// The raw WebSocket collaboration endpoint (`/collab-ws`, wire-protocol §4): one peer per socket.
// The socket only adapts frames: every decision is taken by the session layer's DocumentRouter.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <deque>
#include <memory>
#include <mutex>

#include "net/server.hpp"
#include "session/connection.hpp"
#include "session/document_router.hpp"

namespace opstream::transports::websocket {

struct CollabSocketOptions {
  size_t max_message_bytes = 2 * 1024 * 1024;  // OP-19: larger messages close with 1009
  size_t max_queued_bytes = 16 * 1024 * 1024;  // a slower reader is dropped (SV-46)
};

class CollabSocket final : public session::Connection, public net::LiveConnection {
 public:
  static void Accept(boost::beast::tcp_stream stream, net::UpgradeRequest request, session::DocumentRouter& router,
                     net::Server& server, const CollabSocketOptions& options);

  CollabSocket(boost::beast::tcp_stream stream, session::DocumentRouter& router, net::Server& server,
               const CollabSocketOptions& options);
  ~CollabSocket() override;

  void Send(session::Outbound message) override;
  void Shutdown() override;

 private:
  // Coroutines take `self` so the socket outlives them (a member coroutine's `this` does not).
  static boost::asio::awaitable<void> Run(std::shared_ptr<CollabSocket> self, net::UpgradeRequest request);
  static boost::asio::awaitable<void> WriteLoop(std::shared_ptr<CollabSocket> self);
  boost::asio::awaitable<void> Handle(std::string_view text);
  void Close(boost::beast::websocket::close_code code, std::string_view reason);
  std::shared_ptr<CollabSocket> self() { return std::static_pointer_cast<CollabSocket>(shared_from_this()); }

  boost::beast::websocket::stream<boost::beast::tcp_stream> ws_;
  session::DocumentRouter& router_;
  net::Server& server_;
  const CollabSocketOptions& options_;
  uint64_t live_id_ = 0;

  std::mutex queue_mutex_;
  std::deque<session::Outbound> queue_;
  size_t queued_bytes_ = 0;
  bool writer_waiting_ = false;
  bool closing_ = false;
  std::optional<boost::beast::websocket::close_reason> close_reason_;
  boost::asio::steady_timer wake_;
};

}  // namespace opstream::transports::websocket
