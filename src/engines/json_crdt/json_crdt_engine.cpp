#include "engines/json_crdt/json_crdt_engine.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <typeinfo>

#include "common/clock.hpp"
#include "engines/engine_adapter.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/lww_batch.hpp"
#include "engines/json/ordinal.hpp"
#include "engines/json/raw_fields.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::engines {
namespace {

using json::JsonKind;
using json::RawJsonNode;
using json::RawJsonTree;
using json::WritePeer;

constexpr std::string_view kNullText = "null";

Status Invalid(std::string message) { return Status::Error("Invalid JsonOpBatch: " + std::move(message)); }

// Timestamps are client-chosen int64 values; "+1" saturates rather than wrapping around.
inline int64_t PlusOne(int64_t value) noexcept {
  return value == std::numeric_limits<int64_t>::max() ? value : value + 1;
}

// One side of the win rule (§6.3). `text` is what rule 4 compares: the raw value text of a set or
// a live register, the text null for a delete or a tombstone.
struct Stamp {
  int64_t timestamp;
  const std::optional<std::string>* peer;
  std::string_view text;
};

inline Stamp StampOf(const JsonCrdtOperation& op) noexcept {
  return {op.timestamp, &op.peer, op.kind == JsonOpKind::kSet ? std::string_view(op.value) : kNullText};
}
inline Stamp StampOf(const JsonRegister& reg) noexcept {
  return {reg.timestamp, &reg.peer, reg.deleted ? kNullText : std::string_view(reg.value)};
}

// wins(new, existing, sameBatch) of §6.3.
inline bool Wins(const Stamp& incoming, const Stamp& existing, bool same_batch) noexcept {
  if (incoming.timestamp != existing.timestamp) return incoming.timestamp > existing.timestamp;
  const int peers = json::CompareNullableOrdinalUtf16(*incoming.peer, *existing.peer);
  if (peers != 0) return peers > 0;
  if (same_batch) return true;
  return json::CompareOrdinalUtf16(incoming.text, existing.text) > 0;
}

inline bool SameTimestampAndPeer(const Stamp& a, const Stamp& b) noexcept {
  return a.timestamp == b.timestamp && json::CompareNullableOrdinalUtf16(*a.peer, *b.peer) == 0;
}

// Calls fn(ancestor) for each ancestor of `path`, nearest first (cut at each '.' from the right);
// stops and returns true as soon as fn returns true.
template <typename Fn>
bool AnyAncestor(std::string_view path, Fn&& fn) {
  size_t pos = path.rfind('.');
  while (pos != std::string_view::npos) {
    if (fn(path.substr(0, pos))) return true;
    if (pos == 0) break;
    pos = path.rfind('.', pos - 1);
  }
  return false;
}

using CompactionMap = json::SlotMap<const JsonCrdtOperation*>;

// Batch compaction of §6.4 over `ops` in order. The map's slot reuse decides the output order.
void Compact(const std::vector<const JsonCrdtOperation*>& ops, bool compacting, CompactionMap& result) {
  std::vector<uint32_t> descendants;
  std::string prefix;
  for (const JsonCrdtOperation* op : ops) {
    const Stamp stamp = StampOf(*op);
    const bool killed = AnyAncestor(op->path, [&](std::string_view ancestor) {
      const JsonCrdtOperation* const* found = result.Find(ancestor);
      if (found == nullptr) return false;
      const Stamp ancestor_stamp = StampOf(**found);
      if (!Wins(ancestor_stamp, stamp, compacting)) return false;
      // Within one batch a child written with the parent's own (ts, peer) is deliberate.
      return !(compacting && SameTimestampAndPeer(ancestor_stamp, stamp));
    });
    if (killed) continue;
    if (const JsonCrdtOperation* const* current = result.Find(op->path)) {
      if (!Wins(stamp, StampOf(**current), compacting)) continue;
    }
    result.InsertOrAssign(op->path, op);
    prefix.assign(op->path).push_back('.');
    descendants.clear();
    result.SlotsWithPrefix(prefix, descendants);
    for (const uint32_t slot : descendants) {
      const Stamp child = StampOf(*result.ValueAt(slot));
      if (!Wins(stamp, child, compacting)) continue;
      if (compacting && SameTimestampAndPeer(stamp, child)) continue;
      result.EraseSlot(slot);
    }
  }
}

void CompactBatch(const JsonOpBatch& batch, CompactionMap& result) {
  std::vector<const JsonCrdtOperation*> ops;
  ops.reserve(batch.operations.size());
  for (const auto& op : batch.operations) ops.push_back(&op);
  Compact(ops, /*compacting=*/true, result);
}

// ---------------------------------------------------------------------------------------------
// Reading

std::string OpName(size_t index) { return "operations[" + std::to_string(index) + "]"; }

Status ParseOperation(const RawJsonTree& tree, uint32_t index, size_t position, JsonCrdtOperation& out) {
  const RawJsonNode& node = tree.node(index);
  const std::string name = OpName(position);
  if (node.kind != JsonKind::kObject) {
    return Invalid(name + (node.kind == JsonKind::kNull
                               ? " is null."
                               : " must be an object, not " + std::string(json::KindArticle(node.kind)) + "."));
  }
  int discriminators = 0;
  bool has_type_property = false;
  const RawJsonNode* discriminator = nullptr;
  const RawJsonNode* value = nullptr;
  bool has_path = false;
  bool path_null = true;
  bool peer_null = true;
  std::string scratch;
  for (uint32_t child = index + 1; child < node.subtree_end; child = tree.node(child).subtree_end) {
    const RawJsonNode& member = tree.node(child);
    // Every occurrence of a bound property must read, as in the reference binder; the last wins.
    if (json::MemberNameIs(member, "$type")) {
      discriminator = &member;
      ++discriminators;
    } else if (json::MemberNameIs(member, "type")) {
      has_type_property = true;
    } else if (json::MemberNameIsIgnoreCase(member, "path")) {
      Status status = json::ReadNullableStringField(member, name + ".path", out.path, path_null);
      if (!status.ok()) return Invalid(status.message());
      has_path = true;
    } else if (json::MemberNameIsIgnoreCase(member, "value")) {
      value = &member;
    } else if (json::MemberNameIsIgnoreCase(member, "timestamp")) {
      Status status = json::ReadInt64Field(member, name + ".timestamp", out.timestamp);
      if (!status.ok()) return Invalid(status.message());
    } else if (json::MemberNameIsIgnoreCase(member, "peerId")) {
      Status status = json::ReadNullableStringField(member, name + ".peerId", scratch, peer_null);
      if (!status.ok()) return Invalid(status.message());
      if (!peer_null) out.peer = scratch;
    }
  }
  if (discriminators == 0) {
    return Invalid(name + " has no \"$type\" discriminator (\"set\" or \"del\")" +
                   (has_type_property ? "; JSON-engine ops use \"$type\", not \"type\"." : "."));
  }
  if (discriminators > 1) return Invalid(name + " has more than one \"$type\" property.");
  if (discriminator->kind != JsonKind::kString) {
    return Invalid(name + ".$type must be a string, not " + std::string(json::KindArticle(discriminator->kind)) + ".");
  }
  const std::string type = json::UnescapeString(discriminator->raw);
  if (type == "set") {
    out.kind = JsonOpKind::kSet;
  } else if (type == "del") {
    out.kind = JsonOpKind::kDelete;
  } else {
    return Invalid(name + " has unknown $type \"" + type.substr(0, 64) + "\" (expected \"set\" or \"del\").");
  }
  if (!has_path || path_null) return Invalid(name + " has no path.");
  // The reference accepts a missing peer id and stores null, which then sorts below every peer;
  // §6.9 recommends refusing it.
  if (peer_null) return Invalid(name + " has no peerId.");
  if (out.kind == JsonOpKind::kSet) {
    // The reference fails only when re-serializing the undefined value (§6.9, json-apply-020).
    if (value == nullptr) return Invalid(name + " is a set without a value.");
    out.value.assign(value->raw);
  }
  return Status::Ok();
}

void WriteValue(json::JsonWriter& writer, std::string_view raw_value) { writer.ReserializedValue(raw_value); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Typed functions

Status ParseJsonOpBatch(std::string_view payload_json, JsonOpBatch& out) {
  return json::ParseOperationsBatch(
      payload_json, out.operations, [](std::string message) { return Invalid(std::move(message)); },
      [](const RawJsonTree& tree, uint32_t index, size_t position, JsonCrdtOperation& op) {
        return ParseOperation(tree, index, position, op);
      });
}

void SerializeJsonOpBatch(const JsonOpBatch& batch, std::string& out) {
  json::JsonWriter writer(out);
  writer.BeginObject();
  writer.Key("operations");
  writer.BeginArray();
  for (const JsonCrdtOperation& op : batch.operations) {
    writer.BeginObject();
    writer.Key("$type");
    writer.String(op.kind == JsonOpKind::kSet ? std::string_view("set") : std::string_view("del"));
    writer.Key("path");
    writer.String(std::string_view(op.path));
    if (op.kind == JsonOpKind::kSet) {
      writer.Key("value");
      WriteValue(writer, op.value);
    }
    writer.Key("timestamp");
    writer.Int(op.timestamp);
    writer.Key("peerId");
    WritePeer(writer, op.peer);
    writer.EndObject();
  }
  writer.EndArray();
  writer.EndObject();
}

Status LoadJsonDocument(std::string_view snapshot_json, JsonDocument& out) {
  auto invalid = [](std::string message) { return Status::Error("Invalid json snapshot: " + std::move(message)); };
  RawJsonTree tree;
  Status status = tree.Parse(snapshot_json);
  if (!status.ok()) return invalid(status.message());
  if (tree.root().kind != JsonKind::kObject) return invalid("not a JSON object.");
  JsonDocument document;
  const int64_t found = tree.FindMemberIgnoreCase(0, "registers");
  if (found >= 0) {
    const auto map_index = static_cast<uint32_t>(found);
    const RawJsonNode& map = tree.node(map_index);
    if (map.kind != JsonKind::kObject) {
      return invalid("\"registers\" must be an object, not " + std::string(json::KindArticle(map.kind)) + ".");
    }
    document.registers.Reserve(map.child_count);
    for (uint32_t child = map_index + 1; child < map.subtree_end; child = tree.node(child).subtree_end) {
      const RawJsonNode& node = tree.node(child);
      std::string path = json::MemberName(node);
      const std::string what = "register \"" + path.substr(0, 64) + "\"";
      if (node.kind != JsonKind::kObject) {
        return invalid(what + " must be an object, not " + std::string(json::KindArticle(node.kind)) + ".");
      }
      JsonRegister reg;
      reg.value.assign(kNullText);  // absent value: read as JSON null
      std::string peer;
      bool peer_null = true;
      for (uint32_t field = child + 1; field < node.subtree_end; field = tree.node(field).subtree_end) {
        const RawJsonNode& member = tree.node(field);
        if (json::MemberNameIsIgnoreCase(member, "value")) {
          reg.value.assign(member.raw);
        } else if (json::MemberNameIsIgnoreCase(member, "timestamp")) {
          status = json::ReadInt64Field(member, what + ".timestamp", reg.timestamp);
        } else if (json::MemberNameIsIgnoreCase(member, "peerId")) {
          status = json::ReadNullableStringField(member, what + ".peerId", peer, peer_null);
          if (status.ok()) reg.peer = peer_null ? std::nullopt : std::optional<std::string>(peer);
        } else if (json::MemberNameIsIgnoreCase(member, "isDeleted")) {
          status = json::ReadBoolField(member, what + ".isDeleted", reg.deleted);
        }
        if (!status.ok()) return invalid(status.message());
      }
      document.registers.InsertOrAssign(path, std::move(reg));
    }
  }
  out = std::move(document);
  return Status::Ok();
}

void SerializeJsonDocument(const JsonDocument& document, std::string& out) {
  json::JsonWriter writer(out);
  writer.BeginObject();
  writer.Key("registers");
  writer.BeginObject();
  document.registers.ForEach([&](std::string_view path, const JsonRegister& reg) {
    writer.Key(path);
    writer.BeginObject();
    writer.Key("value");
    WriteValue(writer, reg.value);
    writer.Key("timestamp");
    writer.Int(reg.timestamp);
    writer.Key("peerId");
    WritePeer(writer, reg.peer);
    writer.Key("isDeleted");
    writer.Bool(reg.deleted);
    writer.EndObject();
  });
  writer.EndObject();
  writer.EndObject();
}

Status ApplyJsonOpBatch(JsonDocument& document, const JsonOpBatch& batch) {
  if (batch.operations.empty()) return Status::Ok();
  auto& regs = document.registers;
  // The document's map never removes keys, so new paths are appended and undoing them is a pop.
  const uint32_t original_slots = regs.slot_count();
  std::vector<std::pair<uint32_t, JsonRegister>> undo;
  // Replaces a register, keeping the old one for the rollback. `next` is built before the call,
  // so nothing can throw between saving and replacing.
  auto replace = [&](uint32_t slot, JsonRegister&& next) {
    undo.reserve(undo.size() + 1);
    undo.emplace_back(slot, std::move(regs.ValueAt(slot)));
    regs.ValueAt(slot) = std::move(next);
  };
  try {
    CompactionMap compacted;
    CompactBatch(batch, compacted);
    std::vector<const JsonCrdtOperation*> ops;
    ops.reserve(compacted.size());
    compacted.ForEach([&](std::string_view, const JsonCrdtOperation* op) { ops.push_back(op); });

    std::vector<uint32_t> descendants;
    std::string prefix;
    for (const JsonCrdtOperation* op : ops) {
      const Stamp stamp = StampOf(*op);
      const bool stale = AnyAncestor(op->path, [&](std::string_view ancestor) {
        const JsonRegister* reg = regs.Find(ancestor);
        return reg != nullptr && !Wins(stamp, StampOf(*reg), compacted.Contains(ancestor));
      });
      if (stale) continue;
      const std::optional<uint32_t> slot = regs.SlotOf(op->path);
      if (slot && !Wins(stamp, StampOf(regs.ValueAt(*slot)), false)) continue;
      const bool is_set = op->kind == JsonOpKind::kSet;
      JsonRegister next{is_set ? op->value : std::string(kNullText), op->timestamp, op->peer, !is_set};
      if (slot) {
        replace(*slot, std::move(next));
      } else {
        regs.InsertOrAssign(op->path, std::move(next));
      }
      prefix.assign(op->path).push_back('.');
      descendants.clear();
      regs.SlotsWithPrefix(prefix, descendants);
      for (const uint32_t child : descendants) {
        if (compacted.Contains(regs.KeyAt(child))) continue;
        if (!Wins(stamp, StampOf(regs.ValueAt(child)), false)) continue;
        replace(child, JsonRegister{std::string(kNullText), op->timestamp, op->peer, true});
      }
    }
  } catch (const std::exception&) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) regs.ValueAt(it->first) = std::move(it->second);
    while (regs.slot_count() > original_slots) regs.PopBackSlot();
    return Status::Error("Not enough memory to apply the JsonOpBatch.");
  }
  return Status::Ok();
}

JsonOpBatch ComposeJsonOpBatches(const JsonOpBatch& first, const JsonOpBatch& second) {
  std::vector<const JsonCrdtOperation*> ops;
  ops.reserve(first.operations.size() + second.operations.size());
  for (const auto& op : first.operations) ops.push_back(&op);
  for (const auto& op : second.operations) ops.push_back(&op);
  CompactionMap result;
  Compact(ops, /*compacting=*/first.operations.empty(), result);
  JsonOpBatch out;
  out.operations.reserve(result.size());
  result.ForEach([&](std::string_view, const JsonCrdtOperation* op) { out.operations.push_back(*op); });
  return out;
}

JsonOpBatch InvertJsonOpBatch(const JsonOpBatch& batch, const JsonDocument& pre_state) {
  CompactionMap compacted;
  CompactBatch(batch, compacted);
  json::SlotMap<JsonCrdtOperation> inverse;
  std::vector<uint32_t> descendants;
  std::string prefix;
  const auto& pre = pre_state.registers;
  compacted.ForEach([&](std::string_view, const JsonCrdtOperation* op) {
    const Stamp stamp = StampOf(*op);
    if (const JsonRegister* previous = pre.Find(op->path)) {
      // An op that lost in the pre-state changed nothing, below it either.
      if (!Wins(stamp, StampOf(*previous), false)) return;
      const int64_t timestamp = PlusOne(std::max(previous->timestamp, op->timestamp));
      inverse.InsertOrAssign(op->path,
                             previous->deleted
                                 ? JsonCrdtOperation{JsonOpKind::kDelete, op->path, {}, timestamp, op->peer}
                                 : JsonCrdtOperation{JsonOpKind::kSet, op->path, previous->value, timestamp, op->peer});
    } else {
      inverse.InsertOrAssign(op->path,
                             JsonCrdtOperation{JsonOpKind::kDelete, op->path, {}, PlusOne(op->timestamp), op->peer});
    }
    prefix.assign(op->path).push_back('.');
    descendants.clear();
    pre.SlotsWithPrefix(prefix, descendants);
    for (const uint32_t slot : descendants) {
      const JsonRegister& child = pre.ValueAt(slot);
      const std::string& path = pre.KeyAt(slot);
      if (child.deleted || !Wins(stamp, StampOf(child), false) || inverse.Contains(path)) continue;
      inverse.InsertOrAssign(path, JsonCrdtOperation{JsonOpKind::kSet, path, child.value,
                                                     PlusOne(std::max(child.timestamp, op->timestamp)), op->peer});
    }
  });
  JsonOpBatch out;
  out.operations.reserve(inverse.size());
  inverse.ForEach([&](std::string_view, const JsonCrdtOperation& op) { out.operations.push_back(op); });
  return out;
}

JsonOpBatch RestampJsonOpBatch(const JsonOpBatch& batch, const JsonDocument& state, int64_t now_ms) {
  JsonOpBatch out = batch;
  if (out.operations.empty()) return out;
  int64_t latest = now_ms;
  state.registers.ForEach([&](std::string_view, const JsonRegister& reg) { latest = std::max(latest, reg.timestamp); });
  for (const auto& op : batch.operations) latest = std::max(latest, op.timestamp);
  const int64_t timestamp = PlusOne(latest);
  for (auto& op : out.operations) op.timestamp = timestamp;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Engine

const JsonDocument* AsJsonDocument(const DocumentState& state) noexcept { return ExactCast<JsonDocument>(state); }

const JsonOpBatch* AsJsonOpBatch(const Op& op) noexcept { return ExactCast<JsonOpBatch>(op); }

std::unique_ptr<DocumentState> JsonCrdtEngine::CreateEmpty() const { return std::make_unique<JsonDocument>(); }

Status JsonCrdtEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  return ParseIntoNew<JsonDocument>(snapshot_json, out, LoadJsonDocument,
                                    "Not enough memory to load the json snapshot.");
}

void JsonCrdtEngine::SerializeState(const DocumentState& state, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const JsonDocument* document = AsJsonDocument(state)) SerializeJsonDocument(*document, out);
  });
}

Status JsonCrdtEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  try {
    auto batch = std::make_unique<JsonOpBatch>();
    Status status = ParseJsonOpBatch(payload_json, *batch);
    if (status.ok()) out = std::move(batch);
    return status;
  } catch (const std::exception&) {
    return Invalid("not enough memory to read the op.");
  }
}

void JsonCrdtEngine::SerializeOp(const Op& op, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const JsonOpBatch* batch = AsJsonOpBatch(op)) SerializeJsonOpBatch(*batch, out);
  });
}

std::unique_ptr<Op> JsonCrdtEngine::Transform(const Op& incoming, const Op& /*existing*/, Priority /*priority*/) const {
  return CopyOrNull<JsonOpBatch, Op>(AsJsonOpBatch(incoming));
}

bool JsonCrdtEngine::IsNoOp(const Op& op) const {
  const JsonOpBatch* batch = AsJsonOpBatch(op);
  return batch == nullptr || batch->operations.empty();
}

Status JsonCrdtEngine::Apply(DocumentState& state, const Op& op) const {
  auto* document = ExactCast<JsonDocument>(state);
  const JsonOpBatch* batch = AsJsonOpBatch(op);
  if (document == nullptr || batch == nullptr) return Status::Error("JsonCrdtEngine: state or op of another engine.");
  return ApplyJsonOpBatch(*document, *batch);
}

std::unique_ptr<Op> JsonCrdtEngine::Compose(const Op& first, const Op& second) const {
  const JsonOpBatch* a = AsJsonOpBatch(first);
  const JsonOpBatch* b = AsJsonOpBatch(second);
  if (a == nullptr || b == nullptr) return nullptr;
  try {
    return std::make_unique<JsonOpBatch>(ComposeJsonOpBatches(*a, *b));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> JsonCrdtEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const JsonOpBatch* batch = AsJsonOpBatch(op);
  const JsonDocument* document = AsJsonDocument(pre_state);
  if (batch == nullptr || document == nullptr) return nullptr;
  try {
    return std::make_unique<JsonOpBatch>(InvertJsonOpBatch(*batch, *document));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> JsonCrdtEngine::RestampToWin(const Op& op, const DocumentState& state) const {
  const JsonOpBatch* batch = AsJsonOpBatch(op);
  const JsonDocument* document = AsJsonDocument(state);
  if (batch == nullptr || document == nullptr) return nullptr;
  try {
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(UtcNow().time_since_epoch()).count();
    return std::make_unique<JsonOpBatch>(RestampJsonOpBatch(*batch, *document, now_ms));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<const Engine> MakeJsonCrdtEngine() { return std::make_shared<JsonCrdtEngine>(); }

}  // namespace opstream::engines
