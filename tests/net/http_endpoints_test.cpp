// The plain HTTP endpoints (server.md §1.7): bodies, statuses and headers.
#include "net/http_endpoints.hpp"

#include <gtest/gtest.h>

#include "backplane/local_backplane.hpp"
#include "storage/memory_store.hpp"

namespace opstream::net {
namespace {

struct UnhealthyStore final : storage::DocumentStore {
  std::string_view provider() const override { return "broken"; }
  std::string_view type_name() const override { return "Broken"; }
  void Initialize(Completion done) override { done(Status::Ok()); }
  void Load(std::string, LoadCompletion done) override { done(Status::Error("down"), {}); }
  void Append(std::string, std::vector<storage::StoredOp>, Completion done) override { done(Status::Error("down")); }
  void WriteSnapshot(std::string, storage::Snapshot, Completion done) override { done(Status::Error("down")); }
  void Compact(std::string, int64_t, Completion done) override { done(Status::Error("down")); }
  void Enumerate(std::string, storage::DocumentQuery, EnumerateCompletion done) override {
    done(Status::Error("down"), {});
  }
  void GetInfo(std::string, InfoCompletion done) override { done(Status::Error("down"), std::nullopt); }
  void Delete(std::string, Completion done) override { done(Status::Error("down")); }
  void DeleteByTenantPrefix(std::string, CountCompletion done) override { done(Status::Error("down"), 0); }
  void CheckHealth(HealthCompletion done) override { done({storage::HealthStatus::kUnhealthy, "down"}); }
  void Flush(std::chrono::milliseconds) override {}
};

HttpResponse Call(HttpHandler& handler, std::string method, std::string path) {
  HttpResponse response;
  handler.Handle(HttpRequest{std::move(method), std::move(path), {}}, [&](HttpResponse r) { response = std::move(r); });
  return response;
}

std::string Header(const HttpResponse& response, std::string_view name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) return value;
  }
  return "<absent>";
}

TEST(HttpEndpoints, RootHealthAndErrors) {
  storage::MemoryDocumentStore store;
  backplane::LocalBackplane backplane;
  HttpEndpoints endpoints("OpStream host. Storage=memory, Backplane=local, Transports=websockets", store, backplane);

  auto root = Call(endpoints, "GET", "/");
  EXPECT_EQ(root.status, 200u);
  EXPECT_EQ(root.content_type, "text/plain");
  EXPECT_EQ(root.body, "OpStream host. Storage=memory, Backplane=local, Transports=websockets");
  EXPECT_EQ(Call(endpoints, "POST", "/").status, 405u);
  EXPECT_EQ(Call(endpoints, "GET", "/nope").status, 404u);
  EXPECT_EQ(Call(endpoints, "GET", "/nope").body, "");

  for (const char* path : {"/health", "/health/ready"}) {
    auto health = Call(endpoints, "GET", path);
    EXPECT_EQ(health.status, 200u) << path;
    EXPECT_EQ(health.body, "Degraded") << path;  // memory storage
    EXPECT_EQ(Header(health, "Cache-Control"), "no-store, no-cache");
    EXPECT_EQ(Header(health, "Pragma"), "no-cache");
    EXPECT_EQ(Header(health, "Expires"), "Thu, 01 Jan 1970 00:00:00 GMT");
  }
  auto live = Call(endpoints, "POST", "/health/live");
  EXPECT_EQ(live.status, 200u);
  EXPECT_EQ(live.body, "Healthy");
}

TEST(HttpEndpoints, UnhealthyStorageMakesReadinessFailButNotLiveness) {
  UnhealthyStore store;
  backplane::LocalBackplane backplane;
  HttpEndpoints endpoints("x", store, backplane);
  auto ready = Call(endpoints, "GET", "/health/ready");
  EXPECT_EQ(ready.status, 503u);
  EXPECT_EQ(ready.body, "Unhealthy");
  EXPECT_EQ(Call(endpoints, "GET", "/health").status, 503u);
  EXPECT_EQ(Call(endpoints, "GET", "/health/live").status, 200u);
}

}  // namespace
}  // namespace opstream::net
