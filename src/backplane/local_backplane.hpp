#pragma once
#include <mutex>

#include "backplane/backplane.hpp"

namespace opstream::backplane {

// Single node: owns every document, has nobody to publish to (server.md §4.2).
class LocalBackplane final : public Backplane {
 public:
  std::string_view provider() const override { return "local"; }
  const std::string& node_id() const override { return node_id_; }
  bool is_local() const override { return true; }
  void Publish(const std::string&, Message) override {}
  std::unique_ptr<Subscription> Subscribe(const std::string&, Handler, SubscribedCompletion subscribed) override;
  void SendRequest(const std::string& target_node_id, std::string type, std::string payload,
                   std::chrono::milliseconds timeout, ResponseCompletion done) override;
  void SetRequestHandler(RequestHandler handler) override;
  void GetOrAcquireOwner(const std::string&, OwnerCompletion done) override { done(Status::Ok(), node_id_); }
  void ReleaseOwnership(const std::string&) override {}
  void SetOwnershipLostHandler(OwnershipLostHandler) override {}
  void CheckHealth(storage::DocumentStore::HealthCompletion done) override {
    done({storage::HealthStatus::kHealthy, "local backplane"});
  }

 private:
  std::string node_id_ = "LocalNode";
  std::mutex mutex_;
  RequestHandler handler_;
};

}  // namespace opstream::backplane
