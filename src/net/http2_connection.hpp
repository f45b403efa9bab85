#pragma once
// HTTP/2 with prior knowledge (h2c) on the shared port, driven by libnghttp2's server session.
//
// Plain HTTP requests are answered by the same HttpHandler as HTTP/1.1. Streaming protocols on top
// of HTTP/2 (gRPC) register an Http2StreamFactory: it may take over a stream when its request
// headers are complete and then sees its DATA as it arrives and writes through an Http2Stream.
// Unclaimed gRPC requests (content-type application/grpc*) get a trailers-only UNIMPLEMENTED
// answer, which every gRPC client reports cleanly.
#include <nghttp2/nghttp2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "net/http_types.hpp"
#include "net/server.hpp"

namespace opstream::net {

using Http2Headers = std::vector<std::pair<std::string, std::string>>;

struct Http2RequestHead {
  std::string method;
  std::string path;
  std::string content_type;
  Http2Headers headers;  // every regular (non-pseudo) header, names lower-case
};

class Http2Connection;
struct Http2Pacer;

// The write side of one claimed stream. Thread-safe: the session layer writes from any thread;
// the bytes are handed to nghttp2 on the connection's strand, as the peer's flow-control window
// allows. Outbound bytes are buffered per stream, so a slow reader holds back only its own stream.
class Http2Stream : public std::enable_shared_from_this<Http2Stream> {
 public:
  Http2Stream(std::weak_ptr<Http2Connection> connection, int32_t id,
              boost::asio::strand<boost::asio::any_io_executor> strand)
      : connection_(std::move(connection)), id_(id), strand_(strand), executor_(std::move(strand)) {}

  // Response headers (":status" is added). Sent before the first body bytes.
  void SendHeaders(Http2Headers headers);
  enum class WriteResult { kQueued, kClosed, kOverflow };
  // Appends body bytes. kOverflow when `limit` buffered bytes would be exceeded (nothing is
  // queued; the caller decides what to do about a reader that fell behind). `hold`: keep them
  // until Release (or the next write without `hold`), so a batch of messages goes out together.
  WriteResult Write(std::string_view bytes, size_t limit, bool hold = false);
  // Hands held bytes to the connection. `paced`: through a process-wide queue that wakes the
  // streams a few at a time, so a large fan-out does not queue one handler per receiver ahead of
  // the input of every connection (the next request then joins the bytes still waiting here).
  void Release(bool paced);
  // Ends the response with trailers; trailers-only (a single HEADERS) if nothing was sent yet.
  void Finish(Http2Headers trailers);
  // RST_STREAM with `error_code`.
  void Reset(uint32_t error_code);
  size_t Buffered() const;
  // Gives `bytes` of received DATA back to the peer's flow-control window of this stream.
  void Consume(size_t bytes);
  // The connection's strand: handler callbacks run here.
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  friend class Http2Connection;
  friend struct Http2Pacer;
  void Pump();

  std::weak_ptr<Http2Connection> connection_;
  const int32_t id_;
  // Posts go to the typed strand: through executor_ every post would wrap it again (a heap
  // allocation per delivery, the strand being too large for any_io_executor's inline storage).
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  boost::asio::any_io_executor executor_;
  mutable std::mutex mutex_;
  Http2Headers headers_;
  Http2Headers trailers_;
  std::string out_;
  size_t out_offset_ = 0;
  bool headers_given_ = false;
  bool headers_submitted_ = false;
  bool finished_ = false;
  bool trailers_submitted_ = false;
  bool deferred_ = false;
  bool pump_posted_ = false;
  bool paced_ = false;  // waiting in the pacer's queue
  uint32_t reset_code_ = 0;
  bool reset_ = false;
};

// The read side of a claimed stream. Every call runs on the connection's strand.
class Http2StreamHandler {
 public:
  virtual ~Http2StreamHandler() = default;
  virtual void OnData(std::string_view data) = 0;
  // The client half-closed its side (END_STREAM).
  virtual void OnEndStream() = 0;
  // The stream is gone (completed, reset by the peer, or the connection died). Last call.
  virtual void OnClose(uint32_t error_code) = 0;
  // The server is shutting down (GOAWAY sent): finish the call soon.
  virtual void OnShutdown() {}
};

// Returns a handler to claim the stream, or null to leave it to the plain HTTP handler.
using Http2StreamFactory =
    std::function<std::shared_ptr<Http2StreamHandler>(const Http2RequestHead&, std::shared_ptr<Http2Stream>)>;

class Http2Connection final : public LiveConnection, public std::enable_shared_from_this<Http2Connection> {
 public:
  Http2Connection(boost::beast::tcp_stream stream, HttpHandler& http, Server& server);
  ~Http2Connection() override;

  // `initial_bytes` were read while sniffing the protocol (at least the client preface).
  void Start(std::string initial_bytes);
  void Shutdown() override;

  // Process-wide, set once before the server listens (the composition root registers gRPC).
  static void SetStreamFactory(Http2StreamFactory factory);

 private:
  friend class Http2Stream;
  struct Stream {
    Http2RequestHead head;
    std::shared_ptr<Http2Stream> writer;          // claimed streams
    std::shared_ptr<Http2StreamHandler> handler;  // claimed streams
    bool answered = false;                        // refused before its body ended
    std::string body;
    std::string response_body;
    size_t response_offset = 0;
  };

  // Coroutines take `self` so the connection outlives them (a member coroutine's `this` does not).
  static boost::asio::awaitable<void> ReadLoop(std::shared_ptr<Http2Connection> self, std::string initial_bytes);
  // Writes what nghttp2 has to send, at once, from the calling strand handler: a burst of
  // deliveries costs one non-blocking send, not a coroutine and an asynchronous write.
  void ScheduleWrite();
  void Flush();
  void FlushSoon();
  void FailWrite();
  void Dispatch(int32_t stream_id);
  void Respond(int32_t stream_id, HttpResponse response);
  void Claim(int32_t stream_id);
  void PumpStream(Http2Stream& writer);
  static ssize_t ReadStreamBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                                nghttp2_data_source* source, void* user);

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static int OnFrameSend(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static ssize_t ReadBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user);

  boost::beast::tcp_stream stream_;
  // nghttp2 is single-threaded: every coroutine and callback of the connection runs here.
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  HttpHandler& http_;
  Server& server_;
  uint64_t live_id_ = 0;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  // Bytes nghttp2 produced that the socket did not take yet; empty (no heap) while it keeps up.
  std::string unsent_;
  size_t unsent_offset_ = 0;
  bool waiting_writable_ = false;
  bool flush_posted_ = false;
  // Inside mem_recv / mem_send: nghttp2 must not be re-entered from its callbacks.
  bool in_session_ = false;
  bool closed_ = false;
};

}  // namespace opstream::net
