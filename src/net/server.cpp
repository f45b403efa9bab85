#include "net/server.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <cstring>

#include "common/logging.hpp"
#include "net/await.hpp"
#include "net/http2_connection.hpp"

namespace opstream::net {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr std::string_view kHttp2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
constexpr auto kHttp1IdleTimeout = std::chrono::seconds(120);
constexpr auto kSweepInterval = std::chrono::seconds(5);
constexpr size_t kMaxHttp1Body = 1 << 20;

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Server.Net");
  return logger;
}

std::pair<std::string, std::string> SplitTarget(std::string_view target) {
  const auto q = target.find('?');
  if (q == std::string_view::npos) return {std::string(target), {}};
  return {std::string(target.substr(0, q)), std::string(target.substr(q + 1))};
}

// An HTTP/1.1 keep-alive connection between requests: shutdown closes it.
class Http1Connection final : public LiveConnection {
 public:
  // The executor is kept apart: the stream may be gone (moved away by an upgrade) while an
  // upgrade hold still keeps this registration.
  explicit Http1Connection(beast::tcp_stream& stream) : stream_(stream), executor_(stream.get_executor()) {}
  void Shutdown() override {
    asio::post(executor_, [this, alive = alive_] {
      if (*alive) {
        beast::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
      }
    });
  }
  void Detach() { *alive_ = false; }
  void Reattach() { *alive_ = true; }

 private:
  beast::tcp_stream& stream_;
  asio::any_io_executor executor_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

class Server::Acceptor : public std::enable_shared_from_this<Server::Acceptor> {
 public:
  Acceptor(Server& server, tcp::acceptor acceptor)
      : server_(server), acceptor_(std::move(acceptor)), backoff_(acceptor_.get_executor()) {}

  void Start() {
    acceptor_.async_accept(asio::make_strand(server_.ConnectionLoop()),
                           [self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
                             if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
                             if (!ec) {
                               socket.set_option(tcp::no_delay(true), ec);
                               self->server_.HandleSocket(std::move(socket));
                               return self->Start();
                             }
                             // Out of file descriptors or memory: back off instead of spinning on the same error.
                             Log()->warn("Accept failed: {}", ec.message());
                             self->backoff_.expires_after(std::chrono::milliseconds(100));
                             self->backoff_.async_wait([self](beast::error_code wait_ec) {
                               if (!wait_ec && self->acceptor_.is_open()) self->Start();
                             });
                           });
  }
  void Close() {
    asio::post(acceptor_.get_executor(), [self = shared_from_this()] {
      beast::error_code ignored;
      self->acceptor_.close(ignored);
    });
  }
  tcp::endpoint LocalEndpoint() const {
    beast::error_code ec;
    return acceptor_.local_endpoint(ec);
  }

 private:
  Server& server_;
  tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
};

Server::Server(asio::io_context& io, HttpHandler& http, IoContextPool* connection_loops)
    : io_(io), connection_loops_(connection_loops), http_(http), sweep_timer_(io) {}

asio::io_context& Server::ConnectionLoop() { return connection_loops_ != nullptr ? connection_loops_->Next() : io_; }
Server::~Server() = default;

void Server::AddWebSocketRoute(std::string path, WebSocketAcceptor acceptor) {
  websocket_routes_[std::move(path)] = std::move(acceptor);
}

void Server::AddStreamRoute(std::string path, StreamRoute route, size_t max_body_bytes) {
  stream_routes_[std::move(path)] = {std::move(route), max_body_bytes};
}

Status Server::Listen(const std::vector<ListenEndpoint>& endpoints) {
  for (const auto& listen : endpoints) {
    beast::error_code ec;
    tcp::acceptor acceptor(io_);
    acceptor.open(listen.endpoint.protocol(), ec);
    if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec && listen.endpoint.address().is_v6()) acceptor.set_option(asio::ip::v6_only(!listen.dual_stack), ec);
    if (!ec) acceptor.bind(listen.endpoint, ec);
    if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec && listen.optional) {
      Log()->warn("Skipping {} ({}): {}", listen.url, listen.endpoint.address().to_string(), ec.message());
      continue;
    }
    if (ec) {
      return Status::Error(fmt::format("Failed to bind to address {} ({}:{}): {}.", listen.url,
                                       listen.endpoint.address().to_string(), listen.endpoint.port(), ec.message()));
    }
    auto entry = std::make_shared<Acceptor>(*this, std::move(acceptor));
    acceptors_.push_back(entry);
  }
  for (auto& acceptor : acceptors_) acceptor->Start();
  ScheduleSweep();
  return Status::Ok();
}

void Server::ScheduleSweep() {
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || !SweepConnections()) return;
    ScheduleSweep();
  });
}

bool Server::SweepConnections() {
  std::vector<std::shared_ptr<LiveConnection>> connections;
  {
    std::lock_guard lock(live_mutex_);
    if (stopping_) return false;
    connections.reserve(live_.size());
    for (auto& [id, weak] : live_) {
      if (auto connection = weak.lock()) connections.push_back(std::move(connection));
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (auto& connection : connections) connection->Sweep(now);
  return true;
}

std::vector<tcp::endpoint> Server::BoundEndpoints() const {
  std::vector<tcp::endpoint> bound;
  for (const auto& acceptor : acceptors_) bound.push_back(acceptor->LocalEndpoint());
  return bound;
}

void Server::Stop() {
  std::vector<std::shared_ptr<LiveConnection>> connections;
  {
    std::lock_guard lock(live_mutex_);
    stopping_ = true;
    for (auto& [id, weak] : live_) {
      if (auto connection = weak.lock()) connections.push_back(std::move(connection));
    }
  }
  for (auto& acceptor : acceptors_) acceptor->Close();
  for (auto& connection : connections) connection->Shutdown();
}

size_t Server::LiveConnectionCount() const {
  std::lock_guard lock(live_mutex_);
  return live_.size();
}

uint64_t Server::Register(std::weak_ptr<LiveConnection> connection) {
  bool stopping;
  uint64_t id;
  {
    std::lock_guard lock(live_mutex_);
    id = next_id_++;
    live_.emplace(id, connection);
    stopping = stopping_;
  }
  if (stopping) {
    if (auto live = connection.lock()) live->Shutdown();
  }
  return id;
}

void Server::Unregister(uint64_t id) {
  std::lock_guard lock(live_mutex_);
  live_.erase(id);
}

void Server::HandleSocket(tcp::socket socket) {
  auto executor = socket.get_executor();
  // A member coroutine, not a capturing lambda: a lambda's captures die with the closure before
  // the coroutine first runs; parameters are moved into the coroutine frame.
  asio::co_spawn(executor, Serve(std::move(socket)), asio::detached);
}

asio::awaitable<void> Server::Serve(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  // Read until the bytes either diverge from the HTTP/2 preface or complete it.
  stream.expires_after(kHttp1IdleTimeout);
  bool http2 = false;
  while (true) {
    const auto data = buffer.cdata();
    const std::string_view seen(static_cast<const char*>(data.data()), data.size());
    const size_t n = std::min(seen.size(), kHttp2Preface.size());
    if (seen.substr(0, n) != kHttp2Preface.substr(0, n)) break;
    if (n == kHttp2Preface.size()) {
      http2 = true;
      break;
    }
    auto [ec, read] = co_await stream.async_read_some(buffer.prepare(4096), kUseTuple);
    if (ec) co_return;
    buffer.commit(read);
  }
  if (http2) {
    stream.expires_never();
    auto connection = std::make_shared<Http2Connection>(std::move(stream), http_, *this);
    const auto data = buffer.cdata();
    connection->Start(std::string(static_cast<const char*>(data.data()), data.size()));
    co_return;
  }

  auto live = std::make_shared<Http1Connection>(stream);
  struct Registration {
    Server& server;
    uint64_t id;
    std::shared_ptr<Http1Connection> live;
    ~Registration() {
      live->Detach();
      server.Unregister(id);
    }
  };
  auto registration = std::make_shared<Registration>(Registration{*this, Register(live), live});

  while (true) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(kMaxHttp1Body);
    stream.expires_after(kHttp1IdleTimeout);
    auto [ec, ignored] = co_await http::async_read_header(stream, buffer, parser, kUseTuple);
    const StreamRoute* stream_route = nullptr;
    if (!ec) {
      if (auto found = stream_routes_.find(SplitTarget(parser.get().target()).first); found != stream_routes_.end()) {
        stream_route = &found->second.first;
        parser.body_limit(found->second.second);
      }
      if (!parser.is_done()) std::tie(ec, ignored) = co_await http::async_read(stream, buffer, parser, kUseTuple);
    }
    if (ec) {
      if (ec != http::error::end_of_stream && ec != asio::error::eof && ec != beast::error::timeout &&
          ec != asio::error::operation_aborted && ec != asio::error::connection_reset) {
        http::response<http::empty_body> bad{http::status::bad_request, 11};
        bad.set(http::field::connection, "close");
        bad.prepare_payload();
        co_await http::async_write(stream, bad, kUseTuple);
      }
      break;
    }
    auto request = parser.release();
    if (stream_route) {
      // The handler may keep the connection for minutes (a long poll) or take it over: shutdown
      // is its business meanwhile.
      live->Detach();
      const auto result = co_await (*stream_route)(stream, request);
      if (result == StreamRouteResult::kTakenOver) co_return;
      if (result == StreamRouteResult::kClose) break;
      live->Reattach();
      {
        std::lock_guard lock(live_mutex_);
        if (stopping_) break;
      }
      continue;
    }
    auto [path, query] = SplitTarget(request.target());
    auto route = websocket_routes_.find(path);
    if (route != websocket_routes_.end() && beast::websocket::is_upgrade(request)) {
      stream.expires_never();
      live->Detach();
      route->second(std::move(stream), std::move(request), std::move(registration));
      co_return;
    }
    HttpResponse response;
    if (route != websocket_routes_.end()) {
      response.status = 400;  // a WebSocket endpoint reached without an upgrade (wire-protocol §4.1)
    } else {
      HttpRequest plain{std::string(request.method_string()), std::move(path), std::move(query)};
      response = co_await AwaitCallback<HttpResponse>(
          [&](std::function<void(HttpResponse)> respond) { http_.Handle(plain, std::move(respond)); });
    }
    http::response<http::string_body> reply{static_cast<http::status>(response.status), request.version()};
    reply.set(http::field::server, "OpStream");
    if (!response.content_type.empty()) reply.set(http::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) reply.set(name, value);
    if (request.method() != http::verb::head) reply.body() = std::move(response.body);
    reply.keep_alive(request.keep_alive());
    reply.prepare_payload();
    if (request.method() == http::verb::head) reply.content_length(response.body.size());
    auto [write_ec, written] = co_await http::async_write(stream, reply, kUseTuple);
    if (write_ec || !reply.keep_alive()) break;
  }
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace opstream::net
