#include "net/http_endpoints.hpp"

#include <algorithm>
#include <atomic>
#include <mutex>

namespace opstream::net {
namespace {

HttpResponse HealthResponse(storage::HealthStatus status) {
  HttpResponse response;
  response.status = status == storage::HealthStatus::kUnhealthy ? 503 : 200;
  response.content_type = "text/plain";
  response.body = status == storage::HealthStatus::kHealthy    ? "Healthy"
                  : status == storage::HealthStatus::kDegraded ? "Degraded"
                                                               : "Unhealthy";
  response.headers = {
      {"Cache-Control", "no-store, no-cache"}, {"Pragma", "no-cache"}, {"Expires", "Thu, 01 Jan 1970 00:00:00 GMT"}};
  return response;
}

}  // namespace

void HttpEndpoints::Handle(const HttpRequest& request, std::function<void(HttpResponse)> respond) {
  if (request.path == "/") {
    if (request.method != "GET" && request.method != "HEAD")
      return respond(HttpResponse{405, "", "", {{"Allow", "GET, HEAD"}}});
    return respond(HttpResponse{200, "text/plain", info_text_, {}});
  }
  // Health endpoints answer any method, like ASP.NET's MapHealthChecks.
  if (request.path == "/health/live") return respond(HealthResponse(storage::HealthStatus::kHealthy));
  if (request.path == "/health" || request.path == "/health/ready") return RunHealthChecks(std::move(respond));
  respond(HttpResponse{404, "", "", {}});
}

void HttpEndpoints::RunHealthChecks(std::function<void(HttpResponse)> respond) {
  // Storage and backplane checks run concurrently; the worst status wins.
  struct Aggregate {
    std::atomic<int> pending{2};
    std::atomic<int> worst{static_cast<int>(storage::HealthStatus::kHealthy)};
    std::function<void(HttpResponse)> respond;
    void Report(storage::HealthStatus status) {
      int current = worst.load();
      while (static_cast<int>(status) > current && !worst.compare_exchange_weak(current, static_cast<int>(status))) {
      }
      if (pending.fetch_sub(1) == 1) respond(HealthResponse(static_cast<storage::HealthStatus>(worst.load())));
    }
  };
  auto aggregate = std::make_shared<Aggregate>();
  aggregate->respond = std::move(respond);
  store_.CheckHealth([aggregate](storage::HealthReport report) { aggregate->Report(report.status); });
  backplane_.CheckHealth([aggregate](storage::HealthReport report) { aggregate->Report(report.status); });
}

}  // namespace opstream::net
