#pragma once
// One listener per configured binding. Every accepted connection is sniffed: the HTTP/2 client
// preface selects the HTTP/2 front end (gRPC, prior knowledge h2c), anything else is HTTP/1.1,
// which serves the plain endpoints and hands WebSocket upgrades to the transport registered for
// the path.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/io_context_pool.hpp"
#include "common/status.hpp"
#include "net/http_types.hpp"

namespace opstream::net {

// Something the server must close on shutdown (a WebSocket, an HTTP/2 session, an idle HTTP/1.1
// keep-alive connection).
class LiveConnection {
 public:
  virtual ~LiveConnection() = default;
  virtual void Shutdown() = 0;
  // Called every few seconds while the server runs (keep-alive, timeouts). Any thread.
  virtual void Sweep(std::chrono::steady_clock::time_point /*now*/) {}
};

using UpgradeRequest = boost::beast::http::request<boost::beast::http::string_body>;
// Keeps a connection counted as live while its upgrade handshake runs, so that shutdown waits
// for it; release it once the upgraded connection has registered itself.
using UpgradeHold = std::shared_ptr<void>;
// Takes ownership of an upgraded stream; registers itself with the server while it lives.
using WebSocketAcceptor =
    std::function<void(boost::beast::tcp_stream stream, UpgradeRequest request, UpgradeHold hold)>;

// An HTTP/1.1 route whose handler owns the exchange: it writes its own response on `stream`, for
// as long as it likes (a long poll, an event stream), or moves the stream away (an upgrade).
enum class StreamRouteResult { kKeepAlive, kClose, kTakenOver };
using StreamRoute =
    std::function<boost::asio::awaitable<StreamRouteResult>(boost::beast::tcp_stream& stream, UpgradeRequest& request)>;

struct ListenEndpoint {
  boost::asio::ip::tcp::endpoint endpoint;
  std::string url;          // as configured, for logs
  bool dual_stack = false;  // an IPv6 socket that also accepts IPv4 (every interface)
  bool optional = false;    // a bind failure is tolerated (the IPv6 half of `localhost`)
};

class Server {
 public:
  // Connections are spread over `connection_loops` when given, else they share `io`.
  Server(boost::asio::io_context& io, HttpHandler& http, IoContextPool* connection_loops = nullptr);
  ~Server();

  void AddWebSocketRoute(std::string path, WebSocketAcceptor acceptor);
  // Any method on `path` (exact match) goes to `route`; request bodies up to `max_body_bytes`.
  void AddStreamRoute(std::string path, StreamRoute route, size_t max_body_bytes);
  // Binds and listens; fails with a clear message (address in use, permission denied).
  Status Listen(const std::vector<ListenEndpoint>& endpoints);
  // Addresses actually bound (port 0 resolved), for the "Now listening on" log lines.
  std::vector<boost::asio::ip::tcp::endpoint> BoundEndpoints() const;

  // Stops accepting and asks every live connection to close.
  void Stop();
  size_t LiveConnectionCount() const;

  // Connections register so that Stop can close them.
  uint64_t Register(std::weak_ptr<LiveConnection> connection);
  void Unregister(uint64_t id);

 private:
  class Acceptor;
  boost::asio::io_context& ConnectionLoop();
  void HandleSocket(boost::asio::ip::tcp::socket socket);
  void ScheduleSweep();
  bool SweepConnections();  // false once stopping
  boost::asio::awaitable<void> Serve(boost::asio::ip::tcp::socket socket);

  boost::asio::io_context& io_;
  IoContextPool* connection_loops_;
  HttpHandler& http_;
  std::unordered_map<std::string, WebSocketAcceptor> websocket_routes_;
  std::unordered_map<std::string, std::pair<StreamRoute, size_t>> stream_routes_;
  std::vector<std::shared_ptr<Acceptor>> acceptors_;

  mutable std::mutex live_mutex_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::unordered_map<uint64_t, std::weak_ptr<LiveConnection>> live_;
  boost::asio::steady_timer sweep_timer_;
};

}  // namespace opstream::net
