#pragma once
// The management hub (`/manage`, wire-protocol §3.8): binds the Mgmt* methods and forwards them to
// the ManagementService. No events, no peer semantics.
#include "transports/signalr/hub_connection.hpp"
#include "transports/signalr/management_service.hpp"

namespace opstream::transports::signalr {

class ManagementHub final : public Hub {
 public:
  explicit ManagementHub(ManagementService& service) : service_(service) {}

  boost::asio::awaitable<void> Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) override;
  void OnDisconnected(const std::shared_ptr<HubConnection>&) override {}

 private:
  ManagementService& service_;
};

}  // namespace opstream::transports::signalr
