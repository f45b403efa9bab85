#pragma once
// What the session layer knows about a client connection, whatever its transport.
//
// The session layer decides what each connection receives and in which order; a transport only
// encodes the messages and writes them. Events shared by many receivers are immutable and carry a
// per-transport encoding cache, so a broadcast is serialized once per transport, not per peer.
#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "common/clock.hpp"

namespace opstream::session {

class Connection;

// What a connection joined: a document open on this node (DocumentSession) or one owned by another
// node and reached through the backplane (RemoteDocument). The router hands requests of joined
// connections here; `done` runs once the response is queued to the connection.
class JoinedDocument {
 public:
  using Done = std::function<void(bool success)>;
  virtual ~JoinedDocument() = default;
  virtual const std::string& document_id() const noexcept = 0;
  virtual void SubmitOp(std::shared_ptr<Connection> connection, std::optional<std::string> correlation,
                        std::string payload, int64_t base_revision, Done done) = 0;
  virtual void UpdateAwareness(std::shared_ptr<Connection> connection, std::string data_json, Done done) = 0;
  virtual void Leave(std::shared_ptr<Connection> connection) = 0;
};

enum class TransportKind : int { kWebSocket = 0, kSignalRJson, kSignalRMessagePack, kGrpc, kCount };

// Lazily computed, thread-safe encodings of one event, one slot per transport kind.
//
// Not std::call_once: glibc's once ends every first call with a futex wake system call, which
// cost one system call per broadcast op. Here the first caller encodes; a caller that meets an
// encoding in progress on another thread (rare: transports of other kinds) yields until it is
// ready.
class EncodingCache {
 public:
  template <typename Encode>
  const std::string& Get(TransportKind kind, Encode&& encode) const {
    const auto slot = static_cast<size_t>(kind);
    auto& state = states_[slot];
    uint8_t seen = state.load(std::memory_order_acquire);
    if (seen == kReady) return encoded_[slot];
    if (seen == kEmpty && state.compare_exchange_strong(seen, kEncoding, std::memory_order_acquire)) {
      try {
        encoded_[slot] = encode();
      } catch (...) {
        state.store(kEmpty, std::memory_order_release);
        throw;
      }
      state.store(kReady, std::memory_order_release);
      return encoded_[slot];
    }
    while (state.load(std::memory_order_acquire) != kReady) {
      if (state.load(std::memory_order_relaxed) == kEmpty) return Get(kind, std::forward<Encode>(encode));
      std::this_thread::yield();
    }
    return encoded_[slot];
  }

 private:
  static constexpr uint8_t kEmpty = 0, kEncoding = 1, kReady = 2;
  mutable std::array<std::atomic<uint8_t>, static_cast<size_t>(TransportKind::kCount)> states_{};
  mutable std::array<std::string, static_cast<size_t>(TransportKind::kCount)> encoded_;
};

struct AwarenessState {
  std::string peer_id;
  std::string data_json;  // compact JSON text of the value the peer sent
  Timestamp last_updated;
};

// ---- events shared by every receiver ----
struct OpEvent {
  std::string document_id;
  int64_t revision = 0;
  std::string payload;  // normalized op JSON
  EncodingCache encodings;
};

struct AwarenessEvent {
  std::string document_id;
  AwarenessState state;
  EncodingCache encodings;
};

struct PeerLeftEvent {
  std::string document_id;
  std::string peer_id;
  EncodingCache encodings;
};

// ---- responses to one connection's requests ----
using CorrelationId = std::optional<std::string>;

struct JoinResponse {
  CorrelationId correlation;
  std::string document_id;
  int64_t revision = 0;
  std::string snapshot;  // state JSON
  std::vector<AwarenessState> awareness;
};

struct OpResponse {
  CorrelationId correlation;
  bool success = false;
  int64_t new_revision = 0;
  std::optional<std::string> error;
};

// A request error (validation, authorization, routing): wire-protocol §2.5 "two failure channels".
struct ErrorResponse {
  CorrelationId correlation;
  std::string message;
};

using Outbound = std::variant<JoinResponse, OpResponse, ErrorResponse, std::shared_ptr<const OpEvent>,
                              std::shared_ptr<const AwarenessEvent>, std::shared_ptr<const PeerLeftEvent>>;

// Responses answer one connection's own request; the rest are broadcasts.
inline bool IsResponse(const Outbound& message) {
  return std::holds_alternative<JoinResponse>(message) || std::holds_alternative<OpResponse>(message) ||
         std::holds_alternative<ErrorResponse>(message);
}

// Base of every transport connection. Holds the peer id and the documents this connection joined
// (membership is checked before ops and awareness are accepted, wire-protocol OP-13).
class Connection : public std::enable_shared_from_this<Connection> {
 public:
  explicit Connection(std::string peer_id, TransportKind kind) : peer_id_(std::move(peer_id)), kind_(kind) {}
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  const std::string& peer_id() const noexcept { return peer_id_; }
  TransportKind kind() const noexcept { return kind_; }

  // Queues a message for this connection. Thread-safe; messages are written in call order.
  // A connection that is closed, or whose queue overflowed, silently drops the message.
  // Inside a SendBatch on the calling thread, a transport may hold the write back until the
  // batch ends (see SendBatch); otherwise it writes on its own schedule.
  virtual void Send(Outbound message) = 0;
  // Queues broadcast ops for this connection, in order: the same as a Send of each, which is what
  // the default does. A transport may queue them together (one lock, no per-message variant).
  virtual void SendOps(std::span<const std::shared_ptr<const OpEvent>> events);
  // Writes what Send held back during a SendBatch. `write_now`: from this thread at once;
  // otherwise the transport may hand the write to its writer threads (large fan-outs).
  virtual void FlushHeldBack(bool /*write_now*/) {}

  std::shared_ptr<JoinedDocument> FindJoined(const std::string& document_id) const;
  void AddJoined(const std::string& document_id, std::shared_ptr<JoinedDocument> session);
  void RemoveJoined(const std::string& document_id);
  // Removes the membership only while it still refers to `session` (a rejoin may have replaced it).
  void RemoveJoinedIf(const std::string& document_id, const JoinedDocument* session);
  std::vector<std::shared_ptr<JoinedDocument>> TakeAllJoined();

 private:
  const std::string peer_id_;
  const TransportKind kind_;
  mutable std::mutex membership_mutex_;
  std::vector<std::pair<std::string, std::shared_ptr<JoinedDocument>>> joined_;
};

// While a document answers a batch of requests on its strand, the connections it sends to are
// collected here and written once when the batch ends: one write per receiver per batch instead
// of one per message, and no thread hand-off for small documents. Batches nest; the outermost
// one flushes. Thread-local: only sends from the thread that opened the batch are held back.
class SendBatch {
 public:
  SendBatch();
  ~SendBatch();
  SendBatch(const SendBatch&) = delete;
  SendBatch& operator=(const SendBatch&) = delete;

  // Called by a transport's Send: true when a batch is open on this thread, which now owns the
  // flush of `connection` (a transport registers each connection once per batch).
  static bool HoldBack(const std::shared_ptr<Connection>& connection);
  static bool Active();

  // Up to this many receivers are written from the batch's own thread; beyond it the writes go
  // to the transport's writer threads so the document can go on with its next requests.
  static constexpr size_t kWriteNowLimit = 64;

 private:
  SendBatch* outer_;
  std::vector<std::shared_ptr<Connection>> held_;
};

}  // namespace opstream::session
