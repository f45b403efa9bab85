#pragma once
// JSON CRDT, document type "json", op type "JsonOpBatch" (engines.md §6): a flat map from dotted
// paths to last-writer-wins registers, where writing a path also settles its descendants.
//
// Values are kept as their exact source text (§1.3 item 7): the raw-text tie-break of the win rule
// (§6.3 rule 4) compares it, and it is re-emitted through the .NET escaping rules on output
// (§1.4). A register loaded from a snapshot therefore compares with the snapshot's text, and one
// written by an op with the client's text, as in the reference.
//
// Maps enumerate like the .NET Dictionary (§1.5, json::SlotMap). The document's map never loses a
// key (tombstones stay), so Apply edits it in place; the compaction map of §6.4 does remove keys
// and reuses their slots, which decides the order in which new paths reach the document.
//
// Ops are validated completely in ParseOp (§6.9): a set without "value" and an op without
// "peerId" are rejected there (the reference fails later or stores null peers). The "$type"
// discriminator is accepted anywhere in an op object (§14 D8); other names bind case-insensitively.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "engines/engine.hpp"
#include "engines/json/slot_map.hpp"

namespace opstream::engines {

enum class JsonOpKind : uint8_t { kSet, kDelete };

struct JsonCrdtOperation {
  JsonOpKind kind = JsonOpKind::kSet;
  std::string path;
  // Set: the value's exact source text (validated JSON). Delete: empty.
  std::string value;
  int64_t timestamp = 0;
  // Null only for registers/ops loaded from reference data that carried "peerId":null.
  std::optional<std::string> peer;

  static JsonCrdtOperation Set(std::string path, std::string raw_value, int64_t timestamp, std::string peer) {
    return {JsonOpKind::kSet, std::move(path), std::move(raw_value), timestamp, std::move(peer)};
  }
  static JsonCrdtOperation Delete(std::string path, int64_t timestamp, std::string peer) {
    return {JsonOpKind::kDelete, std::move(path), {}, timestamp, std::move(peer)};
  }
};

class JsonOpBatch final : public Op {
 public:
  std::vector<JsonCrdtOperation> operations;
};

struct JsonRegister {
  // Exact source text of the value; "null" for a tombstone written by a delete.
  std::string value;
  int64_t timestamp = 0;
  std::optional<std::string> peer;
  bool deleted = false;
};

class JsonDocument final : public DocumentState {
 public:
  json::SlotMap<JsonRegister> registers;
};

// Typed functions (the Engine methods forward to these).
Status ParseJsonOpBatch(std::string_view payload_json, JsonOpBatch& out);
void SerializeJsonOpBatch(const JsonOpBatch& batch, std::string& out);
Status LoadJsonDocument(std::string_view snapshot_json, JsonDocument& out);
void SerializeJsonDocument(const JsonDocument& document, std::string& out);
// In place; on failure (only memory exhaustion) the document is unchanged.
Status ApplyJsonOpBatch(JsonDocument& document, const JsonOpBatch& batch);
// §6.4; `first` empty means "compact `second` as one batch".
JsonOpBatch ComposeJsonOpBatches(const JsonOpBatch& first, const JsonOpBatch& second);
JsonOpBatch InvertJsonOpBatch(const JsonOpBatch& batch, const JsonDocument& pre_state);
JsonOpBatch RestampJsonOpBatch(const JsonOpBatch& batch, const JsonDocument& state, int64_t now_ms);

class JsonCrdtEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "json"; }
  std::string_view op_type_name() const override { return "JsonOpBatch"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  // The incoming batch, unchanged (§6.6).
  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
  std::unique_ptr<Op> RestampToWin(const Op& op, const DocumentState& state) const override;
};

std::shared_ptr<const Engine> MakeJsonCrdtEngine();

const JsonDocument* AsJsonDocument(const DocumentState& state) noexcept;
const JsonOpBatch* AsJsonOpBatch(const Op& op) noexcept;

}  // namespace opstream::engines
