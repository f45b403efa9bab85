#pragma once
// Protocol-neutral HTTP request/response used by both the HTTP/1.1 and HTTP/2 front ends.
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace opstream::net {

struct HttpRequest {
  std::string method;
  std::string path;  // without the query string
  std::string query;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type;  // empty: no Content-Type header
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Answers plain HTTP requests (every path that is not a WebSocket or gRPC endpoint).
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // `respond` may be called from any thread, exactly once.
  virtual void Handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) = 0;
};

}  // namespace opstream::net
