#pragma once
// The SignalR transport as the composition root sees it: the collaboration hub and the
// management hub (deny-all, server.md §5.2), each on its own path of the shared listener.
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "net/server.hpp"
#include "session/document_router.hpp"
#include "transports/signalr/collab_hub.hpp"
#include "transports/signalr/management_hub.hpp"
#include "transports/signalr/management_service.hpp"
#include "transports/signalr/signalr_endpoint.hpp"

namespace opstream::transports::signalr {

class SignalRTransport {
 public:
  SignalRTransport(boost::asio::io_context& io, net::Server& server, session::DocumentRouter& router,
                   std::string collab_path, std::string management_path, SignalROptions options)
      : options_(options),
        collab_hub_(router),
        management_hub_(management_service_),
        collab_(io, server, collab_hub_, std::move(collab_path), options_),
        management_(io, server, management_hub_, std::move(management_path), options_) {
    collab_.Register();
    management_.Register();
  }

 private:
  const SignalROptions options_;
  CollabHub collab_hub_;
  DenyAllManagementService management_service_;
  ManagementHub management_hub_;
  SignalREndpoint collab_;
  SignalREndpoint management_;
};

}  // namespace opstream::transports::signalr
