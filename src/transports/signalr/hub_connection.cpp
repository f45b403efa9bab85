#include "transports/signalr/hub_connection.hpp"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>

#include "common/logging.hpp"
#include "net/await.hpp"
#include "net/websocket_channel.hpp"

namespace opstream::transports::signalr {
namespace asio = boost::asio;
namespace ws = net::websocket;

namespace {

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Transport.SignalR");
  return logger;
}

constexpr std::string_view kProtocolError = "Connection closed with an error.";
// A closing connection whose last records nobody collects (no poll pending) ends after this.
constexpr auto kClosingGrace = std::chrono::seconds(5);

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

const session::CorrelationId* CorrelationOf(const session::Outbound& message) {
  if (const auto* join = std::get_if<session::JoinResponse>(&message)) return &join->correlation;
  if (const auto* op = std::get_if<session::OpResponse>(&message)) return &op->correlation;
  if (const auto* error = std::get_if<session::ErrorResponse>(&message)) return &error->correlation;
  return nullptr;
}

ws::Opcode OpcodeOf(const HubProtocol& protocol) {
  return protocol.is_text() ? ws::Opcode::kText : ws::Opcode::kBinary;
}

// Records are written into a per-thread buffer, then copied once behind their frame header.
template <typename Write>
std::string Frame(const HubProtocol& protocol, Write&& write) {
  thread_local std::string body;
  body.clear();
  write(body);
  std::string frame;
  frame.reserve(body.size() + ws::kMaxServerHeaderBytes);
  ws::AppendFrame(frame, OpcodeOf(protocol), body);
  if (body.capacity() > 64 * 1024) std::string().swap(body);
  return frame;
}

// A response to this connection's own invocation, in the negotiated protocol.
void WriteResponse(const session::Outbound& message, const HubProtocol& protocol, std::string& out) {
  if (const auto* join = std::get_if<session::JoinResponse>(&message)) {
    protocol.WriteJoinResult(*join->correlation, *join, out);
  } else if (const auto* op = std::get_if<session::OpResponse>(&message)) {
    protocol.WriteOpResult(*op->correlation, *op, out);
  } else if (const auto* error = std::get_if<session::ErrorResponse>(&message)) {
    protocol.WriteCompletionError(*error->correlation, error->message, out);
  }
}

// A broadcast event is cached per protocol as one complete WebSocket frame holding its record:
// every WebSocket receiver of that protocol queues the same bytes, and SSE and long polling write
// the record inside (RecordOf), so one encoding serves all three transports.
const std::string& EventFrame(const session::Outbound& message, const HubProtocol& protocol) {
  return std::visit(
      [&](const auto& m) -> const std::string& {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, std::shared_ptr<const session::OpEvent>>) {
          return m->encodings.Get(protocol.cache_slot(), [&] {
            return Frame(protocol, [&](std::string& out) { protocol.WriteOpEvent(*m, out); });
          });
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::AwarenessEvent>>) {
          return m->encodings.Get(protocol.cache_slot(), [&] {
            return Frame(protocol, [&](std::string& out) { protocol.WriteAwarenessEvent(*m, out); });
          });
        } else if constexpr (std::is_same_v<T, std::shared_ptr<const session::PeerLeftEvent>>) {
          return m->encodings.Get(protocol.cache_slot(), [&] {
            return Frame(protocol, [&](std::string& out) { protocol.WritePeerLeftEvent(*m, out); });
          });
        } else {
          static const std::string kNone;  // responses are never shared
          return kNone;
        }
      },
      message);
}

// The record inside a frame built by Frame (server frames are unmasked, so only the length
// varies the header size).
std::string_view RecordOf(const std::string& frame) {
  const auto length7 = static_cast<uint8_t>(frame[1]) & 0x7F;
  const size_t header = length7 == 127 ? 10 : length7 == 126 ? 4 : 2;
  return std::string_view(frame).substr(header);
}

// The event that owns the bytes of EventFrame.
std::shared_ptr<const void> OwnerOf(const session::Outbound& message) {
  return std::visit(
      [](const auto& m) -> std::shared_ptr<const void> {
        if constexpr (std::is_convertible_v<decltype(m), std::shared_ptr<const void>>) {
          return m;
        } else {
          return nullptr;
        }
      },
      message);
}

}  // namespace

HubConnection::HubConnection(asio::io_context& io, std::string connection_id, Hub& hub, net::Server& server,
                             const SignalROptions& options, std::function<void(const HubConnection&)> on_end)
    : session::Connection(std::move(connection_id), session::TransportKind::kSignalRJson),
      strand_(asio::make_strand(io)),
      hub_(hub),
      server_(server),
      options_(options),
      on_end_(std::move(on_end)),
      reader_(options.max_record_bytes),
      timer_(strand_) {}

HubConnection::~HubConnection() {
  if (!ended_) server_.Unregister(live_id_);
}

void HubConnection::Start() {
  const uint64_t id = server_.Register(
      std::static_pointer_cast<net::LiveConnection>(std::static_pointer_cast<HubConnection>(shared_from_this())));
  {
    std::lock_guard lock(mutex_);
    live_id_ = id;
    if (!ended_) {
      asio::post(strand_,
                 [self = std::static_pointer_cast<HubConnection>(shared_from_this())] { self->ScheduleTimer(); });
      return;
    }
  }
  // A stopping server shuts the connection down inside Register, before its id was known.
  server_.Unregister(id);
}

bool HubConnection::Attach(TransportType transport) {
  std::lock_guard lock(mutex_);
  if (transport_ != TransportType::kNone || ended_) return false;
  transport_ = transport;
  attached_at_ = Clock::now();
  last_received_ = attached_at_;
  poll_idle_since_ = attached_at_;
  return true;
}

TransportType HubConnection::transport() const {
  std::lock_guard lock(mutex_);
  return transport_;
}

const HubProtocol& HubConnection::protocol() const {
  std::lock_guard lock(mutex_);
  return ProtocolOrJson();
}

bool HubConnection::ended() const {
  std::lock_guard lock(mutex_);
  return ended_;
}

bool HubConnection::TryBeginReceive() {
  std::lock_guard lock(mutex_);
  if (receiving_) return false;
  receiving_ = true;
  return true;
}

void HubConnection::EndReceive() {
  std::lock_guard lock(mutex_);
  receiving_ = false;
}

asio::awaitable<bool> HubConnection::Receive(std::string_view bytes) {
  if (!Feed(bytes)) co_return false;
  co_return co_await ProcessInput();
}

bool HubConnection::Feed(std::string_view bytes) {
  {
    std::lock_guard lock(mutex_);
    if (ended_ || closing_) return false;
    last_received_ = CoarseSteadyNow();
  }
  reader_.Append(bytes);
  return true;
}

asio::awaitable<bool> HubConnection::ProcessInput() {
  auto self = std::static_pointer_cast<HubConnection>(shared_from_this());
  while (true) {
    HubMessage message;
    switch (NextStep(message)) {
      case InputStep::kNeedMore:
        co_return true;
      case InputStep::kStop:
        co_return false;
      case InputStep::kInvoke:
        BeginInvocation(message);
        co_await hub_.Invoke(self, std::move(message));
        if (!EndInvocation()) co_return false;
        break;
    }
  }
}

void HubConnection::ProcessFed(std::function<void(bool)> resume) {
  auto self = std::static_pointer_cast<HubConnection>(shared_from_this());
  HubMessage message;
  switch (NextStep(message)) {
    case InputStep::kNeedMore:
      return resume(true);
    case InputStep::kStop:
      return resume(false);
    case InputStep::kInvoke:
      break;
  }
  BeginInvocation(message);
  std::function<void()> done = [self, resume = std::move(resume)]() mutable {
    if (!self->EndInvocation()) return resume(false);
    // With nothing buffered the reader reads on from the completing thread (no hand-off per
    // invocation); buffered records are handled on the connection's executor, never inside the
    // completing caller (a document's strand, which must not see a new request while it answers).
    if (self->reader_.buffered_bytes() == 0) return resume(true);
    asio::post(self->strand_.get_inner_executor(),
               [self, resume = std::move(resume)]() mutable { self->ProcessFed(std::move(resume)); });
  };
  if (hub_.TryStart(self, message, done)) return;
  asio::co_spawn(
      strand_.get_inner_executor(),
      [self, message = std::move(message), done = std::move(done)]() mutable -> asio::awaitable<void> {
        co_await self->hub_.Invoke(self, std::move(message));
        done();
      },
      asio::detached);
}

HubConnection::InputStep HubConnection::NextStep(HubMessage& message) {
  while (true) {
    std::string_view record;
    switch (reader_.Next(record)) {
      case RecordReader::Result::kNeedMore:
        return InputStep::kNeedMore;
      case RecordReader::Result::kTooLarge:
        Log()->info("Connection {} sent a record over {} bytes; closing", peer_id(), options_.max_record_bytes);
        Close(std::string(kProtocolError), false);
        return InputStep::kStop;
      case RecordReader::Result::kMalformed:
        Log()->info("Connection {} sent a malformed record length; closing", peer_id());
        Close(std::string(kProtocolError), false);
        return InputStep::kStop;
      case RecordReader::Result::kRecord:
        switch (HandleRecord(record, message)) {
          case RecordResult::kHandled:
            continue;
          case RecordResult::kStop:
            return InputStep::kStop;
          case RecordResult::kInvoke:
            return InputStep::kInvoke;
        }
    }
  }
}

void HubConnection::BeginInvocation(const HubMessage& message) {
  std::lock_guard lock(mutex_);
  current_invocation_ = message.invocation_id;
  current_target_ = message.target;
  responded_ = false;
}

bool HubConnection::EndInvocation() {
  std::lock_guard lock(mutex_);
  current_invocation_.reset();
  current_target_.clear();
  return !ended_;
}

HubConnection::RecordResult HubConnection::HandleRecord(std::string_view record, HubMessage& message) {
  if (!handshake_done_) {
    HandshakeRequest request;
    std::optional<std::string> error;
    const HubProtocol* protocol = nullptr;
    if (auto parsed = ParseHandshake(record, request); !parsed.ok()) {
      Log()->info("Connection {} sent an invalid handshake: {}", peer_id(), parsed.message());
      error = "Handshake request could not be parsed.";
    } else if (protocol = FindHubProtocol(request.protocol); protocol == nullptr) {
      error = fmt::format("The protocol '{}' is not supported.", request.protocol);
    } else if (!protocol->is_text() && transport() == TransportType::kServerSentEvents) {
      error = fmt::format(
          "Cannot use the '{}' protocol on the current transport. The transport does not support 'Binary' transfer "
          "format.",
          request.protocol);
    } else if (request.version < 0 || request.version > protocol->version()) {
      // Older versions are served with our own (every client speaks version 1).
      error = fmt::format("The server does not support version {} of the '{}' protocol.", request.version,
                          request.protocol);
    }
    std::string response;
    WriteHandshakeResponse(error, response);
    if (error) {
      Enqueue(std::move(response), 0);
      BeginClosing();
      return RecordResult::kStop;
    }
    handshake_done_ = true;
    reader_.SetFraming(protocol->framing());
    {
      std::lock_guard lock(mutex_);
      protocol_.store(protocol, std::memory_order_release);
    }
    Enqueue(std::move(response), 0);
    return RecordResult::kHandled;
  }

  if (auto parsed = protocol().Parse(record, message); !parsed.ok()) {
    Log()->info("Connection {} sent an invalid hub message: {}", peer_id(), parsed.message());
    Close(std::string(kProtocolError), false);
    return RecordResult::kStop;
  }
  switch (static_cast<HubMessageType>(message.type)) {
    case HubMessageType::kInvocation:
      return RecordResult::kInvoke;
    case HubMessageType::kStreamInvocation:
      CompleteError(*message.invocation_id,
                    fmt::format("The client attempted to invoke the non-streaming '{}' method with a streaming "
                                "invocation.",
                                message.target));
      return RecordResult::kHandled;
    case HubMessageType::kClose:
      Abort();
      return RecordResult::kStop;
    default:
      // Pings, cancellations (nothing is cancellable), client results, stateful-reconnect
      // messages and future message types are ignored.
      return RecordResult::kHandled;
  }
}

void HubConnection::CompleteNull(const std::string& invocation_id) {
  std::string bytes;
  protocol().WriteCompletionNull(invocation_id, bytes);
  Enqueue(std::move(bytes), 0);
}

void HubConnection::CompleteJson(const std::string& invocation_id, std::string result_json) {
  std::string bytes;
  protocol().WriteCompletionJson(invocation_id, result_json, bytes);
  Enqueue(std::move(bytes), 0);
}

void HubConnection::CompleteError(const std::string& invocation_id, std::string error) {
  std::string bytes;
  protocol().WriteCompletionError(invocation_id, error, bytes);
  Enqueue(std::move(bytes), 0);
}

bool HubConnection::responded() const {
  std::lock_guard lock(mutex_);
  return responded_;
}

void HubConnection::Send(session::Outbound message) {
  // Broadcasts to an open WebSocket take no lock (a fan-out sends to every receiver from the
  // document's thread); the socket itself drops frames once it is closing.
  if (!session::IsResponse(message)) {
    if (auto* socket = socket_raw_.load(std::memory_order_acquire)) {
      TouchSent();
      WriteToSocket(*socket, Item(std::move(message)), ProtocolOrJson());
      return;
    }
  }
  std::unique_lock lock(mutex_);
  if (ended_ || closing_) return;
  if (const auto* correlation = CorrelationOf(message)) {
    // A fire-and-forget invocation is never answered, not even with an error (§3.4).
    if (!*correlation) return;
    if (*correlation == current_invocation_) responded_ = true;
    if (auto* error = std::get_if<session::ErrorResponse>(&message)) {
      error->message = fmt::format("An unexpected error occurred invoking '{}' on the server. HubException: {}",
                                   current_target_, error->message);
    }
  }
  TouchSent();
  if (auto* socket = socket_raw_.load(std::memory_order_acquire)) {
    lock.unlock();
    WriteToSocket(*socket, Item(std::move(message)), ProtocolOrJson());
    return;
  }
  const size_t size = EstimateSize(message);
  queued_bytes_ += size;
  if (queued_bytes_ > options_.max_queued_bytes) {
    // A reader this slow would hold memory without bound: drop it, never slow the document. The
    // session is told from our own strand, never from inside its broadcast loop.
    Log()->info("Connection {} exceeded its output queue limit; dropping it", peer_id());
    queue_.clear();
    queue_head_ = 0;
    queued_bytes_ = 0;
    closing_ = true;
    WakeWriterLocked();
    asio::post(strand_, [self = std::static_pointer_cast<HubConnection>(shared_from_this())] { self->Abort(); });
    return;
  }
  queue_.emplace_back(std::move(message));
  WakeWriterLocked();
}

void HubConnection::Enqueue(Item item, size_t size) {
  std::unique_lock lock(mutex_);
  if (ended_ || closing_) return;
  TouchSent();
  if (auto* socket = socket_raw_.load(std::memory_order_acquire)) {
    lock.unlock();
    WriteToSocket(*socket, std::move(item), ProtocolOrJson());
    return;
  }
  if (auto* bytes = std::get_if<std::string>(&item)) size = bytes->size();
  queued_bytes_ += size;
  queue_.push_back(std::move(item));
  WakeWriterLocked();
}

void HubConnection::WriteToSocket(ws::Channel& socket, Item item, const HubProtocol& protocol) {
  bool response = true;  // the connection's own records (completions, pings, Close) are answers
  ws::OutboundFrame frame;
  if (auto* bytes = std::get_if<std::string>(&item)) {
    std::string framed;
    framed.reserve(bytes->size() + ws::kMaxServerHeaderBytes);
    ws::AppendFrame(framed, OpcodeOf(protocol), *bytes);
    frame = ws::OutboundFrame::Own(std::move(framed));
  } else {
    const auto& message = std::get<session::Outbound>(item);
    response = session::IsResponse(message);
    if (response) {
      frame = ws::OutboundFrame::Own(Frame(protocol, [&](std::string& out) { WriteResponse(message, protocol, out); }));
    } else {
      const std::string& bytes = EventFrame(message, protocol);
      frame = ws::OutboundFrame{OwnerOf(message), bytes.data(), bytes.size()};
    }
  }
  // As on /collab-ws: answers go out at once, broadcasts gather per receiver until the end of
  // the document's batch or while a flush is pending.
  using Mode = ws::Channel::WriteMode;
  if (session::SendBatch::Active()) {
    if (socket.Enqueue(std::move(frame), response ? Mode::kHeldBackResponse : Mode::kHeldBack) ==
        ws::Channel::EnqueueResult::kHeldBackFirst) {
      session::SendBatch::HoldBack(shared_from_this());
    }
  } else {
    socket.Enqueue(std::move(frame), response ? Mode::kUrgent : Mode::kSoon);
  }
}

void HubConnection::FlushHeldBack(bool write_now) {
  if (auto* socket = socket_raw_.load(std::memory_order_acquire)) socket->FlushHeldBack(write_now);
}

void HubConnection::AttachSocket(std::shared_ptr<ws::Channel> socket) {
  std::unique_lock lock(mutex_);
  if (ended_) {
    lock.unlock();
    socket->Close(ws::CloseCode::kNormal, "");
    return;
  }
  // Output queued before the socket opened (a keep-alive ping, the Close of a shutdown) goes
  // first, in order; the lock keeps newer output behind it.
  const HubProtocol& protocol = ProtocolOrJson();
  for (size_t i = queue_head_; i < queue_.size(); ++i) WriteToSocket(*socket, std::move(queue_[i]), protocol);
  std::vector<Item>().swap(queue_);
  queue_head_ = 0;
  queued_bytes_ = 0;
  // Set once: the socket lives as long as the connection, so lock-free senders may use it.
  socket_ = std::move(socket);
  socket_raw_.store(socket_.get(), std::memory_order_release);
  if (closing_) EndLocked(lock);
}

void HubConnection::WakeWriterLocked() {
  if (waiter_) {
    asio::post(waiter_->get_executor(), [waiter = waiter_] { waiter->cancel(); });
    waiter_.reset();
  }
}

void HubConnection::Shutdown() { Close(std::nullopt, true); }

void HubConnection::Close(std::optional<std::string> error, bool allow_reconnect) {
  std::unique_lock lock(mutex_);
  if (ended_ || closing_) return;
  if (transport_ == TransportType::kNone) {
    EndLocked(lock);
    return;
  }
  std::string bytes;
  ProtocolOrJson().WriteClose(error, allow_reconnect, bytes);
  lock.unlock();
  Enqueue(std::move(bytes), 0);
  BeginClosing();
}

void HubConnection::BeginClosing() {
  std::unique_lock lock(mutex_);
  if (closing_) return;
  closing_ = true;
  closing_since_ = Clock::now();
  // A socket has all output queued already: it writes it, then the close frame.
  if (socket_raw_.load(std::memory_order_relaxed) != nullptr) return EndLocked(lock);
  WakeWriterLocked();
  // Re-arm the timer so that a connection nobody drains (no poll pending) still ends.
  asio::post(strand_, [self = std::static_pointer_cast<HubConnection>(shared_from_this())] { self->ScheduleTimer(); });
}

void HubConnection::Abort() {
  std::unique_lock lock(mutex_);
  EndLocked(lock);
}

void HubConnection::EndLocked(std::unique_lock<std::mutex>& lock) {
  if (ended_) return;
  ended_ = true;
  closing_ = true;
  std::vector<Item>().swap(queue_);
  queue_head_ = 0;
  queued_bytes_ = 0;
  WakeWriterLocked();
  auto* socket = socket_raw_.load(std::memory_order_relaxed);
  const uint64_t live_id = live_id_;
  lock.unlock();
  if (socket) socket->Close(ws::CloseCode::kNormal, "");
  auto self = std::static_pointer_cast<HubConnection>(shared_from_this());
  asio::post(strand_, [self] { self->timer_.cancel(); });
  server_.Unregister(live_id);
  if (on_end_) on_end_(*this);
  hub_.OnDisconnected(self);
}

asio::awaitable<HubConnection::Output> HubConnection::NextOutput(Clock::duration max_wait, bool* superseded) {
  Output output;
  std::vector<Item> items;
  auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  timer->expires_after(max_wait);
  uint64_t generation;
  {
    std::unique_lock lock(mutex_);
    // A newer reader replaces a waiting one, which then ends (a superseded poll answers 204).
    if (waiter_) WakeWriterLocked();
    generation = ++waiter_generation_;
  }
  while (true) {
    {
      std::unique_lock lock(mutex_);
      if (generation != waiter_generation_) {
        if (superseded) *superseded = true;
        output.status = Output::Status::kEnd;
        co_return output;
      }
      if (queue_head_ < queue_.size()) {
        TakeBatchLocked(output, items);
        break;
      }
      if (closing_) {
        output.status = Output::Status::kEnd;
        if (!ended_) EndLocked(lock);
        co_return output;
      }
      if (timer->expiry() <= Clock::now()) {
        output.status = Output::Status::kTimeout;
        co_return output;
      }
      waiter_ = timer;
    }
    co_await timer->async_wait(net::kUseTuple);
    std::lock_guard lock(mutex_);
    if (waiter_ == timer) waiter_.reset();
  }
  Encode(items, output);
  output.status = Output::Status::kData;
  co_return output;
}

void HubConnection::TakeBatchLocked(Output& output, std::vector<Item>& items) {
  size_t taken = 0;
  while (queue_head_ < queue_.size() && (items.empty() || taken < options_.max_batch_bytes)) {
    auto& item = queue_[queue_head_++];
    const size_t size = std::holds_alternative<std::string>(item) ? std::get<std::string>(item).size()
                                                                  : EstimateSize(std::get<session::Outbound>(item));
    taken += size;
    queued_bytes_ -= std::min(queued_bytes_, size);
    items.push_back(std::move(item));
  }
  // Taken items leave moved-from slots at the front: drop them once they are half the vector.
  if (queue_head_ == queue_.size()) {
    queue_.clear();
    queue_head_ = 0;
  } else if (queue_head_ > queue_.size() / 2) {
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(queue_head_));
    queue_head_ = 0;
  }
  (void)output;
}

void HubConnection::Encode(std::vector<Item>& items, Output& output) {
  const HubProtocol& hub_protocol = protocol();
  std::string* pending = nullptr;  // per-connection records are written together
  auto own = [&]() -> std::string& {
    if (!pending) pending = &output.owned.emplace_back();
    return *pending;
  };
  auto flush = [&] {
    if (pending) {
      output.buffers.emplace_back(pending->data(), pending->size());
      output.size += pending->size();
      pending = nullptr;
    }
  };
  auto shared = [&](std::string_view bytes) {
    flush();
    output.buffers.emplace_back(bytes.data(), bytes.size());
    output.size += bytes.size();
  };
  for (auto& item : items) {
    if (auto* bytes = std::get_if<std::string>(&item)) {
      own() += *bytes;
      continue;
    }
    auto& message = std::get<session::Outbound>(item);
    if (session::IsResponse(message)) {
      WriteResponse(message, hub_protocol, own());
    } else {
      shared(RecordOf(EventFrame(message, hub_protocol)));
      output.keep.push_back(std::move(message));
    }
  }
  flush();
}

void HubConnection::BeginPoll() {
  std::lock_guard lock(mutex_);
  ++polls_pending_;
}

void HubConnection::EndPoll() {
  std::lock_guard lock(mutex_);
  if (--polls_pending_ == 0) poll_idle_since_ = Clock::now();
}

void HubConnection::ScheduleTimer() {
  Clock::time_point deadline;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    if (closing_) {
      deadline = closing_since_ + kClosingGrace;
    } else if (transport_ == TransportType::kNone) {
      deadline = created_ + options_.negotiate_timeout;
    } else if (protocol_.load() == nullptr) {
      deadline = attached_at_ + options_.handshake_timeout;
    } else {
      deadline = last_received_ + options_.client_timeout;
      if (transport_ == TransportType::kLongPolling) {
        if (polls_pending_ == 0) deadline = std::min(deadline, poll_idle_since_ + options_.long_poll_disconnect);
      } else {
        deadline = std::min(deadline, LastSent() + options_.keep_alive_interval);
      }
    }
  }
  timer_.expires_at(std::max(deadline, Clock::now() + std::chrono::milliseconds(10)));
  timer_.async_wait([self = std::static_pointer_cast<HubConnection>(shared_from_this())](boost::system::error_code ec) {
    if (!ec) self->OnTimer();
  });
}

void HubConnection::OnTimer() {
  const auto now = Clock::now();
  enum class Action { kNone, kAbort, kHandshakeTimeout, kPing } action = Action::kNone;
  {
    std::lock_guard lock(mutex_);
    if (ended_) return;
    if (closing_) {
      if (now >= closing_since_ + kClosingGrace) action = Action::kAbort;
    } else if (transport_ == TransportType::kNone) {
      if (now >= created_ + options_.negotiate_timeout) action = Action::kAbort;
    } else if (protocol_.load() == nullptr) {
      if (now >= attached_at_ + options_.handshake_timeout) action = Action::kHandshakeTimeout;
    } else if (now >= last_received_ + options_.client_timeout) {
      action = Action::kAbort;
    } else if (transport_ == TransportType::kLongPolling) {
      if (polls_pending_ == 0 && now >= poll_idle_since_ + options_.long_poll_disconnect) action = Action::kAbort;
    } else if (now >= LastSent() + options_.keep_alive_interval) {
      action = Action::kPing;
    }
  }
  switch (action) {
    case Action::kAbort:
      Log()->info("Connection {} timed out", peer_id());
      Abort();
      return;
    case Action::kHandshakeTimeout: {
      std::string bytes;
      WriteHandshakeResponse(std::string("Handshake was canceled."), bytes);
      Enqueue(std::move(bytes), 0);
      BeginClosing();
      return;  // the writer ends the connection once the response is out
    }
    case Action::kPing: {
      std::string bytes;
      protocol().WritePing(bytes);
      Enqueue(std::move(bytes), 0);
      break;
    }
    case Action::kNone:
      break;
  }
  ScheduleTimer();
}

}  // namespace opstream::transports::signalr
