#pragma once
// The two halves of forwarding (server.md §4.3–§4.7) when a document is owned by another node.
//
// RemoteDocument lives on a node whose connections joined a document owned elsewhere. It forwards
// their joins, ops and awareness to the owner as backplane requests, one request per connection
// at a time (transports already guarantee that), and delivers what the owner publishes on the
// document channel (op_applied, awareness_update, peer_disconnected) to its connections.
//
// Ordering (wire-protocol §2.10 R1–R3 across nodes): the owner publishes answers and document
// messages on one ordered publisher connection and this node receives both on one subscriber
// connection, handled on one strand, so a connection sees every op below its acknowledged revision
// before the acknowledgement and none above it. The document channel is subscribed before the
// first join is forwarded, so no op committed after a join's snapshot can be missed. Each
// connection remembers the last revision it has seen: an op at or below it (contained in its
// snapshot, or its own) is never delivered, so every op arrives exactly once.
//
// ProxiedPeer lives on the owner: it stands for a connection of another node inside the
// document's session, turning the session's responses into backplane responses. Broadcast events
// are dropped there, because the other node gets them from the document channel.
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "backplane/backplane.hpp"
#include "session/connection.hpp"
#include "session/session_options.hpp"

namespace opstream::session {

class DocumentRouter;

class RemoteDocument final : public JoinedDocument, public std::enable_shared_from_this<RemoteDocument> {
 public:
  RemoteDocument(boost::asio::io_context& io, std::string document_id, std::string owner_node_id,
                 backplane::Backplane& backplane, DocumentRouter& router, const SessionOptions& options);

  const std::string& document_id() const noexcept override { return document_id_; }
  const std::string& owner_node_id() const noexcept { return owner_node_id_; }

  // `attempt` counts joins re-routed because the owner turned out to be gone.
  void Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_type, Done done,
            int attempt = 0);
  void SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string payload,
                int64_t base_revision, Done done) override;
  void UpdateAwareness(std::shared_ptr<Connection> connection, std::string data_json, Done done) override;
  void Leave(std::shared_ptr<Connection> connection) override;
  // The owner is gone or changed: every connection loses its membership (and rejoins), pending
  // joins fail with `reason`.
  void Close(std::string reason);
  // Teardown only (no strand).
  void DetachPeers();

 private:
  struct Peer {
    std::shared_ptr<Connection> connection;
    int64_t seen_revision;  // highest revision this connection has (snapshot, delivered op or own ack)
  };
  struct PendingJoin {
    std::shared_ptr<Connection> connection;
    CorrelationId correlation;
    std::string document_type;
    Done done;
    int attempt = 0;
  };
  struct RecentOp {
    std::shared_ptr<const OpEvent> event;
    std::string author;
  };

  void Subscribe();
  void ForwardJoin(PendingJoin join);
  void OnMessage(const backplane::Message& message);
  void OnRequestFailed(const backplane::Response& response);
  Peer* FindPeer(const Connection& connection);
  void CloseIfUnused();

  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  Strand strand_;
  const std::string document_id_;
  const std::string owner_node_id_;
  backplane::Backplane& backplane_;
  DocumentRouter& router_;
  const SessionOptions& options_;

  std::unique_ptr<backplane::Subscription> subscription_;
  bool subscribed_ = false;
  bool closed_ = false;
  std::vector<PendingJoin> waiting_for_subscription_;
  int joins_in_flight_ = 0;
  std::vector<Peer> peers_;
  // Ops published recently, for joins whose answer arrives after ops above their snapshot (only
  // possible with an owner that does not order its publications, e.g. a reference node).
  std::deque<RecentOp> recent_;
};

class ProxiedPeer final : public Connection {
 public:
  ProxiedPeer(std::string peer_id, std::string node_id)
      : Connection(std::move(peer_id), TransportKind::kWebSocket), node_id_(std::move(node_id)) {}
  const std::string& node_id() const noexcept { return node_id_; }

  // The next response this peer's session sends answers `respond` (requests are FIFO).
  void ExpectResponse(backplane::Backplane::ResponseCompletion respond);
  void Send(Outbound message) override;

 private:
  const std::string node_id_;
  std::mutex mutex_;
  std::deque<backplane::Backplane::ResponseCompletion> responders_;
};

}  // namespace opstream::session
