#pragma once
// HTTP/2 with prior knowledge (h2c) on the shared port, driven by libnghttp2's server session.
//
// Plain HTTP requests are answered by the same HttpHandler as HTTP/1.1. gRPC requests
// (content-type application/grpc*) are the seam for the gRPC transport; until it is registered
// they get a trailers-only UNIMPLEMENTED answer, which every gRPC client reports cleanly.
#include <nghttp2/nghttp2.h>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <map>
#include <memory>
#include <string>

#include "net/http_types.hpp"
#include "net/server.hpp"

namespace opstream::net {

class Http2Connection final : public LiveConnection, public std::enable_shared_from_this<Http2Connection> {
 public:
  Http2Connection(boost::beast::tcp_stream stream, HttpHandler& http, Server& server);
  ~Http2Connection() override;

  // `initial_bytes` were read while sniffing the protocol (at least the client preface).
  void Start(std::string initial_bytes);
  void Shutdown() override;

 private:
  struct Stream {
    std::string method;
    std::string path;
    std::string content_type;
    std::string body;
    std::string response_body;
    size_t response_offset = 0;
  };

  // Coroutines take `self` so the connection outlives them (a member coroutine's `this` does not).
  static boost::asio::awaitable<void> ReadLoop(std::shared_ptr<Http2Connection> self, std::string initial_bytes);
  static boost::asio::awaitable<void> WriteLoop(std::shared_ptr<Http2Connection> self);
  void ScheduleWrite();
  void Dispatch(int32_t stream_id);
  void Respond(int32_t stream_id, HttpResponse response);

  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t stream_id, const uint8_t* data, size_t len,
                         void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t stream_id, uint32_t error_code, void* user);
  static ssize_t ReadBody(nghttp2_session*, int32_t stream_id, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user);

  boost::beast::tcp_stream stream_;
  HttpHandler& http_;
  Server& server_;
  uint64_t live_id_ = 0;
  nghttp2_session* session_ = nullptr;
  std::map<int32_t, Stream> streams_;
  bool writing_ = false;
  bool closed_ = false;
};

}  // namespace opstream::net
