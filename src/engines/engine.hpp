#pragma once
// The contract between the session layer and a document engine (engines.md §2–§3).
//
// An engine is stateless and shared by every document of its type; document state and ops are
// engine-specific objects behind the opaque DocumentState / Op interfaces. All functions are
// pure with respect to the engine and may be called concurrently for different documents.
#include <memory>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::engines {

class Op {
 public:
  virtual ~Op() = default;
};

class DocumentState {
 public:
  virtual ~DocumentState() = default;
};

// Which side keeps its position when both ops insert at the same place. The server always
// rebases an incoming op with ExistingWins (engines.md §3.4).
enum class Priority { kExistingWins, kIncomingWins };

class Engine {
 public:
  virtual ~Engine() = default;

  // Join discriminator, e.g. "text" (engines.md §2).
  virtual std::string_view document_type() const = 0;
  // Persisted engine type name, e.g. "TextOp" (server.md §2.13).
  virtual std::string_view op_type_name() const = 0;

  virtual std::unique_ptr<DocumentState> CreateEmpty() const = 0;
  // Loads a snapshot written by SerializeState (or by the reference). Fails with a readable message.
  virtual Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const = 0;
  // Appends the exact snapshot bytes of engines.md §1.4 to `out`.
  virtual void SerializeState(const DocumentState& state, std::string& out) const = 0;

  // Parses a client payload (engines.md §1.3). Every malformed op is rejected here, including the
  // inputs the reference accepts but mishandles (negative counts, inserts without text, ...).
  virtual Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const = 0;
  // Appends the normalized op JSON (camelCase, discriminator first, nothing omitted).
  virtual void SerializeOp(const Op& op, std::string& out) const = 0;

  // Rewrites `incoming` to apply after `existing` (both against the same base). Returns null when
  // the incoming op disappears entirely.
  virtual std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const = 0;
  // Transform that may build its result in `recycled` (an op of this engine the caller no longer
  // needs): rebasing an op over many others then allocates once, not once per step.
  virtual std::unique_ptr<Op> TransformRecycling(const Op& incoming, const Op& existing, Priority priority,
                                                 std::unique_ptr<Op>& /*recycled*/) const {
    return Transform(incoming, existing, priority);
  }
  virtual bool IsNoOp(const Op& op) const = 0;
  // Applies in place. On failure the state is left exactly as it was.
  virtual Status Apply(DocumentState& state, const Op& op) const = 0;

  // Library functions not used by the op pipeline (undo, history, merge). Null means "no effect".
  virtual std::unique_ptr<Op> Compose(const Op& first, const Op& second) const = 0;
  virtual std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const = 0;
  // CRDT engines (engines.md §6.8, §7.5, §8.5): a copy of `op` whose timestamps beat every
  // timestamp in `state`, so that an undo or merge wins. OT engines return null ("use as is").
  virtual std::unique_ptr<Op> RestampToWin(const Op& /*op*/, const DocumentState& /*state*/) const { return nullptr; }
};

}  // namespace opstream::engines
