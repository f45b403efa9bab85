#include "engines/rich_text/text_anchor.hpp"

#include <charconv>

#include "common/text.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_json.hpp"
#include "engines/rich_text/rich_text_engine.hpp"
#include "engines/text/text_engine.hpp"

namespace opstream::engines {
namespace {

// §13: an offset at the insertion point stays only when it leans left.
int64_t AfterInsert(int64_t offset, AnchorBias bias, int64_t cursor, int64_t length) noexcept {
  if (offset < cursor || (offset == cursor && bias == AnchorBias::kLeft)) return offset;
  return offset + length;
}

int64_t AfterDelete(int64_t offset, int64_t cursor, int64_t count) noexcept {
  if (offset <= cursor) return offset;
  if (offset >= cursor + count) return offset - count;
  return cursor;
}

Status ReadBias(const json::RawJsonNode& node, std::string_view what, AnchorBias& out) {
  if (node.kind == json::JsonKind::kNull) {
    out = AnchorBias::kRight;
    return Status::Ok();
  }
  if (node.kind == json::JsonKind::kString) {
    const std::string value = json::UnescapeString(node.raw);
    if (AsciiIEquals(value, "left")) {
      out = AnchorBias::kLeft;
      return Status::Ok();
    }
    if (AsciiIEquals(value, "right")) {
      out = AnchorBias::kRight;
      return Status::Ok();
    }
  }
  return Status::Error("Invalid text anchor: " + std::string(what) + " must be \"left\" or \"right\".");
}

Status ReadOffset(const json::RawJsonNode& node, std::string_view what, int64_t& out) {
  const std::string_view raw = node.raw;
  int32_t value = 0;
  if (node.kind == json::JsonKind::kNumber && raw.find_first_of(".eE") == std::string_view::npos) {
    const auto result = std::from_chars(raw.data(), raw.data() + raw.size(), value);
    if (result.ec == std::errc() && result.ptr == raw.data() + raw.size()) {
      out = value;
      return Status::Ok();
    }
  }
  return Status::Error("Invalid text anchor: " + std::string(what) + " must be a 32-bit integer.");
}

template <typename Op>
AnchorRebase Rebase(TextAnchor& anchor, const Op& op) {
  TextAnchorRebaser rebaser(anchor);
  for (size_t i = 0; i < op.size(); ++i) {
    const auto component = op[i];
    switch (component.kind) {
      case decltype(component.kind)::kRetain:
        rebaser.Retain(component.count);
        break;
      case decltype(component.kind)::kInsert:
        rebaser.Insert(component.count);
        break;
      case decltype(component.kind)::kDelete:
        rebaser.Delete(component.count);
        break;
    }
  }
  const AnchorRebase result = rebaser.result();
  if (result == AnchorRebase::kMoved) anchor = rebaser.anchor();
  return result;
}

}  // namespace

void TextAnchorRebaser::Insert(int64_t length) noexcept {
  current_.start_offset = AfterInsert(current_.start_offset, current_.bias_start, cursor_, length);
  current_.end_offset = AfterInsert(current_.end_offset, current_.bias_end, cursor_, length);
  cursor_ += length;
}

void TextAnchorRebaser::Delete(int64_t count) noexcept {
  if (original_.start_offset < original_.end_offset && cursor_ <= original_.start_offset &&
      cursor_ + count >= original_.end_offset) {
    orphaned_ = true;
  }
  current_.start_offset = AfterDelete(current_.start_offset, cursor_, count);
  current_.end_offset = AfterDelete(current_.end_offset, cursor_, count);
}

AnchorRebase TextAnchorRebaser::result() const noexcept {
  if (orphaned_) return AnchorRebase::kOrphaned;
  return current_ == original_ ? AnchorRebase::kUnchanged : AnchorRebase::kMoved;
}

AnchorRebase RebaseTextAnchor(TextAnchor& anchor, const RichTextOp& op) { return Rebase(anchor, op); }
AnchorRebase RebaseTextAnchor(TextAnchor& anchor, const TextOp& op) { return Rebase(anchor, op); }

Status ParseTextAnchor(std::string_view json_text, TextAnchor& out) {
  json::RawJsonTree tree;
  Status status = tree.Parse(json_text);
  if (!status.ok()) return Status::Error("Invalid text anchor: " + status.message());
  if (tree.root().kind != json::JsonKind::kObject) return Status::Error("Invalid text anchor: not a JSON object.");
  TextAnchor anchor;
  const auto read = [&](std::string_view name, auto&& reader) -> Status {
    const int64_t index = tree.FindMemberIgnoreCase(0, name);
    if (index < 0) return Status::Ok();
    return reader(tree.node(static_cast<uint32_t>(index)));
  };
  for (Status s :
       {read("startOffset", [&](const auto& n) { return ReadOffset(n, "startOffset", anchor.start_offset); }),
        read("endOffset", [&](const auto& n) { return ReadOffset(n, "endOffset", anchor.end_offset); }),
        read("biasStart", [&](const auto& n) { return ReadBias(n, "biasStart", anchor.bias_start); }),
        read("biasEnd", [&](const auto& n) { return ReadBias(n, "biasEnd", anchor.bias_end); })}) {
    if (!s.ok()) return s;
  }
  out = anchor;
  return Status::Ok();
}

void SerializeTextAnchor(const TextAnchor& anchor, std::string& out) {
  const auto bias = [](AnchorBias b) { return b == AnchorBias::kLeft ? R"("left")" : R"("right")"; };
  out.append(R"({"startOffset":)");
  json::AppendJsonInt(out, anchor.start_offset);
  out.append(R"(,"endOffset":)");
  json::AppendJsonInt(out, anchor.end_offset);
  out.append(R"(,"biasStart":)");
  out.append(bias(anchor.bias_start));
  out.append(R"(,"biasEnd":)");
  out.append(bias(anchor.bias_end));
  out.push_back('}');
}

}  // namespace opstream::engines
