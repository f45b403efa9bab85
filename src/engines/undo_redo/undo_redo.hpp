#pragma once
// Per-peer undo and redo over any engine (engines.md §12), a library component that the op
// pipeline does not use. Nothing is persisted.
//
// Every recorded op enters one shared log with its inverse, computed against the state the op was
// applied to. To undo, a peer's most recent entry that still has an effect is taken: its inverse
// is transformed (ExistingWins) over every op recorded after it, and, for the CRDT engines,
// restamped so that it beats the current state. Redo does the same with the original op. The
// caller submits the prepared op like any other and then reports it with NotifyUndoApplied /
// NotifyRedoApplied, passing the sequence that Prepare returned (not "the top of the stack": an
// entry that no longer had an effect is skipped, so the consumed one may be deeper).
//
// Not thread-safe: use it from the document's strand.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engines/engine.hpp"

namespace opstream::engines {

struct UndoRedoOptions {
  // The oldest entries are dropped beyond this; stack entries pointing at them are skipped.
  size_t max_history_depth = 500;
  // Recording a new op of a peer clears that peer's redo stack.
  bool clear_redo_on_new_op = true;
};

struct PreparedUndoRedo {
  std::unique_ptr<Op> op;
  int64_t sequence = 0;
};

class UndoRedoHistory {
 public:
  explicit UndoRedoHistory(const Engine& engine, UndoRedoOptions options = {});

  // Records `op` by `peer`, applied to `pre_state` to make `revision`. Returns its sequence
  // (1, 2, ...).
  int64_t Record(std::string_view peer, std::unique_ptr<Op> op, const DocumentState& pre_state, int64_t revision);

  // The op that undoes (redoes) the peer's latest undoable (redoable) entry on `current`, or
  // nothing when no entry survives the later ops.
  std::optional<PreparedUndoRedo> PrepareUndo(std::string_view peer, const DocumentState& current) const;
  std::optional<PreparedUndoRedo> PrepareRedo(std::string_view peer, const DocumentState& current) const;

  // Moves `sequence` from the peer's undo stack (wherever it is) to the top of its redo stack, and
  // the reverse. Unknown sequences are ignored.
  void NotifyUndoApplied(std::string_view peer, int64_t sequence);
  void NotifyRedoApplied(std::string_view peer, int64_t sequence);

  size_t history_size() const noexcept { return log_.size(); }
  // Stack contents, bottom first (for tests and diagnostics).
  std::vector<int64_t> UndoStack(std::string_view peer) const;
  std::vector<int64_t> RedoStack(std::string_view peer) const;

 private:
  struct Entry {
    int64_t sequence;
    std::string peer;
    std::unique_ptr<Op> op;
    std::unique_ptr<Op> inverse;
    int64_t revision;
  };
  struct Stacks {
    std::vector<int64_t> undo;
    std::vector<int64_t> redo;
  };

  const Entry* Find(int64_t sequence) const noexcept;
  std::optional<PreparedUndoRedo> Prepare(const std::vector<int64_t>& stack, bool use_inverse,
                                          const DocumentState& current) const;
  const Stacks* StacksOf(std::string_view peer) const;

  const Engine& engine_;
  UndoRedoOptions options_;
  std::deque<Entry> log_;  // ascending, contiguous sequences
  int64_t next_sequence_ = 1;
  std::unordered_map<std::string, Stacks> stacks_;
};

}  // namespace opstream::engines
