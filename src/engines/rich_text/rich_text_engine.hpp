#pragma once
// Rich-text operational transformation, document type "rich-text", op type "RichTextOp"
// (engines.md §5): Quill-style deltas whose inserts and retains carry attribute maps.
//
// Attribute values are opaque JSON. Each value parsed from a payload (an op or a snapshot) gets an
// identity, and copies share it; two values are equal only when they have the same identity
// (§5.4, normative, D5). This decides where adjacent runs and components merge, so it is visible
// in snapshot and broadcast bytes. A value keeps the bytes it will be written as (§1.4) next to
// its identity, so writing never re-parses.
//
// The document is its text in a UTF-16 gap buffer plus a list of runs (length, attributes) split
// at an editing position into two stacks: `left` holds the runs before the position in order,
// `right` the runs after it in reverse order. Apply walks the op from the position of its first
// edit, exactly like the reference's run builder over the part it touches (left is the builder's
// output, right its input iterator), so an op costs the distance from the previous edit plus its
// own size rather than the document's size.
//
// ParseOp rejects what §5.12 and §14 recommend rejecting on top of the reference's own rejections:
// negative counts and inserts without text (D3/D4 applied to rich text). Compose keeps attribute
// removals when composing two retains (D10) and Invert advances over every run a plain retain
// spans (D6); both are library functions outside the op pipeline.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.hpp"
#include "engines/engine.hpp"
#include "engines/text/utf16_gap_buffer.hpp"

namespace opstream::engines {

// One attribute: a key and either a JSON value with an identity or null ("remove", ops only).
struct RichTextAttribute {
  std::u16string key;
  // 0 for JSON null; otherwise unique per parsed occurrence (§5.4).
  uint64_t value_id = 0;
  // The value as written (§1.4): minified, strings re-escaped, numbers verbatim. "null" for null.
  std::string value_json;
};

// Sorted by key (ordinal over UTF-16 units, §1.2); keys are unique. Immutable once shared.
struct RichTextAttributeMap {
  std::vector<RichTextAttribute> entries;
  bool has_null_values = false;
};

// Null pointer: no attributes (written as `null`). Maps are shared between ops and documents.
using RichTextAttributes = std::shared_ptr<const RichTextAttributeMap>;

// §5.4: same keys and, per key, both null or the same value identity.
bool RichTextAttributesEqual(const RichTextAttributes& a, const RichTextAttributes& b) noexcept;
// §5.5 (the Apply rule): non-null entries of `base`, then `update` sets or (null) removes; an
// empty result is null.
RichTextAttributes MergeRichTextAttributes(const RichTextAttributes& base, const RichTextAttributes& update);
// Parses a JSON object (or null) into attributes with fresh identities; for tests and tools.
Status ParseRichTextAttributes(std::string_view json, RichTextAttributes& out);
// Writes `null` or the map as a JSON object in key order.
void AppendRichTextAttributes(std::string& out, const RichTextAttributes& attributes);

enum class RichTextComponentKind : uint8_t { kRetain, kInsert, kDelete };

struct RichTextComponentView {
  RichTextComponentKind kind;
  // Retain/delete: the count. Insert: the text length in UTF-16 units.
  int64_t count;
  std::u16string_view text;              // insert only
  const RichTextAttributes* attributes;  // never null; points at a null pointer for "no attributes"
};

class RichTextOp final : public Op {
 public:
  // Appends as given (no compaction): received ops are stored and broadcast in their shape
  // (§3.2 step 5). Negative counts are refused (false, nothing appended).
  bool AppendRetain(int64_t count, RichTextAttributes attributes = nullptr);
  bool AppendDelete(int64_t count);
  void AppendInsert(std::u16string_view text, RichTextAttributes attributes = nullptr);

  // Appends with the compaction of §5.7: merged into the last component when it has the same kind
  // and equal attributes (deletes always merge); zero-length components are kept.
  void PushRetain(int64_t count, const RichTextAttributes& attributes);
  void PushDelete(int64_t count);
  void PushInsert(std::u16string_view text, const RichTextAttributes& attributes);

  size_t size() const noexcept { return components_.size(); }
  bool empty() const noexcept { return components_.empty(); }
  RichTextComponentView operator[](size_t index) const noexcept;
  void Clear() noexcept {
    components_.clear();
    text_.clear();
  }

 private:
  struct Component {
    RichTextComponentKind kind;
    // Insert: where its text starts in text_.
    uint32_t text_offset;
    int64_t count;
    RichTextAttributes attributes;
  };
  friend Status ApplyRichTextOp(class RichTextDocument& document, const RichTextOp& op);

  std::vector<Component> components_;
  // The texts of all inserts, back to back, in component order.
  std::u16string text_;
};

struct RichTextRun {
  int64_t length;
  RichTextAttributes attributes;
};

class RichTextDocument final : public DocumentState {
 public:
  RichTextDocument() = default;

  size_t size() const noexcept { return text_.size(); }
  size_t run_count() const noexcept { return left_.size() + right_.size(); }
  // Runs in document order (index < run_count()).
  const RichTextRun& run(size_t index) const noexcept {
    return index < left_.size() ? left_[index] : right_[right_.size() - 1 - (index - left_.size())];
  }
  std::u16string Text() const { return text_.Text(); }
  const Utf16GapBuffer& text() const noexcept { return text_; }

  // Appends a run when building a document (tests, loading): merged into the last run when the
  // attributes are equal, ignored when empty. Attribute maps should be free of null values.
  void AppendRun(std::u16string_view text, RichTextAttributes attributes);

 private:
  friend Status ApplyRichTextOp(RichTextDocument& document, const RichTextOp& op);
  friend Status LoadRichTextDocument(std::string_view snapshot_json, RichTextDocument& out);

  // Moves the editing position to `position` (<= size()), splitting the run that contains it.
  void Seek(int64_t position);
  // The builder's push (§5.6): appends to left, merging into the last run when equal.
  void PushLeft(int64_t length, RichTextAttributes attributes);
  // Merges the runs on both sides of the editing position when equal (ends an Apply).
  void JoinAtPosition();

  Utf16GapBuffer text_;
  std::vector<RichTextRun> left_;
  std::vector<RichTextRun> right_;  // reversed: back() is the run right after the position
  int64_t left_length_ = 0;         // units covered by left_, i.e. the editing position
};

// Typed operations (the Engine methods forward to these). Output ops are cleared first and may
// alias an input. On failure ParseRichTextOp leaves `out` empty and LoadRichTextDocument leaves it
// unchanged.
Status ParseRichTextOp(std::string_view payload_json, RichTextOp& out);
void SerializeRichTextOp(const RichTextOp& op, std::string& out);
Status LoadRichTextDocument(std::string_view snapshot_json, RichTextDocument& out);
void SerializeRichTextDocument(const RichTextDocument& document, std::string& out);
// In place. Only memory exhaustion can fail, and it is detected before the document changes (the
// document is then exactly as it was).
Status ApplyRichTextOp(RichTextDocument& document, const RichTextOp& op);
// Returns false for the reference's null (empty result); `out` is then empty.
bool TransformRichTextOp(const RichTextOp& incoming, const RichTextOp& existing, Priority priority, RichTextOp& out);
bool ComposeRichTextOps(const RichTextOp& first, const RichTextOp& second, RichTextOp& out);
void InvertRichTextOp(const RichTextOp& op, const RichTextDocument& pre_state, RichTextOp& out);
bool IsRichTextNoOp(const RichTextOp& op) noexcept;

class RichTextEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "rich-text"; }
  std::string_view op_type_name() const override { return "RichTextOp"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  // Null only when the composition is empty (§5.9; an all-retain result is returned as is).
  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
};

std::shared_ptr<const Engine> MakeRichTextEngine();

const RichTextDocument* AsRichTextDocument(const DocumentState& state) noexcept;
const RichTextOp* AsRichTextOp(const Op& op) noexcept;

}  // namespace opstream::engines
