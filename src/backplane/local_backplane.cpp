#include "backplane/local_backplane.hpp"

#include <fmt/format.h>

#include "common/ids.hpp"

namespace opstream::backplane {
namespace {
class NoSubscription final : public Subscription {};
}  // namespace

std::unique_ptr<Subscription> LocalBackplane::Subscribe(const std::string&, Handler, SubscribedCompletion subscribed) {
  if (subscribed) subscribed(Status::Ok());
  return std::make_unique<NoSubscription>();
}

void LocalBackplane::SetRequestHandler(RequestHandler handler) {
  std::lock_guard lock(mutex_);
  handler_ = std::move(handler);
}

void LocalBackplane::SendRequest(const std::string& target_node_id, std::string type, std::string payload,
                                 std::chrono::milliseconds, ResponseCompletion done) {
  if (target_node_id != node_id_) {
    return done(
        Response::Failure(fmt::format("LocalBackplane cannot reach remote node '{}'. Configure a real backplane (e.g. "
                                      "UseRedisBackplane()) for multi-node deployments.",
                                      target_node_id)));
  }
  RequestHandler handler;
  {
    std::lock_guard lock(mutex_);
    handler = handler_;
  }
  if (!handler) return done(Response::Failure("No request handler registered on this node."));
  Request request{NewUuid(), node_id_, std::move(type), std::move(payload)};
  handler(std::move(request), std::move(done));
}

}  // namespace opstream::backplane
