#include "backplane/local_backplane.hpp"

namespace opstream::backplane {
namespace {
class NoSubscription final : public Subscription {};
}  // namespace

std::unique_ptr<Subscription> LocalBackplane::Subscribe(const std::string&, Handler) {
  return std::make_unique<NoSubscription>();
}

}  // namespace opstream::backplane
