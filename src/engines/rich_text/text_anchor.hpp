#pragma once
// Comment anchors on text and rich-text documents (engines.md §13): rebasing a character range
// over a committed op, for the post-apply hook that broadcasts `anchorUpdates`.
//
// Anchor data (kinds "text" and "richtext"):
//   {"startOffset":int,"endOffset":int,"biasStart":"left|right","biasEnd":"left|right"}
// Offsets are UTF-16 units; a missing or null bias is "right".
//
// The walk follows the reference exactly, including its known imprecision: a delete orphans the
// anchor when it covers the whole original (non-empty) range, compared in original coordinates
// even when earlier components of the same op moved things.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.hpp"

namespace opstream::engines {

class RichTextOp;
class TextOp;

enum class AnchorBias : uint8_t { kLeft, kRight };

struct TextAnchor {
  int64_t start_offset = 0;
  int64_t end_offset = 0;
  AnchorBias bias_start = AnchorBias::kRight;
  AnchorBias bias_end = AnchorBias::kRight;

  bool operator==(const TextAnchor&) const = default;
};

enum class AnchorRebase : uint8_t { kUnchanged, kMoved, kOrphaned };

// Feeds an op's components in order; engine-independent, so any OT op maps onto it.
class TextAnchorRebaser {
 public:
  explicit TextAnchorRebaser(const TextAnchor& anchor) : original_(anchor), current_(anchor) {}

  void Retain(int64_t count) noexcept { cursor_ += count; }
  void Insert(int64_t length) noexcept;
  void Delete(int64_t count) noexcept;

  // The outcome so far; `anchor()` holds the new offsets when it is kMoved.
  AnchorRebase result() const noexcept;
  const TextAnchor& anchor() const noexcept { return current_; }

 private:
  TextAnchor original_;
  TextAnchor current_;
  int64_t cursor_ = 0;  // position in the new document
  bool orphaned_ = false;
};

// Rebases `anchor` in place over the op (unchanged when the result is kOrphaned).
AnchorRebase RebaseTextAnchor(TextAnchor& anchor, const RichTextOp& op);
AnchorRebase RebaseTextAnchor(TextAnchor& anchor, const TextOp& op);

// Reads anchor data (property names case-insensitive, bias values "left"/"right" in any case).
Status ParseTextAnchor(std::string_view json, TextAnchor& out);
// Writes the data with the keys in the order above.
void SerializeTextAnchor(const TextAnchor& anchor, std::string& out);

}  // namespace opstream::engines
