#pragma once
// The gRPC transport (wire-protocol §5): claims gRPC streams on the HTTP/2 front end and serves
// opstream.OpStreamService/Connect on the session layer, the management, versioning and comments
// services with their documented default answers, and grpc.health.v1.Health.
#include <memory>

#include "net/http2_connection.hpp"
#include "net/http_types.hpp"
#include "session/document_router.hpp"

namespace opstream::transports::grpc {

struct GrpcOptions {
  // Bytes queued for one call beyond what the peer's flow-control window accepted; a reader that
  // falls this far behind loses its call (RST_STREAM CANCEL) instead of growing memory.
  size_t outbound_limit_bytes = 16u << 20;
};

class GrpcService {
 public:
  // `health` answers GET /health/ready for grpc.health.v1.Health.
  GrpcService(session::DocumentRouter& router, net::HttpHandler& health, GrpcOptions options = {});

  // Http2StreamFactory: claims application/grpc requests, leaves everything else alone.
  std::shared_ptr<net::Http2StreamHandler> Open(const net::Http2RequestHead& head,
                                                std::shared_ptr<net::Http2Stream> stream);

 private:
  session::DocumentRouter& router_;
  net::HttpHandler& health_;
  const GrpcOptions options_;
};

}  // namespace opstream::transports::grpc
