#pragma once
// Plain-text operational transformation, document type "text", op type "TextOp" (engines.md §4).
//
// Counts are UTF-16 code units (§1.1). The document is a UTF-16 gap buffer, so Apply edits in place
// and small ops on large documents stay cheap. The Engine methods never throw: malformed input comes
// back as a Status, and Apply either applies the whole op or leaves the text unchanged. (The typed
// functions below can only throw std::bad_alloc.)
//
// ParseOp rejects everything the reference rejects at any stage (null or absent `components`, null
// components, unknown discriminators, non-integer counts, ...) and, as §14 requires, negative counts
// (D3) and inserts without text (D4). The "type" discriminator is accepted anywhere in a component
// (D8). Other property names bind case-insensitively; the discriminator's name and value are
// case-sensitive. Parsed ops keep their shape (no compaction) so that they are stored and broadcast
// as received (§3.2 step 5).
//
// Besides the Engine interface, the typed functions below let callers that know the types (tests,
// benchmarks, the OT client simulator, a future rich-text engine) reuse ops and skip allocations.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.hpp"
#include "engines/engine.hpp"
#include "engines/text/inline_vector.hpp"
#include "engines/text/utf16_gap_buffer.hpp"

namespace opstream::engines {

enum class TextComponentKind : uint8_t { kRetain, kInsert, kDelete };

class TextDocument;

struct TextComponentView {
  TextComponentKind kind;
  // Retain/delete: the count. Insert: the text length in UTF-16 units.
  int64_t count;
  // Insert only.
  std::u16string_view text;
};

class TextOp final : public Op {
 public:
  TextOp() = default;
  TextOp(const TextOp&) = default;
  TextOp(TextOp&&) noexcept = default;
  TextOp& operator=(const TextOp&) = default;
  TextOp& operator=(TextOp&&) noexcept = default;

  // Appends a component as given, without compaction: ops received from clients are stored and
  // broadcast in their original shape (§3.2 step 5). Negative counts are refused (returns false,
  // nothing appended), so a TextOp never holds one.
  bool AppendRetain(int64_t count);
  bool AppendDelete(int64_t count);
  void AppendInsert(std::u16string_view text);
  void AppendInsertUtf8(std::string_view utf8);

  // Appends with compaction (§4.4): zero-length components are dropped and a component of the same
  // kind as the last one is merged into it. Used to build Transform/Compose/Invert results.
  void PushRetain(int64_t count);
  void PushDelete(int64_t count);
  void PushInsert(std::u16string_view text);

  size_t size() const noexcept { return components_.size(); }
  bool empty() const noexcept { return components_.empty(); }
  TextComponentView operator[](size_t index) const noexcept;
  void Clear() noexcept {
    components_.clear();
    text_.clear();
  }

  // Same components, compared exactly (no compaction).
  bool operator==(const TextOp& other) const noexcept;

  // Convenience builders: `retain position` followed by one insert or delete.
  static TextOp InsertAt(int64_t position, std::u16string_view text);
  static TextOp DeleteAt(int64_t position, int64_t count);

 private:
  struct Component {
    TextComponentKind kind;
    // Insert: where its text starts in text_.
    uint32_t text_offset;
    int64_t count;
  };
  void PushCounted(TextComponentKind kind, int64_t count);

  friend Status ApplyTextOp(TextDocument& document, const TextOp& op);

  // Inline room for the common shapes (a retain plus one insert or delete of a few characters)
  // keeps an op at 88 bytes with no heap block.
  InlineVector<Component, 2> components_;
  // The texts of all inserts, back to back, in component order.
  InlineVector<char16_t, 8> text_;
};

class TextDocument final : public DocumentState {
 public:
  TextDocument() = default;
  explicit TextDocument(std::u16string_view text) : buffer_(text) {}
  TextDocument(const TextDocument&) = default;
  TextDocument& operator=(const TextDocument&) = default;
  TextDocument(TextDocument&&) noexcept = default;
  TextDocument& operator=(TextDocument&&) noexcept = default;

  size_t size() const noexcept { return buffer_.size(); }
  std::u16string Text() const { return buffer_.Text(); }
  bool Equals(std::u16string_view text) const noexcept { return buffer_.Equals(text); }
  const Utf16GapBuffer& buffer() const noexcept { return buffer_; }
  void Assign(std::u16string_view text) { buffer_.Assign(text); }

 private:
  friend Status ApplyTextOp(TextDocument& document, const TextOp& op);
  Utf16GapBuffer buffer_;
};

// Typed operations (the Engine methods below forward to these). Output ops are cleared first and
// may be the same object as an input; reusing them across calls avoids allocations.
// On failure ParseTextOp leaves `out` empty and LoadTextDocument leaves it unchanged.
Status ParseTextOp(std::string_view payload_json, TextOp& out);
void SerializeTextOp(const TextOp& op, std::string& out);
Status LoadTextDocument(std::string_view snapshot_json, TextDocument& out);
void SerializeTextDocument(const TextDocument& document, std::string& out);
// In place; on failure the document is unchanged.
Status ApplyTextOp(TextDocument& document, const TextOp& op);
// `out` receives Transform(incoming, existing, priority), compacted; never fails.
void TransformTextOp(const TextOp& incoming, const TextOp& existing, Priority priority, TextOp& out);
// `out` receives the composition; returns false when it has no effect (the reference's null).
bool ComposeTextOps(const TextOp& first, const TextOp& second, TextOp& out);
void InvertTextOp(const TextOp& op, const TextDocument& pre_state, TextOp& out);
// True when every component is a retain (or there are none).
bool IsTextNoOp(const TextOp& op) noexcept;

class TextEngine final : public Engine {
 public:
  std::string_view document_type() const override { return "text"; }
  std::string_view op_type_name() const override { return "TextOp"; }

  std::unique_ptr<DocumentState> CreateEmpty() const override;
  Status LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const override;
  void SerializeState(const DocumentState& state, std::string& out) const override;

  Status ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const override;
  void SerializeOp(const Op& op, std::string& out) const override;

  std::unique_ptr<Op> Transform(const Op& incoming, const Op& existing, Priority priority) const override;
  std::unique_ptr<Op> TransformRecycling(const Op& incoming, const Op& existing, Priority priority,
                                         std::unique_ptr<Op>& recycled) const override;
  bool IsNoOp(const Op& op) const override;
  Status Apply(DocumentState& state, const Op& op) const override;

  std::unique_ptr<Op> Compose(const Op& first, const Op& second) const override;
  std::unique_ptr<Op> Invert(const Op& op, const DocumentState& pre_state) const override;
};

std::shared_ptr<const Engine> MakeTextEngine();

// Null when `state` / `op` belong to another engine.
const TextDocument* AsTextDocument(const DocumentState& state) noexcept;
const TextOp* AsTextOp(const Op& op) noexcept;

}  // namespace opstream::engines
