#include "net/http2_connection.hpp"

#include <sys/socket.h>

#include <array>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "common/logging.hpp"
#include "net/await.hpp"

namespace opstream::net {
namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr uint32_t kMaxConcurrentStreams = 100;
constexpr size_t kMaxRequestBody = 4 << 20;
constexpr size_t kReadBufferBytes = 16384;
// One send takes at most this much of nghttp2's output; the rest follows in the next round.
constexpr size_t kWriteBatchBytes = 65536;

// Input is read into one buffer per thread (used only between two suspensions of a read loop):
// an idle connection owns no read buffer.
char* ThreadReadBuffer() {
  thread_local std::array<char, kReadBufferBytes> buffer;
  return buffer.data();
}

// nghttp2's output is gathered here and sent at once; only what the socket refuses is copied
// into the connection. `busy` covers a flush that would start inside another (not expected: the
// callbacks a flush runs only post), which then uses a buffer of its own.
struct ThreadWriteBuffer {
  std::string bytes;
  bool busy = false;
};
ThreadWriteBuffer& WriteBufferOfThread() {
  thread_local ThreadWriteBuffer buffer;
  return buffer;
}

nghttp2_nv Header(std::string_view name, std::string_view value) {
  return {reinterpret_cast<uint8_t*>(const_cast<char*>(name.data())),
          reinterpret_cast<uint8_t*>(const_cast<char*>(value.data())), name.size(), value.size(), NGHTTP2_NV_FLAG_NONE};
}

Http2StreamFactory& StreamFactory() {
  static Http2StreamFactory factory;
  return factory;
}

std::vector<nghttp2_nv> StatusAnd(const Http2Headers& headers) {
  std::vector<nghttp2_nv> nv{Header(":status", "200")};
  for (const auto& [name, value] : headers) nv.push_back(Header(name, value));
  return nv;
}

}  // namespace

Http2Connection::Http2Connection(beast::tcp_stream stream, HttpHandler& http, Server& server)
    : stream_(std::move(stream)), strand_(asio::make_strand(stream_.get_executor())), http_(http), server_(server) {
  nghttp2_session_callbacks* callbacks;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, &OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, &OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, &OnDataChunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, &OnFrameRecv);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, &OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, &OnFrameSend);
  // Received DATA is acknowledged by hand: at once for the connection window and plain requests,
  // for a claimed stream only when its handler has taken the bytes (Http2Stream::Consume), so a
  // stream whose requests pile up stops its own sender without stalling the connection.
  nghttp2_option* option;
  nghttp2_option_new(&option);
  nghttp2_option_set_no_auto_window_update(option, 1);
  nghttp2_session_server_new2(&session_, callbacks, this, option);
  nghttp2_option_del(option);
  nghttp2_session_callbacks_del(callbacks);
  const std::array<nghttp2_settings_entry, 1> settings{
      {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams}}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
}

Http2Connection::~Http2Connection() {
  if (live_id_ != 0) server_.Unregister(live_id_);
  nghttp2_session_del(session_);
}

void Http2Connection::Start(std::string initial_bytes) {
  live_id_ = server_.Register(weak_from_this());
  asio::co_spawn(strand_, ReadLoop(shared_from_this(), std::move(initial_bytes)), asio::detached);
}

void Http2Connection::Shutdown() {
  asio::post(strand_, [self = shared_from_this()] {
    if (self->closed_) return;
    nghttp2_submit_goaway(self->session_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(self->session_),
                          NGHTTP2_NO_ERROR, nullptr, 0);
    std::vector<std::shared_ptr<Http2StreamHandler>> handlers;
    for (auto& [id, stream] : self->streams_) {
      if (stream.handler) handlers.push_back(stream.handler);
    }
    for (auto& handler : handlers) handler->OnShutdown();
    self->ScheduleWrite();
  });
}

void Http2Connection::SetStreamFactory(Http2StreamFactory factory) { StreamFactory() = std::move(factory); }

asio::awaitable<void> Http2Connection::ReadLoop(std::shared_ptr<Http2Connection> self, std::string initial_bytes) {
  auto feed = [&self](const char* data, size_t size) {
    self->in_session_ = true;
    const auto consumed = nghttp2_session_mem_recv(self->session_, reinterpret_cast<const uint8_t*>(data), size);
    self->in_session_ = false;
    return consumed >= 0;
  };
  if (!feed(initial_bytes.data(), initial_bytes.size())) {
    self->closed_ = true;
    co_return;
  }
  std::string().swap(initial_bytes);
  self->ScheduleWrite();
  auto& socket = self->stream_.socket();
  bool open = true;
  // Wait for readability, then drain the socket into the thread's buffer: no buffer is held
  // across a suspension, so an idle connection costs no read buffer.
  while (open && !self->closed_ && nghttp2_session_want_read(self->session_)) {
    auto [ec] = co_await socket.async_wait(asio::ip::tcp::socket::wait_read, kUseTuple);
    if (ec) break;
    while (open && !self->closed_) {
      char* buffer = ThreadReadBuffer();
      const ssize_t n = ::recv(socket.native_handle(), buffer, kReadBufferBytes, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n <= 0 || !feed(buffer, static_cast<size_t>(n))) open = false;
      self->ScheduleWrite();
      if (static_cast<size_t>(n) < kReadBufferBytes) break;
    }
  }
  // Garbage or a dead peer: let a pending GOAWAY go out, then close.
  self->ScheduleWrite();
  self->closed_ = true;
  beast::error_code ignored;
  self->stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  // Claimed streams learn that the connection is gone (nghttp2 does not close them for us).
  auto streams = std::move(self->streams_);
  self->streams_.clear();
  for (auto& [id, stream] : streams) {
    if (stream.handler) stream.handler->OnClose(NGHTTP2_CANCEL);
  }
}

void Http2Connection::ScheduleWrite() {
  // nghttp2 must not be re-entered from its callbacks: whoever runs mem_recv / mem_send flushes
  // after it. While the socket is full, the writability wait flushes.
  if (in_session_ || waiting_writable_) return;
  Flush();
}

void Http2Connection::FailWrite() {
  closed_ = true;
  std::string().swap(unsent_);
  unsent_offset_ = 0;
  // Wakes the read loop, which closes the claimed streams.
  beast::error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
}

void Http2Connection::Flush() {
  auto& socket = stream_.socket();
  // Sends [data, data + size) without blocking; returns the bytes taken, or -1 after a failure.
  auto send = [this, &socket](const char* data, size_t size) -> ssize_t {
    size_t sent = 0;
    while (sent < size) {
      const ssize_t n = ::send(socket.native_handle(), data + sent, size - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      if (n < 0) {
        FailWrite();
        return -1;
      }
      sent += static_cast<size_t>(n);
    }
    return static_cast<ssize_t>(sent);
  };
  auto& shared = WriteBufferOfThread();
  std::string own;
  const bool use_shared = !shared.busy;
  std::string& batch = use_shared ? shared.bytes : own;
  if (use_shared) shared.busy = true;
  bool blocked = false;
  while (!closed_ || !unsent_.empty()) {
    if (!unsent_.empty()) {
      const ssize_t n = send(unsent_.data() + unsent_offset_, unsent_.size() - unsent_offset_);
      if (n < 0) break;
      unsent_offset_ += static_cast<size_t>(n);
      if (unsent_offset_ < unsent_.size()) {
        blocked = true;
        break;
      }
      std::string().swap(unsent_);
      unsent_offset_ = 0;
    }
    batch.clear();
    in_session_ = true;
    while (batch.size() < kWriteBatchBytes) {
      const uint8_t* data = nullptr;
      const auto n = nghttp2_session_mem_send(session_, &data);
      if (n <= 0) break;
      batch.append(reinterpret_cast<const char*>(data), static_cast<size_t>(n));
    }
    in_session_ = false;
    if (batch.empty()) break;
    const ssize_t n = send(batch.data(), batch.size());
    if (n < 0) break;
    if (static_cast<size_t>(n) < batch.size()) unsent_.assign(batch, static_cast<size_t>(n));
  }
  if (use_shared) {
    shared.busy = false;
    // A burst of large responses must not pin its memory to the thread.
    if (shared.bytes.capacity() > 4 * kWriteBatchBytes) std::string().swap(shared.bytes);
  }
  if (blocked && !closed_) {
    waiting_writable_ = true;
    socket.async_wait(asio::ip::tcp::socket::wait_write,
                      asio::bind_executor(strand_, [self = shared_from_this()](const beast::error_code& ec) {
                        self->waiting_writable_ = false;
                        if (ec) return self->FailWrite();
                        self->Flush();
                      }));
    return;
  }
  if (!closed_ && !nghttp2_session_want_read(session_) && !nghttp2_session_want_write(session_)) {
    closed_ = true;
    beast::error_code ignored;
    socket.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket.close(ignored);
  }
}

int Http2Connection::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    self->streams_[frame->hd.stream_id] = Stream{};
  }
  return 0;
}

int Http2Connection::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                              const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end()) return 0;
  const std::string_view key(reinterpret_cast<const char*>(name), namelen);
  const std::string_view val(reinterpret_cast<const char*>(value), valuelen);
  auto& head = it->second.head;
  if (key == ":method")
    head.method = val;
  else if (key == ":path")
    head.path = val;
  else if (!key.starts_with(':')) {
    if (key == "content-type") head.content_type = val;
    if (head.headers.size() < 64) head.headers.emplace_back(key, val);
  }
  return 0;
}

int Http2Connection::OnDataChunk(nghttp2_session* session, uint8_t, int32_t stream_id, const uint8_t* data, size_t len,
                                 void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  nghttp2_session_consume_connection(session, len);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  if (auto handler = it->second.handler) {
    handler->OnData(std::string_view(reinterpret_cast<const char*>(data), len));
    return 0;
  }
  nghttp2_session_consume_stream(session, stream_id, len);
  if (it->second.body.size() + len > kMaxRequestBody) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, stream_id, NGHTTP2_REFUSED_STREAM);
    return 0;
  }
  it->second.body.append(reinterpret_cast<const char*>(data), len);
  return 0;
}

int Http2Connection::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    self->Claim(frame->hd.stream_id);
    // An unclaimed gRPC call is refused at once: a streaming client may never half-close.
    auto it = self->streams_.find(frame->hd.stream_id);
    if (it != self->streams_.end() && !it->second.handler &&
        it->second.head.content_type.starts_with("application/grpc")) {
      self->Dispatch(frame->hd.stream_id);
      it->second.answered = true;
      return 0;
    }
  }
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
    auto it = self->streams_.find(frame->hd.stream_id);
    if (it != self->streams_.end() && it->second.handler) {
      auto handler = it->second.handler;
      handler->OnEndStream();
    } else if (it != self->streams_.end() && !it->second.answered) {
      self->Dispatch(frame->hd.stream_id);
    }
  }
  return 0;
}

// A claimed stream answered in full while the client is still sending (an early error, a
// deadline): RST_STREAM NO_ERROR tells it to stop (RFC 9113 §8.1) and frees the stream.
int Http2Connection::OnFrameSend(nghttp2_session* session, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  if ((frame->hd.flags & NGHTTP2_FLAG_END_STREAM) == 0) return 0;
  if (frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) return 0;
  auto it = self->streams_.find(frame->hd.stream_id);
  if (it == self->streams_.end() || (!it->second.handler && !it->second.answered)) return 0;
  if (nghttp2_session_get_stream_remote_close(session, frame->hd.stream_id) == 0) {
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, frame->hd.stream_id, NGHTTP2_NO_ERROR);
  }
  return 0;
}

int Http2Connection::OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return 0;
  auto handler = std::move(it->second.handler);
  self->streams_.erase(it);
  if (handler) handler->OnClose(error_code);
  return 0;
}

void Http2Connection::Claim(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end() || !StreamFactory()) return;
  auto writer = std::make_shared<Http2Stream>(weak_from_this(), stream_id, strand_);
  if (auto handler = StreamFactory()(it->second.head, writer)) {
    it->second.writer = std::move(writer);
    it->second.handler = std::move(handler);
  }
}

void Http2Stream::SendHeaders(Http2Headers headers) {
  std::lock_guard lock(mutex_);
  if (headers_given_ || finished_) return;
  headers_ = std::move(headers);
  headers_given_ = true;
  Pump();
}

Http2Stream::WriteResult Http2Stream::Write(std::string_view bytes, size_t limit, bool hold) {
  std::lock_guard lock(mutex_);
  if (finished_ || reset_) return WriteResult::kClosed;
  if (out_.size() - out_offset_ + bytes.size() > limit) return WriteResult::kOverflow;
  out_.append(bytes);
  if (!hold) Pump();
  return WriteResult::kQueued;
}

// Streams released with `paced` wait here; one handler at a time wakes kPacedChunk of them and
// posts itself again behind their pumps (and behind the reactor's next round of input).
//
// One pacer per releasing thread (a document's batch releases its receivers from its own
// thread), never one for the process: its mutex is only shared between that thread's releases
// and the drain handler, so fan-outs of different documents on different threads never contend.
struct Http2Pacer : std::enable_shared_from_this<Http2Pacer> {
  static constexpr size_t kPacedChunk = 32;
  std::mutex mutex;
  // Weak: a stream closed meanwhile is skipped, and nothing here outlives the io_context.
  std::deque<std::weak_ptr<Http2Stream>> queue;
  bool posted = false;

  static Http2Pacer& ForThisThread() {
    // Owned through shared_ptr: a drain still queued keeps it alive after its thread ends.
    thread_local const auto pacer = std::make_shared<Http2Pacer>();
    return *pacer;
  }

  void Add(std::shared_ptr<Http2Stream> stream) {
    auto executor = stream->strand_;
    {
      std::lock_guard lock(mutex);
      queue.push_back(stream);
      if (posted) return;
      posted = true;
    }
    asio::post(executor, [self = shared_from_this(), executor] { self->Drain(executor); });
  }

  void Drain(const asio::strand<asio::any_io_executor>& executor) {
    std::array<std::shared_ptr<Http2Stream>, kPacedChunk> chunk;
    size_t count = 0;
    bool more;
    {
      std::lock_guard lock(mutex);
      while (count < kPacedChunk && !queue.empty()) {
        if (auto stream = queue.front().lock()) chunk[count++] = std::move(stream);
        queue.pop_front();
      }
      more = !queue.empty();
      posted = more;
    }
    for (size_t i = 0; i < count; ++i) {
      std::lock_guard lock(chunk[i]->mutex_);
      chunk[i]->paced_ = false;
      chunk[i]->Pump();
    }
    if (more) asio::post(executor, [self = shared_from_this(), executor] { self->Drain(executor); });
  }
};

void Http2Stream::Release(bool paced) {
  {
    std::lock_guard lock(mutex_);
    if (out_offset_ == out_.size() || pump_posted_) return;  // nothing held, or on its way
    if (!paced) return Pump();
    if (paced_) return;
    paced_ = true;
  }
  // The pacer holds the stream, never the connection: a closed connection's pump is a no-op.
  Http2Pacer::ForThisThread().Add(shared_from_this());
}

void Http2Stream::Finish(Http2Headers trailers) {
  std::lock_guard lock(mutex_);
  if (finished_ || reset_) return;
  trailers_ = std::move(trailers);
  finished_ = true;
  Pump();
}

void Http2Stream::Reset(uint32_t error_code) {
  std::lock_guard lock(mutex_);
  if (reset_) return;
  reset_ = true;
  reset_code_ = error_code;
  Pump();
}

void Http2Stream::Consume(size_t bytes) {
  auto connection = connection_.lock();
  if (!connection || bytes == 0) return;
  asio::post(strand_, [connection, id = id_, bytes] {
    if (connection->closed_ || connection->streams_.find(id) == connection->streams_.end()) return;
    nghttp2_session_consume_stream(connection->session_, id, bytes);
    // A window update is not urgent: it goes with the next write, or on its own soon after.
    connection->FlushSoon();
  });
}

size_t Http2Stream::Buffered() const {
  std::lock_guard lock(mutex_);
  return out_.size() - out_offset_;
}

// Called with mutex_ held: one hand-over to the strand per burst of writes.
void Http2Stream::Pump() {
  if (pump_posted_) return;
  auto connection = connection_.lock();
  if (!connection) return;
  pump_posted_ = true;
  asio::post(strand_, [connection, self = this, id = id_] {
    auto it = connection->streams_.find(id);
    if (it == connection->streams_.end() || it->second.writer.get() != self) return;
    connection->PumpStream(*it->second.writer);
  });
}

void Http2Connection::PumpStream(Http2Stream& writer) {
  {
    std::lock_guard lock(writer.mutex_);
    writer.pump_posted_ = false;
    if (closed_) return;
    if (writer.reset_) {
      nghttp2_submit_rst_stream(session_, NGHTTP2_FLAG_NONE, writer.id_, writer.reset_code_);
    } else if (!writer.headers_submitted_) {
      const bool body = writer.headers_given_ || writer.out_offset_ < writer.out_.size();
      if (writer.finished_ && !body) {
        // Trailers-only response.
        const auto nv = StatusAnd(writer.trailers_);
        nghttp2_submit_response(session_, writer.id_, nv.data(), nv.size(), nullptr);
        writer.headers_submitted_ = writer.trailers_submitted_ = true;
      } else if (body) {
        const auto nv = StatusAnd(writer.headers_);
        nghttp2_data_provider provider{};
        provider.read_callback = &ReadStreamBody;
        nghttp2_submit_response(session_, writer.id_, nv.data(), nv.size(), &provider);
        writer.headers_submitted_ = true;
      }
    } else if (writer.deferred_) {
      writer.deferred_ = false;
      nghttp2_session_resume_data(session_, writer.id_);
    }
  }
  ScheduleWrite();
}

ssize_t Http2Connection::ReadStreamBody(nghttp2_session* session, int32_t stream_id, uint8_t* buf, size_t length,
                                        uint32_t* flags, nghttp2_data_source*, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end() || !it->second.writer) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& writer = *it->second.writer;
  std::lock_guard lock(writer.mutex_);
  const size_t n = std::min(length, writer.out_.size() - writer.out_offset_);
  std::memcpy(buf, writer.out_.data() + writer.out_offset_, n);
  writer.out_offset_ += n;
  if (writer.out_offset_ == writer.out_.size()) {
    writer.out_.clear();
    writer.out_offset_ = 0;
  } else if (writer.out_offset_ > (1u << 20)) {
    writer.out_.erase(0, writer.out_offset_);
    writer.out_offset_ = 0;
  }
  if (writer.out_.empty() && writer.finished_) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!writer.trailers_submitted_) {
      writer.trailers_submitted_ = true;
      std::vector<nghttp2_nv> nv;
      for (const auto& [name, value] : writer.trailers_) nv.push_back(Header(name, value));
      if (!nv.empty()) {
        *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
        nghttp2_submit_trailer(session, stream_id, nv.data(), nv.size());
      }
    }
    return static_cast<ssize_t>(n);
  }
  if (n == 0) {
    writer.deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

void Http2Connection::Dispatch(int32_t stream_id) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end()) return;
  const auto& stream = it->second;
  if (stream.head.content_type.starts_with("application/grpc")) {
    // Trailers-only response (gRPC over HTTP/2 spec): status 200, grpc-status in the only HEADERS.
    const std::array<nghttp2_nv, 4> headers{Header(":status", "200"), Header("content-type", "application/grpc"),
                                            Header("grpc-status", "12"),
                                            Header("grpc-message", "gRPC%20service%20is%20not%20enabled")};
    nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(), nullptr);
    return ScheduleWrite();
  }
  HttpRequest request{stream.head.method, stream.head.path, {}};
  if (const auto q = request.path.find('?'); q != std::string::npos) {
    request.query = request.path.substr(q + 1);
    request.path.resize(q);
  }
  http_.Handle(request, [self = shared_from_this(), stream_id](HttpResponse response) {
    asio::post(self->strand_, [self, stream_id, response = std::move(response)]() mutable {
      self->Respond(stream_id, std::move(response));
    });
  });
}

void Http2Connection::Respond(int32_t stream_id, HttpResponse response) {
  auto it = streams_.find(stream_id);
  if (it == streams_.end() || closed_) return;  // reset by the client meanwhile
  const std::string status = std::to_string(response.status);
  const std::string length = std::to_string(response.body.size());
  std::vector<nghttp2_nv> headers{Header(":status", status), Header("content-length", length)};
  if (!response.content_type.empty()) headers.push_back(Header("content-type", response.content_type));
  std::vector<std::string> lowered;
  lowered.reserve(response.headers.size());
  for (const auto& [name, value] : response.headers) {
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    lowered.push_back(std::move(lower));
    headers.push_back(Header(lowered.back(), value));
  }
  it->second.response_body = std::move(response.body);
  nghttp2_data_provider provider{};
  provider.read_callback = &ReadBody;
  nghttp2_submit_response(session_, stream_id, headers.data(), headers.size(),
                          it->second.response_body.empty() ? nullptr : &provider);
  FlushSoon();
}

// Answers to a burst of requests arrive as consecutive handlers: one flush behind them sends
// them together (h2load with 10 streams per connection lost a third of its rate otherwise).
void Http2Connection::FlushSoon() {
  if (flush_posted_) return;
  flush_posted_ = true;
  asio::post(strand_, [self = shared_from_this()] {
    self->flush_posted_ = false;
    self->ScheduleWrite();
  });
}

ssize_t Http2Connection::ReadBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                                  nghttp2_data_source*, void* user) {
  auto* self = static_cast<Http2Connection*>(user);
  auto it = self->streams_.find(stream_id);
  if (it == self->streams_.end()) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  auto& stream = it->second;
  const size_t n = std::min(length, stream.response_body.size() - stream.response_offset);
  std::memcpy(buf, stream.response_body.data() + stream.response_offset, n);
  stream.response_offset += n;
  if (stream.response_offset == stream.response_body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
  return static_cast<ssize_t>(n);
}

}  // namespace opstream::net
