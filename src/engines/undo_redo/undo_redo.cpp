#include "engines/undo_redo/undo_redo.hpp"

#include <algorithm>

namespace opstream::engines {

UndoRedoHistory::UndoRedoHistory(const Engine& engine, UndoRedoOptions options) : engine_(engine), options_(options) {}

int64_t UndoRedoHistory::Record(std::string_view peer, std::unique_ptr<Op> op, const DocumentState& pre_state,
                                int64_t revision) {
  const int64_t sequence = next_sequence_++;
  std::unique_ptr<Op> inverse = op ? engine_.Invert(*op, pre_state) : nullptr;
  log_.push_back({sequence, std::string(peer), std::move(op), std::move(inverse), revision});
  while (log_.size() > options_.max_history_depth) log_.pop_front();
  Stacks& stacks = stacks_[std::string(peer)];
  stacks.undo.push_back(sequence);
  if (options_.clear_redo_on_new_op) stacks.redo.clear();
  return sequence;
}

const UndoRedoHistory::Entry* UndoRedoHistory::Find(int64_t sequence) const noexcept {
  if (log_.empty() || sequence < log_.front().sequence || sequence > log_.back().sequence) return nullptr;
  return &log_[static_cast<size_t>(sequence - log_.front().sequence)];
}

const UndoRedoHistory::Stacks* UndoRedoHistory::StacksOf(std::string_view peer) const {
  auto it = stacks_.find(std::string(peer));
  return it == stacks_.end() ? nullptr : &it->second;
}

std::optional<PreparedUndoRedo> UndoRedoHistory::Prepare(const std::vector<int64_t>& stack, bool use_inverse,
                                                         const DocumentState& current) const {
  for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
    const Entry* entry = Find(*it);
    if (entry == nullptr) continue;  // dropped from the history
    const Op* source = use_inverse ? entry->inverse.get() : entry->op.get();
    if (source == nullptr) continue;
    // Rebase over everything recorded later, in order, as the server rebases a late op (§3.2).
    std::unique_ptr<Op> candidate;
    bool survived = true;
    const size_t first_later = static_cast<size_t>(entry->sequence - log_.front().sequence) + 1;
    for (size_t i = first_later; i < log_.size(); ++i) {
      if (!log_[i].op) continue;
      std::unique_ptr<Op> next =
          engine_.Transform(candidate ? *candidate : *source, *log_[i].op, Priority::kExistingWins);
      if (next == nullptr || engine_.IsNoOp(*next)) {
        survived = false;
        break;
      }
      candidate = std::move(next);
    }
    if (!survived) continue;
    // Nothing recorded later: the source itself, copied through its own serialization (the Engine
    // interface has no clone, and every op reads back from its normalized JSON).
    if (candidate == nullptr) {
      std::string json;
      engine_.SerializeOp(*source, json);
      if (!engine_.ParseOp(json, candidate).ok() || candidate == nullptr) continue;
    }
    std::unique_ptr<Op> restamped = engine_.RestampToWin(*candidate, current);
    return PreparedUndoRedo{restamped ? std::move(restamped) : std::move(candidate), entry->sequence};
  }
  return std::nullopt;
}

std::optional<PreparedUndoRedo> UndoRedoHistory::PrepareUndo(std::string_view peer,
                                                             const DocumentState& current) const {
  const Stacks* stacks = StacksOf(peer);
  return stacks == nullptr ? std::nullopt : Prepare(stacks->undo, /*use_inverse=*/true, current);
}

std::optional<PreparedUndoRedo> UndoRedoHistory::PrepareRedo(std::string_view peer,
                                                             const DocumentState& current) const {
  const Stacks* stacks = StacksOf(peer);
  return stacks == nullptr ? std::nullopt : Prepare(stacks->redo, /*use_inverse=*/false, current);
}

namespace {

bool MoveSequence(std::vector<int64_t>& from, std::vector<int64_t>& to, int64_t sequence) {
  auto it = std::find(from.begin(), from.end(), sequence);
  if (it == from.end()) return false;
  from.erase(it);
  to.push_back(sequence);
  return true;
}

}  // namespace

void UndoRedoHistory::NotifyUndoApplied(std::string_view peer, int64_t sequence) {
  auto it = stacks_.find(std::string(peer));
  if (it != stacks_.end()) MoveSequence(it->second.undo, it->second.redo, sequence);
}

void UndoRedoHistory::NotifyRedoApplied(std::string_view peer, int64_t sequence) {
  auto it = stacks_.find(std::string(peer));
  if (it != stacks_.end()) MoveSequence(it->second.redo, it->second.undo, sequence);
}

std::vector<int64_t> UndoRedoHistory::UndoStack(std::string_view peer) const {
  const Stacks* stacks = StacksOf(peer);
  return stacks == nullptr ? std::vector<int64_t>{} : stacks->undo;
}

std::vector<int64_t> UndoRedoHistory::RedoStack(std::string_view peer) const {
  const Stacks* stacks = StacksOf(peer);
  return stacks == nullptr ? std::vector<int64_t>{} : stacks->redo;
}

}  // namespace opstream::engines
