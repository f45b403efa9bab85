#pragma once
// The collaboration hub (`/collab`, wire-protocol §3.7): binds each method's arguments and hands
// the request to the session layer. The peer id of every call is the SignalR connection id.
#include "session/document_router.hpp"
#include "transports/signalr/hub_connection.hpp"

namespace opstream::transports::signalr {

class CollabHub final : public Hub {
 public:
  explicit CollabHub(session::DocumentRouter& router) : router_(router) {}

  boost::asio::awaitable<void> Invoke(std::shared_ptr<HubConnection> connection, HubMessage message) override;
  bool TryStart(const std::shared_ptr<HubConnection>& connection, HubMessage& message,
                std::function<void()>& done) override;
  void OnDisconnected(const std::shared_ptr<HubConnection>& connection) override;

 private:
  session::DocumentRouter& router_;
};

// Texts of wire-protocol §3.6.
std::string MethodDoesNotExist(std::string_view target);
std::string BindingFailed(std::string_view target);
std::string HubError(std::string_view target, std::string_view error);

}  // namespace opstream::transports::signalr
