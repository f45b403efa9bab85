#pragma once
#include "backplane/backplane.hpp"

namespace opstream::backplane {

// Single node: owns every document, has nobody to publish to (server.md §4.2).
class LocalBackplane final : public Backplane {
 public:
  std::string_view provider() const override { return "local"; }
  const std::string& node_id() const override { return node_id_; }
  void Publish(const std::string&, Message) override {}
  std::unique_ptr<Subscription> Subscribe(const std::string&, Handler) override;
  void GetOrAcquireOwner(const std::string&, OwnerCompletion done) override { done(Status::Ok(), node_id_); }
  void ReleaseOwnership(const std::string&) override {}
  void CheckHealth(storage::DocumentStore::HealthCompletion done) override {
    done({storage::HealthStatus::kHealthy, "local backplane"});
  }

 private:
  std::string node_id_ = "LocalNode";
};

}  // namespace opstream::backplane
