#include "net/websocket_channel.hpp"

#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <cerrno>
#include <utility>

#include "common/clock.hpp"
#include "common/logging.hpp"
#include "net/await.hpp"

namespace opstream::net::websocket {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr size_t kMaxIovecs = 64;

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Net.WebSocket");
  return logger;
}

// Input is read into one buffer per thread: an idle connection owns no read buffer.
char* ThreadReadBuffer() {
  thread_local std::array<char, kReadBufferBytes> buffer;
  return buffer.data();
}

asio::awaitable<void> RunHandshake(beast::tcp_stream stream, UpgradeRequest request, UpgradeHold hold,
                                   HandshakeDone on_open) {
  beast::websocket::stream<beast::tcp_stream> ws(std::move(stream));
  ws.set_option(
      beast::websocket::stream_base::timeout{std::chrono::seconds(30), beast::websocket::stream_base::none(), false});
  ws.set_option(beast::websocket::stream_base::decorator(
      [](beast::websocket::response_type& response) { response.set(beast::http::field::server, "OpStream"); }));
  auto [ec] = co_await ws.async_accept(request, kUseTuple);
  if (ec) co_return;
  on_open(ws.next_layer().release_socket());
  hold.reset();
}

}  // namespace

OutboundFrame OutboundFrame::Own(std::string bytes) {
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  OutboundFrame frame;
  frame.data = owned->data();
  frame.size = owned->size();
  frame.owner = std::move(owned);
  return frame;
}

void AcceptHandshake(beast::tcp_stream stream, UpgradeRequest request, UpgradeHold hold, HandshakeDone on_open) {
  auto executor = stream.get_executor();
  asio::co_spawn(executor, RunHandshake(std::move(stream), std::move(request), std::move(hold), std::move(on_open)),
                 asio::detached);
}

Channel::Channel(tcp::socket socket, const ChannelOptions& options)
    : socket_(std::move(socket)), fd_(socket_.native_handle()), options_(options), reader_(options.max_message_bytes) {
  boost::system::error_code ignored;
  socket_.non_blocking(true, ignored);
  socket_.set_option(tcp::no_delay(true), ignored);
  last_input_.store(CoarseSteadyNow().time_since_epoch().count(), std::memory_order_relaxed);
}

Channel::~Channel() = default;

// ---------------------------------------------------------------------------------------------
// Read side

void Channel::StartReading() { WaitReadable(); }

void Channel::WaitReadable() {
  socket_.async_wait(tcp::socket::wait_read,
                     [self = KeepAlive(), this](const boost::system::error_code& ec) { OnReadable(ec); });
}

void Channel::OnReadable(const boost::system::error_code& ec) {
  if (ec) return FinishReading();
  char* buffer = ThreadReadBuffer();
  while (true) {
    const ssize_t n = ::recv(fd_, buffer, kReadBufferBytes, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return WaitReadable();
    if (n <= 0) return FinishReading();
    last_input_.store(CoarseSteadyNow().time_since_epoch().count(), std::memory_order_relaxed);
    ping_outstanding_.store(false, std::memory_order_relaxed);
    if (!ProcessInput(buffer, static_cast<size_t>(n))) return;
    // A full buffer means more input is probably waiting: read it without another wait.
    if (static_cast<size_t>(n) < kReadBufferBytes) return WaitReadable();
  }
}

bool Channel::ProcessInput(char* data, size_t size) {
  while (true) {
    switch (reader_.Next(data, size)) {
      case MessageReader::Event::kNeedMore:
        if (reader_.buffered_bytes() == 0) reader_.ReleaseMemory();
        return true;
      case MessageReader::Event::kMessage: {
        bool closing;
        {
          std::lock_guard lock(mutex_);
          closing = close_queued_ || aborted_;
        }
        if (closing) continue;  // no new requests once we are closing
        read_state_.store(kReading, std::memory_order_relaxed);
        if (OnMessage(reader_.payload(), reader_.is_text())) continue;
        // The request may already have completed (even inside OnMessage, on another thread):
        // whoever comes second resumes.
        pending_input_.assign(data, size);
        auto expected = kReading;
        if (read_state_.compare_exchange_strong(expected, kPaused, std::memory_order_acq_rel)) return false;
        pending_input_.clear();
        continue;
      }
      case MessageReader::Event::kPing: {
        std::string pong;
        AppendFrame(pong, Opcode::kPong, reader_.payload());
        std::unique_lock lock(mutex_);
        if (!close_queued_) EnqueueLocked(lock, OutboundFrame::Own(std::move(pong)), true);
        continue;
      }
      case MessageReader::Event::kPong:
        continue;
      case MessageReader::Event::kClose:
        OnPeerClose();
        return false;
      case MessageReader::Event::kError: {
        Log()->info("Closing WebSocket: {} ({})", reader_.reason(), reader_.close_code());
        std::unique_lock lock(mutex_);
        StartCloseLocked(lock, static_cast<CloseCode>(reader_.close_code()), reader_.reason(), false);
        if (reader_.fatal()) {
          // The byte stream cannot be parsed any further: close as soon as our frame is out.
          shut_down_after_flush_ = true;
          if (!writing_ && head_ == queue_.size()) AbortLocked();
          lock.unlock();
          FinishReading();
          return false;
        }
        continue;
      }
    }
  }
}

bool Channel::ResumeReading(asio::io_context* move_to) {
  if (read_state_.exchange(kResumed, std::memory_order_acq_rel) == kReading) return false;  // not paused yet
  const bool moved = move_to != nullptr && !reading_finished_ && MoveSocketTo(*move_to);
  // Reading is paused, so no read handler runs now. With no buffered input, only the readiness
  // wait must be re-armed, which is safe from the caller's thread and saves a thread hand-off per
  // request; buffered input is processed on the connection's executor, never inside the caller
  // (a document session's strand), which must not see a new request while it is answering one.
  if (pending_input_.empty() && !reading_finished_) {
    WaitReadable();
  } else {
    asio::post(socket_.get_executor(), [self = KeepAlive(), this] { ContinueReading(); });
  }
  return moved;
}

bool Channel::MoveSocketTo(asio::io_context& loop) {
  // No read handler runs and no read wait is pending (reading is paused); the mutex keeps writers
  // from starting a write wait meanwhile. Frames are written through fd_, which does not change.
  std::lock_guard lock(mutex_);
  if (&socket_.get_executor().context() == &loop) return true;
  if (writing_ || aborted_ || close_queued_) return false;
  boost::system::error_code ec;
  const auto protocol = socket_.local_endpoint(ec).protocol();
  if (ec) return false;
  const int fd = socket_.release(ec);
  if (ec) return false;
  tcp::socket moved(loop);
  moved.assign(protocol, fd, ec);
  if (!ec) {
    moved.non_blocking(true, ec);
    socket_ = std::move(moved);
    return true;
  }
  // The target loop could not take the descriptor (no memory for its registration): stay.
  Log()->warn("Could not move a WebSocket to another event loop: {}", ec.message());
  socket_.assign(protocol, fd, ec);
  if (!ec) return false;
  // Nor could the old one: end the connection. aborted_ stops every later write through fd_
  // before the descriptor is closed, and no writer is in sendmsg now (writing_ is false).
  Log()->warn("Closing a WebSocket that no event loop could take back: {}", ec.message());
  aborted_ = true;
  DropQueueLocked();
  ::close(fd);
  return false;
}

void Channel::ContinueReading() {
  if (reading_finished_) return;
  if (!pending_input_.empty()) {
    std::string input = std::move(pending_input_);
    pending_input_.clear();
    if (!ProcessInput(input.data(), input.size())) return;
  }
  WaitReadable();
}

void Channel::OnPeerClose() {
  {
    std::unique_lock lock(mutex_);
    if (!close_queued_) {
      // The reference answers every client close with 1000 "Closing" (wire-protocol §4.2).
      std::string frame;
      AppendCloseFrame(frame, CloseCode::kNormal, "Closing");
      close_queued_ = true;
      close_started_ = Clock::now();
      EnqueueLocked(lock, OutboundFrame::Own(std::move(frame)), true);
    }
    // The server closes the TCP connection once its close frame is out (RFC 6455 §7.1.1).
    shut_down_after_flush_ = true;
    if (!writing_ && !flush_posted_ && head_ == queue_.size()) AbortLocked();
  }
  FinishReading();
}

void Channel::FinishReading() {
  if (reading_finished_) return;
  reading_finished_ = true;
  {
    std::lock_guard lock(mutex_);
    if (!close_queued_ || !shut_down_after_flush_) AbortLocked();
  }
  pending_input_.clear();
  pending_input_.shrink_to_fit();
  reader_.ReleaseMemory();
  OnClosed();
}

// ---------------------------------------------------------------------------------------------
// Write side

Channel::EnqueueResult Channel::Enqueue(OutboundFrame frame, WriteMode mode) {
  std::unique_lock lock(mutex_);
  return EnqueueLocked(lock, std::move(frame), false, mode);
}

Channel::EnqueueResult Channel::EnqueueAll(std::span<OutboundFrame> frames, WriteMode mode) {
  std::unique_lock lock(mutex_);
  EnqueueResult result = EnqueueResult::kQueued;
  for (auto& frame : frames) {
    const EnqueueResult one = EnqueueLocked(lock, std::move(frame), false, mode);
    if (one == EnqueueResult::kHeldBackFirst || result != EnqueueResult::kHeldBackFirst) result = one;
  }
  return result;
}

Channel::EnqueueResult Channel::EnqueueLocked(std::unique_lock<std::mutex>& lock, OutboundFrame frame, bool control,
                                              WriteMode mode) {
  if (aborted_ || (close_queued_ && !control)) return EnqueueResult::kDropped;
  queued_bytes_ += frame.size;
  if (!control && queued_bytes_ > options_.max_queued_bytes) {
    // A reader this slow would hold memory without bound: drop it, never slow the document.
    queued_bytes_ -= frame.size;
    Log()->info("Closing WebSocket: outbound queue limit exceeded ({} bytes queued)", queued_bytes_);
    StartCloseLocked(lock, CloseCode::kPolicyViolation, "Outbound queue limit exceeded", true);
    return EnqueueResult::kDropped;
  }
  queue_.push_back(std::move(frame));
  switch (mode) {
    case WriteMode::kHeldBack:
    case WriteMode::kHeldBackResponse:
      if (control) break;
      if (mode == WriteMode::kHeldBackResponse) held_back_urgent_ = true;
      if (held_back_) return EnqueueResult::kQueued;
      held_back_ = true;
      return EnqueueResult::kHeldBackFirst;
    case WriteMode::kUrgent:
      if (!writing_ && !held_back_ && ((!flush_posted_ && queue_.size() == head_ + 1) || flush_deferred_)) {
        WriteLocked(lock);
        return EnqueueResult::kQueued;
      }
      break;
    case WriteMode::kSoon:
      break;
  }
  ScheduleFlushLocked(lock);
  return EnqueueResult::kQueued;
}

void Channel::FlushHeldBack(bool write_now) {
  std::unique_lock lock(mutex_);
  held_back_ = false;
  const bool urgent = std::exchange(held_back_urgent_, false);
  if (aborted_ || writing_ || head_ == queue_.size()) return;
  if (urgent) {
    // A flush waiting in the pacer does not hold back a response; it finds less to write.
    if (!flush_posted_ || flush_deferred_) WriteLocked(lock);
    return;
  }
  if (flush_posted_) return;
  // A small document writes this receiver from its own thread, as each batch ends; a large
  // fan-out goes through the write context. Either way a receiver written moments ago waits for
  // its pacer's round, so that several ops leave in one write.
  FlushPacer* pacer = write_now ? options_.flush_pacer : options_.fanout_pacer;
  if (RecentlyWrittenLocked(pacer)) {
    flush_posted_ = true;
    flush_deferred_ = true;
    pacer->Defer({KeepAlive(), this});
    return;
  }
  if (!write_now) return ScheduleFlushLocked(lock);
  WriteLocked(lock);
}

void Channel::ScheduleFlushLocked(std::unique_lock<std::mutex>&) {
  if (flush_posted_ || writing_) return;
  flush_posted_ = true;
  auto flush = [self = KeepAlive(), this] { Flush(); };
  if (options_.write_context != nullptr) {
    asio::post(*options_.write_context, std::move(flush));
  } else {
    asio::post(socket_.get_executor(), std::move(flush));
  }
}

bool Channel::RecentlyWrittenLocked(const FlushPacer* pacer) const {
  return pacer != nullptr && Clock::now() - last_write_ < pacer->interval();
}

void Channel::FlushDeferred() { Flush(); }

void Channel::Flush() {
  std::unique_lock lock(mutex_);
  flush_posted_ = false;
  flush_deferred_ = false;
  if (writing_) return;
  WriteLocked(lock);
}

void Channel::WriteLocked(std::unique_lock<std::mutex>& lock) {
  writing_ = true;
  std::array<iovec, kMaxIovecs> iov;
  while (head_ < queue_.size() && !aborted_) {
    size_t count = 0;
    for (size_t i = head_; i < queue_.size() && count < kMaxIovecs; ++i, ++count) {
      const size_t skip = i == head_ ? head_offset_ : 0;
      iov[count].iov_base = const_cast<char*>(queue_[i].data + skip);
      iov[count].iov_len = queue_[i].size - skip;
    }
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = count;
    // Frames before queue_.size() are only touched by the writer, so the lock can be released
    // while the kernel copies them; other threads may append meanwhile.
    in_flight_end_ = head_ + count;
    lock.unlock();
    ssize_t written = ::sendmsg(fd_, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    const int error = errno;
    lock.lock();
    in_flight_end_ = 0;
    if (written < 0) {
      if (error == EINTR) continue;
      if (error == EAGAIN || error == EWOULDBLOCK) {
        socket_.async_wait(tcp::socket::wait_write, [self = KeepAlive(), this](const boost::system::error_code& ec) {
          std::unique_lock lock(mutex_);
          if (ec) {
            writing_ = false;
            return AbortLocked();
          }
          WriteLocked(lock);
        });
        return;  // writing_ stays set until the wait completes
      }
      writing_ = false;
      return AbortLocked();
    }
    if (options_.flush_pacer != nullptr || options_.fanout_pacer != nullptr) last_write_ = Clock::now();
    auto remaining = static_cast<size_t>(written);
    while (remaining > 0) {
      auto& frame = queue_[head_];
      const size_t left = frame.size - head_offset_;
      if (remaining < left) {
        head_offset_ += remaining;
        break;
      }
      remaining -= left;
      queued_bytes_ -= frame.size;
      frame.owner.reset();
      ++head_;
      head_offset_ = 0;
    }
  }
  if (aborted_) DropQueueLocked();
  if (head_ == queue_.size()) {
    queue_.clear();
    if (queue_.capacity() > 256) std::vector<OutboundFrame>().swap(queue_);
    head_ = 0;
  }
  writing_ = false;
  if (shut_down_after_flush_ && head_ == queue_.size()) AbortLocked();
}

void Channel::Close(CloseCode code, std::string_view reason) {
  std::unique_lock lock(mutex_);
  StartCloseLocked(lock, code, reason, false);
}

void Channel::Shutdown() { Close(CloseCode::kGoingAway, "Server shutting down"); }

void Channel::StartCloseLocked(std::unique_lock<std::mutex>& lock, CloseCode code, std::string_view reason,
                               bool discard_queued) {
  if (close_queued_ || aborted_) return;
  if (discard_queued) {
    // Keep a partly written frame (the stream must stay well-formed) and the frames a writer is
    // handing to the kernel right now; drop the rest.
    const size_t keep = std::max(head_ + (head_offset_ > 0 ? 1 : 0), in_flight_end_);
    for (size_t i = keep; i < queue_.size(); ++i) queued_bytes_ -= queue_[i].size;
    queue_.resize(keep);
  }
  close_queued_ = true;
  close_started_ = Clock::now();
  std::string frame;
  AppendCloseFrame(frame, code, reason);
  EnqueueLocked(lock, OutboundFrame::Own(std::move(frame)), true);
}

void Channel::AbortLocked() {
  if (aborted_) return;
  aborted_ = true;
  // shutdown() rather than close(): the descriptor stays valid (and unused by any other socket)
  // until the last handler is gone, while a pending readiness wait wakes up.
  ::shutdown(fd_, SHUT_RDWR);
  // A writer in sendmsg still reads its frames: it releases them when it returns.
  if (!writing_) DropQueueLocked();
}

void Channel::DropQueueLocked() {
  queue_.clear();
  head_ = 0;
  head_offset_ = 0;
  queued_bytes_ = 0;
}

void Channel::Sweep(Clock::time_point now) {
  const auto last_input = Clock::time_point(Clock::duration(last_input_.load(std::memory_order_relaxed)));
  std::unique_lock lock(mutex_);
  if (aborted_) return;
  if (close_queued_) {
    if (now - close_started_ > options_.close_handshake_timeout) AbortLocked();
    return;
  }
  if (now - last_input > options_.close_after_idle) {
    Log()->info("Closing WebSocket: no input for {} s", options_.close_after_idle.count());
    return AbortLocked();
  }
  if (now - last_input > options_.ping_after_idle && !ping_outstanding_.exchange(true, std::memory_order_relaxed)) {
    static const std::string kPing = [] {
      std::string frame;
      AppendFrameHeader(frame, Opcode::kPing, 0);
      return frame;
    }();
    OutboundFrame frame;
    frame.data = kPing.data();
    frame.size = kPing.size();
    EnqueueLocked(lock, std::move(frame), true);
  }
}

}  // namespace opstream::net::websocket
