#include "engines/tree/tree_engine.hpp"

#include <algorithm>
#include <new>

#include "engines/json/json_writer.hpp"

namespace opstream::engines {
namespace {

using crdt::FieldReader;
using json::AppendJsonInt;
using json::AppendJsonString;
using json::JsonKind;
using json::RawJsonTree;

// Move-log order: (timestamp, peer id ordinal).
bool KeyLess(const TreeMove& a, const TreeMove& b) noexcept {
  if (a.timestamp != b.timestamp) return a.timestamp < b.timestamp;
  return crdt::OrdinalCompare(a.peer_id, b.peer_id) < 0;
}

Status ReadMove(const FieldReader& f, TreeMove& move) {
  Status s = f.RequiredString("nodeId", move.node_id);
  if (s.ok()) s = f.RequiredString("newParentId", move.new_parent_id);
  if (s.ok()) s = f.RequiredString("newPosition", move.new_position);
  if (s.ok()) s = f.RequiredValue("newPayload", move.new_payload);
  if (s.ok()) s = f.Int64("timestamp", move.timestamp);
  if (s.ok()) s = f.RequiredString("peerId", move.peer_id);
  return s;
}

// A logged move of a snapshot. The reference accepted (and logged) moves with a null position or
// peer id, so those load as "" instead of making the document unreadable; ids are still required.
Status ReadLoggedMove(const FieldReader& f, TreeMove& move) {
  Status s = f.RequiredString("nodeId", move.node_id);
  if (s.ok()) s = f.OptionalString("newParentId", move.new_parent_id, "");
  if (s.ok()) s = f.OptionalString("newPosition", move.new_position, "");
  if (s.ok()) f.OptionalValue("newPayload", move.new_payload);
  if (s.ok()) s = f.Int64("timestamp", move.timestamp);
  if (s.ok()) s = f.OptionalString("peerId", move.peer_id, "");
  return s;
}

void AppendMove(std::string& out, const TreeMove& m, bool with_type) {
  out.append(with_type ? "{\"$type\":\"move\",\"nodeId\":" : "{\"nodeId\":");
  AppendJsonString(out, m.node_id);
  out.append(",\"newParentId\":");
  AppendJsonString(out, m.new_parent_id);
  out.append(",\"newPosition\":");
  AppendJsonString(out, m.new_position);
  out.append(",\"newPayload\":").append(m.new_payload).append(",\"timestamp\":");
  AppendJsonInt(out, m.timestamp);
  out.append(",\"peerId\":");
  AppendJsonString(out, m.peer_id);
  out.push_back('}');
}

void AppendNode(std::string& out, const TreeNode& n) {
  out.append("{\"id\":");
  AppendJsonString(out, n.id);
  out.append(",\"parentId\":");
  AppendJsonString(out, n.parent_id);
  out.append(",\"position\":");
  AppendJsonString(out, n.position);
  out.append(",\"payload\":").append(n.payload).push_back('}');
}

// Snapshot nodes: reference snapshots never hold null ids; a null is read as "" (see the docs).
Status LoadNode(const RawJsonTree& tree, uint32_t node, const crdt::Location& where, std::string_view fallback_id,
                TreeNode& out) {
  if (tree.node(node).kind != JsonKind::kObject) return Status::Error(where.Text() + " must be an object.");
  const FieldReader f(tree, node, where);
  Status s = f.OptionalString("id", out.id, fallback_id);
  if (s.ok()) s = f.OptionalString("parentId", out.parent_id, "");
  if (s.ok()) s = f.OptionalString("position", out.position, "");
  if (s.ok()) f.OptionalValue("payload", out.payload);
  return s;
}

Status LoadLogEntry(const RawJsonTree& tree, uint32_t node, size_t index, TreeLogEntry& out) {
  constexpr std::string_view kPrefix = "Invalid tree snapshot: moveLog";
  const auto i = static_cast<int64_t>(index);
  if (tree.node(node).kind != JsonKind::kObject) {
    return Status::Error(crdt::Location::Indexed(kPrefix, i).Text() + " must be an object.");
  }
  const int64_t op = tree.FindMemberIgnoreCase(node, "op");
  const auto op_where = crdt::Location::Indexed(kPrefix, i, ".op");
  if (op < 0 || tree.node(static_cast<uint32_t>(op)).kind != JsonKind::kObject) {
    return Status::Error(op_where.Text() + " must be an object.");
  }
  if (auto s = ReadLoggedMove(FieldReader(tree, static_cast<uint32_t>(op), op_where), out.op); !s.ok()) return s;
  const int64_t old = tree.FindMemberIgnoreCase(node, "oldNode");
  if (old >= 0 && tree.node(static_cast<uint32_t>(old)).kind != JsonKind::kNull) {
    TreeNode old_node;
    if (auto s =
            LoadNode(tree, static_cast<uint32_t>(old), crdt::Location::Indexed(kPrefix, i, ".oldNode"), "", old_node);
        !s.ok()) {
      return s;
    }
    out.old_node = std::move(old_node);
  }
  return Status::Ok();
}

Status LoadInto(std::string_view snapshot_json, TreeDocument& doc) {
  RawJsonTree tree;
  if (auto s = tree.Parse(snapshot_json); !s.ok()) return Status::Error("Invalid tree snapshot: " + s.message());
  if (tree.root().kind != JsonKind::kObject) return Status::Error("Invalid tree snapshot: not a JSON object.");
  Status status;
  if (const int64_t nodes = tree.FindMemberIgnoreCase(0, "nodes"); nodes >= 0) {
    const auto index = static_cast<uint32_t>(nodes);
    if (tree.node(index).kind != JsonKind::kObject)
      return Status::Error("Invalid tree snapshot: nodes must be an object.");
    doc.nodes.Reserve(tree.node(index).child_count);
    crdt::ForEachMember(tree, index, [&](std::string key, uint32_t node) {
      if (!status.ok()) return;
      TreeNode n;
      status = LoadNode(tree, node, crdt::Location::Keyed("Invalid tree snapshot: nodes", key), key, n);
      if (status.ok()) doc.nodes.Set(key, std::move(n));
    });
  }
  if (!status.ok()) return status;
  if (const int64_t log = tree.FindMemberIgnoreCase(0, "moveLog"); log >= 0) {
    const auto index = static_cast<uint32_t>(log);
    if (tree.node(index).kind != JsonKind::kArray)
      return Status::Error("Invalid tree snapshot: moveLog must be an array.");
    doc.move_log.resize(tree.node(index).child_count);
    crdt::ForEachElement(tree, index, [&](uint32_t i, uint32_t node) {
      if (status.ok()) status = LoadLogEntry(tree, node, i, doc.move_log[i]);
    });
  }
  return status;
}

void Undo(crdt::SlotMap<TreeNode>& nodes, const TreeLogEntry& entry) {
  if (entry.old_node) {
    nodes.Set(entry.op.node_id, *entry.old_node);
  } else {
    nodes.Remove(entry.op.node_id);
  }
}

// Step 3 of §9.4: capture the node as it is now, then move it unless that would form a cycle.
void Perform(crdt::SlotMap<TreeNode>& nodes, TreeLogEntry& entry) {
  const TreeMove& m = entry.op;
  const TreeNode* current = nodes.Find(m.node_id);
  if (current != nullptr) {
    entry.old_node = *current;
  } else {
    entry.old_node.reset();
  }
  if (TreeMoveWouldCycle(nodes, m.node_id, m.new_parent_id)) return;
  nodes.Set(m.node_id, TreeNode{m.node_id, m.new_parent_id, m.new_position, m.new_payload});
}

}  // namespace

bool TreeMoveWouldCycle(const crdt::SlotMap<TreeNode>& nodes, std::string_view moving, std::string_view new_parent) {
  std::string_view cursor = new_parent;
  // Without a cycle in the map the walk finds each node at most once; finding more nodes than the
  // map holds means an id repeated (the reference's visited set, without the allocation).
  size_t steps = 0;
  while (true) {
    if (cursor == kTreeRootId || cursor == kTreeTrashId) return false;
    if (cursor == moving) return true;
    const TreeNode* node = nodes.Find(cursor);
    if (node == nullptr) return false;
    if (++steps > nodes.size()) return true;
    cursor = node->parent_id;
  }
}

Status ParseTreeOp(std::string_view payload_json, TreeOp& out) {
  out.operations.clear();
  RawJsonTree tree;
  if (auto s = tree.Parse(payload_json); !s.ok()) return Status::Error("Invalid TreeOpBatch: " + s.message());
  uint32_t array = 0;
  if (auto s = crdt::FindOperations(tree, "TreeOpBatch", array); !s.ok()) return s;
  std::vector<TreeMove> moves(tree.node(array).child_count);
  Status status;
  crdt::ForEachElement(tree, array, [&](uint32_t index, uint32_t node) {
    if (!status.ok()) return;
    const auto where = crdt::Location::Indexed("Invalid TreeOpBatch: operations", index);
    std::string type;
    status = crdt::ReadDiscriminator(tree, node, where, type);
    if (status.ok() && type != "move") {
      status =
          Status::Error(where.Text() + " has an unknown \"$type\" \"" + type + "\" (the only tree op is \"move\").");
    }
    if (status.ok()) status = ReadMove(FieldReader(tree, node, where), moves[index]);
  });
  if (status.ok()) out.operations = std::move(moves);
  return status;
}

void SerializeTreeOp(const TreeOp& op, std::string& out) {
  out.append("{\"operations\":[");
  for (size_t i = 0; i < op.operations.size(); ++i) {
    if (i > 0) out.push_back(',');
    AppendMove(out, op.operations[i], true);
  }
  out.append("]}");
}

Status LoadTreeDocument(std::string_view snapshot_json, TreeDocument& out) {
  TreeDocument loaded;
  if (auto s = LoadInto(snapshot_json, loaded); !s.ok()) return s;
  out = std::move(loaded);
  return Status::Ok();
}

void SerializeTreeDocument(const TreeDocument& doc, std::string& out) {
  out.append("{\"nodes\":{");
  bool first = true;
  doc.nodes.ForEach([&](std::string_view key, const TreeNode& node) {
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, key);
    out.push_back(':');
    AppendNode(out, node);
  });
  out.append("},\"moveLog\":[");
  for (size_t i = 0; i < doc.move_log.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append("{\"op\":");
    AppendMove(out, doc.move_log[i].op, false);
    out.append(",\"oldNode\":");
    if (doc.move_log[i].old_node) {
      AppendNode(out, *doc.move_log[i].old_node);
    } else {
      out.append("null");
    }
    out.push_back('}');
  }
  out.append("]}");
}

void ApplyTreeOp(TreeDocument& doc, const TreeOp& op) {
  // The reference applies to a copy of the node map, and copying compacts it (§1.5).
  doc.nodes.Compact();
  auto& log = doc.move_log;
  for (const TreeMove& move : op.operations) {
    // First entry with a larger key: equal keys go after the existing ones.
    const auto at = static_cast<size_t>(
        std::upper_bound(log.begin(), log.end(), move,
                         [](const TreeMove& m, const TreeLogEntry& e) { return KeyLess(m, e.op); }) -
        log.begin());
    for (size_t j = log.size(); j > at; --j) Undo(doc.nodes, log[j - 1]);
    TreeLogEntry entry{move, std::nullopt};
    Perform(doc.nodes, entry);
    log.insert(log.begin() + static_cast<std::ptrdiff_t>(at), std::move(entry));
    for (size_t j = at + 1; j < log.size(); ++j) Perform(doc.nodes, log[j]);
  }
}

TreeOp InvertTreeOp(const TreeOp& op, const TreeDocument& pre_state, int64_t now) {
  TreeOp inverse;
  inverse.operations.reserve(op.operations.size());
  for (auto it = op.operations.rbegin(); it != op.operations.rend(); ++it) {
    TreeMove m;
    m.node_id = it->node_id;
    m.timestamp = std::max(now, crdt::WrappingIncrement(it->timestamp));
    m.peer_id = it->peer_id;
    if (const TreeNode* before = pre_state.nodes.Find(it->node_id)) {
      m.new_parent_id = before->parent_id;
      m.new_position = before->position;
      m.new_payload = before->payload;
    } else {
      m.new_parent_id = kTreeTrashId;
      m.new_position = it->new_position;
      m.new_payload = it->new_payload;
    }
    inverse.operations.push_back(std::move(m));
  }
  return inverse;
}

// ---- Engine interface ----

std::unique_ptr<DocumentState> TreeEngine::CreateEmpty() const { return std::make_unique<TreeDocument>(); }

Status TreeEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  try {
    auto doc = std::make_unique<TreeDocument>();
    if (auto s = LoadTreeDocument(snapshot_json, *doc); !s.ok()) return s;
    out = std::move(doc);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error("Not enough memory to load the tree snapshot.");
  }
}

void TreeEngine::SerializeState(const DocumentState& state, std::string& out) const {
  if (const auto* doc = AsTreeDocument(state)) SerializeTreeDocument(*doc, out);
}

Status TreeEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  try {
    auto op = std::make_unique<TreeOp>();
    if (auto s = ParseTreeOp(payload_json, *op); !s.ok()) return s;
    out = std::move(op);
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::Error("Invalid TreeOpBatch: not enough memory to read the op.");
  }
}

void TreeEngine::SerializeOp(const Op& op, std::string& out) const {
  if (const auto* tree_op = AsTreeOp(op)) SerializeTreeOp(*tree_op, out);
}

std::unique_ptr<Op> TreeEngine::Transform(const Op& incoming, const Op& /*existing*/, Priority /*priority*/) const {
  const auto* op = AsTreeOp(incoming);
  return op == nullptr ? nullptr : std::make_unique<TreeOp>(*op);
}

bool TreeEngine::IsNoOp(const Op& op) const {
  const auto* tree_op = AsTreeOp(op);
  return tree_op == nullptr || tree_op->operations.empty();
}

Status TreeEngine::Apply(DocumentState& state, const Op& op) const {
  auto* doc = dynamic_cast<TreeDocument*>(&state);
  const auto* tree_op = AsTreeOp(op);
  if (doc == nullptr) return Status::Error("The tree engine cannot apply an op to this document.");
  if (tree_op == nullptr) return Status::Error("The tree engine can only apply a TreeOpBatch.");
  // Parsed moves always apply (a cycle is a recorded skip, not an error), so the state is never
  // left half updated.
  ApplyTreeOp(*doc, *tree_op);
  return Status::Ok();
}

std::unique_ptr<Op> TreeEngine::Compose(const Op& /*first*/, const Op& /*second*/) const { return nullptr; }

std::unique_ptr<Op> TreeEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const auto* tree_op = AsTreeOp(op);
  const auto* doc = AsTreeDocument(pre_state);
  if (tree_op == nullptr || doc == nullptr) return nullptr;
  return std::make_unique<TreeOp>(InvertTreeOp(*tree_op, *doc, crdt::WallClockMillis()));
}

std::unique_ptr<Op> TreeEngine::RestampToWin(const Op& op, const DocumentState& /*state*/) const {
  const auto* tree_op = AsTreeOp(op);
  return tree_op == nullptr ? nullptr : std::make_unique<TreeOp>(*tree_op);
}

std::shared_ptr<const Engine> MakeTreeEngine() { return std::make_shared<TreeEngine>(); }

const TreeDocument* AsTreeDocument(const DocumentState& state) noexcept {
  return dynamic_cast<const TreeDocument*>(&state);
}
const TreeOp* AsTreeOp(const Op& op) noexcept { return dynamic_cast<const TreeOp*>(&op); }

}  // namespace opstream::engines
