#include "session/document_session.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>

#include "backplane/messages.hpp"
#include "common/logging.hpp"
#include "common/text.hpp"
#include "engines/awareness_data.hpp"
#include "session/document_router.hpp"
#include "session/validation.hpp"

namespace opstream::session {
namespace {

const std::shared_ptr<spdlog::logger>& Log() {
  static const auto logger = GetLogger("OpStream.Server.Session.DocumentSession");
  return logger;
}

constexpr std::string_view kCompactedLog = "Cannot reconstruct transformation path: compacted log past baseRevision.";

}  // namespace

DocumentSession::DocumentSession(boost::asio::io_context& io, std::string document_id, const engines::Engine& engine,
                                 storage::DocumentStore& store, DocumentRouter& router, const SessionOptions& options,
                                 backplane::Backplane* cluster)
    : strand_(boost::asio::make_strand(io)),
      document_id_(std::move(document_id)),
      engine_(engine),
      store_(store),
      router_(router),
      options_(options),
      cluster_(cluster),
      last_snapshot_time_(UtcNow()),
      idle_timer_(strand_) {}

DocumentSession::~DocumentSession() = default;

void DocumentSession::Open() {
  boost::asio::dispatch(strand_, [self = shared_from_this()] { self->Reload(); });
}

void DocumentSession::Reload() {
  if (phase_ == Phase::kClosed) return;  // closed while an append was in flight: stays closed
  phase_ = Phase::kLoading;
  store_.Load(document_id_, [self = shared_from_this()](Status status, storage::LoadedDocument document) {
    boost::asio::post(self->strand_, [self, status = std::move(status), document = std::move(document)]() mutable {
      self->OnLoaded(std::move(status), std::move(document));
    });
  });
}

void DocumentSession::OnLoaded(Status status, storage::LoadedDocument document) {
  if (phase_ == Phase::kClosed) return;
  if (!status.ok()) {
    phase_ = Phase::kUnavailable;
    unavailable_reason_ = fmt::format("Document '{}' could not be loaded: {}", document_id_, status.message());
    Log()->error("{}", unavailable_reason_);
    return ProcessQueue();
  }
  // The stored ops name the engine that wrote them (wire-protocol OP-15).
  for (const auto& op : document.ops) {
    if (op.engine_type != engine_.op_type_name()) {
      const auto actual = router_.DocumentTypeOf(op.engine_type);
      phase_ = Phase::kClosed;
      router_.RemoveSession(document_id_, this);
      while (!queue_.empty()) {
        auto request = std::move(queue_.front());
        queue_.pop_front();
        request.connection->Send(ErrorResponse{
            std::move(request.correlation),
            fmt::format("Document type mismatch: document '{}' is '{}', not '{}'.", document_id_, actual,
                        request.kind == Request::Kind::kJoin ? request.payload : engine_.document_type())});
        request.done(false);
      }
      return;
    }
  }

  const bool reloading = state_ != nullptr;
  std::unique_ptr<engines::DocumentState> state;
  int64_t revision = 0;
  if (document.snapshot && !document.snapshot->state.empty()) {
    auto loaded = engine_.LoadState(document.snapshot->state, state);
    if (!loaded.ok()) {
      phase_ = Phase::kUnavailable;
      unavailable_reason_ =
          fmt::format("Stored snapshot of document '{}' is unreadable: {}", document_id_, loaded.message());
      Log()->error("{}", unavailable_reason_);
      return ProcessQueue();
    }
    revision = document.snapshot->revision;
    snapshot_revision_ = revision;
    last_snapshot_time_ = document.snapshot->timestamp;
  } else {
    state = engine_.CreateEmpty();
  }

  // Replay every op above the snapshot; a gap is logged, never silently skipped (SV-39).
  const int64_t previous_durable = durable_revision_;
  std::vector<std::shared_ptr<const OpEvent>> recovered;
  for (auto& stored : document.ops) {
    if (stored.revision <= revision) continue;
    if (revision != 0 && stored.revision != revision + 1) {
      Log()->error("Op log of document {} has a gap: revision {} follows {}", document_id_, stored.revision, revision);
    }
    std::unique_ptr<engines::Op> op;
    auto parsed = engine_.ParseOp(stored.payload, op);
    auto applied = parsed.ok() ? engine_.Apply(*state, *op) : parsed;
    if (!applied.ok()) {
      Log()->error("Stored op {} of document {} cannot be replayed: {}", stored.revision, document_id_,
                   applied.message());
      continue;
    }
    revision = stored.revision;
    auto event = std::make_shared<OpEvent>();
    event->document_id = document_id_;
    event->revision = revision;
    event->payload = std::move(stored.payload);
    if (reloading && revision > previous_durable) recovered.push_back(event);
    if (op_log_.empty() || op_log_.back().revision < revision) {
      op_log_.push_back({revision, std::move(op), std::move(event)});
    }
  }

  if (revision == 0) {
    // A never-seen document: its empty state is persisted as revision 1 (server.md §2.2).
    state_ = std::move(state);
    revision_ = durable_revision_ = 1;
    storage::Snapshot seed{1, UtcNow(), {}};
    engine_.SerializeState(*state_, seed.state);
    // Counted as a snapshot write so that an eviction waits for it (nothing may land after a delete).
    snapshot_in_flight_ = true;
    store_.WriteSnapshot(document_id_, std::move(seed), [self = shared_from_this()](Status written) {
      boost::asio::post(self->strand_, [self, written = std::move(written)] {
        self->snapshot_in_flight_ = false;
        if (self->phase_ == Phase::kClosed) {
          self->RunSnapshotWaiters();
          return self->NotifyIfQuiescent();
        }
        if (!written.ok()) {
          self->state_.reset();
          self->phase_ = Phase::kUnavailable;
          self->unavailable_reason_ =
              fmt::format("Document '{}' could not be created: {}", self->document_id_, written.message());
          Log()->error("{}", self->unavailable_reason_);
        } else {
          self->snapshot_revision_ = 1;
          self->last_snapshot_time_ = UtcNow();
          self->phase_ = Phase::kReady;
        }
        self->RunSnapshotWaiters();
        self->ProcessQueue();
      });
    });
    return;
  }

  state_ = std::move(state);
  revision_ = durable_revision_ = revision;
  phase_ = Phase::kReady;
  // Ops that the store committed although their append was reported as failed: everybody,
  // authors included, must see them to converge on what is durable.
  for (const auto& event : recovered) {
    for (auto& peer : peers_) peer.connection->Send(event);
  }
  TrimOpLog();
  ProcessQueue();
}

void DocumentSession::Join(std::shared_ptr<Connection> connection, CorrelationId correlation,
                           std::string requested_type, Done done) {
  boost::asio::dispatch(
      strand_, [self = shared_from_this(), connection = std::move(connection), correlation = std::move(correlation),
                requested_type = std::move(requested_type), done = std::move(done)]() mutable {
        if (self->phase_ == Phase::kClosed) {
          // The session closed after the router handed it out: open a fresh one.
          return self->router_.Join(std::move(connection), std::move(correlation), self->document_id_,
                                    std::move(requested_type), kProtocolVersion, std::move(done));
        }
        self->idle_timer_.cancel();
        self->queue_.push_back({Request::Kind::kJoin, std::move(connection), std::move(correlation),
                                std::move(requested_type), 0, std::move(done)});
        if (self->phase_ == Phase::kUnavailable) return self->Reload();
        self->ProcessQueue();
      });
}

void DocumentSession::SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string payload,
                               int64_t base_revision, Done done) {
  boost::asio::dispatch(
      strand_, [self = shared_from_this(), connection = std::move(connection), correlation = std::move(correlation),
                payload = std::move(payload), base_revision, done = std::move(done)]() mutable {
        self->queue_.push_back({Request::Kind::kOp, std::move(connection), std::move(correlation), std::move(payload),
                                base_revision, std::move(done)});
        if (self->phase_ == Phase::kUnavailable) return self->Reload();
        self->ProcessQueue();
      });
}

void DocumentSession::ProcessQueue() {
  if (phase_ == Phase::kLoading || append_in_flight_) return;
  if (phase_ == Phase::kUnavailable) return FailPending(unavailable_reason_);
  if (phase_ == Phase::kClosed) return FailPending(std::string(kNotJoined));

  std::vector<BatchItem> batch;
  while (!queue_.empty()) {
    if (queue_.front().kind == Request::Kind::kJoin) {
      // A join sees only durable state: let the pending batch commit first.
      if (!batch.empty()) break;
      auto request = std::move(queue_.front());
      queue_.pop_front();
      ProcessJoin(request);
      continue;
    }
    auto request = std::move(queue_.front());
    queue_.pop_front();
    batch.push_back(ProcessOp(std::move(request)));
  }
  if (batch.empty()) return;

  std::vector<storage::StoredOp> stored;
  const auto now = UtcNow();
  for (const auto& item : batch) {
    if (item.outcome != BatchItem::Outcome::kAccepted) continue;
    stored.push_back({item.revision, item.request.connection->peer_id(), now, item.event->payload,
                      std::string(engine_.op_type_name())});
  }
  if (stored.empty()) return OnAppended(std::move(batch), Status::Ok());

  append_in_flight_ = true;
  store_.Append(
      document_id_, std::move(stored), [self = shared_from_this(), batch = std::move(batch)](Status status) mutable {
        boost::asio::post(self->strand_, [self, batch = std::move(batch), status = std::move(status)]() mutable {
          self->OnAppended(std::move(batch), std::move(status));
        });
      });
}

void DocumentSession::ProcessJoin(Request& request) {
  if (router_.engines().Find(request.payload) != &engine_) {
    request.connection->Send(ErrorResponse{std::move(request.correlation),
                                           fmt::format("Document type mismatch: document '{}' is '{}', not '{}'.",
                                                       document_id_, engine_.document_type(), request.payload)});
    return request.done(false);
  }
  if (auto* peer = FindPeer(*request.connection)) {
    peer->known_revision = revision_;
  } else {
    peers_.push_back({request.connection, revision_});
  }
  request.connection->AddJoined(document_id_, shared_from_this());

  JoinResponse response{std::move(request.correlation), document_id_, revision_, {}, {}};
  engine_.SerializeState(*state_, response.snapshot);
  CollectAwareness(response.awareness);
  request.connection->Send(std::move(response));
  Log()->info("Peer {} joined document {} (revision={}, peers={})", request.connection->peer_id(), document_id_,
              revision_, peers_.size());
  request.done(true);
}

DocumentSession::BatchItem DocumentSession::ProcessOp(Request request) {
  BatchItem item{std::move(request), BatchItem::Outcome::kRejected, revision_, {}, nullptr};
  auto reject = [&](std::string message) {
    Log()->warn("Op rejected: {}", message);
    item.error = std::move(message);
    return std::move(item);
  };

  Peer* peer = FindPeer(*item.request.connection);
  if (peer == nullptr) return reject(std::string(kNotJoined));

  // A JSON null payload is rejected with the reference's text for every engine (wire-protocol §2.11).
  if (TrimWhitespace(item.request.payload) == "null") return reject("Deserialized op payload is null.");
  std::unique_ptr<engines::Op> op;
  if (auto parsed = engine_.ParseOp(item.request.payload, op); !parsed.ok()) return reject(parsed.message());

  const int64_t base = item.request.base_revision;
  if (base > revision_) {
    return reject(fmt::format("Base revision {} is ahead of current revision {}.", base, revision_));
  }
  peer->known_revision = std::max(peer->known_revision, base);
  if (base < revision_) {
    if (op_log_.empty() || op_log_.front().revision > base + 1) return reject(std::string(kCompactedLog));
    for (auto it = op_log_.begin() + (base + 1 - op_log_.front().revision); it != op_log_.end(); ++it) {
      auto rebased = engine_.TransformRecycling(*op, *it->op, engines::Priority::kExistingWins, spare_op_);
      spare_op_ = std::move(op);
      op = std::move(rebased);
      if (!op || engine_.IsNoOp(*op)) {
        item.outcome = BatchItem::Outcome::kAbsorbed;
        return item;
      }
    }
  }
  if (auto applied = engine_.Apply(*state_, *op); !applied.ok()) return reject(applied.message());

  auto event = std::make_shared<OpEvent>();
  event->document_id = document_id_;
  event->revision = ++revision_;
  engine_.SerializeOp(*op, event->payload);
  op_log_.push_back({revision_, std::move(op), event});
  item.outcome = BatchItem::Outcome::kAccepted;
  item.revision = revision_;
  item.event = std::move(event);
  return item;
}

void DocumentSession::OnAppended(std::vector<BatchItem> batch, Status status) {
  SendBatch sends;
  append_in_flight_ = false;
  if (status.ok()) {
    for (const auto& item : batch) {
      if (item.outcome == BatchItem::Outcome::kAccepted) durable_revision_ = item.revision;
    }
    if (cluster_ != nullptr) {
      AnswerInRevisionOrder(batch);
    } else {
      AnswerPerReceiver(batch);
    }
    for (auto& item : batch) item.request.done(item.outcome != BatchItem::Outcome::kRejected);
    MaybeSnapshot(false);
    TrimOpLog();
    NotifyIfQuiescent();
    return ProcessQueue();
  }

  // Nothing of this batch is durable: answer every op with the failure and rebuild the state from
  // the store, which is the only truth (server.md §11.1). Absorbed ops fail too: what absorbed
  // them was never stored.
  const auto message = fmt::format("Operation could not be stored: {}", status.message());
  Log()->error("Append to document {} failed: {}", document_id_, status.message());
  for (auto& item : batch) {
    const bool own_error = item.outcome == BatchItem::Outcome::kRejected;
    item.request.connection->Send(
        OpResponse{std::move(item.request.correlation), false, durable_revision_, own_error ? item.error : message});
    item.request.done(false);
  }
  while (!op_log_.empty() && op_log_.back().revision > durable_revision_) op_log_.pop_back();
  revision_ = durable_revision_;
  NotifyIfQuiescent();
  Reload();
}

OpResponse DocumentSession::AnswerOf(BatchItem& item) {
  const bool success = item.outcome != BatchItem::Outcome::kRejected;
  return OpResponse{std::move(item.request.correlation), success, item.revision,
                    success ? std::nullopt : std::optional<std::string>(std::move(item.error))};
}

void DocumentSession::AnswerInRevisionOrder(std::vector<BatchItem>& batch) {
  for (auto& item : batch) {
    auto& connection = item.request.connection;
    const bool accepted = item.outcome == BatchItem::Outcome::kAccepted;
    connection->Send(AnswerOf(item));
    if (!accepted) continue;
    for (auto& peer : peers_) {
      if (peer.connection != connection) peer.connection->Send(item.event);
    }
    // Published after the author's answer: a proxied author's response and this message leave on
    // the same ordered publisher connection, so every node sees them in revision order.
    cluster_->Publish(document_id_,
                      {cluster_->node_id(), "op_applied",
                       backplane::EncodeOpApplied({item.event->payload, item.revision}), connection->peer_id()});
  }
}

void DocumentSession::AnswerPerReceiver(std::vector<BatchItem>& batch) {
  // Receiver by receiver rather than op by op: each connection gets its run of ops in one call.
  thread_local std::vector<std::shared_ptr<const OpEvent>> run;
  for (auto& peer : peers_) {
    run.clear();
    for (auto& item : batch) {
      if (item.request.connection == peer.connection) {
        if (!run.empty()) peer.connection->SendOps(run);
        run.clear();
        peer.connection->Send(AnswerOf(item));
      } else if (item.outcome == BatchItem::Outcome::kAccepted) {
        run.push_back(item.event);
      }
    }
    if (!run.empty()) peer.connection->SendOps(run);
  }
  run.clear();
  // Authors that left meanwhile still get their answers (the connection drops them if closed).
  for (auto& item : batch) {
    if (FindPeer(*item.request.connection) == nullptr) item.request.connection->Send(AnswerOf(item));
  }
}

void DocumentSession::FailPending(const std::string& message) {
  while (!queue_.empty()) {
    auto request = std::move(queue_.front());
    queue_.pop_front();
    if (request.kind == Request::Kind::kJoin) {
      request.connection->Send(ErrorResponse{std::move(request.correlation), message});
    } else {
      request.connection->Send(OpResponse{std::move(request.correlation), false, durable_revision_, message});
    }
    request.done(false);
  }
}

void DocumentSession::UpdateAwareness(std::shared_ptr<Connection> connection, std::string data_json, Done done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection),
                                  data_json = std::move(data_json), done = std::move(done)]() mutable {
    SendBatch sends;
    if (self->FindPeer(*connection) == nullptr) return done(false);
    const auto now = UtcNow();
    auto existing = std::find_if(self->awareness_.begin(), self->awareness_.end(),
                                 [&](const AwarenessState& s) { return s.peer_id == connection->peer_id(); });
    if (existing != self->awareness_.end() && engines::AwarenessDataEquals(existing->data_json, data_json)) {
      existing->last_updated = now;  // a heartbeat keeps presence alive without a broadcast (OP-20)
      return done(true);
    }
    auto event = std::make_shared<AwarenessEvent>();
    event->document_id = self->document_id_;
    event->state = {connection->peer_id(), std::move(data_json), now};
    if (existing != self->awareness_.end()) {
      *existing = event->state;
    } else {
      self->awareness_.push_back(event->state);
    }
    for (auto& peer : self->peers_) {
      if (peer.connection != connection) peer.connection->Send(event);
    }
    if (self->cluster_ != nullptr) {
      self->cluster_->Publish(self->document_id_,
                              {self->cluster_->node_id(), "awareness_update",
                               backplane::EncodeAwareness({event->state.peer_id, event->state.data_json,
                                                           FormatIsoTimestamp(event->state.last_updated)}),
                               event->state.peer_id});
    }
    done(true);
  });
}

void DocumentSession::Leave(std::shared_ptr<Connection> connection) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), connection = std::move(connection)] {
    auto it = std::find_if(self->peers_.begin(), self->peers_.end(),
                           [&](const Peer& p) { return p.connection == connection; });
    if (it == self->peers_.end()) return;
    SendBatch sends;
    self->peers_.erase(it);
    std::erase_if(self->awareness_, [&](const AwarenessState& s) { return s.peer_id == connection->peer_id(); });
    Log()->info("Peer {} left document {} (remaining peers={})", connection->peer_id(), self->document_id_,
                self->peers_.size());
    auto event = std::make_shared<PeerLeftEvent>();
    event->document_id = self->document_id_;
    event->peer_id = connection->peer_id();
    for (auto& peer : self->peers_) peer.connection->Send(event);
    if (self->peers_.empty()) {
      self->MaybeSnapshot(true);  // SV-37: whenever ops arrived since the last snapshot
      self->ScheduleIdleClose();
    } else {
      self->TrimOpLog();
    }
  });
}

DocumentSession::Peer* DocumentSession::FindPeer(const Connection& connection) {
  for (auto& peer : peers_) {
    if (peer.connection.get() == &connection) return &peer;
  }
  return nullptr;
}

void DocumentSession::CollectAwareness(std::vector<AwarenessState>& out) {
  const auto now = UtcNow();
  std::erase_if(awareness_, [&](const AwarenessState& s) { return now - s.last_updated > options_.awareness_ttl; });
  out = awareness_;
}

int64_t DocumentSession::OldestRevisionNeeded(bool keep_tail) const {
  int64_t oldest = keep_tail ? durable_revision_ - options_.op_log_tail : durable_revision_;
  for (const auto& peer : peers_) oldest = std::min(oldest, peer.known_revision);
  return oldest;
}

int64_t DocumentSession::CompactionLimit(bool keep_tail) const {
  return std::min(snapshot_revision_, OldestRevisionNeeded(keep_tail));
}

void DocumentSession::TrimOpLog() {
  const int64_t keep_after = OldestRevisionNeeded();
  while (!op_log_.empty() &&
         (op_log_.front().revision <= keep_after || static_cast<int64_t>(op_log_.size()) > options_.op_log_max) &&
         op_log_.front().revision <= durable_revision_) {
    op_log_.pop_front();
  }
}

void DocumentSession::MaybeSnapshot(bool force) {
  if (snapshot_in_flight_ || append_in_flight_ || phase_ != Phase::kReady || revision_ != durable_revision_) return;
  const int64_t ops_since = durable_revision_ - snapshot_revision_;
  if (ops_since <= 0) return;
  if (!force && ops_since < options_.snapshot_every_ops && UtcNow() - last_snapshot_time_ < options_.snapshot_interval)
    return;
  snapshot_in_flight_ = true;
  storage::Snapshot snapshot{durable_revision_, UtcNow(), {}};
  engine_.SerializeState(*state_, snapshot.state);
  const int64_t revision = snapshot.revision;
  store_.WriteSnapshot(document_id_, std::move(snapshot), [self = shared_from_this(), revision](Status status) {
    boost::asio::post(self->strand_,
                      [self, revision, status = std::move(status)] { self->OnSnapshotWritten(revision, status); });
  });
}

void DocumentSession::OnSnapshotWritten(int64_t revision, Status status) {
  snapshot_in_flight_ = false;
  if (status.ok()) {
    snapshot_revision_ = revision;
    last_snapshot_time_ = UtcNow();
    // Keep every op a connected peer may still rebase on (wire-protocol OP-34, server.md SV-5).
    const int64_t up_to = CompactionLimit(true);
    if (up_to > 0) {
      store_.Compact(document_id_, up_to, [id = document_id_](Status compacted) {
        if (!compacted.ok()) Log()->warn("Compaction of document {} failed: {}", id, compacted.message());
      });
    }
  } else {
    Log()->error("Snapshot of document {} at revision {} failed: {}", document_id_, revision, status.message());
  }
  RunSnapshotWaiters();
  NotifyIfQuiescent();
}

void DocumentSession::RunSnapshotWaiters() {
  auto waiters = std::move(snapshot_waiters_);
  snapshot_waiters_.clear();
  for (auto& waiter : waiters) waiter();
}

void DocumentSession::NotifyIfQuiescent() {
  if (append_in_flight_ || snapshot_in_flight_ || quiescent_waiters_.empty()) return;
  auto waiters = std::move(quiescent_waiters_);
  quiescent_waiters_.clear();
  for (auto& waiter : waiters) waiter();
}

void DocumentSession::PrepareCompaction(int64_t up_to, std::function<void(std::optional<int64_t>)> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), up_to, done = std::move(done)]() mutable {
    if (self->phase_ != Phase::kReady) return done(std::nullopt);
    if (up_to > self->snapshot_revision_) self->MaybeSnapshot(true);
    auto answer = [self, done = std::move(done)] {
      done(self->phase_ == Phase::kReady ? std::optional(self->CompactionLimit(false)) : std::nullopt);
    };
    if (self->snapshot_in_flight_) return self->snapshot_waiters_.push_back(std::move(answer));
    answer();
  });
}

void DocumentSession::FlushSnapshot(std::function<void()> done) {
  boost::asio::dispatch(strand_, [self = shared_from_this(), done = std::move(done)]() mutable {
    self->MaybeSnapshot(true);
    if (self->snapshot_in_flight_) {
      self->snapshot_waiters_.push_back(std::move(done));
    } else {
      done();
    }
  });
}

void DocumentSession::CloseLostOwnership(std::string reason) {
  boost::asio::dispatch(strand_,
                        [self = shared_from_this(), reason = std::move(reason)] { self->Close(reason, true); });
}

void DocumentSession::Evict(std::string reason, std::function<void()> quiescent) {
  boost::asio::dispatch(
      strand_, [self = shared_from_this(), reason = std::move(reason), quiescent = std::move(quiescent)]() mutable {
        // The caller releases the lease itself once the document's data is gone, so that no other
        // node opens it from half-deleted storage meanwhile.
        self->Close(reason, false);
        self->quiescent_waiters_.push_back(std::move(quiescent));
        self->NotifyIfQuiescent();
      });
}

void DocumentSession::Close(std::string reason, bool release_ownership) {
  if (phase_ == Phase::kClosed) return;
  Log()->warn("Closing document {}: {}", document_id_, reason);
  SendBatch sends;
  phase_ = Phase::kClosed;
  idle_timer_.cancel();
  FailPending(reason);
  for (auto& peer : peers_) peer.connection->RemoveJoinedIf(document_id_, this);
  peers_.clear();
  awareness_.clear();
  router_.RemoveSession(document_id_, this, release_ownership);
}

void DocumentSession::DetachPeers() {
  for (auto& peer : peers_) peer.connection->RemoveJoined(document_id_);
  peers_.clear();
  queue_.clear();
}

void DocumentSession::ScheduleIdleClose() {
  idle_timer_.expires_after(options_.idle_close_delay);
  idle_timer_.async_wait(boost::asio::bind_executor(strand_, [self = shared_from_this()](boost::system::error_code ec) {
    if (ec || !self->peers_.empty() || !self->queue_.empty() || self->append_in_flight_ ||
        self->phase_ == Phase::kClosed)
      return;
    static const auto registry_log = GetLogger("OpStream.Server.Session.DocumentSessionRegistry");
    registry_log->info("Closing session for document {}", self->document_id_);
    self->MaybeSnapshot(true);  // SV-36: the final snapshot
    self->phase_ = Phase::kClosed;
    self->router_.RemoveSession(self->document_id_, self.get());
  }));
}

}  // namespace opstream::session
