#pragma once
// Cross-node fan-out, point-to-point requests and document ownership (server.md §4).
//
// With the local backplane there are no other nodes: publication is a no-op, this node owns every
// document and the session layer never takes the forwarding path (is_local() lets it skip every
// backplane step per op). The Redis backplane speaks the reference's channels and envelopes.
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "storage/document_store.hpp"

namespace opstream::backplane {

// Envelope fields of server.md §4.1: {SenderNodeId, Type, Payload, SenderPeerId}.
struct Message {
  std::string sender_node_id;
  std::string type;  // "op_applied", "awareness_update", "peer_disconnected", ...
  std::string payload;
  std::string sender_peer_id;  // empty is written as null
};

// {RequestId, SenderNodeId, Type, Payload} of §4.1.
struct Request {
  std::string request_id;
  std::string sender_node_id;
  std::string type;
  std::string payload;
};

// {RequestId, Success, Payload, ErrorMessage} of §4.1.
struct Response {
  std::string request_id;
  bool success = false;
  std::string payload;
  std::optional<std::string> error_message;
  // Not on the wire: the request reached nobody (no node listens on the target's channel).
  bool target_unreachable = false;

  static Response Failure(std::string message) { return {{}, false, {}, std::move(message)}; }
};

// The reference's text for a request that got no answer (§4.3 item 4).
inline constexpr std::string_view kRequestTimedOut = "Request timed out or cancelled.";
inline constexpr std::string_view kManagementTopic = "__opstream:mgmt__";

class Subscription {
 public:
  virtual ~Subscription() = default;  // unsubscribes
};

class Backplane {
 public:
  using Handler = std::function<void(const Message&)>;
  using OwnerCompletion = std::function<void(Status, std::string owner_node_id)>;
  using ResponseCompletion = std::function<void(Response)>;
  // Runs a request addressed to this node; `respond` must be called exactly once (any thread).
  using RequestHandler = std::function<void(Request request, ResponseCompletion respond)>;
  using OwnershipLostHandler = std::function<void(const std::string& document_id)>;
  using SubscribedCompletion = std::function<void(Status)>;

  virtual ~Backplane() = default;
  virtual std::string_view provider() const = 0;
  virtual const std::string& node_id() const = 0;
  // True for the single-node backplane: nothing is published and no document is forwarded.
  virtual bool is_local() const { return false; }

  // Publishes to every node subscribed to `topic` (global document id or kManagementTopic), this
  // node included (§4.3: the publishing node receives its own message too).
  virtual void Publish(const std::string& topic, Message message) = 0;
  // Handlers of one topic run one message at a time in publish order of each publishing node.
  // `subscribed` (optional) runs once the subscription is in place on the server, so that a
  // request sent afterwards cannot be answered by messages this node misses.
  virtual std::unique_ptr<Subscription> Subscribe(const std::string& topic, Handler handler,
                                                  SubscribedCompletion subscribed = nullptr) = 0;

  // Point-to-point request (§4.3); fails with kRequestTimedOut after `timeout`, never waits
  // forever on a dead node (SV-9).
  virtual void SendRequest(const std::string& target_node_id, std::string type, std::string payload,
                           std::chrono::milliseconds timeout, ResponseCompletion done) = 0;
  // One handler per node; a later registration replaces the earlier one.
  virtual void SetRequestHandler(RequestHandler handler) = 0;

  // Resolves (and acquires when free) the owner of a document. While this node owns it the lease
  // is renewed until ReleaseOwnership; a lease found lost calls the ownership-lost handler.
  virtual void GetOrAcquireOwner(const std::string& document_id, OwnerCompletion done) = 0;
  virtual void ReleaseOwnership(const std::string& document_id) = 0;
  virtual void SetOwnershipLostHandler(OwnershipLostHandler handler) = 0;
  // Deletes the lease of `document_id` if `dead_node_id` still holds it (compare-and-delete): used
  // once that node is known gone, so that failover need not wait for the lease to lapse.
  virtual void EvictDeadOwner(const std::string& /*document_id*/, const std::string& /*dead_node_id*/) {}

  // Check `opstream-backplane` (server.md §1.7).
  virtual void CheckHealth(storage::DocumentStore::HealthCompletion done) = 0;
};

}  // namespace opstream::backplane
