#include "session/remote_document.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "backplane/messages.hpp"
#include "common/clock.hpp"
#include "common/logging.hpp"
#include "session/document_router.hpp"
#include "session/validation.hpp"

namespace opstream::session {
namespace {

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Server.Session.DocumentBackplaneGateway");
  return logger;
}

constexpr size_t kRecentOps = 256;

AwarenessState FromWire(backplane::WireAwareness wire) {
  return {std::move(wire.peer_id), std::move(wire.data_json), ParseTimestamp(wire.last_updated).value_or(UtcNow())};
}

std::string ErrorText(const backplane::Response& response) {
  return response.error_message.value_or("Remote node execution failed");
}

}  // namespace

RemoteDocument::RemoteDocument(boost::asio::io_context& io, std::string document_id, std::string owner_node_id,
                               backplane::Backplane& backplane, DocumentRouter& router, const SessionOptions& options)
    : strand_(boost::asio::make_strand(io)),
      document_id_(std::move(document_id)),
      owner_node_id_(std::move(owner_node_id)),
      backplane_(backplane),
      router_(router),
      options_(options) {}

void RemoteDocument::Subscribe() {
  std::weak_ptr<RemoteDocument> weak = weak_from_this();
  subscription_ = backplane_.Subscribe(
      document_id_,
      [weak](const backplane::Message& message) {
        auto self = weak.lock();
        if (!self || message.sender_node_id == self->backplane_.node_id()) return;  // served directly
        boost::asio::post(self->strand_, [self, message] { self->OnMessage(message); });
      },
      [weak](Status status) {
        auto self = weak.lock();
        if (!self) return;
        boost::asio::post(self->strand_, [self, status] {
          if (self->closed_) return;
          if (!status.ok()) return self->Close(fmt::format("Backplane subscription failed: {}", status.message()));
          self->subscribed_ = true;
          auto waiting = std::move(self->waiting_for_subscription_);
          self->waiting_for_subscription_.clear();
          for (auto& join : waiting) self->ForwardJoin(std::move(join));
        });
      });
}

void RemoteDocument::Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string document_type,
                          Done done, int attempt) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection),
                                  correlation = std::move(correlation), document_type = std::move(document_type),
                                  done = std::move(done), attempt]() mutable {
    PendingJoin join{std::move(connection), std::move(correlation), std::move(document_type), std::move(done), attempt};
    if (self->closed_) {
      // Closed after the router handed it out: route again (ownership is resolved anew).
      return self->router_.RetryJoin(std::move(join.connection), std::move(join.correlation), self->document_id_,
                                     std::move(join.document_type), std::move(join.done), join.attempt);
    }
    if (!self->subscription_) self->Subscribe();
    if (!self->subscribed_) return self->waiting_for_subscription_.push_back(std::move(join));
    self->ForwardJoin(std::move(join));
  });
}

void RemoteDocument::ForwardJoin(PendingJoin join) {
  ++joins_in_flight_;
  auto payload =
      backplane::EncodeJoinRequest({document_id_, join.document_type, join.connection->peer_id(), kProtocolVersion});
  backplane_.SendRequest(
      owner_node_id_, "JoinDocument", std::move(payload), options_.request_timeout,
      [self = shared_from_this(), join = std::move(join)](backplane::Response response) mutable {
        boost::asio::post(self->strand_, [self, join = std::move(join), response = std::move(response)]() mutable {
          --self->joins_in_flight_;
          SendBatch sends;
          backplane::JoinDocumentResponse joined;
          Status decoded = Status::Ok();
          if (response.success) decoded = backplane::DecodeJoinResponse(response.payload, joined);
          if (!response.success && response.target_unreachable && join.attempt < 2) {
            // The owner is gone (nobody listens for it): its lease is evicted and the join is
            // routed again, so the client sees the document served by a live node instead of an
            // error (failover without a rejoin round trip).
            self->OnRequestFailed(response);
            self->CloseIfUnused();
            return self->router_.RetryJoin(std::move(join.connection), std::move(join.correlation), self->document_id_,
                                           std::move(join.document_type), std::move(join.done), join.attempt + 1);
          }
          if (!response.success || !decoded.ok() || self->closed_) {
            std::string message = !response.success ? ErrorText(response)
                                  : !decoded.ok()
                                      ? fmt::format("Malformed join answer from the owner: {}", decoded.message())
                                      : std::string("Document owner changed; retry the join.");
            join.connection->Send(ErrorResponse{std::move(join.correlation), std::move(message)});
            join.done(false);
            if (!response.success) self->OnRequestFailed(response);
            return self->CloseIfUnused();
          }
          const int64_t revision = joined.revision;
          if (auto* peer = self->FindPeer(*join.connection)) {
            peer->seen_revision = revision;
          } else {
            self->peers_.push_back({join.connection, revision});
          }
          join.connection->AddJoined(self->document_id_, self);
          JoinResponse answer{
              std::move(join.correlation), self->document_id_, revision, std::move(joined.snapshot), {}};
          for (auto& state : joined.awareness) answer.awareness.push_back(FromWire(std::move(state)));
          join.connection->Send(std::move(answer));
          auto* peer = self->FindPeer(*join.connection);
          for (const auto& recent : self->recent_) {
            if (recent.event->revision <= peer->seen_revision) continue;
            peer->seen_revision = recent.event->revision;
            if (recent.author != join.connection->peer_id()) join.connection->Send(recent.event);
          }
          Log()->info("Peer {} joined document {} through owner {} (revision={})", join.connection->peer_id(),
                      self->document_id_, self->owner_node_id_, revision);
          join.done(true);
        });
      });
}

void RemoteDocument::SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string payload,
                              int64_t base_revision, Done done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection),
                                  correlation = std::move(correlation), payload = std::move(payload), base_revision,
                                  done = std::move(done)]() mutable {
    if (self->closed_ || self->FindPeer(*connection) == nullptr) {
      connection->Send(ErrorResponse{std::move(correlation), std::string(kNotJoined)});
      return done(false);
    }
    auto request =
        backplane::EncodeApplyOpRequest({self->document_id_, connection->peer_id(), std::move(payload), base_revision});
    self->backplane_.SendRequest(
        self->owner_node_id_, "ApplyOp", std::move(request), self->options_.request_timeout,
        [self, connection = std::move(connection), correlation = std::move(correlation),
         done = std::move(done)](backplane::Response response) mutable {
          boost::asio::post(self->strand_, [self, connection = std::move(connection),
                                            correlation = std::move(correlation), done = std::move(done),
                                            response = std::move(response)]() mutable {
            if (!response.success) {
              connection->Send(ErrorResponse{std::move(correlation), ErrorText(response)});
              done(false);
              return self->OnRequestFailed(response);
            }
            backplane::ApplyOpResponse applied;
            if (auto decoded = backplane::DecodeApplyOpResponse(response.payload, applied); !decoded.ok()) {
              connection->Send(ErrorResponse{std::move(correlation),
                                             fmt::format("Malformed op answer from the owner: {}", decoded.message())});
              return done(false);
            }
            if (auto* peer = self->FindPeer(*connection); peer != nullptr && applied.success) {
              peer->seen_revision = std::max(peer->seen_revision, applied.new_revision);
            }
            connection->Send(
                OpResponse{std::move(correlation), applied.success, applied.new_revision, applied.error_message});
            done(applied.success);
          });
        });
  });
}

void RemoteDocument::UpdateAwareness(std::shared_ptr<Connection> connection, std::string data_json, Done done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection),
                                  data_json = std::move(data_json), done = std::move(done)]() mutable {
    if (self->closed_ || self->FindPeer(*connection) == nullptr) return done(false);
    auto request = backplane::EncodeAwarenessRequest({self->document_id_, connection->peer_id(), std::move(data_json)});
    self->backplane_.SendRequest(self->owner_node_id_, "UpdateAwareness", std::move(request),
                                 self->options_.request_timeout,
                                 [self, done = std::move(done)](backplane::Response response) mutable {
                                   boost::asio::post(self->strand_, [self, done = std::move(done), response] {
                                     if (!response.success) self->OnRequestFailed(response);
                                     done(response.success);
                                   });
                                 });
  });
}

void RemoteDocument::Leave(std::shared_ptr<Connection> connection) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection)] {
    auto it = std::find_if(self->peers_.begin(), self->peers_.end(),
                           [&](const Peer& p) { return p.connection == connection; });
    if (it == self->peers_.end()) return;
    self->peers_.erase(it);
    SendBatch sends;
    auto event = std::make_shared<PeerLeftEvent>();
    event->document_id = self->document_id_;
    event->peer_id = connection->peer_id();
    for (auto& peer : self->peers_) peer.connection->Send(event);
    self->CloseIfUnused();
  });
}

void RemoteDocument::OnMessage(const backplane::Message& message) {
  if (closed_) return;
  SendBatch sends;
  if (message.type == "op_applied") {
    backplane::OpApplied applied;
    if (auto decoded = backplane::DecodeOpApplied(message.payload, applied); !decoded.ok()) {
      Log()->warn("Dropped a malformed op_applied on {}: {}", document_id_, decoded.message());
      return;
    }
    auto event = std::make_shared<OpEvent>();
    event->document_id = document_id_;
    event->revision = applied.new_revision;
    event->payload = std::move(applied.operation);
    for (auto& peer : peers_) {
      if (event->revision <= peer.seen_revision) continue;  // in its snapshot, or its own acknowledged op
      peer.seen_revision = event->revision;
      if (peer.connection->peer_id() != message.sender_peer_id) peer.connection->Send(event);
    }
    if (joins_in_flight_ > 0 || !waiting_for_subscription_.empty()) {
      recent_.push_back({event, message.sender_peer_id});
      if (recent_.size() > kRecentOps) recent_.pop_front();
    } else {
      recent_.clear();
    }
  } else if (message.type == "awareness_update") {
    backplane::WireAwareness wire;
    if (auto decoded = backplane::DecodeAwareness(message.payload, wire); !decoded.ok()) {
      Log()->warn("Dropped a malformed awareness_update on {}: {}", document_id_, decoded.message());
      return;
    }
    auto event = std::make_shared<AwarenessEvent>();
    event->document_id = document_id_;
    event->state = FromWire(std::move(wire));
    for (auto& peer : peers_) {
      if (peer.connection->peer_id() != message.sender_peer_id) peer.connection->Send(event);
    }
  } else if (message.type == "peer_disconnected") {
    auto event = std::make_shared<PeerLeftEvent>();
    event->document_id = document_id_;
    event->peer_id = message.sender_peer_id;
    for (auto& peer : peers_) peer.connection->Send(event);
  }
  // Unknown types (comments, future messages) are ignored (§4.4).
}

void RemoteDocument::OnRequestFailed(const backplane::Response& response) {
  // The owner did not answer: it is gone or overloaded. Forget it so the next join resolves
  // ownership again (SV-9); the connections learn from their failed request and rejoin.
  if (response.error_message.value_or("") == backplane::kRequestTimedOut) {
    router_.OwnerUnreachable(document_id_, owner_node_id_, response.target_unreachable);
    Close(response.error_message.value_or(""));
  }
}

void RemoteDocument::Close(std::string reason) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), reason = std::move(reason)]() mutable {
    if (self->closed_) return;
    self->closed_ = true;
    Log()->warn("Closing forwarded document {} (owner {}): {}", self->document_id_, self->owner_node_id_, reason);
    SendBatch sends;
    for (auto& join : self->waiting_for_subscription_) {
      join.connection->Send(ErrorResponse{std::move(join.correlation), reason});
      join.done(false);
    }
    self->waiting_for_subscription_.clear();
    for (auto& peer : self->peers_) peer.connection->RemoveJoinedIf(self->document_id_, self.get());
    self->peers_.clear();
    self->subscription_.reset();
    self->router_.RemoveRemote(self->document_id_, self.get());
  });
}

void RemoteDocument::CloseIfUnused() {
  if (closed_ || !peers_.empty() || joins_in_flight_ > 0 || !waiting_for_subscription_.empty()) return;
  closed_ = true;
  subscription_.reset();
  router_.RemoveRemote(document_id_, this);
}

RemoteDocument::Peer* RemoteDocument::FindPeer(const Connection& connection) {
  for (auto& peer : peers_) {
    if (peer.connection.get() == &connection) return &peer;
  }
  return nullptr;
}

void RemoteDocument::DetachPeers() {
  for (auto& peer : peers_) peer.connection->RemoveJoined(document_id_);
  peers_.clear();
  waiting_for_subscription_.clear();
  subscription_.reset();
}

// ---- ProxiedPeer ----

void ProxiedPeer::ExpectResponse(backplane::Backplane::ResponseCompletion respond) {
  std::lock_guard lock(mutex_);
  responders_.push_back(std::move(respond));
}

void ProxiedPeer::Send(Outbound message) {
  if (!IsResponse(message)) return;  // the peer's node receives broadcasts from the document channel
  backplane::Backplane::ResponseCompletion respond;
  {
    std::lock_guard lock(mutex_);
    if (responders_.empty()) return;
    respond = std::move(responders_.front());
    responders_.pop_front();
  }
  if (auto* join = std::get_if<JoinResponse>(&message)) {
    backplane::JoinDocumentResponse wire{join->revision, std::move(join->snapshot), {}};
    for (auto& state : join->awareness) {
      wire.awareness.push_back(
          {std::move(state.peer_id), std::move(state.data_json), FormatIsoTimestamp(state.last_updated)});
    }
    return respond({{}, true, backplane::EncodeJoinResponse(wire), std::nullopt});
  }
  if (auto* op = std::get_if<OpResponse>(&message)) {
    return respond(
        {{}, true, backplane::EncodeApplyOpResponse({op->success, op->new_revision, op->error}), std::nullopt});
  }
  if (auto* error = std::get_if<ErrorResponse>(&message)) respond(backplane::Response::Failure(error->message));
}

}  // namespace opstream::session
