#pragma once
// One SignalR connection (wire-protocol §3), independent of the transport carrying it.
//
// Transports feed the client's bytes to Receive (one caller at a time: the WebSocket reader, or
// one POST of SSE/long polling). Server-Sent Events and long polling pull the server's bytes
// with NextOutput; a WebSocket is attached with AttachSocket instead, and from then on every
// record is framed and queued on the socket as it is produced (no writer to wake, and a
// document's broadcast batch is held back and written once per receiver, see SendBatch). The
// connection does the handshake, splits records, runs invocations one at a time through its
// Hub, answers session messages in the negotiated hub protocol and keeps the connection alive
// (pings, client timeout). Shared events are encoded once per protocol through their
// EncodingCache as a complete WebSocket frame, shared by every WebSocket receiver of that
// protocol; SSE and long polling write the record inside it.
#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "net/server.hpp"
#include "session/connection.hpp"
#include "transports/signalr/hub_protocol.hpp"
#include "transports/signalr/record_reader.hpp"
#include "transports/signalr/signalr_options.hpp"

namespace opstream::net::websocket {
class Channel;
}

namespace opstream::transports::signalr {

class HubConnection;

// The methods of one hub (collaboration, management).
class Hub {
 public:
  virtual ~Hub() = default;
  // Runs one invocation and answers it through the connection (not at all when it has no
  // invocation id). The connection's next invocation starts only after this completes.
  virtual boost::asio::awaitable<void> Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) = 0;
  // The same without a coroutine, for hubs whose work completes by callback anyway (the session
  // layer's): starts the invocation and calls `done` once it is answered, from any thread, maybe
  // before returning. Returns false, leaving both arguments alone, when only Invoke exists.
  virtual bool TryStart(const std::shared_ptr<HubConnection>& /*connection*/, HubMessage& /*message*/,
                        std::function<void()>& /*done*/) {
    return false;
  }
  virtual void OnDisconnected(const std::shared_ptr<HubConnection>& connection) = 0;
};

enum class TransportType { kNone, kWebSockets, kServerSentEvents, kLongPolling };

class HubConnection final : public session::Connection, public net::LiveConnection {
 public:
  using Clock = std::chrono::steady_clock;

  // Server output ready to write. The buffers point into `owned` and into shared events kept
  // alive by `keep`.
  struct Output {
    enum class Status { kData, kTimeout, kEnd } status = Status::kEnd;
    std::vector<boost::asio::const_buffer> buffers;
    size_t size = 0;
    std::deque<std::string> owned;
    std::vector<session::Outbound> keep;
  };

  HubConnection(boost::asio::io_context& io, std::string connection_id, Hub& hub, net::Server& server,
                const SignalROptions& options, std::function<void(const HubConnection&)> on_end);
  ~HubConnection() override;

  // Starts the timers (negotiate, handshake, keep-alive, timeouts). Call once, after construction.
  void Start();

  const std::string& connection_id() const noexcept { return peer_id(); }

  // Claims the connection for a transport; false if another one already did (the caller answers
  // 409 for the same type, 400 for another).
  bool Attach(TransportType transport);
  TransportType transport() const;
  // The protocol negotiated by the handshake (JSON until then).
  const HubProtocol& protocol() const;

  // Processes client bytes. Returns false once the connection is over (Close received, protocol
  // error, end); the caller stops reading. Not re-entrant: see TryBeginReceive.
  boost::asio::awaitable<bool> Receive(std::string_view bytes);
  // Receive in two steps, for a reader whose buffer is reused as soon as it returns: Feed copies
  // the bytes (false: the connection is over, drop them); ProcessFed handles the records and
  // calls `resume` once all complete records are handled (false: the connection is over). It
  // runs invocations through Hub::TryStart when the hub has it, so a WebSocket invocation costs
  // no coroutine; `resume` may run on the thread that completed the last invocation, or inside
  // ProcessFed.
  bool Feed(std::string_view bytes);
  void ProcessFed(std::function<void(bool)> resume);
  // For transports with separate requests (POST): at most one Receive runs at a time.
  bool TryBeginReceive();
  void EndReceive();

  // Waits up to `max_wait` for output. kEnd: the connection is over and everything was handed out.
  // A newer NextOutput call (a newer poll) supersedes a waiting one, which returns kEnd with
  // `superseded` set.
  boost::asio::awaitable<Output> NextOutput(Clock::duration max_wait, bool* superseded = nullptr);
  // WebSockets, after the opening handshake: output queued so far and everything after it is
  // framed and queued on `socket`; the end of the connection closes it (1000, after the frames
  // already queued). The connection keeps the socket until it ends.
  void AttachSocket(std::shared_ptr<net::websocket::Channel> socket);
  // Long polling: polls in progress, so that the disconnect timer knows the client is there.
  void BeginPoll();
  void EndPoll();

  // ---- answers, used by hubs ----
  void CompleteNull(const std::string& invocation_id);
  void CompleteJson(const std::string& invocation_id, std::string result_json);
  void CompleteError(const std::string& invocation_id, std::string error);
  // Responses the session queued for the running invocation (so the hub knows whether to answer).
  bool responded() const;

  // session::Connection
  void Send(session::Outbound message) override;
  void FlushHeldBack(bool write_now) override;
  // net::LiveConnection: graceful shutdown, Close with allowReconnect (wire-protocol §3.5).
  void Shutdown() override;

  // Sends Close (with an error text if any) after the pending output, then ends.
  void Close(std::optional<std::string> error, bool allow_reconnect);
  // Ends now (the transport is gone): the session layer is told, waiting writers return kEnd.
  void Abort();
  bool ended() const;

 private:
  using Item = std::variant<session::Outbound, std::string>;

  enum class InputStep { kNeedMore, kStop, kInvoke };
  enum class RecordResult { kHandled, kStop, kInvoke };
  boost::asio::awaitable<bool> ProcessInput();
  // Handles buffered records up to the next invocation, which it parses into `message`.
  InputStep NextStep(HubMessage& message);
  RecordResult HandleRecord(std::string_view record, HubMessage& message);
  void BeginInvocation(const HubMessage& message);
  // False once the connection ended.
  bool EndInvocation();
  void Enqueue(Item item, size_t size);
  const HubProtocol& ProtocolOrJson() const {
    const HubProtocol* protocol = protocol_.load(std::memory_order_acquire);
    return protocol ? *protocol : JsonHubProtocol();
  }
  void TouchSent() { last_sent_.store(CoarseSteadyNow().time_since_epoch().count(), std::memory_order_relaxed); }
  Clock::time_point LastSent() const {
    return Clock::time_point(Clock::duration(last_sent_.load(std::memory_order_relaxed)));
  }
  // Frames `item` and queues it on `socket` (held back inside a SendBatch).
  void WriteToSocket(net::websocket::Channel& socket, Item item, const HubProtocol& protocol);
  void WakeWriterLocked();
  void BeginClosing();
  void TakeBatchLocked(Output& output, std::vector<Item>& items);
  void Encode(std::vector<Item>& items, Output& output);
  void EndLocked(std::unique_lock<std::mutex>& lock);
  void ScheduleTimer();
  void OnTimer();

  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  Hub& hub_;
  net::Server& server_;
  const SignalROptions& options_;
  std::function<void(const HubConnection&)> on_end_;
  uint64_t live_id_ = 0;
  const Clock::time_point created_ = Clock::now();

  // Touched only by the single active receiver.
  RecordReader reader_;
  bool handshake_done_ = false;

  mutable std::mutex mutex_;
  TransportType transport_ = TransportType::kNone;
  Clock::time_point attached_at_{};
  std::atomic<const HubProtocol*> protocol_{nullptr};  // set once, by the handshake
  bool receiving_ = false;
  // Output for NextOutput (SSE, long polling, a WebSocket before it opens) from queue_head_ on.
  // A vector allocates nothing until used, unlike a deque: most connections never queue here.
  std::vector<Item> queue_;
  size_t queue_head_ = 0;
  size_t queued_bytes_ = 0;
  std::shared_ptr<boost::asio::steady_timer> waiter_;
  uint64_t waiter_generation_ = 0;
  bool closing_ = false;  // no more output is accepted; end once the queue is handed out
  Clock::time_point closing_since_{};
  bool ended_ = false;
  // WebSockets, once open: set once and kept until the connection is destroyed (the socket only
  // holds a weak reference back), so senders use socket_raw_ without a lock.
  std::shared_ptr<net::websocket::Channel> socket_;
  std::atomic<net::websocket::Channel*> socket_raw_{nullptr};
  std::optional<std::string> current_invocation_;
  std::string current_target_;
  bool responded_ = false;
  Clock::time_point last_received_ = Clock::now();
  std::atomic<Clock::rep> last_sent_{Clock::now().time_since_epoch().count()};
  int polls_pending_ = 0;
  Clock::time_point poll_idle_since_ = Clock::now();

  boost::asio::steady_timer timer_;  // on strand_
};

}  // namespace opstream::transports::signalr
