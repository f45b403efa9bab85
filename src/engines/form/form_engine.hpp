#pragma once
// Form fields, document type "form", op type "FormOpBatch" (engines.md §8): one last-writer-wins
// register per named field (§1.6: larger timestamp, then ordinally larger peer id; an identical
// pair never overwrites). Fields are never removed; a clear stores a JSON null.
//
// Values are opaque JSON kept as their source text and re-emitted with the .NET escaping rules
// (§1.3 item 7, §1.4). Field order follows the .NET Dictionary (§1.5), which for a map that never
// removes keys is the order of first insertion.
//
// ParseOp rejects an unknown "$type", a missing or null "fieldName", a set without "value" (§8.6)
// and, like the other engines (§14 D4), an op without "peerId". The discriminator is accepted
// anywhere in an op object (D8).
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

enum class FormOpKind : uint8_t { kSet, kClear };

struct FormOperation {
  FormOpKind kind = FormOpKind::kSet;
  std::string field;
  // Exact source text of a set's value; nullopt for a clear or a set of JSON null.
  std::optional<std::string> value;
  int64_t timestamp = 0;
  std::optional<std::string> peer;
};

class FormOpBatch final : public Op {
 public:
  std::vector<FormOperation> operations;
};

struct FormRegister {
  std::optional<std::string> value;  // nullopt: JSON null (cleared)
  int64_t timestamp = 0;
  std::optional<std::string> peer;
};

class FormDocument final : public DocumentState {
 public:
  json::SlotMap<FormRegister> fields;
};

Status ParseFormOpBatch(std::string_view payload_json, FormOpBatch& out);
void SerializeFormOpBatch(const FormOpBatch& batch, std::string& out);
Status LoadFormDocument(std::string_view snapshot_json, FormDocument& out);
void SerializeFormDocument(const FormDocument& document, std::string& out);
// In place; on failure (only memory exhaustion) the document is unchanged.
Status ApplyFormOpBatch(FormDocument& document, const FormOpBatch& batch);
FormOpBatch InvertFormOpBatch(const FormOpBatch& batch, const FormDocument& pre_state, int64_t now_ms);
FormOpBatch RestampFormOpBatch(const FormOpBatch& batch, const FormDocument& state, int64_t now_ms);

class FormEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "form"; }
  std::string_view op_type_name() const override { return "FormOpBatch"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  // The incoming batch, unchanged (§8.4).
  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  // Unsupported by the reference: always null (§8.4).
  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
  std::unique_ptr<Op> RestampToWin(const Op& op, const DocumentState& state) const override;
};

std::shared_ptr<const Engine> MakeFormEngine();

const FormDocument* AsFormDocument(const DocumentState& state) noexcept;
const FormOpBatch* AsFormOpBatch(const Op& op) noexcept;

}  // namespace opstream::engines
