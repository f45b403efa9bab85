#pragma once
// The Redis backplane (server.md §4.3, §4.6), wire-compatible with reference nodes.
//
// Three connections from one StackExchange.Redis connection string, all on the server's own
// io_context: a subscriber (SUBSCRIBE only; restores every subscription after a reconnect), a
// publisher (PUBLISH, pipelined: a burst of publishes is one write, and the order of publishes of
// this node is the order receivers see) and an ownership connection (lease commands), so that a
// slow lease script never delays fan-out.
//
// Deviations from the reference, all recommended by §4.3/§4.6 and invisible to reference nodes:
// requests time out (SV-9) and fail at once when nobody listens on the target's request channel
// (PUBLISH answered 0: the node is gone); the ownership lease is renewed every `renew_interval`
// while held and released with a compare-and-delete script; a lease found taken by another node
// reports the document lost so the session layer closes it immediately (SV-1).
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "backplane/backplane.hpp"
#include "storage/redis/redis_connection_string.hpp"

namespace opstream::backplane {

struct RedisBackplaneSettings {
  std::chrono::milliseconds lease{10000};          // the reference's EX 10
  std::chrono::milliseconds renew_interval{3000};  // §4.6 recommendation
  std::string node_id;                             // empty: a fresh 32-hex GUID (the reference's form)
};

class RedisBackplane final : public Backplane {
 public:
  RedisBackplane(boost::asio::io_context& io, redis::ConnectionOptions options, RedisBackplaneSettings settings = {});
  ~RedisBackplane() override;  // stops (see Stop)

  // Connects the three connections and subscribes the node's own channels. `done` reports the
  // first connection of each (failure after connectRetry attempts; reconnecting goes on anyway).
  void Start(std::function<void(Status)> done);
  // Closes the connections; pending requests fail. Handlers are not called afterwards.
  void Stop();

  std::string_view provider() const override { return "redis"; }
  const std::string& node_id() const override;
  void Publish(const std::string& topic, Message message) override;
  std::unique_ptr<Subscription> Subscribe(const std::string& topic, Handler handler,
                                          SubscribedCompletion subscribed) override;
  void SendRequest(const std::string& target_node_id, std::string type, std::string payload,
                   std::chrono::milliseconds timeout, ResponseCompletion done) override;
  void SetRequestHandler(RequestHandler handler) override;
  void GetOrAcquireOwner(const std::string& document_id, OwnerCompletion done) override;
  void ReleaseOwnership(const std::string& document_id) override;
  void SetOwnershipLostHandler(OwnershipLostHandler handler) override;
  void EvictDeadOwner(const std::string& document_id, const std::string& dead_node_id) override;
  void CheckHealth(storage::DocumentStore::HealthCompletion done) override;

  class Impl;

 private:
  std::shared_ptr<Impl> impl_;
};

// A node id in the reference's form: a random GUID as 32 lowercase hex digits.
std::string NewNodeId();

}  // namespace opstream::backplane
