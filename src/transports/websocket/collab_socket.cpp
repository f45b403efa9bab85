#include "transports/websocket/collab_socket.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/websocket/stream.hpp>

#include "common/ids.hpp"
#include "common/logging.hpp"
#include "net/await.hpp"
#include "transports/websocket/envelope.hpp"

namespace opstream::transports::websocket {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ws = beast::websocket;

namespace {

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Transport.WebSockets");
  return logger;
}

size_t EstimateSize(const session::Outbound& message) {
  struct Visitor {
    size_t operator()(const session::JoinResponse& m) const { return 128 + m.snapshot.size() * 4 / 3; }
    size_t operator()(const session::OpResponse&) const { return 128; }
    size_t operator()(const session::ErrorResponse& m) const { return 96 + m.message.size(); }
    size_t operator()(const std::shared_ptr<const session::OpEvent>& m) const { return 96 + m->payload.size() * 4 / 3; }
    size_t operator()(const std::shared_ptr<const session::AwarenessEvent>& m) const {
      return 160 + m->state.data_json.size();
    }
    size_t operator()(const std::shared_ptr<const session::PeerLeftEvent>&) const { return 128; }
  };
  return std::visit(Visitor{}, message);
}

}  // namespace

void CollabSocket::Accept(beast::tcp_stream stream, net::UpgradeRequest request, session::DocumentRouter& router,
                          net::Server& server, const CollabSocketOptions& options) {
  auto socket = std::make_shared<CollabSocket>(std::move(stream), router, server, options);
  socket->live_id_ = server.Register(std::static_pointer_cast<net::LiveConnection>(socket));
  asio::co_spawn(socket->ws_.get_executor(), Run(socket, std::move(request)), asio::detached);
}

CollabSocket::CollabSocket(beast::tcp_stream stream, session::DocumentRouter& router, net::Server& server,
                           const CollabSocketOptions& options)
    : session::Connection(NewUuid(), session::TransportKind::kWebSocket),
      ws_(std::move(stream)),
      router_(router),
      server_(server),
      options_(options),
      wake_(ws_.get_executor()) {}

CollabSocket::~CollabSocket() { server_.Unregister(live_id_); }

void CollabSocket::Send(session::Outbound message) {
  std::lock_guard lock(queue_mutex_);
  if (closing_) return;
  queued_bytes_ += EstimateSize(message);
  if (queued_bytes_ > options_.max_queued_bytes) {
    // A reader this slow would hold memory without bound: drop it, never slow the document.
    closing_ = true;
    queue_.clear();
    close_reason_ = ws::close_reason(ws::close_code::policy_error, "Outbound queue limit exceeded");
  } else {
    queue_.push_back(std::move(message));
  }
  if (writer_waiting_) {
    writer_waiting_ = false;
    asio::post(ws_.get_executor(), [self = self()] { self->wake_.cancel(); });
  }
}

void CollabSocket::Shutdown() { Close(ws::close_code::going_away, "Server shutting down"); }

void CollabSocket::Close(ws::close_code code, std::string_view reason) {
  std::lock_guard lock(queue_mutex_);
  if (closing_) return;
  closing_ = true;
  close_reason_ = ws::close_reason(code, beast::string_view(reason.data(), std::min<size_t>(reason.size(), 120)));
  if (writer_waiting_) {
    writer_waiting_ = false;
    asio::post(ws_.get_executor(), [self = self()] { self->wake_.cancel(); });
  }
}

asio::awaitable<void> CollabSocket::Run(std::shared_ptr<CollabSocket> self, net::UpgradeRequest request) {
  self->ws_.set_option(ws::stream_base::timeout{std::chrono::seconds(30), std::chrono::seconds(120), true});
  self->ws_.set_option(ws::stream_base::decorator(
      [](ws::response_type& response) { response.set(beast::http::field::server, "OpStream"); }));
  // The size limit is enforced here rather than by Beast: Beast fails the connection at once, and
  // a client still sending the rest of its message then often sees a reset instead of 1009. We
  // start a clean close handshake and keep discarding input until the client answers it.
  self->ws_.read_message_max(0);
  auto [accept_ec] = co_await self->ws_.async_accept(request, net::kUseTuple);
  if (accept_ec) co_return;

  asio::co_spawn(self->ws_.get_executor(), WriteLoop(self), asio::detached);
  beast::flat_buffer buffer;
  bool discarding = false;
  while (true) {
    buffer.clear();
    boost::system::error_code ec;
    do {
      auto [read_ec, n] = co_await self->ws_.async_read_some(buffer, 64 * 1024, net::kUseTuple);
      ec = read_ec;
      if (!ec && buffer.size() > self->options_.max_message_bytes) {
        if (!discarding) {
          Log()->info("Peer {} sent a message over the size limit", self->peer_id());
          self->Close(ws::close_code::too_big, "Message too big");
          discarding = true;
        }
        buffer.clear();
      }
    } while (!ec && !self->ws_.is_message_done());
    if (ec) break;
    if (discarding) continue;
    const auto data = buffer.cdata();
    co_await self->Handle(std::string_view(static_cast<const char*>(data.data()), data.size()));
  }
  {
    std::lock_guard lock(self->queue_mutex_);
    self->closing_ = true;
    if (self->writer_waiting_) {
      self->writer_waiting_ = false;
      self->wake_.cancel();
    }
  }
  self->router_.Disconnect(self);
}

asio::awaitable<void> CollabSocket::Handle(std::string_view text) {
  auto message = DecodeInbound(text);
  auto connection = shared_from_this();
  switch (message.kind) {
    case InboundMessage::Kind::kIgnored:
      co_return;
    case InboundMessage::Kind::kInvalid:
      Send(session::ErrorResponse{std::move(message.correlation), std::move(message.error)});
      co_return;
    case InboundMessage::Kind::kComment:
      Send(session::ErrorResponse{std::move(message.correlation), "Comments are not available on this server."});
      co_return;
    case InboundMessage::Kind::kJoin:
      co_await net::AwaitCallback<bool>([&](std::function<void(bool)> done) {
        router_.Join(connection, std::move(message.correlation), std::move(message.document_id),
                     std::move(message.document_type), message.protocol_version, std::move(done));
      });
      co_return;
    case InboundMessage::Kind::kOp:
      co_await net::AwaitCallback<bool>([&](std::function<void(bool)> done) {
        router_.SubmitOp(connection, std::move(message.correlation), std::move(message.document_id),
                         std::move(message.payload), message.base_revision, std::move(done));
      });
      co_return;
    case InboundMessage::Kind::kAwareness:
      // Awareness has no response; only unparsable presence JSON is reported (wire-protocol §4.5).
      co_await net::AwaitCallback<bool>([&](std::function<void(bool)> done) {
        router_.UpdateAwareness(connection, std::move(message.correlation), std::move(message.document_id),
                                message.data_json, false, std::move(done));
      });
      co_return;
  }
}

asio::awaitable<void> CollabSocket::WriteLoop(std::shared_ptr<CollabSocket> self) {
  std::string scratch;
  while (true) {
    std::optional<session::Outbound> next;
    std::optional<ws::close_reason> close;
    bool finished = false;
    {
      std::lock_guard lock(self->queue_mutex_);
      if (!self->queue_.empty()) {
        next = std::move(self->queue_.front());
        self->queue_.pop_front();
        self->queued_bytes_ -= std::min(self->queued_bytes_, EstimateSize(*next));
      } else if (self->closing_) {
        // Closing: send our close frame if we initiated it; a peer's close was answered by Beast.
        close = self->close_reason_;
        finished = true;
      } else {
        self->writer_waiting_ = true;
        self->wake_.expires_at(asio::steady_timer::time_point::max());
      }
    }
    if (!next && !finished) {
      bool waiting;
      {
        std::lock_guard lock(self->queue_mutex_);
        waiting = self->writer_waiting_;
      }
      if (waiting) co_await self->wake_.async_wait(net::kUseTuple);
      continue;
    }
    if (finished) {
      if (close) co_await self->ws_.async_close(*close, net::kUseTuple);
      co_return;
    }
    // Shared events are encoded once per transport and written from the cache.
    const std::string* bytes = &scratch;
    scratch.clear();
    std::visit(
        [&](const auto& m) {
          using T = std::decay_t<decltype(m)>;
          if constexpr (std::is_same_v<T, session::JoinResponse>) {
            EncodeJoinResponse(m, self->peer_id(), scratch);
          } else if constexpr (std::is_same_v<T, session::OpResponse>) {
            EncodeOpResponse(m, scratch);
          } else if constexpr (std::is_same_v<T, session::ErrorResponse>) {
            EncodeErrorResponse(m, scratch);
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::OpEvent>>) {
            bytes = &m->encodings.Get(session::TransportKind::kWebSocket, [&] {
              std::string encoded;
              EncodeOpEvent(*m, encoded);
              return encoded;
            });
          } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::AwarenessEvent>>) {
            bytes = &m->encodings.Get(session::TransportKind::kWebSocket, [&] {
              std::string encoded;
              EncodeAwarenessEvent(*m, encoded);
              return encoded;
            });
          } else {
            bytes = &m->encodings.Get(session::TransportKind::kWebSocket, [&] {
              std::string encoded;
              EncodePeerLeftEvent(*m, encoded);
              return encoded;
            });
          }
        },
        *next);
    self->ws_.text(true);
    // `next` keeps a shared event (and so the cached bytes) alive across the write.
    auto [ec, written] = co_await self->ws_.async_write(asio::buffer(*bytes), net::kUseTuple);
    if (ec) {
      std::lock_guard lock(self->queue_mutex_);
      self->closing_ = true;
      self->queue_.clear();
      co_return;
    }
  }
}

}  // namespace opstream::transports::websocket
