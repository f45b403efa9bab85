#include "transports/signalr/signalr_endpoint.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <random>

#include "common/io_context_pool.hpp"
#include "common/logging.hpp"
#include "net/await.hpp"
#include "transports/signalr/hub_websocket.hpp"

namespace opstream::transports::signalr {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

namespace {

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Transport.SignalR");
  return logger;
}

constexpr std::string_view kAvailableTransports =
    R"("availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},)"
    R"({"transport":"ServerSentEvents","transferFormats":["Text"]},)"
    R"({"transport":"LongPolling","transferFormats":["Text","Binary"]}])";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && HexValue(text[i + 1]) >= 0 && HexValue(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i] == '+' ? ' ' : text[i]);
    }
  }
  return out;
}

// The first value of query parameter `name` (decoded), if present.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) return PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

asio::awaitable<net::StreamRouteResult> Respond(beast::tcp_stream& stream, const net::UpgradeRequest& request,
                                                http::status status, std::string_view content_type, std::string body) {
  http::response<http::string_body> response{status, request.version()};
  response.set(http::field::server, "OpStream");
  if (!content_type.empty()) response.set(http::field::content_type, content_type);
  // The negotiate route takes POST only; the connection route GET, POST and DELETE.
  if (status == http::status::method_not_allowed) {
    response.set(http::field::allow,
                 request.target().find("/negotiate") != beast::string_view::npos ? "POST" : "GET, POST, DELETE");
  }
  response.body() = std::move(body);
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  stream.expires_after(std::chrono::seconds(30));
  auto [ec, written] = co_await http::async_write(stream, response, net::kUseTuple);
  if (ec || !response.keep_alive()) co_return net::StreamRouteResult::kClose;
  co_return net::StreamRouteResult::kKeepAlive;
}

asio::awaitable<net::StreamRouteResult> RespondText(beast::tcp_stream& stream, const net::UpgradeRequest& request,
                                                    http::status status, std::string_view text) {
  return Respond(stream, request, status, "text/plain", std::string(text));
}

// The Server-Sent Events transport (server to client half). The stream is never reused, so it
// is owned here; a watcher notices the client going away while nothing is written.
asio::awaitable<void> RunEventStream(std::shared_ptr<HubConnection> connection, beast::tcp_stream stream,
                                     unsigned version) {
  auto shared_stream = std::make_shared<beast::tcp_stream>(std::move(stream));
  shared_stream->expires_never();
  http::response<http::empty_body> response{http::status::ok, version};
  response.set(http::field::server, "OpStream");
  response.set(http::field::content_type, "text/event-stream");
  response.set(http::field::cache_control, "no-cache,no-store");
  response.set(http::field::pragma, "no-cache");
  response.set(http::field::content_encoding, "identity");
  response.chunked(true);
  http::response_serializer<http::empty_body> serializer{response};
  auto [header_ec, header_written] = co_await http::async_write_header(*shared_stream, serializer, net::kUseTuple);
  static constexpr std::string_view kPreamble = ":\r\n";
  if (!header_ec) {
    std::tie(header_ec, header_written) = co_await asio::async_write(
        *shared_stream, http::make_chunk(asio::buffer(kPreamble.data(), kPreamble.size())), net::kUseTuple);
  }
  if (header_ec) {
    connection->Abort();
    co_return;
  }
  asio::co_spawn(
      shared_stream->get_executor(),
      [connection, shared_stream]() -> asio::awaitable<void> {
        char scratch[512];
        while (true) {
          auto [ec, n] = co_await shared_stream->async_read_some(asio::buffer(scratch), net::kUseTuple);
          if (ec) break;
        }
        connection->Abort();
      },
      asio::detached);
  static constexpr std::string_view kDataPrefix = "data: ";
  static constexpr std::string_view kEventEnd = "\r\n\r\n";
  while (true) {
    auto output = co_await connection->NextOutput(std::chrono::hours(24));
    if (output.status == HubConnection::Output::Status::kTimeout) continue;
    if (output.status == HubConnection::Output::Status::kEnd) break;
    // JSON records contain no raw line breaks, so a batch is one `data:` line.
    std::vector<asio::const_buffer> buffers;
    buffers.reserve(output.buffers.size() + 2);
    buffers.emplace_back(kDataPrefix.data(), kDataPrefix.size());
    buffers.insert(buffers.end(), output.buffers.begin(), output.buffers.end());
    buffers.emplace_back(kEventEnd.data(), kEventEnd.size());
    auto [ec, written] = co_await asio::async_write(*shared_stream, http::make_chunk(buffers), net::kUseTuple);
    if (ec) {
      connection->Abort();
      break;
    }
  }
  co_await asio::async_write(*shared_stream, http::make_chunk_last(), net::kUseTuple);
  beast::error_code ignored;
  shared_stream->socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

}  // namespace

std::string NewConnectionId() {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  // Tokens are secrets: every byte comes from the operating system's generator.
  thread_local std::random_device device;
  std::array<uint8_t, 18> bytes{};  // 16 random bytes, padded to whole 3-byte groups
  for (size_t i = 0; i < 16; i += 4) {
    const uint32_t v = device();
    for (size_t j = 0; j < 4; ++j) bytes[i + j] = static_cast<uint8_t>(v >> (8 * j));
  }
  std::string out;
  out.reserve(24);
  for (size_t i = 0; i < bytes.size(); i += 3) {
    const uint32_t v = (uint32_t{bytes[i]} << 16) | (uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  out.resize(22);  // 128 bits
  return out;
}

SignalREndpoint::SignalREndpoint(asio::io_context& io, net::Server& server, Hub& hub, std::string path,
                                 const SignalROptions& options)
    : io_(io), server_(server), hub_(hub), path_(std::move(path)), options_(options), websocket_options_([&options] {
        net::websocket::ChannelOptions channel;
        // Records are bounded by the RecordReader across messages; a message may also hold a
        // maximal record's neighbours. Larger messages are closed with 1009.
        channel.max_message_bytes = 2 * options.max_record_bytes + 64 * 1024;
        channel.max_queued_bytes = options.max_queued_bytes;
        channel.write_context = options.write_context;
        channel.flush_pacer = options.flush_pacer;
        channel.fanout_pacer = options.fanout_pacer;
        return channel;
      }()) {}

void SignalREndpoint::Register() {
  auto route = [this](beast::tcp_stream& stream, net::UpgradeRequest& request) { return Handle(stream, request); };
  // Client sends carry whole records; one may hold a maximal record plus its neighbours.
  const size_t max_body = options_.max_record_bytes + 64 * 1024;
  server_.AddStreamRoute(path_, route, max_body);
  server_.AddStreamRoute(path_ + "/negotiate", route, 64 * 1024);
}

size_t SignalREndpoint::ConnectionCount() const {
  std::lock_guard lock(mutex_);
  return connections_.size();
}

std::shared_ptr<HubConnection> SignalREndpoint::NewConnection(std::string connection_id, std::string token) {
  // On the loop of the request that opens it, so that connections spread over the worker loops.
  asio::io_context* const loop = IoContextPool::CurrentLoop();
  auto connection = std::make_shared<HubConnection>(loop != nullptr ? *loop : io_, std::move(connection_id), hub_,
                                                    server_, options_, [this, token](const HubConnection&) {
                                                      std::lock_guard lock(mutex_);
                                                      connections_.erase(token);
                                                    });
  {
    std::lock_guard lock(mutex_);
    connections_[token] = connection;
  }
  Log()->debug("SignalR connection {} created on {}", connection->connection_id(), path_);
  connection->Start();
  return connection;
}

std::shared_ptr<HubConnection> SignalREndpoint::Find(const std::string& token) const {
  std::lock_guard lock(mutex_);
  auto it = connections_.find(token);
  return it == connections_.end() ? nullptr : it->second;
}

asio::awaitable<net::StreamRouteResult> SignalREndpoint::Negotiate(beast::tcp_stream& stream,
                                                                   net::UpgradeRequest& request,
                                                                   std::string_view query) {
  if (request.method() != http::verb::post) {
    co_return co_await RespondText(stream, request, http::status::method_not_allowed, "");
  }
  int64_t version = 0;
  if (auto text = QueryValue(query, "negotiateVersion")) {
    try {
      version = std::stoll(*text);
    } catch (const std::exception&) {
      version = 0;
    }
  }
  version = std::clamp<int64_t>(version, 0, 1);
  auto connection_id = NewConnectionId();
  std::string body = fmt::format(R"({{"negotiateVersion":{},"connectionId":"{}",)", version, connection_id);
  std::string token = connection_id;
  if (version >= 1) {
    token = NewConnectionId();
    body += fmt::format(R"("connectionToken":"{}",)", token);
  }
  body += kAvailableTransports;
  body += '}';
  NewConnection(std::move(connection_id), std::move(token));
  co_return co_await Respond(stream, request, http::status::ok, "application/json", std::move(body));
}

asio::awaitable<net::StreamRouteResult> SignalREndpoint::Handle(beast::tcp_stream& stream,
                                                                net::UpgradeRequest& request) {
  const std::string_view target = request.target();
  const auto q = target.find('?');
  const std::string_view path = target.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : target.substr(q + 1);
  if (path != path_) co_return co_await Negotiate(stream, request, query);

  const auto token = QueryValue(query, "id");
  if (websocket::is_upgrade(request)) {
    std::shared_ptr<HubConnection> connection;
    if (!token) {
      // skipNegotiation: a fresh connection whose ids are never disclosed.
      auto id = NewConnectionId();
      connection = NewConnection(id, NewConnectionId());
    } else if (connection = Find(*token); !connection) {
      co_return co_await RespondText(stream, request, http::status::not_found, "No Connection with that ID");
    }
    if (!connection->Attach(TransportType::kWebSockets)) {
      const bool same = connection->transport() == TransportType::kWebSockets;
      co_return co_await RespondText(
          stream, request, same ? http::status::conflict : http::status::bad_request,
          same ? "Connection already has a transport" : "Cannot change transports mid-connection");
    }
    stream.expires_never();
    HubWebSocket::Accept(std::move(stream), std::move(request), std::move(connection), server_, websocket_options_);
    co_return net::StreamRouteResult::kTakenOver;
  }
  if (!token) co_return co_await RespondText(stream, request, http::status::bad_request, "Connection ID required");
  auto connection = Find(*token);
  if (!connection)
    co_return co_await RespondText(stream, request, http::status::not_found, "No Connection with that ID");

  switch (request.method()) {
    case http::verb::get: {
      const std::string_view accept = request[http::field::accept];
      if (accept.find("text/event-stream") != std::string_view::npos) {
        if (!connection->Attach(TransportType::kServerSentEvents)) {
          const bool same = connection->transport() == TransportType::kServerSentEvents;
          co_return co_await RespondText(stream, request, same ? http::status::conflict : http::status::bad_request,
                                         "Cannot change transports mid-connection");
        }
        asio::co_spawn(stream.get_executor(), RunEventStream(connection, std::move(stream), request.version()),
                       asio::detached);
        co_return net::StreamRouteResult::kTakenOver;
      }
      if (connection->Attach(TransportType::kLongPolling)) {
        // The first poll only establishes the transport (the client requires an empty 200).
        co_return co_await Respond(stream, request, http::status::ok, "", "");
      }
      if (connection->transport() != TransportType::kLongPolling) {
        co_return co_await RespondText(stream, request, http::status::bad_request,
                                       "Cannot change transports mid-connection");
      }
      stream.expires_never();
      connection->BeginPoll();
      bool superseded = false;
      auto output = co_await connection->NextOutput(options_.long_poll_timeout, &superseded);
      connection->EndPoll();
      switch (output.status) {
        case HubConnection::Output::Status::kData: {
          std::string body;
          body.reserve(output.size);
          for (const auto& buffer : output.buffers) body.append(static_cast<const char*>(buffer.data()), buffer.size());
          co_return co_await Respond(stream, request, http::status::ok, "application/octet-stream", std::move(body));
        }
        case HubConnection::Output::Status::kTimeout:
          co_return co_await Respond(stream, request, http::status::ok, "", "");
        case HubConnection::Output::Status::kEnd:
          co_return co_await Respond(stream, request, http::status::no_content, "", "");
      }
      co_return net::StreamRouteResult::kClose;
    }
    case http::verb::post: {
      const auto transport = connection->transport();
      if (transport == TransportType::kWebSockets) {
        co_return co_await RespondText(stream, request, http::status::method_not_allowed,
                                       "POST requests are not allowed for WebSocket connections.");
      }
      if (transport == TransportType::kNone) {
        co_return co_await RespondText(stream, request, http::status::bad_request, "No transport is attached yet.");
      }
      if (!connection->TryBeginReceive()) {
        co_return co_await RespondText(stream, request, http::status::conflict, "Another send request is in progress.");
      }
      co_await connection->Receive(request.body());
      connection->EndReceive();
      co_return co_await Respond(stream, request, http::status::ok, "", "");
    }
    case http::verb::delete_:
      if (connection->transport() != TransportType::kLongPolling) {
        co_return co_await RespondText(stream, request, http::status::bad_request,
                                       "Cannot terminate this connection using the DELETE endpoint.");
      }
      connection->Abort();
      co_return co_await Respond(stream, request, http::status::accepted, "", "");
    default:
      co_return co_await RespondText(stream, request, http::status::method_not_allowed, "");
  }
}

}  // namespace opstream::transports::signalr
