#pragma once
// Tree CRDT, document type "tree", op type "TreeOpBatch" (engines.md §9): the move-log CRDT of
// Kleppmann et al. Every change is a `move` (create, reparent, reorder, payload update, delete =
// move under "__trash__"); the state is the node map plus the log of every move ever applied,
// sorted by (timestamp, peer id ordinal), each entry remembering the node as it was before it.
//
// Cost model (why no operation replays the whole log): a move is inserted at its key position
// with a binary search; only the entries with a larger key are undone and redone. Clients stamp
// moves with their wall clock, so the suffix is empty for in-order arrivals and holds only the
// concurrent moves otherwise: applying a move costs O(log n + k·d), n = log length, k = moves that
// sort after it, d = tree depth walked by the cycle check. The node map keeps the .NET Dictionary
// order with slot reuse (§1.5): undo removes nodes that a move created, redo re-inserts them.
//
// ParseOp rejects unknown discriminators, null/missing nodeId, newParentId and peerId, a missing
// newPayload (send null explicitly), and — the §9.6 recommendation — a null/missing newPosition.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "engines/engine.hpp"
#include "engines/table/crdt_support.hpp"

namespace opstream::engines {

inline constexpr std::string_view kTreeRootId = "__root__";
inline constexpr std::string_view kTreeTrashId = "__trash__";

struct TreeNode {
  std::string id;
  std::string parent_id;
  std::string position;
  std::string payload = "null";  // normalized JSON (§1.4)

  bool operator==(const TreeNode&) const = default;
};

struct TreeMove {
  std::string node_id;
  std::string new_parent_id;
  std::string new_position;
  std::string new_payload = "null";
  int64_t timestamp = 0;
  std::string peer_id;
};

struct TreeLogEntry {
  TreeMove op;
  std::optional<TreeNode> old_node;
};

class TreeOp final : public Op {
 public:
  std::vector<TreeMove> operations;
};

class TreeDocument final : public DocumentState {
 public:
  crdt::SlotMap<TreeNode> nodes;
  std::vector<TreeLogEntry> move_log;
};

// §9.3: would moving `moving` under `new_parent` create a cycle?
bool TreeMoveWouldCycle(const crdt::SlotMap<TreeNode>& nodes, std::string_view moving, std::string_view new_parent);

Status ParseTreeOp(std::string_view payload_json, TreeOp& out);
void SerializeTreeOp(const TreeOp& op, std::string& out);
Status LoadTreeDocument(std::string_view snapshot_json, TreeDocument& out);
void SerializeTreeDocument(const TreeDocument& document, std::string& out);
// In place; cannot fail on a parsed op.
void ApplyTreeOp(TreeDocument& document, const TreeOp& op);
// §9.5; `now` is the wall clock in epoch milliseconds.
TreeOp InvertTreeOp(const TreeOp& op, const TreeDocument& pre_state, int64_t now);

class TreeEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "tree"; }
  std::string_view op_type_name() const override { return "TreeOpBatch"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
  // The identity (§9.5): the move log orders moves by their own stamps.
  std::unique_ptr<Op> RestampToWin(const Op& op, const DocumentState& state) const override;
};

std::shared_ptr<const Engine> MakeTreeEngine();

const TreeDocument* AsTreeDocument(const DocumentState& state) noexcept;
const TreeOp* AsTreeOp(const Op& op) noexcept;

}  // namespace opstream::engines
