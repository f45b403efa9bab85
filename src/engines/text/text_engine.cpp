#include "engines/text/text_engine.hpp"

#include <algorithm>
#include <exception>
#include <limits>
#include <new>
#include <typeinfo>

#include "engines/engine_adapter.hpp"
#include "engines/json/json_reader.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/utf16.hpp"

namespace opstream::engines {
namespace {

namespace dom = simdjson::dom;

constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();

// Merged counts saturate instead of overflowing; no real document gets anywhere near.
inline int64_t SaturatingAdd(int64_t a, int64_t b) noexcept { return a > kMaxCount - b ? kMaxCount : a + b; }

Status Invalid(std::string message) { return Status::Error("Invalid TextOp: " + std::move(message)); }

std::string ComponentName(size_t index) { return "components[" + std::to_string(index) + "]"; }

// Reads one component (engines.md §4.2, §1.3) and appends it to `op` unchanged.
//
// One pass over the members collects the discriminator and the last "count" and "text". Every
// occurrence of a property must bind, as in the reference deserializer, so the first occurrence
// that would not is remembered too; which ones matter depends on the discriminator (an insert
// ignores "count", a retain ignores "text"). Messages are only built on failure.
Status ParseComponent(dom::element element, size_t index, TextOp& op) {
  if (element.is_null()) return Invalid(ComponentName(index) + " is null.");
  if (!element.is_object()) {
    return Invalid(ComponentName(index) + " must be an object, not " + std::string(json::KindName(element)) + ".");
  }
  const dom::object object = element.get_object().value_unsafe();

  dom::element discriminator;
  int discriminators = 0;
  int64_t count = 0;  // absent: the binder's default
  bool bad_count = false;
  dom::element first_bad_count;
  bool has_text = false;
  std::string_view text;
  bool bad_text = false;
  dom::element first_bad_text;
  for (dom::key_value_pair member : object) {
    // The discriminator: exact name "type", anywhere in the object (lenient, D8).
    if (member.key == "type") {
      discriminator = member.value;
      ++discriminators;
    } else if (json::NameEqualsIgnoreCase(member.key, "count")) {
      if (member.value.is_int64()) {
        count = member.value.get_int64().value_unsafe();
        if (count < std::numeric_limits<int32_t>::min() || count > std::numeric_limits<int32_t>::max()) {
          if (!bad_count) first_bad_count = member.value;
          bad_count = true;
        }
      } else {
        if (!bad_count) first_bad_count = member.value;
        bad_count = true;
      }
    } else if (json::NameEqualsIgnoreCase(member.key, "text")) {
      if (member.value.is_string()) {
        has_text = true;
        text = member.value.get_string().value_unsafe();
      } else if (member.value.is_null()) {
        has_text = false;
      } else {
        if (!bad_text) first_bad_text = member.value;
        bad_text = true;
      }
    }
  }

  if (discriminators == 0) {
    return Invalid(ComponentName(index) + " has no \"type\" discriminator (\"retain\", \"insert\" or \"delete\").");
  }
  if (discriminators > 1) return Invalid(ComponentName(index) + " has more than one \"type\" property.");
  if (!discriminator.is_string()) {
    return Invalid(ComponentName(index) + ".type must be a string, not " + std::string(json::KindName(discriminator)) +
                   ".");
  }
  const std::string_view type = discriminator.get_string().value_unsafe();

  if (type == "insert") {
    if (bad_text) {
      return Invalid(ComponentName(index) + ".text must be a string, not " +
                     std::string(json::KindName(first_bad_text)) + ".");
    }
    // D4: the reference stores a null text and later transforms fail on it; refuse it up front.
    if (!has_text) return Invalid(ComponentName(index) + " is an insert without text.");
    op.AppendInsertUtf8(text);
    return Status::Ok();
  }
  const bool is_retain = type == "retain";
  if (!is_retain && type != "delete") {
    return Invalid(ComponentName(index) + " has unknown type \"" + std::string(type) +
                   "\" (expected \"retain\", \"insert\" or \"delete\").");
  }
  if (bad_count) {
    int32_t ignored = 0;
    Status status = json::ReadInt32(first_bad_count, ComponentName(index) + ".count", ignored);
    return Invalid(status.ok() ? ComponentName(index) + ".count is invalid." : status.message());
  }
  // D3: the reference throws on some negative counts and duplicates text on others.
  if (count < 0) {
    return Invalid(ComponentName(index) + ".count must not be negative (got " + std::to_string(count) + ").");
  }
  if (is_retain) {
    op.AppendRetain(count);
  } else {
    op.AppendDelete(count);
  }
  return Status::Ok();
}

Status ParseComponents(dom::element value, TextOp& op) {
  if (value.is_null()) return Invalid("\"components\" must not be null.");
  if (!value.is_array()) {
    return Invalid("\"components\" must be an array, not " + std::string(json::KindName(value)) + ".");
  }
  const dom::array array = value.get_array().value_unsafe();
  size_t index = 0;
  for (dom::element element : array) {
    Status status = ParseComponent(element, index++, op);
    if (!status.ok()) return status;
  }
  return Status::Ok();
}

// Walks an op's components, possibly stopping inside one (Transform and Compose split components).
class ComponentCursor {
 public:
  explicit ComponentCursor(const TextOp& op) noexcept : op_(op) { Load(); }

  bool done() const noexcept { return index_ >= op_.size(); }
  TextComponentKind kind() const noexcept { return current_.kind; }
  // Units left in the current component.
  int64_t remaining() const noexcept { return current_.count - offset_; }
  std::u16string_view remaining_text() const noexcept { return current_.text.substr(static_cast<size_t>(offset_)); }
  // Takes the rest of the current component.
  void Next() noexcept {
    ++index_;
    Load();
  }
  // Takes `count` units (<= remaining()); a component taken whole moves the cursor to the next one.
  void Consume(int64_t count) noexcept {
    if (count >= remaining()) {
      Next();
    } else {
      offset_ += count;
    }
  }

 private:
  void Load() noexcept {
    offset_ = 0;
    if (!done()) current_ = op_[index_];
  }

  const TextOp& op_;
  size_t index_ = 0;
  int64_t offset_ = 0;
  TextComponentView current_{TextComponentKind::kRetain, 0, {}};
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// TextOp

bool TextOp::AppendRetain(int64_t count) {
  if (count < 0) return false;
  components_.push_back({TextComponentKind::kRetain, 0, count});
  return true;
}

bool TextOp::AppendDelete(int64_t count) {
  if (count < 0) return false;
  components_.push_back({TextComponentKind::kDelete, 0, count});
  return true;
}

void TextOp::AppendInsert(std::u16string_view text) {
  components_.push_back(
      {TextComponentKind::kInsert, static_cast<uint32_t>(text_.size()), static_cast<int64_t>(text.size())});
  text_.Append(text.data(), text.size());
}

void TextOp::AppendInsertUtf8(std::string_view utf8) {
  const auto offset = static_cast<uint32_t>(text_.size());
  char16_t* destination = text_.PrepareAppend(utf8.size());  // UTF-16 never needs more units than bytes
  const size_t units = json::Utf8ToUtf16(utf8, destination);
  text_.Commit(units);
  components_.push_back({TextComponentKind::kInsert, offset, static_cast<int64_t>(units)});
}

void TextOp::PushCounted(TextComponentKind kind, int64_t count) {
  if (count <= 0) return;
  if (!components_.empty() && components_.back().kind == kind) {
    components_.back().count = SaturatingAdd(components_.back().count, count);
  } else {
    components_.push_back({kind, 0, count});
  }
}

void TextOp::PushRetain(int64_t count) { PushCounted(TextComponentKind::kRetain, count); }

void TextOp::PushDelete(int64_t count) { PushCounted(TextComponentKind::kDelete, count); }

void TextOp::PushInsert(std::u16string_view text) {
  if (text.empty()) return;
  // The last component's text, if it is an insert, ends the pool, so merging is an append.
  if (!components_.empty() && components_.back().kind == TextComponentKind::kInsert) {
    components_.back().count += static_cast<int64_t>(text.size());
    text_.Append(text.data(), text.size());
  } else {
    AppendInsert(text);
  }
}

TextComponentView TextOp::operator[](size_t index) const noexcept {
  const Component& component = components_[index];
  if (component.kind != TextComponentKind::kInsert) return {component.kind, component.count, {}};
  return {component.kind, component.count,
          std::u16string_view(text_.data() + component.text_offset, static_cast<size_t>(component.count))};
}

bool TextOp::operator==(const TextOp& other) const noexcept {
  if (size() != other.size()) return false;
  for (size_t i = 0; i < size(); ++i) {
    const TextComponentView a = (*this)[i], b = other[i];
    if (a.kind != b.kind || a.count != b.count || a.text != b.text) return false;
  }
  return true;
}

TextOp TextOp::InsertAt(int64_t position, std::u16string_view text) {
  TextOp op;
  op.AppendRetain(std::max<int64_t>(position, 0));
  op.AppendInsert(text);
  return op;
}

TextOp TextOp::DeleteAt(int64_t position, int64_t count) {
  TextOp op;
  op.AppendRetain(std::max<int64_t>(position, 0));
  op.AppendDelete(std::max<int64_t>(count, 0));
  return op;
}

// ---------------------------------------------------------------------------------------------
// Reading and writing

Status ParseTextOp(std::string_view payload_json, TextOp& out) {
  out.Clear();
  dom::element root;
  Status status = json::StrictJsonParser::ForCurrentThread().Parse(payload_json, root);
  if (!status.ok()) return Invalid(status.message());
  if (!root.is_object()) return Invalid("the op must be a JSON object, not " + std::string(json::KindName(root)) + ".");
  const dom::object object = root.get_object().value_unsafe();
  bool found = false;
  for (dom::key_value_pair member : object) {
    if (!json::NameEqualsIgnoreCase(member.key, "components")) continue;
    // The last occurrence wins, but each must bind, as in the reference deserializer.
    found = true;
    out.Clear();
    status = ParseComponents(member.value, out);
    if (!status.ok()) {
      out.Clear();
      return status;
    }
  }
  if (!found) return Invalid("\"components\" is missing.");
  return Status::Ok();
}

void SerializeTextOp(const TextOp& op, std::string& out) {
  out.append(R"({"components":[)");
  for (size_t i = 0; i < op.size(); ++i) {
    if (i > 0) out.push_back(',');
    const TextComponentView component = op[i];
    switch (component.kind) {
      case TextComponentKind::kRetain:
        out.append(R"({"type":"retain","count":)");
        json::AppendJsonInt(out, component.count);
        break;
      case TextComponentKind::kDelete:
        out.append(R"({"type":"delete","count":)");
        json::AppendJsonInt(out, component.count);
        break;
      case TextComponentKind::kInsert:
        out.append(R"({"type":"insert","text":)");
        json::AppendJsonString(out, component.text);
        break;
    }
    out.push_back('}');
  }
  out.append("]}");
}

Status LoadTextDocument(std::string_view snapshot_json, TextDocument& out) {
  dom::element root;
  Status status = json::StrictJsonParser::ForCurrentThread().Parse(snapshot_json, root);
  if (!status.ok()) return Status::Error("Invalid text snapshot: " + status.message());
  if (!root.is_object()) return Status::Error("Invalid text snapshot: not a JSON object.");
  const dom::object object = root.get_object().value_unsafe();
  std::string_view content;  // absent: the reference's default, an empty document
  for (dom::key_value_pair member : object) {
    if (!json::NameEqualsIgnoreCase(member.key, "content")) continue;
    if (!member.value.is_string()) {
      return Status::Error("Invalid text snapshot: \"content\" must be a string, not " +
                           std::string(json::KindName(member.value)) + ".");
    }
    content = member.value.get_string().value_unsafe();  // the last one wins
  }
  out.Assign(json::Utf8ToUtf16(content));
  return Status::Ok();
}

void SerializeTextDocument(const TextDocument& document, std::string& out) {
  out.append(R"({"content":)");
  json::AppendJsonString(out, document.buffer().before(), document.buffer().after());
  out.push_back('}');
}

// ---------------------------------------------------------------------------------------------
// OT functions

Status ApplyTextOp(TextDocument& document, const TextOp& op) {
  Utf16GapBuffer& buffer = document.buffer_;
  const TextOp::Component* const begin = op.components_.begin();
  const TextOp::Component* const end = op.components_.end();
  // Everything that can fail happens before the first edit: TextOp holds no negative counts, so
  // only the allocation for the inserted text remains.
  size_t inserted = 0;
  for (const TextOp::Component* c = begin; c != end; ++c) {
    if (c->kind == TextComponentKind::kInsert) inserted += static_cast<size_t>(c->count);
  }
  if (inserted > 0) {
    try {
      buffer.Reserve(inserted);
    } catch (const std::exception&) {
      return Status::Error("Not enough memory to apply the TextOp.");
    }
  }

  // The reference builds a new string (§4.3); this edits in place. `read` is the reference's
  // index into the old text; everything after `cursor` in the buffer is old text [read, n).
  // Once `read` reaches n nothing else is copied, so it is clamped there (no overflow).
  const auto n = static_cast<int64_t>(buffer.size());
  const char16_t* const texts = op.text_.data();
  int64_t read = 0;
  size_t cursor = 0;
  for (const TextOp::Component* c = begin; c != end; ++c) {
    switch (c->kind) {
      case TextComponentKind::kRetain: {
        const int64_t take = std::min(c->count, n - read);
        cursor += static_cast<size_t>(take);
        read += take;
        break;
      }
      case TextComponentKind::kInsert:
        buffer.Insert(cursor, texts + c->text_offset, static_cast<size_t>(c->count));
        cursor += static_cast<size_t>(c->count);
        break;
      case TextComponentKind::kDelete: {
        const int64_t take = std::min(c->count, n - read);
        buffer.Erase(cursor, static_cast<size_t>(take));
        read += take;
        break;
      }
    }
  }
  return Status::Ok();
}

void TransformTextOp(const TextOp& incoming, const TextOp& existing, Priority priority, TextOp& out) {
  if (&out == &incoming || &out == &existing) {  // the result is built from scratch
    TextOp result;
    TransformTextOp(incoming, existing, priority, result);
    out = std::move(result);
    return;
  }
  out.Clear();
  ComponentCursor a(incoming);
  ComponentCursor b(existing);
  while (!a.done() || !b.done()) {
    const bool a_insert = !a.done() && a.kind() == TextComponentKind::kInsert;
    const bool b_insert = !b.done() && b.kind() == TextComponentKind::kInsert;
    if (a_insert && b_insert) {
      if (priority == Priority::kIncomingWins) {
        out.PushInsert(a.remaining_text());
        a.Next();
      } else {
        out.PushRetain(b.remaining());
        b.Next();
      }
    } else if (b_insert) {
      // Existing inserts become retains, even after incoming is exhausted (§4.5).
      out.PushRetain(b.remaining());
      b.Next();
    } else if (a_insert) {
      out.PushInsert(a.remaining_text());
      a.Next();
    } else if (a.done()) {
      break;  // existing retains/deletes past the end of incoming do not matter
    } else if (b.done()) {
      if (a.kind() == TextComponentKind::kRetain) {
        out.PushRetain(a.remaining());
      } else {
        out.PushDelete(a.remaining());
      }
      a.Next();
    } else {
      const int64_t k = std::min(a.remaining(), b.remaining());
      if (b.kind() == TextComponentKind::kRetain) {
        if (a.kind() == TextComponentKind::kRetain) {
          out.PushRetain(k);
        } else {
          out.PushDelete(k);
        }
      }
      // Existing delete: the range is gone, whatever incoming wanted to do with it.
      a.Consume(k);
      b.Consume(k);
    }
  }
}

bool ComposeTextOps(const TextOp& first, const TextOp& second, TextOp& out) {
  if (&out == &first || &out == &second) {
    TextOp result;
    const bool has_effect = ComposeTextOps(first, second, result);
    out = std::move(result);
    return has_effect;
  }
  out.Clear();
  ComponentCursor a(first);
  ComponentCursor b(second);
  while (!a.done() || !b.done()) {
    if (!a.done() && a.kind() == TextComponentKind::kDelete) {
      out.PushDelete(a.remaining());
      a.Next();
    } else if (!b.done() && b.kind() == TextComponentKind::kInsert) {
      out.PushInsert(b.remaining_text());
      b.Next();
    } else if (a.done()) {
      if (b.kind() == TextComponentKind::kRetain) {
        out.PushRetain(b.remaining());
      } else {
        out.PushDelete(b.remaining());
      }
      b.Next();
    } else if (b.done()) {
      if (a.kind() == TextComponentKind::kRetain) {
        out.PushRetain(a.remaining());
      } else {
        out.PushInsert(a.remaining_text());
      }
      a.Next();
    } else {
      // a: retain or insert; b: retain or delete.
      const int64_t k = std::min(a.remaining(), b.remaining());
      const bool a_retain = a.kind() == TextComponentKind::kRetain;
      const bool b_retain = b.kind() == TextComponentKind::kRetain;
      if (a_retain && b_retain) {
        out.PushRetain(k);
      } else if (!a_retain && b_retain) {
        out.PushInsert(a.remaining_text().substr(0, static_cast<size_t>(k)));
      } else if (a_retain) {
        out.PushDelete(k);
      }
      // insert then delete: cancels out.
      a.Consume(k);
      b.Consume(k);
    }
  }
  return !IsTextNoOp(out);
}

void InvertTextOp(const TextOp& op, const TextDocument& pre_state, TextOp& out) {
  if (&out == &op) {
    TextOp result;
    InvertTextOp(op, pre_state, result);
    out = std::move(result);
    return;
  }
  out.Clear();
  const Utf16GapBuffer& text = pre_state.buffer();
  const auto n = static_cast<int64_t>(text.size());
  // Clamped at n: beyond the end there is nothing to restore, and clamping avoids overflow.
  int64_t offset = 0;
  std::u16string deleted;
  for (size_t i = 0; i < op.size(); ++i) {
    const TextComponentView component = op[i];
    switch (component.kind) {
      case TextComponentKind::kRetain:
        out.PushRetain(component.count);
        offset = std::min(n, SaturatingAdd(offset, component.count));
        break;
      case TextComponentKind::kInsert:
        out.PushDelete(component.count);
        break;
      case TextComponentKind::kDelete: {
        const int64_t available = std::min(component.count, n - offset);
        if (available > 0) {
          deleted.clear();
          text.CopyTo(static_cast<size_t>(offset), static_cast<size_t>(available), deleted);
          out.PushInsert(deleted);
        }
        offset = std::min(n, SaturatingAdd(offset, component.count));
        break;
      }
    }
  }
}

bool IsTextNoOp(const TextOp& op) noexcept {
  for (size_t i = 0; i < op.size(); ++i) {
    if (op[i].kind != TextComponentKind::kRetain) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Engine

// Both classes are final, so comparing the dynamic type is exact, and it is cheaper than a
// dynamic_cast (which walks the class hierarchy) on the per-edit path.
const TextDocument* AsTextDocument(const DocumentState& state) noexcept { return ExactCast<TextDocument>(state); }

const TextOp* AsTextOp(const Op& op) noexcept { return ExactCast<TextOp>(op); }

// The Engine methods below are the boundary to the session layer, which expects no exceptions.
// The only thing that can throw inside is memory allocation (std::bad_alloc, or length_error for
// absurd sizes); it becomes a rejection, a null result, or nothing appended.

std::unique_ptr<DocumentState> TextEngine::CreateEmpty() const { return std::make_unique<TextDocument>(); }

Status TextEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  return ParseIntoNew<TextDocument>(snapshot_json, out, LoadTextDocument,
                                    "Not enough memory to load the text snapshot.");
}

void TextEngine::SerializeState(const DocumentState& state, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const TextDocument* document = AsTextDocument(state)) SerializeTextDocument(*document, out);
  });
}

Status TextEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  return ParseIntoNew<TextOp>(payload_json, out, ParseTextOp, "Invalid TextOp: not enough memory to read the op.");
}

void TextEngine::SerializeOp(const Op& op, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const TextOp* text_op = AsTextOp(op)) SerializeTextOp(*text_op, out);
  });
}

std::unique_ptr<Op> TextEngine::TransformRecycling(const Op& incoming, const Op& existing, Priority priority,
                                                   std::unique_ptr<Op>& recycled) const {
  const TextOp* a = AsTextOp(incoming);
  const TextOp* b = AsTextOp(existing);
  if (a == nullptr || b == nullptr || !recycled || AsTextOp(*recycled) == nullptr || recycled.get() == &incoming ||
      recycled.get() == &existing) {
    return Transform(incoming, existing, priority);
  }
  try {
    TransformTextOp(*a, *b, priority, static_cast<TextOp&>(*recycled));
    return std::move(recycled);
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> TextEngine::Transform(const Op& incoming, const Op& existing, Priority priority) const {
  const TextOp* a = AsTextOp(incoming);
  const TextOp* b = AsTextOp(existing);
  if (a == nullptr || b == nullptr) return nullptr;
  try {
    auto out = std::make_unique<TextOp>();
    TransformTextOp(*a, *b, priority, *out);
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool TextEngine::IsNoOp(const Op& op) const {
  const TextOp* text_op = AsTextOp(op);
  return text_op == nullptr || IsTextNoOp(*text_op);
}

Status TextEngine::Apply(DocumentState& state, const Op& op) const {
  auto* document = ExactCast<TextDocument>(state);
  const TextOp* text_op = AsTextOp(op);
  if (document == nullptr) return Status::Error("The text engine cannot apply an op to this document.");
  if (text_op == nullptr) return Status::Error("The text engine can only apply a TextOp.");
  return ApplyTextOp(*document, *text_op);
}

std::unique_ptr<Op> TextEngine::Compose(const Op& first, const Op& second) const {
  const TextOp* a = AsTextOp(first);
  const TextOp* b = AsTextOp(second);
  if (a == nullptr || b == nullptr) return nullptr;
  try {
    auto out = std::make_unique<TextOp>();
    if (!ComposeTextOps(*a, *b, *out)) return nullptr;
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> TextEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const TextOp* text_op = AsTextOp(op);
  const TextDocument* document = AsTextDocument(pre_state);
  if (text_op == nullptr || document == nullptr) return nullptr;
  try {
    auto out = std::make_unique<TextOp>();
    InvertTextOp(*text_op, *document, *out);
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<const Engine> MakeTextEngine() { return std::make_shared<const TextEngine>(); }

}  // namespace opstream::engines
