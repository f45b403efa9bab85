#pragma once
// One open document: the single writer of its state (an actor on its own strand).
//
// Ops are transformed and applied in arrival order, then appended to the store in batches (group
// commit): while one append is in flight, newly arrived ops queue up and go out together in the
// next append. Acknowledgements and broadcasts are queued to connections only after the store has
// accepted the ops, always in revision order (wire-protocol §2.10 R1–R3). A join waits for the
// in-flight batch so that its snapshot never contains an op that is not yet durable.
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/container/deque.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backplane/backplane.hpp"
#include "engines/engine.hpp"
#include "session/connection.hpp"
#include "session/session_options.hpp"
#include "storage/document_store.hpp"

namespace opstream::session {

class DocumentRouter;

class DocumentSession final : public JoinedDocument, public std::enable_shared_from_this<DocumentSession> {
 public:
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;
  // Called on the session strand once the request's response has been queued to the connection.
  using Done = std::function<void(bool success)>;

  // `cluster`: the backplane to publish committed ops and awareness on (this node owns the
  // document); null with the local backplane, where nothing is published.
  DocumentSession(boost::asio::io_context& io, std::string document_id, const engines::Engine& engine,
                  storage::DocumentStore& store, DocumentRouter& router, const SessionOptions& options,
                  backplane::Backplane* cluster = nullptr);
  ~DocumentSession();

  const std::string& document_id() const noexcept override { return document_id_; }
  const engines::Engine& engine() const noexcept { return engine_; }

  // Starts loading the document from the store. Requests queue until it completes.
  void Open();

  void Join(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string requested_type, Done done);
  void SubmitOp(std::shared_ptr<Connection> connection, CorrelationId correlation, std::string payload,
                int64_t base_revision, Done done) override;
  void UpdateAwareness(std::shared_ptr<Connection> connection, std::string data_json, Done done) override;
  void Leave(std::shared_ptr<Connection> connection) override;
  // Ownership moved to another node (SV-1): stop serving at once. Queued requests fail with
  // `reason`, every peer loses its membership (its next request is answered "not joined" and the
  // client rejoins through the new owner), and the router forgets the session.
  void CloseLostOwnership(std::string reason);
  // The same close for a deleted or evicted document (server.md §2.9 "Eviction"); `quiescent`
  // runs (on the strand) once no append or snapshot write of this session is in flight any more,
  // so that nothing it writes can land in the store after the caller deletes the document.
  void Evict(std::string reason, std::function<void()> quiescent);
  // For a management compaction up to `up_to` (server.md §5.3): writes a snapshot first when the
  // stored one is older than `up_to` (SV-15), then answers up to which revision the store may drop
  // ops: covered by the stored snapshot and not needed by any connected peer (wire-protocol OP-34;
  // the session's own compaction rule without its retained tail). `done` runs on the strand and
  // gets none while the session is not serving (loading, unavailable, closed).
  void PrepareCompaction(int64_t up_to, std::function<void(std::optional<int64_t>)> done);
  // Writes a final snapshot when ops arrived since the last one (graceful shutdown).
  void FlushSnapshot(std::function<void()> done);
  // Teardown only (no strand): forgets the peers so that sessions and connections can be freed.
  void DetachPeers();

 private:
  enum class Phase { kLoading, kReady, kUnavailable, kClosed };

  struct Request {
    enum class Kind { kJoin, kOp } kind;
    std::shared_ptr<Connection> connection;
    CorrelationId correlation;
    std::string payload;  // op JSON, or the requested document type of a join
    int64_t base_revision = 0;
    Done done;
  };

  // The outcome of one op within a batch, delivered once the batch is durable.
  struct BatchItem {
    Request request;
    enum class Outcome { kAccepted, kAbsorbed, kRejected } outcome;
    int64_t revision = 0;  // assigned revision, or the current revision for absorbed/rejected ops
    std::string error;
    std::shared_ptr<const OpEvent> event;  // accepted ops only
  };

  struct LoggedOp {
    int64_t revision;
    std::unique_ptr<engines::Op> op;
    std::shared_ptr<const OpEvent> event;
  };

  struct Peer {
    std::shared_ptr<Connection> connection;
    int64_t known_revision;  // oldest revision this peer may still base an op on
  };

  void OnLoaded(Status status, storage::LoadedDocument document);
  void ProcessQueue();
  void ProcessJoin(Request& request);
  BatchItem ProcessOp(Request request);
  void OnAppended(std::vector<BatchItem> batch, Status status);
  // Answers a durable batch: every connection receives the batch's ops it did not author and the
  // answers to its own, in revision order. In a cluster, op by op, with each op published after
  // its author's answer; otherwise receiver by receiver, which queues each receiver's ops at once.
  void AnswerInRevisionOrder(std::vector<BatchItem>& batch);
  void AnswerPerReceiver(std::vector<BatchItem>& batch);
  static OpResponse AnswerOf(BatchItem& item);  // moves the correlation id and error out
  void FailPending(const std::string& message);
  void Reload();

  void MaybeSnapshot(bool force);
  void OnSnapshotWritten(int64_t revision, Status status);
  void TrimOpLog();
  int64_t OldestRevisionNeeded(bool keep_tail = true) const;
  int64_t CompactionLimit(bool keep_tail) const;
  void RunSnapshotWaiters();
  void Close(std::string reason, bool release_ownership);
  void NotifyIfQuiescent();
  void ScheduleIdleClose();
  void CollectAwareness(std::vector<AwarenessState>& out);
  Peer* FindPeer(const Connection& connection);

  Strand strand_;
  const std::string document_id_;
  const engines::Engine& engine_;
  storage::DocumentStore& store_;
  DocumentRouter& router_;
  const SessionOptions& options_;
  backplane::Backplane* const cluster_;

  Phase phase_ = Phase::kLoading;
  std::string unavailable_reason_;
  std::unique_ptr<engines::DocumentState> state_;
  int64_t revision_ = 0;          // revision of state_ (may include ops not yet durable)
  int64_t durable_revision_ = 0;  // last revision the store accepted
  // Boost's deque allocates nothing until used (std::deque holds ~600 bytes from construction),
  // which matters with one session per idle document.
  boost::container::deque<LoggedOp> op_log_;  // recent ops, ascending, contiguous, for rebasing stale ops
  std::unique_ptr<engines::Op> spare_op_;     // reused by rebasing (Engine::TransformRecycling)
  boost::container::deque<Request> queue_;
  bool append_in_flight_ = false;

  std::vector<Peer> peers_;
  std::vector<AwarenessState> awareness_;

  int64_t snapshot_revision_ = 0;
  Timestamp last_snapshot_time_;
  bool snapshot_in_flight_ = false;
  std::vector<std::function<void()>> snapshot_waiters_;
  std::vector<std::function<void()>> quiescent_waiters_;  // evictions waiting for in-flight writes
  boost::asio::steady_timer idle_timer_;
};

}  // namespace opstream::session
