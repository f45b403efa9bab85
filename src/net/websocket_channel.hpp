#pragma once
// The server side of one WebSocket after its opening handshake: reads client frames, writes
// queued frames, answers pings, runs the close handshake and the idle keep-alive.
//
// Built for many mostly idle connections and for fan-out:
// * An idle connection holds no input buffer: it waits for readability and then reads into a
//   per-thread buffer; only an incomplete frame is copied into the connection.
// * Frames to send are queued as (owner, bytes) views, so one encoded broadcast frame is shared by
//   every receiver. A flush is posted when the queue becomes non-empty, and writes everything
//   queued by then with one gathering sendmsg: frames queued while a flush is pending or a write
//   is blocked go out together, so a busy document costs one system call per receiver per burst
//   rather than per message.
// * Messages are handed to OnMessage one at a time; a subclass that starts an asynchronous
//   request pauses reading until the request completes (back-pressure per connection).
//
// Threading: reading runs on the connection's executor, one handler at a time. Enqueue and Close
// may be called from any thread; the write side is guarded by a mutex and initiated from
// whichever thread flushes. The socket is set non-blocking before any operation starts, so the
// read and write readiness waits never modify shared socket state concurrently.
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "net/flush_pacer.hpp"
#include "net/server.hpp"
#include "net/websocket_frame.hpp"

namespace opstream::net::websocket {

struct ChannelOptions {
  size_t max_message_bytes = 2 * 1024 * 1024;  // larger messages are closed with 1009
  size_t max_queued_bytes = 16 * 1024 * 1024;  // a reader this far behind is dropped with 1008
  std::chrono::seconds ping_after_idle{60};    // keep-alive ping after this long without input
  std::chrono::seconds close_after_idle{120};  // no input at all for this long: the peer is gone
  std::chrono::seconds close_handshake_timeout{5};
  // Where queued frames are written. A context of its own keeps reads (and so new ops) flowing
  // while a large fan-out is being written, which is what lets frames accumulate per receiver.
  // Null: the socket's own executor.
  boost::asio::io_context* write_context = nullptr;
  // Null: held-back frames are written at once. Otherwise a connection written to less than the
  // pacer's interval ago defers FlushHeldBack(write_now) to the pacer, so that the broadcasts of
  // several document batches leave in one write.
  FlushPacer* flush_pacer = nullptr;
  // The same for FlushHeldBack(!write_now), the flushes of large fan-outs (a receiver not written
  // recently goes through the write context), whose ops come further apart and so need a longer
  // round to gather.
  FlushPacer* fanout_pacer = nullptr;
};

// Bytes to write, kept alive by `owner` until written.
struct OutboundFrame {
  std::shared_ptr<const void> owner;
  const char* data = nullptr;
  size_t size = 0;

  static OutboundFrame Own(std::string bytes);
};

class Channel : public LiveConnection, private FlushPacer::Flushable {
 public:
  Channel(boost::asio::ip::tcp::socket socket, const ChannelOptions& options);
  ~Channel() override;
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  enum class WriteMode {
    kSoon,              // a flush is posted to the write context
    kUrgent,            // written at once from the calling thread when nothing else is queued: a
                        // response must not wait behind other connections' broadcasts
    kHeldBack,          // the caller flushes later with FlushHeldBack (end of a document's batch)
    kHeldBackResponse,  // likewise, and FlushHeldBack writes at once
  };
  enum class EnqueueResult { kDropped, kQueued, kHeldBackFirst };
  // Queues a complete frame. kDropped: the connection is closing, or its queue overflowed (which
  // starts a 1008 close). kHeldBackFirst: the first held-back frame since the last
  // FlushHeldBack, so the caller must arrange one.
  EnqueueResult Enqueue(OutboundFrame frame, WriteMode mode);
  // Enqueue of each frame in order (moved from `frames`), under one lock. kHeldBackFirst when
  // one of them was; kDropped when the last one was.
  EnqueueResult EnqueueAll(std::span<OutboundFrame> frames, WriteMode mode);
  // Writes held-back frames: now from this thread, or via the write context (a response held
  // back is always written now); a connection written moments ago waits for its pacer's round.
  void FlushHeldBack(bool write_now);
  // Starts the close handshake: frames already queued are still written, then the close frame.
  void Close(CloseCode code, std::string_view reason);
  // LiveConnection: server shutdown closes with 1001; the periodic sweep runs the keep-alive.
  void Shutdown() override;
  void Sweep(std::chrono::steady_clock::time_point now) override;

 protected:
  // Starts reading; call once from the subclass's factory, when shared ownership exists.
  void StartReading();
  // One complete message. Return true to read on, false to pause until ResumeReading().
  virtual bool OnMessage(std::string_view payload, bool is_text) = 0;
  // Called once, after the last OnMessage, when the connection ended for any reason.
  virtual void OnClosed() = 0;
  // The owner's shared_ptr, held by pending operations.
  virtual std::shared_ptr<void> KeepAlive() = 0;
  // Thread-safe: continues reading after OnMessage returned false. With `move_to`, the socket's
  // reading first moves to that event loop, provided the reader is paused and no write waits;
  // returns whether the socket reads on `move_to` now.
  bool ResumeReading(boost::asio::io_context* move_to = nullptr);

 private:
  using Clock = std::chrono::steady_clock;

  void WaitReadable();
  void OnReadable(const boost::system::error_code& ec);
  // Processes input; returns false when reading stops (paused or finished).
  bool ProcessInput(char* data, size_t size);
  void ContinueReading();
  void OnPeerClose();
  void FinishReading();

  void ScheduleFlushLocked(std::unique_lock<std::mutex>& lock);
  void Flush();
  void FlushDeferred() override;
  // True when the pacer should take this connection's next flush.
  bool RecentlyWrittenLocked(const FlushPacer* pacer) const;
  void WriteLocked(std::unique_lock<std::mutex>& lock);
  EnqueueResult EnqueueLocked(std::unique_lock<std::mutex>& lock, OutboundFrame frame, bool control,
                              WriteMode mode = WriteMode::kSoon);
  void AbortLocked();
  void StartCloseLocked(std::unique_lock<std::mutex>& lock, CloseCode code, std::string_view reason,
                        bool discard_queued);

  boost::asio::ip::tcp::socket socket_;
  const int fd_;
  const ChannelOptions& options_;

  // ---- read side (one handler at a time) ----
  MessageReader reader_;
  std::string pending_input_;  // input after a message that paused reading
  // Handshake between a paused reader and ResumeReading, which may run first (see ProcessInput).
  static constexpr uint8_t kReading = 0, kPaused = 1, kResumed = 2;
  std::atomic<uint8_t> read_state_{kReading};
  bool reading_finished_ = false;
  bool MoveSocketTo(boost::asio::io_context& loop);  // whether the socket is on `loop` afterwards
  void DropQueueLocked();
  std::atomic<int64_t> last_input_{0};  // Clock ticks of the last input
  std::atomic<bool> ping_outstanding_{false};

  // ---- write side ----
  std::mutex mutex_;
  std::vector<OutboundFrame> queue_;
  size_t head_ = 0;         // first frame not completely written
  size_t head_offset_ = 0;  // bytes of queue_[head_] already written
  size_t queued_bytes_ = 0;
  size_t in_flight_end_ = 0;  // while a writer is in sendmsg: end of the frames it passed
  bool flush_posted_ = false;
  bool flush_deferred_ = false;  // the posted flush waits in the pacer: a response need not wait
  Clock::time_point last_write_{};
  bool held_back_ = false;         // frames wait for FlushHeldBack
  bool held_back_urgent_ = false;  // ... and one of them is a response
  bool writing_ = false;           // a thread writes, or a writability wait is pending
  bool close_queued_ = false;      // our close frame is queued: no more data frames
  bool shut_down_after_flush_ = false;
  bool aborted_ = false;  // the socket is shut down
  Clock::time_point close_started_;
};

// Performs the opening handshake on an HTTP/1.1 upgrade request (Beast validates it and answers
// bad requests), then hands over the bare socket. `hold` is released after `on_open` returns.
using HandshakeDone = std::function<void(boost::asio::ip::tcp::socket socket)>;
void AcceptHandshake(boost::beast::tcp_stream stream, UpgradeRequest request, UpgradeHold hold, HandshakeDone on_open);

}  // namespace opstream::net::websocket
