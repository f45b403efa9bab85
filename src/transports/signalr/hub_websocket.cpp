#include "transports/signalr/hub_websocket.hpp"

namespace opstream::transports::signalr {
namespace asio = boost::asio;
namespace ws = net::websocket;

namespace {

// Held by the opening handshake (as its UpgradeHold): the negotiated connection keeps the
// server's shutdown waiting meanwhile (it is registered itself), and a handshake that never
// completes ends it at once instead of at its handshake timeout.
struct HandshakeGuard {
  explicit HandshakeGuard(std::shared_ptr<HubConnection> c) : connection(std::move(c)) {}
  HandshakeGuard(const HandshakeGuard&) = delete;
  HandshakeGuard& operator=(const HandshakeGuard&) = delete;
  ~HandshakeGuard() {
    if (!opened) connection->Abort();
  }

  const std::shared_ptr<HubConnection> connection;
  bool opened = false;
};

}  // namespace

void HubWebSocket::Accept(boost::beast::tcp_stream stream, net::UpgradeRequest request,
                          std::shared_ptr<HubConnection> connection, net::Server& server,
                          const ws::ChannelOptions& options) {
  auto guard = std::make_shared<HandshakeGuard>(std::move(connection));
  ws::AcceptHandshake(std::move(stream), std::move(request), guard,
                      [guard, &server, &options](asio::ip::tcp::socket socket) {
                        guard->opened = true;
                        Serve(std::move(socket), guard->connection, server, options);
                      });
}

void HubWebSocket::Serve(asio::ip::tcp::socket socket, std::shared_ptr<HubConnection> connection, net::Server& server,
                         const ws::ChannelOptions& options) {
  std::make_shared<HubWebSocket>(std::move(socket), connection, server, options)->Open(connection);
}

HubWebSocket::HubWebSocket(asio::ip::tcp::socket socket, std::shared_ptr<HubConnection> connection, net::Server& server,
                           const ws::ChannelOptions& options)
    : ws::Channel(std::move(socket), options), connection_(std::move(connection)), server_(server) {}

HubWebSocket::~HubWebSocket() { server_.Unregister(live_id_); }

void HubWebSocket::Open(const std::shared_ptr<HubConnection>& connection) {
  // Registered before the connection can end, so that shutdown waits for the close handshake.
  live_id_ = server_.Register(
      std::static_pointer_cast<net::LiveConnection>(std::static_pointer_cast<ws::Channel>(shared_from_this())));
  connection->AttachSocket(std::static_pointer_cast<ws::Channel>(shared_from_this()));
  StartReading();
}

void HubWebSocket::Shutdown() {
  if (auto connection = connection_.lock()) {
    connection->Shutdown();
  } else {
    Channel::Shutdown();
  }
}

bool HubWebSocket::OnMessage(std::string_view payload, bool /*is_text*/) {
  // Text and Binary messages alike carry records. The payload lives in a buffer that is reused
  // once this returns: Feed copies it. Reading pauses until the records are handled, so
  // invocations run one at a time and in order.
  auto connection = connection_.lock();
  if (!connection || !connection->Feed(payload)) return true;  // closing: the close frame follows
  // After a Close or a protocol error the connection closes the socket itself; reading goes on so
  // that the peer's close frame completes the handshake.
  connection->ProcessFed([self = shared_from_this()](bool) { self->ResumeReading(); });
  return false;
}

void HubWebSocket::OnClosed() {
  if (auto connection = connection_.lock()) connection->Abort();
}

}  // namespace opstream::transports::signalr
