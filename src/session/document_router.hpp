#pragma once
// Entry point of the session layer for every transport: validates requests, finds or opens the
// document session and hands the request to it. Transports call these functions for one
// connection strictly one request at a time, waiting for `done` before the next.
#include <array>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "backplane/backplane.hpp"
#include "common/io_context_pool.hpp"
#include "engines/engine_registry.hpp"
#include "session/connection.hpp"
#include "session/document_management.hpp"
#include "session/document_session.hpp"
#include "session/remote_document.hpp"
#include "session/session_options.hpp"
#include "storage/document_store.hpp"

namespace opstream::session {

class DocumentRouter {
 public:
  using Done = DocumentSession::Done;

  // With a non-local backplane the router also registers the node's request handler (joins, ops
  // and awareness forwarded by other nodes), the ownership-lost handler and the management
  // channel subscription.
  // Documents are spread over `document_loops` when given, else they share `io`.
  DocumentRouter(boost::asio::io_context& io, const engines::EngineRegistry& engines, storage::DocumentStore& store,
                 backplane::Backplane& backplane, SessionOptions options, IoContextPool* document_loops = nullptr);
  // Only once the io_context no longer runs: releases every session and its peers (a joined
  // connection and its session refer to each other).
  ~DocumentRouter();

  void Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
            std::string document_type, int64_t protocol_version, Done done);
  void SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                std::string payload, int64_t base_revision, Done done);
  // Rejections (validation, membership) are silent unless `report_rejections` is set; invalid JSON
  // is always answered with an ErrorResponse carrying `correlation` (wire-protocol §4.5).
  void UpdateAwareness(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                       std::string_view data_json, bool report_rejections, Done done);
  // Runs the disconnect procedure (wire-protocol §2.8) for every document the connection joined.
  void Disconnect(const std::shared_ptr<Connection>& connection);

  // Writes final snapshots of every open document; `done` runs when all are written.
  void FlushAll(std::function<void()> done);

  size_t OpenDocumentCount() const;
  const engines::EngineRegistry& engines() const noexcept { return engines_; }

  // Called by a session when it closes (idle close, eviction, ownership loss); the lease is
  // released unless `release_ownership` is false (a deletion releases it once the data is gone).
  void RemoveSession(const std::string& document_id, const DocumentSession* session, bool release_ownership = true);
  std::shared_ptr<DocumentSession> FindSession(const std::string& document_id);
  // Human-readable document type of a persisted op type name ("TextOp" -> "text").
  std::string DocumentTypeOf(std::string_view op_type_name) const;

  // ---- cluster (non-local backplane) ----
  // Called by a forwarded document when it closes.
  void RemoveRemote(const std::string& document_id, const RemoteDocument* remote);
  // Routes a join again after its owner turned out to be gone.
  void RetryJoin(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                 std::string document_type, Done done, int attempt);
  // A request to `owner` failed without an answer; `gone`: nobody listens for that node at all.
  void OwnerUnreachable(const std::string& document_id, const std::string& owner, bool gone);
  size_t ForwardedDocumentCount() const;

  // ---- management (server.md §5.3) ----
  // Owner-side execution of DeleteDocument, CompactDocument and PurgeHistory, for the backplane
  // request handler and a future management API alike.
  DocumentManagement& management() noexcept { return *management_; }
  // Closes the local session and the forwarding of a document being deleted; `quiescent` runs once
  // nothing of the session can still be written. Until FinishDelete, a session opened for the
  // document on this node waits before loading it.
  void EvictForDelete(const std::string& document_id, std::string reason, std::function<void()> quiescent);
  // True when a session opened meanwhile now loads the document (and needs this node's lease).
  bool FinishDelete(const std::string& document_id);

 private:
  // Everything per document lives in the shard of its id, so that no request of one document waits
  // for a lock another document's request holds (apart from the 1/16 chance of sharing a shard).
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, std::shared_ptr<DocumentSession>> sessions;
    // ---- cluster (non-local backplane) ----
    std::unordered_map<std::string, std::shared_ptr<RemoteDocument>> remotes;
    // Connections of other nodes inside sessions of this node, per document and peer id.
    std::unordered_map<std::string, std::unordered_map<std::string, std::shared_ptr<ProxiedPeer>>> proxied;
    std::unordered_map<std::string, std::unique_ptr<backplane::Subscription>> owned_subscriptions;
    // Documents being deleted: how many deletions run, and the session opened meanwhile (not loaded).
    struct Deleting {
      int count = 0;
      std::shared_ptr<DocumentSession> deferred;
    };
    std::unordered_map<std::string, Deleting> deleting;
  };
  Shard& ShardOf(const std::string& document_id);
  std::shared_ptr<DocumentSession> GetOrOpen(const std::string& document_id, const engines::Engine& engine);

  void JoinClustered(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                     std::string document_type, const engines::Engine& engine, Done done, int attempt = 0);
  void HandleRequest(backplane::Request request, backplane::Backplane::ResponseCompletion respond);
  void HandleProxiedJoin(const backplane::Request& request, backplane::Backplane::ResponseCompletion respond);
  void HandleProxiedOp(const backplane::Request& request, backplane::Backplane::ResponseCompletion respond);
  void HandleProxiedAwareness(const backplane::Request& request, backplane::Backplane::ResponseCompletion respond);
  void OnOwnedDocumentMessage(const std::string& document_id, const backplane::Message& message);
  void OnManagementMessage(const backplane::Message& message);
  void CloseLocal(const std::string& document_id, const std::string& reason);
  std::shared_ptr<ProxiedPeer> FindProxied(const std::string& document_id, const std::string& peer_id);

  boost::asio::io_context& DocumentLoop();

  boost::asio::io_context& io_;
  IoContextPool* document_loops_;
  const engines::EngineRegistry& engines_;
  storage::DocumentStore& store_;
  backplane::Backplane& backplane_;
  const SessionOptions options_;
  std::array<Shard, 16> shards_;

  const bool cluster_;
  std::unique_ptr<DocumentManagement> management_;
  std::unique_ptr<backplane::Subscription> management_subscription_;
};

}  // namespace opstream::session
