#pragma once
// Cross-node fan-out and document ownership (server.md §4). A session publishes every committed
// op, awareness change and departure of its document; subscribers on other nodes deliver them to
// their own connections. With the local backplane there are no other nodes: publication is a
// no-op and this node owns every document.
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "storage/document_store.hpp"

namespace opstream::backplane {

// Envelope fields of server.md §4.1: {SenderNodeId, Type, Payload, SenderPeerId}.
struct Message {
  std::string sender_node_id;
  std::string type;  // "op_applied", "awareness_update", "peer_disconnected", ...
  std::string payload;
  std::string sender_peer_id;
};

class Subscription {
 public:
  virtual ~Subscription() = default;  // unsubscribes
};

class Backplane {
 public:
  using Handler = std::function<void(const Message&)>;
  using OwnerCompletion = std::function<void(Status, std::string owner_node_id)>;

  virtual ~Backplane() = default;
  virtual std::string_view provider() const = 0;
  virtual const std::string& node_id() const = 0;

  // Publishes to every other node subscribed to `topic` (the global document id).
  virtual void Publish(const std::string& topic, Message message) = 0;
  virtual std::unique_ptr<Subscription> Subscribe(const std::string& topic, Handler handler) = 0;

  // Resolves (and acquires when free) the owner of a document.
  virtual void GetOrAcquireOwner(const std::string& document_id, OwnerCompletion done) = 0;
  virtual void ReleaseOwnership(const std::string& document_id) = 0;

  // Check `opstream-backplane` (server.md §1.7).
  virtual void CheckHealth(storage::DocumentStore::HealthCompletion done) = 0;
};

}  // namespace opstream::backplane
