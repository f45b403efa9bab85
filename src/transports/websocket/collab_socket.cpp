#include "transports/websocket/collab_socket.hpp"

#include <utility>

#include "common/ids.hpp"
#include "common/io_context_pool.hpp"
#include "common/logging.hpp"
#include "transports/websocket/envelope.hpp"

namespace opstream::transports::websocket {
namespace ws = net::websocket;

namespace {

// Envelope text is built in a per-thread buffer, then copied behind its frame header.
template <typename Encode>
std::string EncodeFrame(Encode&& encode) {
  thread_local std::string body;
  body.clear();
  encode(body);
  std::string frame;
  frame.reserve(body.size() + ws::kMaxServerHeaderBytes);
  ws::AppendFrame(frame, ws::Opcode::kText, body);
  if (body.capacity() > 64 * 1024) std::string().swap(body);
  return frame;
}

// A broadcast event's frame is encoded once and shared by every raw WebSocket receiver.
template <typename Event, typename Encode>
ws::OutboundFrame SharedFrame(const std::shared_ptr<const Event>& event, Encode encode) {
  const std::string& bytes = event->encodings.Get(
      session::TransportKind::kWebSocket, [&] { return EncodeFrame([&](std::string& out) { encode(*event, out); }); });
  return ws::OutboundFrame{event, bytes.data(), bytes.size()};
}

ws::OutboundFrame OpEventFrame(const std::shared_ptr<const session::OpEvent>& event) {
  return SharedFrame(event, [](const auto& e, std::string& out) { EncodeOpEvent(e, out); });
}

}  // namespace

void CollabSocket::Accept(boost::beast::tcp_stream stream, net::UpgradeRequest request, net::UpgradeHold hold,
                          session::DocumentRouter& router, net::Server& server, const CollabSocketOptions& options) {
  ws::AcceptHandshake(std::move(stream), std::move(request), std::move(hold),
                      [&router, &server, &options](boost::asio::ip::tcp::socket socket) {
                        auto connection = std::make_shared<CollabSocket>(std::move(socket), router, server, options);
                        connection->live_id_ = server.Register(std::static_pointer_cast<net::LiveConnection>(
                            std::static_pointer_cast<ws::Channel>(connection)));
                        connection->StartReading();
                      });
}

CollabSocket::CollabSocket(boost::asio::ip::tcp::socket socket, session::DocumentRouter& router, net::Server& server,
                           const CollabSocketOptions& options)
    : session::Connection(NewUuid(), session::TransportKind::kWebSocket),
      ws::Channel(std::move(socket), options),
      router_(router),
      server_(server) {}

CollabSocket::~CollabSocket() { server_.Unregister(live_id_); }

void CollabSocket::Send(session::Outbound message) {
  // Responses go out at once; broadcasts are gathered per receiver: until the end of the
  // document's batch (SendBatch), or while a flush is pending.
  const bool response = session::IsResponse(message);
  ws::OutboundFrame frame = std::visit(
      [&](const auto& m) -> ws::OutboundFrame {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, session::JoinResponse>) {
          return ws::OutboundFrame::Own(EncodeFrame([&](std::string& out) { EncodeJoinResponse(m, peer_id(), out); }));
        } else if constexpr (std::is_same_v<T, session::OpResponse>) {
          return ws::OutboundFrame::Own(EncodeFrame([&](std::string& out) { EncodeOpResponse(m, out); }));
        } else if constexpr (std::is_same_v<T, session::ErrorResponse>) {
          return ws::OutboundFrame::Own(EncodeFrame([&](std::string& out) { EncodeErrorResponse(m, out); }));
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::OpEvent>>) {
          return OpEventFrame(m);
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::AwarenessEvent>>) {
          return SharedFrame(m, [](const auto& e, std::string& out) { EncodeAwarenessEvent(e, out); });
        } else {
          return SharedFrame(m, [](const auto& e, std::string& out) { EncodePeerLeftEvent(e, out); });
        }
      },
      message);
  using Mode = ws::Channel::WriteMode;
  if (session::SendBatch::Active()) {
    if (Enqueue(std::move(frame), response ? Mode::kHeldBackResponse : Mode::kHeldBack) ==
        ws::Channel::EnqueueResult::kHeldBackFirst) {
      session::SendBatch::HoldBack(shared_from_this());
    }
  } else {
    Enqueue(std::move(frame), response ? Mode::kUrgent : Mode::kSoon);
  }
}

void CollabSocket::SendOps(std::span<const std::shared_ptr<const session::OpEvent>> events) {
  thread_local std::vector<ws::OutboundFrame> frames;
  frames.clear();
  for (const auto& event : events) frames.push_back(OpEventFrame(event));
  using Mode = ws::Channel::WriteMode;
  const bool batch = session::SendBatch::Active();
  if (EnqueueAll(frames, batch ? Mode::kHeldBack : Mode::kSoon) == ws::Channel::EnqueueResult::kHeldBackFirst) {
    session::SendBatch::HoldBack(shared_from_this());
  }
  frames.clear();
}

bool CollabSocket::OnMessage(std::string_view payload, bool /*is_text*/) {
  // Binary messages carry the same JSON envelope (wire-protocol §4.2).
  auto message = DecodeInbound(payload);
  auto connection = shared_from_this();
  auto resume = [self = self()](bool) { self->ResumeReading(); };
  switch (message.kind) {
    case InboundMessage::Kind::kIgnored:
      return true;
    case InboundMessage::Kind::kInvalid:
      Send(session::ErrorResponse{std::move(message.correlation), std::move(message.error)});
      return true;
    case InboundMessage::Kind::kComment:
      Send(session::ErrorResponse{std::move(message.correlation), "Comments are not available on this server."});
      return true;
    case InboundMessage::Kind::kJoin: {
      // The join completes on the document's event loop. The socket then reads there too, so that
      // its ops reach the document without a hand-over between threads (one busy document: about
      // a fifth less server CPU per op, bench/README.md). Only the first document it could move to.
      auto joined = [self = self()](bool success) {
        boost::asio::io_context* const loop =
            success && !self->followed_document_.load() ? IoContextPool::CurrentLoop() : nullptr;
        if (self->ResumeReading(loop)) self->followed_document_.store(true);
      };
      router_.Join(std::move(connection), std::move(message.correlation), std::move(message.document_id),
                   std::move(message.document_type), message.protocol_version, std::move(joined));
      return false;
    }
    case InboundMessage::Kind::kOp:
      router_.SubmitOp(std::move(connection), std::move(message.correlation), std::move(message.document_id),
                       std::move(message.payload), message.base_revision, std::move(resume));
      return false;
    case InboundMessage::Kind::kAwareness:
      // Awareness has no response; only unparsable presence JSON is reported (wire-protocol §4.5).
      router_.UpdateAwareness(std::move(connection), std::move(message.correlation), std::move(message.document_id),
                              message.data_json, false, std::move(resume));
      return false;
  }
  return true;
}

void CollabSocket::OnClosed() { router_.Disconnect(shared_from_this()); }

}  // namespace opstream::transports::websocket
