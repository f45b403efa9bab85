#pragma once
// `/`, `/health`, `/health/ready`, `/health/live` (server.md §1.7, wire-protocol Appendix A).
#include <string>

#include "backplane/backplane.hpp"
#include "net/http_types.hpp"
#include "storage/document_store.hpp"

namespace opstream::net {

class HttpEndpoints final : public HttpHandler {
 public:
  HttpEndpoints(std::string info_text, storage::DocumentStore& store, backplane::Backplane& backplane)
      : info_text_(std::move(info_text)), store_(store), backplane_(backplane) {}

  void Handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) override;

 private:
  void RunHealthChecks(std::function<void(HttpResponse)> respond);

  const std::string info_text_;
  storage::DocumentStore& store_;
  backplane::Backplane& backplane_;
};

}  // namespace opstream::net
