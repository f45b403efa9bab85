#include "session/document_router.hpp"

#include <fmt/format.h>

#include <atomic>

#include "backplane/messages.hpp"
#include "common/clock.hpp"
#include "common/logging.hpp"
#include "engines/awareness_data.hpp"
#include "session/validation.hpp"

namespace opstream::session {
namespace {

const std::shared_ptr<spdlog::logger>& ClusterLog() {
  static const auto logger = GetLogger("OpStream.Server.Session.DocumentBackplaneGateway");
  return logger;
}

constexpr std::string_view kSessionNotFound = "Session not found on owner node.";
constexpr std::string_view kOwnerChanged = "Document owner changed; retry the join.";
constexpr std::string_view kOwnershipLost = "Document ownership moved to another node; rejoin the document.";
constexpr std::string_view kEvicted = "Document was evicted.";
// No comment service exists in this build; the request still gets an answer (§4.9 item 3).
constexpr std::string_view kCommentsUnavailable = "Comments are not available on this node.";

bool IsCommentRequest(std::string_view type) {
  return type == "CreateComment" || type == "EditComment" || type == "ResolveComment" || type == "DeleteComment";
}

}  // namespace

DocumentRouter::DocumentRouter(boost::asio::io_context& io, const engines::EngineRegistry& engines,
                               storage::DocumentStore& store, backplane::Backplane& backplane, SessionOptions options,
                               IoContextPool* document_loops)
    : io_(io),
      document_loops_(document_loops),
      engines_(engines),
      store_(store),
      backplane_(backplane),
      options_(options),
      cluster_(!backplane.is_local()),
      management_(std::make_unique<DocumentManagement>(*this, store, backplane)) {
  if (!cluster_) return;
  backplane_.SetRequestHandler([this](backplane::Request request, backplane::Backplane::ResponseCompletion respond) {
    HandleRequest(std::move(request), std::move(respond));
  });
  backplane_.SetOwnershipLostHandler(
      [this](const std::string& document_id) { CloseLocal(document_id, std::string(kOwnershipLost)); });
  management_subscription_ =
      backplane_.Subscribe(std::string(backplane::kManagementTopic),
                           [this](const backplane::Message& message) { OnManagementMessage(message); });
}

boost::asio::io_context& DocumentRouter::DocumentLoop() {
  return document_loops_ != nullptr ? document_loops_->Local() : io_;
}

DocumentRouter::~DocumentRouter() {
  if (cluster_) {
    backplane_.SetRequestHandler(nullptr);
    backplane_.SetOwnershipLostHandler(nullptr);
  }
  management_subscription_.reset();
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, session] : shard.sessions) session->DetachPeers();
    shard.sessions.clear();
    for (auto& [id, remote] : shard.remotes) remote->DetachPeers();
    shard.remotes.clear();
    for (auto& [id, peers] : shard.proxied) {
      for (auto& [peer_id, peer] : peers) peer->TakeAllJoined();
    }
    shard.proxied.clear();
    shard.owned_subscriptions.clear();
    shard.deleting.clear();
  }
}

DocumentRouter::Shard& DocumentRouter::ShardOf(const std::string& document_id) {
  return shards_[std::hash<std::string>{}(document_id) % shards_.size()];
}

std::shared_ptr<DocumentSession> DocumentRouter::GetOrOpen(const std::string& document_id,
                                                           const engines::Engine& engine) {
  auto& shard = ShardOf(document_id);
  std::shared_ptr<DocumentSession> session;
  bool deferred = false;
  {
    std::lock_guard lock(shard.mutex);
    auto& slot = shard.sessions[document_id];
    if (slot) return slot;
    slot = std::make_shared<DocumentSession>(DocumentLoop(), document_id, engine, store_, *this, options_,
                                             cluster_ ? &backplane_ : nullptr);
    session = slot;
    if (auto it = shard.deleting.find(document_id); it != shard.deleting.end()) {
      // Loading now could read rows the deletion is about to remove; FinishDelete opens it.
      it->second.deferred = session;
      deferred = true;
    }
  }
  if (cluster_) {
    // The owner hears departures of other nodes' connections on the document channel.
    auto subscription = backplane_.Subscribe(document_id, [this, document_id](const backplane::Message& message) {
      OnOwnedDocumentMessage(document_id, message);
    });
    std::lock_guard lock(shard.mutex);
    shard.owned_subscriptions[document_id] = std::move(subscription);
  }
  if (!deferred) session->Open();
  return session;
}

std::shared_ptr<DocumentSession> DocumentRouter::FindSession(const std::string& document_id) {
  auto& shard = ShardOf(document_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.sessions.find(document_id);
  return it == shard.sessions.end() ? nullptr : it->second;
}

void DocumentRouter::RemoveSession(const std::string& document_id, const DocumentSession* session,
                                   bool release_ownership) {
  std::unique_ptr<backplane::Subscription> subscription;  // unsubscribes outside the lock
  {
    auto& shard = ShardOf(document_id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.sessions.find(document_id);
    if (it == shard.sessions.end() || it->second.get() != session) return;
    shard.sessions.erase(it);
    if (!cluster_) return;
    if (auto found = shard.owned_subscriptions.find(document_id); found != shard.owned_subscriptions.end()) {
      subscription = std::move(found->second);
      shard.owned_subscriptions.erase(found);
    }
    shard.proxied.erase(document_id);
  }
  // Unlike the reference (which keeps the lease until it lapses), a closed document is released
  // at once so that the next join anywhere takes it over without waiting.
  if (release_ownership) backplane_.ReleaseOwnership(document_id);
}

void DocumentRouter::RemoveRemote(const std::string& document_id, const RemoteDocument* remote) {
  auto& shard = ShardOf(document_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.remotes.find(document_id);
  if (it != shard.remotes.end() && it->second.get() == remote) shard.remotes.erase(it);
}

size_t DocumentRouter::ForwardedDocumentCount() const {
  size_t count = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.remotes.size();
  }
  return count;
}

void DocumentRouter::EvictForDelete(const std::string& document_id, std::string reason,
                                    std::function<void()> quiescent) {
  std::shared_ptr<DocumentSession> session;
  std::shared_ptr<RemoteDocument> remote;
  {
    auto& shard = ShardOf(document_id);
    std::lock_guard lock(shard.mutex);
    ++shard.deleting[document_id].count;
    if (auto it = shard.sessions.find(document_id); it != shard.sessions.end()) session = it->second;
    if (auto it = shard.remotes.find(document_id); it != shard.remotes.end()) remote = it->second;
  }
  if (remote) remote->Close(reason);
  if (!session) return quiescent();
  session->Evict(std::move(reason), std::move(quiescent));
}

bool DocumentRouter::FinishDelete(const std::string& document_id) {
  std::shared_ptr<DocumentSession> deferred;
  {
    auto& shard = ShardOf(document_id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.deleting.find(document_id);
    if (it == shard.deleting.end() || --it->second.count > 0) return false;
    deferred = std::move(it->second.deferred);
    shard.deleting.erase(it);
    // A session closed meanwhile (another eviction) is gone from the map and must not count.
    if (auto found = shard.sessions.find(document_id);
        deferred && (found == shard.sessions.end() || found->second != deferred)) {
      deferred.reset();
    }
  }
  if (!deferred) return false;
  deferred->Open();
  return true;
}

void DocumentRouter::OwnerUnreachable(const std::string& document_id, const std::string& owner, bool gone) {
  if (gone) backplane_.EvictDeadOwner(document_id, owner);
}

void DocumentRouter::CloseLocal(const std::string& document_id, const std::string& reason) {
  if (auto session = FindSession(document_id)) session->CloseLostOwnership(reason);
}

size_t DocumentRouter::OpenDocumentCount() const {
  size_t count = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    count += shard.sessions.size();
  }
  return count;
}

std::string DocumentRouter::DocumentTypeOf(std::string_view op_type_name) const {
  for (const auto& type : engines_.DocumentTypes()) {
    if (const auto* engine = engines_.Find(type); engine && engine->op_type_name() == op_type_name) return type;
  }
  return std::string(op_type_name);
}

void DocumentRouter::Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_id,
                          std::string document_type, int64_t protocol_version, Done done) {
  auto fail = [&](std::string message) {
    connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (protocol_version != kProtocolVersion) return fail(std::string(kUnsupportedProtocol));
  if (auto reason = ValidateJoin(document_id, document_type)) return fail(InvalidMessage(*reason));
  const auto* engine = engines_.Find(document_type);
  if (engine == nullptr) return fail(fmt::format("No session engine registered for document type: {}", document_type));
  if (cluster_) {
    return JoinClustered(std::move(connection), std::move(correlation), std::move(document_id),
                         std::move(document_type), *engine, std::move(done));
  }
  auto session = GetOrOpen(document_id, *engine);
  session->Join(std::move(connection), std::move(correlation), std::move(document_type), std::move(done));
}

void DocumentRouter::JoinClustered(std::shared_ptr<Connection> connection, CorrelationId correlation,
                                   std::string document_id, std::string document_type, const engines::Engine& engine,
                                   Done done, int attempt) {
  const std::string key = document_id;
  backplane_.GetOrAcquireOwner(key, [this, connection = std::move(connection), correlation = std::move(correlation),
                                     document_id = std::move(document_id), document_type = std::move(document_type),
                                     &engine, done = std::move(done),
                                     attempt](Status status, std::string owner) mutable {
    if (!status.ok()) {
      connection->Send(ErrorResponse{std::move(correlation),
                                     fmt::format("Document owner could not be resolved: {}", status.message())});
      return done(false);
    }
    if (owner == backplane_.node_id()) {
      std::shared_ptr<RemoteDocument> stale;
      {
        auto& shard = ShardOf(document_id);
        std::lock_guard lock(shard.mutex);
        if (auto it = shard.remotes.find(document_id); it != shard.remotes.end()) stale = it->second;
      }
      if (stale) stale->Close(std::string(kOwnerChanged));
      auto session = GetOrOpen(document_id, engine);
      return session->Join(std::move(connection), std::move(correlation), std::move(document_type), std::move(done));
    }
    // Another node owns it: a session of ours is stale (SV-1).
    CloseLocal(document_id, std::string(kOwnershipLost));
    std::shared_ptr<RemoteDocument> remote;
    std::shared_ptr<RemoteDocument> stale;
    {
      auto& shard = ShardOf(document_id);
      std::lock_guard lock(shard.mutex);
      auto& slot = shard.remotes[document_id];
      if (slot && slot->owner_node_id() != owner) stale = std::move(slot);
      if (!slot)
        slot = std::make_shared<RemoteDocument>(DocumentLoop(), document_id, owner, backplane_, *this, options_);
      remote = slot;
    }
    if (stale) stale->Close(std::string(kOwnerChanged));
    remote->Join(std::move(connection), std::move(correlation), std::move(document_type), std::move(done), attempt);
  });
}

void DocumentRouter::RetryJoin(std::shared_ptr<Connection> connection, CorrelationId correlation,
                               std::string document_id, std::string document_type, Done done, int attempt) {
  const auto* engine = engines_.Find(document_type);
  if (engine == nullptr) {
    connection->Send(ErrorResponse{std::move(correlation),
                                   fmt::format("No session engine registered for document type: {}", document_type)});
    return done(false);
  }
  JoinClustered(std::move(connection), std::move(correlation), std::move(document_id), std::move(document_type),
                *engine, std::move(done), attempt);
}

void DocumentRouter::SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation,
                              std::string document_id, std::string payload, int64_t base_revision, Done done) {
  auto fail = [&](std::string message) {
    connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (auto reason = ValidateOp(document_id, payload.size(), base_revision)) return fail(InvalidMessage(*reason));
  auto session = connection->FindJoined(document_id);
  if (!session) return fail(std::string(kNotJoined));
  session->SubmitOp(std::move(connection), std::move(correlation), std::move(payload), base_revision, std::move(done));
}

void DocumentRouter::UpdateAwareness(std::shared_ptr<Connection> connection, CorrelationId correlation,
                                     std::string document_id, std::string_view data_json, bool report_rejections,
                                     Done done) {
  auto reject = [&](std::string message, bool always_report) {
    if (report_rejections || always_report) connection->Send(ErrorResponse{std::move(correlation), std::move(message)});
    done(false);
  };
  if (auto reason = ValidateAwareness(document_id, data_json.size())) return reject(InvalidMessage(*reason), false);
  std::string compact;
  if (auto minified = engines::MinifyJson(data_json, compact); !minified.ok()) {
    return reject(InvalidMessage(minified.message()), true);
  }
  auto session = connection->FindJoined(document_id);
  if (!session) return reject(std::string(kNotJoined), false);
  session->UpdateAwareness(std::move(connection), std::move(compact), std::move(done));
}

void DocumentRouter::Disconnect(const std::shared_ptr<Connection>& connection) {
  for (auto& session : connection->TakeAllJoined()) {
    session->Leave(connection);
    // The node that held the connection tells the others (§4.4 peer_disconnected).
    if (cluster_) {
      backplane_.Publish(session->document_id(),
                         {backplane_.node_id(), "peer_disconnected", std::string(), connection->peer_id()});
    }
  }
}

// ---- requests from other nodes (server.md §4.5) ----

void DocumentRouter::HandleRequest(backplane::Request request, backplane::Backplane::ResponseCompletion respond) {
  if (request.type == "JoinDocument") return HandleProxiedJoin(request, std::move(respond));
  if (request.type == "ApplyOp") return HandleProxiedOp(request, std::move(respond));
  if (request.type == "UpdateAwareness") return HandleProxiedAwareness(request, std::move(respond));
  // §4.5: executed directly, without an ownership re-check.
  if (DocumentManagement::IsManagementRequest(request.type))
    return management_->HandleRequest(request, std::move(respond));
  // §4.9 item 3: every request gets an answer, never silence.
  if (IsCommentRequest(request.type)) return respond(backplane::Response::Failure(std::string(kCommentsUnavailable)));
  respond(backplane::Response::Failure(fmt::format("Unknown request type: {}", request.type)));
}

std::shared_ptr<ProxiedPeer> DocumentRouter::FindProxied(const std::string& document_id, const std::string& peer_id) {
  auto& shard = ShardOf(document_id);
  std::lock_guard lock(shard.mutex);
  auto it = shard.proxied.find(document_id);
  if (it == shard.proxied.end()) return nullptr;
  auto peer = it->second.find(peer_id);
  return peer == it->second.end() ? nullptr : peer->second;
}

void DocumentRouter::HandleProxiedJoin(const backplane::Request& request,
                                       backplane::Backplane::ResponseCompletion respond) {
  backplane::JoinDocumentRequest join;
  if (auto decoded = backplane::DecodeJoinRequest(request.payload, join); !decoded.ok()) {
    return respond(backplane::Response::Failure(fmt::format("Malformed JoinDocument request: {}", decoded.message())));
  }
  const auto* engine = engines_.Find(join.document_type);
  if (engine == nullptr) {
    return respond(backplane::Response::Failure(
        fmt::format("No session engine registered for document type: {}", join.document_type)));
  }
  const std::string sender = request.sender_node_id;
  const std::string key = join.document_id;
  backplane_.GetOrAcquireOwner(key, [this, join = std::move(join), engine, sender, respond = std::move(respond)](
                                        Status status, std::string owner) mutable {
    if (!status.ok()) return respond(backplane::Response::Failure(status.message()));
    // §4.6 recommendation: a node that is no longer owner fails fast instead of forwarding again.
    if (owner != backplane_.node_id()) return respond(backplane::Response::Failure(std::string(kOwnerChanged)));
    std::shared_ptr<ProxiedPeer> peer;
    {
      auto& shard = ShardOf(join.document_id);
      std::lock_guard lock(shard.mutex);
      auto& slot = shard.proxied[join.document_id][join.peer_id];
      if (!slot || slot->node_id() != sender) slot = std::make_shared<ProxiedPeer>(join.peer_id, sender);
      peer = slot;
    }
    peer->ExpectResponse(std::move(respond));
    auto session = GetOrOpen(join.document_id, *engine);
    session->Join(peer, std::nullopt, std::move(join.document_type), [](bool) {});
  });
}

void DocumentRouter::HandleProxiedOp(const backplane::Request& request,
                                     backplane::Backplane::ResponseCompletion respond) {
  backplane::ApplyOpRequest op;
  if (auto decoded = backplane::DecodeApplyOpRequest(request.payload, op); !decoded.ok()) {
    return respond(backplane::Response::Failure(fmt::format("Malformed ApplyOp request: {}", decoded.message())));
  }
  auto peer = FindProxied(op.document_id, op.peer_id);
  auto session = peer ? peer->FindJoined(op.document_id) : nullptr;
  if (!session) return respond(backplane::Response::Failure(std::string(kSessionNotFound)));
  peer->ExpectResponse(std::move(respond));
  session->SubmitOp(peer, std::nullopt, std::move(op.payload), op.base_revision, [](bool) {});
}

void DocumentRouter::HandleProxiedAwareness(const backplane::Request& request,
                                            backplane::Backplane::ResponseCompletion respond) {
  backplane::UpdateAwarenessRequest update;
  if (auto decoded = backplane::DecodeAwarenessRequest(request.payload, update); !decoded.ok()) {
    return respond(
        backplane::Response::Failure(fmt::format("Malformed UpdateAwareness request: {}", decoded.message())));
  }
  auto peer = FindProxied(update.document_id, update.peer_id);
  auto session = peer ? peer->FindJoined(update.document_id) : nullptr;
  if (!session) return respond(backplane::Response::Failure(std::string(kSessionNotFound)));
  backplane::WireAwareness state{update.peer_id, update.data_json, FormatIsoTimestamp(UtcNow())};
  session->UpdateAwareness(peer, std::move(update.data_json),
                           [respond = std::move(respond), state = std::move(state)](bool success) {
                             if (!success) return respond(backplane::Response::Failure(std::string(kNotJoined)));
                             respond({{}, true, backplane::EncodeAwareness(state), std::nullopt});
                           });
}

void DocumentRouter::OnOwnedDocumentMessage(const std::string& document_id, const backplane::Message& message) {
  if (message.sender_node_id == backplane_.node_id() || message.type != "peer_disconnected") return;
  std::shared_ptr<ProxiedPeer> peer;
  {
    auto& shard = ShardOf(document_id);
    std::lock_guard lock(shard.mutex);
    auto it = shard.proxied.find(document_id);
    if (it == shard.proxied.end()) return;
    auto found = it->second.find(message.sender_peer_id);
    if (found == it->second.end()) return;
    peer = std::move(found->second);
    it->second.erase(found);
  }
  for (auto& session : peer->TakeAllJoined()) session->Leave(peer);
}

void DocumentRouter::OnManagementMessage(const backplane::Message& message) {
  std::string argument;
  const bool deleted = message.type == "document_deleted";
  if (!deleted && message.type != "evict_tenant") return;
  // A deletion executed here evicted its own session already; acting on the echo would close a
  // session opened afterwards on the emptied document.
  if (deleted && message.sender_node_id == backplane_.node_id()) return;
  if (auto decoded = backplane::DecodeJsonString(message.payload, argument); !decoded.ok()) {
    ClusterLog()->warn("Dropped a malformed {} message: {}", message.type, decoded.message());
    return;
  }
  std::vector<std::shared_ptr<DocumentSession>> local;
  std::vector<std::shared_ptr<RemoteDocument>> remote;
  auto matches = [&](const std::string& id) { return deleted ? id == argument : id.starts_with(argument); };
  auto collect = [&](Shard& shard) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, session] : shard.sessions) {
      if (matches(id)) local.push_back(session);
    }
    for (auto& [id, document] : shard.remotes) {
      if (matches(id)) remote.push_back(document);
    }
  };
  if (deleted) {
    collect(ShardOf(argument));
  } else {
    for (auto& shard : shards_) collect(shard);
  }
  // Closing a session releases its lease (§2.9 "Eviction"). This node holds a lease only for a
  // document it has a session of (acquisition is followed at once by opening it), so releasing
  // without a session could only take the lease from under a join about to open one.
  for (auto& session : local) session->CloseLostOwnership(std::string(kEvicted));
  for (auto& document : remote) document->Close(std::string(kEvicted));
}

void DocumentRouter::FlushAll(std::function<void()> done) {
  std::vector<std::shared_ptr<DocumentSession>> sessions;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [id, session] : shard.sessions) sessions.push_back(session);
  }
  if (sessions.empty()) return done();
  auto remaining = std::make_shared<std::atomic<size_t>>(sessions.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& session : sessions) {
    session->FlushSnapshot([remaining, shared_done] {
      if (remaining->fetch_sub(1) == 1) (*shared_done)();
    });
  }
}

}  // namespace opstream::session
