#include "engines/form/form_engine.hpp"

#include <algorithm>
#include <chrono>
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

Status Invalid(std::string message) { return Status::Error("Invalid FormOpBatch: " + std::move(message)); }

inline int64_t PlusOne(int64_t value) noexcept {
  return value == std::numeric_limits<int64_t>::max() ? value : value + 1;
}

// §1.6: strictly later, or same time and ordinally larger peer.
inline bool Wins(const FormOperation& op, const FormRegister& reg) noexcept {
  if (op.timestamp != reg.timestamp) return op.timestamp > reg.timestamp;
  return json::CompareNullableOrdinalUtf16(op.peer, reg.peer) > 0;
}

int64_t NowMs() { return std::chrono::duration_cast<std::chrono::milliseconds>(UtcNow().time_since_epoch()).count(); }

Status ParseOperation(const RawJsonTree& tree, uint32_t index, size_t position, FormOperation& out) {
  const RawJsonNode& node = tree.node(index);
  const std::string name = "operations[" + std::to_string(position) + "]";
  if (node.kind != JsonKind::kObject) {
    return Invalid(name + (node.kind == JsonKind::kNull
                               ? " is null."
                               : " must be an object, not " + std::string(json::KindArticle(node.kind)) + "."));
  }
  int discriminators = 0;
  bool has_type_property = false;
  const RawJsonNode* discriminator = nullptr;
  const RawJsonNode* value = nullptr;
  bool field_null = true;
  bool peer_null = true;
  std::string scratch;
  for (uint32_t child = index + 1; child < node.subtree_end; child = tree.node(child).subtree_end) {
    const RawJsonNode& member = tree.node(child);
    if (json::MemberNameIs(member, "$type")) {
      discriminator = &member;
      ++discriminators;
    } else if (json::MemberNameIs(member, "type")) {
      has_type_property = true;
    } else if (json::MemberNameIsIgnoreCase(member, "fieldName")) {
      Status status = json::ReadNullableStringField(member, name + ".fieldName", out.field, field_null);
      if (!status.ok()) return Invalid(status.message());
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
    return Invalid(name + " has no \"$type\" discriminator (\"set\" or \"clr\")" +
                   (has_type_property ? "; form ops use \"$type\", not \"type\"." : "."));
  }
  if (discriminators > 1) return Invalid(name + " has more than one \"$type\" property.");
  if (discriminator->kind != JsonKind::kString) {
    return Invalid(name + ".$type must be a string, not " + std::string(json::KindArticle(discriminator->kind)) + ".");
  }
  const std::string type = json::UnescapeString(discriminator->raw);
  if (type == "set") {
    out.kind = FormOpKind::kSet;
  } else if (type == "clr") {
    out.kind = FormOpKind::kClear;
  } else {
    return Invalid(name + " has unknown $type \"" + type.substr(0, 64) + "\" (expected \"set\" or \"clr\").");
  }
  if (field_null) return Invalid(name + " has no fieldName.");
  if (peer_null) return Invalid(name + " has no peerId.");
  if (out.kind == FormOpKind::kSet) {
    if (value == nullptr) return Invalid(name + " is a set without a value.");
    if (value->kind != JsonKind::kNull) out.value.emplace(value->raw);
  }
  return Status::Ok();
}

void WriteValue(json::JsonWriter& writer, const std::optional<std::string>& value) {
  if (value) {
    writer.ReserializedValue(*value);
  } else {
    writer.Null();
  }
}

}  // namespace

Status ParseFormOpBatch(std::string_view payload_json, FormOpBatch& out) {
  return json::ParseOperationsBatch(
      payload_json, out.operations, [](std::string message) { return Invalid(std::move(message)); },
      [](const RawJsonTree& tree, uint32_t index, size_t position, FormOperation& op) {
        return ParseOperation(tree, index, position, op);
      });
}

void SerializeFormOpBatch(const FormOpBatch& batch, std::string& out) {
  json::JsonWriter writer(out);
  writer.BeginObject();
  writer.Key("operations");
  writer.BeginArray();
  for (const FormOperation& op : batch.operations) {
    writer.BeginObject();
    writer.Key("$type");
    writer.String(op.kind == FormOpKind::kSet ? std::string_view("set") : std::string_view("clr"));
    writer.Key("fieldName");
    writer.String(std::string_view(op.field));
    if (op.kind == FormOpKind::kSet) {
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

Status LoadFormDocument(std::string_view snapshot_json, FormDocument& out) {
  auto invalid = [](std::string message) { return Status::Error("Invalid form snapshot: " + std::move(message)); };
  RawJsonTree tree;
  Status status = tree.Parse(snapshot_json);
  if (!status.ok()) return invalid(status.message());
  if (tree.root().kind != JsonKind::kObject) return invalid("not a JSON object.");
  FormDocument document;
  const int64_t found = tree.FindMemberIgnoreCase(0, "fields");
  if (found >= 0) {
    const auto map_index = static_cast<uint32_t>(found);
    const RawJsonNode& map = tree.node(map_index);
    if (map.kind != JsonKind::kObject) {
      return invalid("\"fields\" must be an object, not " + std::string(json::KindArticle(map.kind)) + ".");
    }
    document.fields.Reserve(map.child_count);
    for (uint32_t child = map_index + 1; child < map.subtree_end; child = tree.node(child).subtree_end) {
      const RawJsonNode& node = tree.node(child);
      std::string field = json::MemberName(node);
      const std::string what = "field \"" + field.substr(0, 64) + "\"";
      if (node.kind != JsonKind::kObject) {
        return invalid(what + " must be an object, not " + std::string(json::KindArticle(node.kind)) + ".");
      }
      FormRegister reg;
      std::string peer;
      bool peer_null = true;
      for (uint32_t member_index = child + 1; member_index < node.subtree_end;
           member_index = tree.node(member_index).subtree_end) {
        const RawJsonNode& member = tree.node(member_index);
        if (json::MemberNameIsIgnoreCase(member, "value")) {
          if (member.kind == JsonKind::kNull) {
            reg.value.reset();
          } else {
            reg.value.emplace(member.raw);
          }
        } else if (json::MemberNameIsIgnoreCase(member, "timestamp")) {
          status = json::ReadInt64Field(member, what + ".timestamp", reg.timestamp);
        } else if (json::MemberNameIsIgnoreCase(member, "peerId")) {
          status = json::ReadNullableStringField(member, what + ".peerId", peer, peer_null);
          if (status.ok()) reg.peer = peer_null ? std::nullopt : std::optional<std::string>(peer);
        }
        if (!status.ok()) return invalid(status.message());
      }
      document.fields.InsertOrAssign(field, std::move(reg));
    }
  }
  out = std::move(document);
  return Status::Ok();
}

void SerializeFormDocument(const FormDocument& document, std::string& out) {
  json::JsonWriter writer(out);
  writer.BeginObject();
  writer.Key("fields");
  writer.BeginObject();
  document.fields.ForEach([&](std::string_view field, const FormRegister& reg) {
    writer.Key(field);
    writer.BeginObject();
    writer.Key("value");
    WriteValue(writer, reg.value);
    writer.Key("timestamp");
    writer.Int(reg.timestamp);
    writer.Key("peerId");
    WritePeer(writer, reg.peer);
    writer.EndObject();
  });
  writer.EndObject();
  writer.EndObject();
}

Status ApplyFormOpBatch(FormDocument& document, const FormOpBatch& batch) {
  auto& fields = document.fields;
  // Fields are never removed, so new ones are appended and undoing them is a pop.
  const uint32_t original_slots = fields.slot_count();
  std::vector<std::pair<uint32_t, FormRegister>> undo;
  try {
    for (const FormOperation& op : batch.operations) {
      const std::optional<uint32_t> slot = fields.SlotOf(op.field);
      if (slot && !Wins(op, fields.ValueAt(*slot))) continue;
      FormRegister next{op.kind == FormOpKind::kSet ? op.value : std::nullopt, op.timestamp, op.peer};
      if (slot) {
        undo.reserve(undo.size() + 1);
        undo.emplace_back(*slot, std::move(fields.ValueAt(*slot)));
        fields.ValueAt(*slot) = std::move(next);
      } else {
        fields.InsertOrAssign(op.field, std::move(next));
      }
    }
  } catch (const std::exception&) {
    for (auto it = undo.rbegin(); it != undo.rend(); ++it) fields.ValueAt(it->first) = std::move(it->second);
    while (fields.slot_count() > original_slots) fields.PopBackSlot();
    return Status::Error("Not enough memory to apply the FormOpBatch.");
  }
  return Status::Ok();
}

FormOpBatch InvertFormOpBatch(const FormOpBatch& batch, const FormDocument& pre_state, int64_t now_ms) {
  FormOpBatch out;
  out.operations.reserve(batch.operations.size());
  for (auto it = batch.operations.rbegin(); it != batch.operations.rend(); ++it) {
    const FormOperation& op = *it;
    FormOperation inverse;
    inverse.field = op.field;
    inverse.timestamp = std::max(now_ms, PlusOne(op.timestamp));
    inverse.peer = op.peer;
    const FormRegister* previous = pre_state.fields.Find(op.field);
    if (previous != nullptr && previous->value) {
      inverse.kind = FormOpKind::kSet;
      inverse.value = previous->value;
    } else {
      // Never set, or cleared: a clear (the field then stays as a null register, form-invert-002).
      inverse.kind = FormOpKind::kClear;
    }
    out.operations.push_back(std::move(inverse));
  }
  return out;
}

FormOpBatch RestampFormOpBatch(const FormOpBatch& batch, const FormDocument& state, int64_t now_ms) {
  FormOpBatch out = batch;
  if (out.operations.empty()) return out;
  // Unlike the JSON engine (§6.8), the batch's own timestamps are not considered (§8.5).
  int64_t latest = now_ms;
  state.fields.ForEach([&](std::string_view, const FormRegister& reg) { latest = std::max(latest, reg.timestamp); });
  const int64_t timestamp = PlusOne(latest);
  for (auto& op : out.operations) op.timestamp = timestamp;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Engine

const FormDocument* AsFormDocument(const DocumentState& state) noexcept { return ExactCast<FormDocument>(state); }

const FormOpBatch* AsFormOpBatch(const Op& op) noexcept { return ExactCast<FormOpBatch>(op); }

std::unique_ptr<DocumentState> FormEngine::CreateEmpty() const { return std::make_unique<FormDocument>(); }

Status FormEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  return ParseIntoNew<FormDocument>(snapshot_json, out, LoadFormDocument,
                                    "Not enough memory to load the form snapshot.");
}

void FormEngine::SerializeState(const DocumentState& state, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const FormDocument* document = AsFormDocument(state)) SerializeFormDocument(*document, out);
  });
}

Status FormEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  try {
    auto batch = std::make_unique<FormOpBatch>();
    Status status = ParseFormOpBatch(payload_json, *batch);
    if (status.ok()) out = std::move(batch);
    return status;
  } catch (const std::exception&) {
    return Invalid("not enough memory to read the op.");
  }
}

void FormEngine::SerializeOp(const Op& op, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const FormOpBatch* batch = AsFormOpBatch(op)) SerializeFormOpBatch(*batch, out);
  });
}

std::unique_ptr<Op> FormEngine::Transform(const Op& incoming, const Op& /*existing*/, Priority /*priority*/) const {
  return CopyOrNull<FormOpBatch, Op>(AsFormOpBatch(incoming));
}

bool FormEngine::IsNoOp(const Op& op) const {
  const FormOpBatch* batch = AsFormOpBatch(op);
  return batch == nullptr || batch->operations.empty();
}

Status FormEngine::Apply(DocumentState& state, const Op& op) const {
  auto* document = ExactCast<FormDocument>(state);
  const FormOpBatch* batch = AsFormOpBatch(op);
  if (document == nullptr || batch == nullptr) return Status::Error("FormEngine: state or op of another engine.");
  return ApplyFormOpBatch(*document, *batch);
}

std::unique_ptr<Op> FormEngine::Compose(const Op& /*first*/, const Op& /*second*/) const { return nullptr; }

std::unique_ptr<Op> FormEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const FormOpBatch* batch = AsFormOpBatch(op);
  const FormDocument* document = AsFormDocument(pre_state);
  if (batch == nullptr || document == nullptr) return nullptr;
  try {
    return std::make_unique<FormOpBatch>(InvertFormOpBatch(*batch, *document, NowMs()));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> FormEngine::RestampToWin(const Op& op, const DocumentState& state) const {
  const FormOpBatch* batch = AsFormOpBatch(op);
  const FormDocument* document = AsFormDocument(state);
  if (batch == nullptr || document == nullptr) return nullptr;
  try {
    return std::make_unique<FormOpBatch>(RestampFormOpBatch(*batch, *document, NowMs()));
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<const Engine> MakeFormEngine() { return std::make_shared<FormEngine>(); }

}  // namespace opstream::engines
