#include "engines/rich_text/rich_text_engine.hpp"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <exception>
#include <limits>
#include <typeinfo>

#include "common/text.hpp"
#include "engines/engine_adapter.hpp"
#include "engines/json/json_writer.hpp"
#include "engines/json/raw_fields.hpp"
#include "engines/json/raw_json.hpp"
#include "engines/json/utf16.hpp"

namespace opstream::engines {
namespace {

using json::JsonKind;
using json::RawJsonNode;
using json::RawJsonTree;

constexpr int64_t kMaxCount = std::numeric_limits<int64_t>::max();

inline int64_t SaturatingAdd(int64_t a, int64_t b) noexcept { return a > kMaxCount - b ? kMaxCount : a + b; }

// Identities of parsed attribute values (§5.4). Process-wide so that values from different
// payloads never compare equal; 64 bits do not wrap.
uint64_t NextValueId() noexcept {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed) + 1;
}

Status Invalid(std::string message) { return Status::Error("Invalid RichTextOp: " + std::move(message)); }
Status InvalidSnapshot(std::string message) {
  return Status::Error("Invalid rich-text snapshot: " + std::move(message));
}

std::string ComponentName(size_t index) { return "components[" + std::to_string(index) + "]"; }

// Reused per thread so that steady-state parsing does not allocate the node array.
RawJsonTree& ThreadTree() {
  thread_local RawJsonTree tree;
  return tree;
}

// The unescaped name of a member whose raw key token is `raw_key` (with quotes).
std::string_view MemberName(std::string_view raw_key, std::string& scratch) {
  const std::string_view inner = raw_key.substr(1, raw_key.size() - 2);
  if (inner.find('\\') == std::string_view::npos) return inner;
  scratch.clear();
  json::AppendUnescapedString(raw_key, scratch);
  return scratch;
}

// §1.3 item 5: an integer literal in the 32-bit range; `5.0`, `1e2` and overflow do not bind.
bool ReadInt32Token(const RawJsonNode& node, int64_t& out) {
  if (node.kind != JsonKind::kNumber) return false;
  const std::string_view raw = node.raw;
  if (raw.find_first_of(".eE") != std::string_view::npos) return false;
  int64_t value = 0;
  const auto result = std::from_chars(raw.data(), raw.data() + raw.size(), value);
  if (result.ec != std::errc() || result.ptr != raw.data() + raw.size()) return false;
  if (value < std::numeric_limits<int32_t>::min() || value > std::numeric_limits<int32_t>::max()) return false;
  out = value;
  return true;
}

bool KeyLess(const RichTextAttribute& a, const RichTextAttribute& b) noexcept { return a.key < b.key; }

// Reads an attribute object: keys sorted ordinally (§5.2), the last duplicate wins, every value a
// fresh identity.
RichTextAttributes ReadAttributeObject(const RawJsonTree& tree, uint32_t index) {
  auto map = std::make_shared<RichTextAttributeMap>();
  const RawJsonNode& object = tree.node(index);
  map->entries.reserve(object.child_count);
  std::string name;
  uint32_t child = index + 1;
  for (uint32_t i = 0; i < object.child_count; ++i) {
    const RawJsonNode& value = tree.node(child);
    RichTextAttribute entry;
    name.clear();
    json::AppendUnescapedString(value.raw_key, name);
    entry.key = json::Utf8ToUtf16(name);
    if (value.kind == JsonKind::kNull) {
      entry.value_json = "null";
      map->has_null_values = true;
    } else {
      entry.value_id = NextValueId();
      json::AppendReserializedValidated(value.raw, entry.value_json);
    }
    map->entries.push_back(std::move(entry));
    child = value.subtree_end;
  }
  std::stable_sort(map->entries.begin(), map->entries.end(), KeyLess);
  // Duplicates are adjacent after the stable sort, in source order: keep the last of each.
  auto& entries = map->entries;
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (i + 1 < entries.size() && entries[i + 1].key == entries[i].key) continue;
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  entries.resize(kept);
  map->has_null_values = std::any_of(entries.begin(), entries.end(), [](const auto& e) { return e.value_id == 0; });
  return map;
}

// Reads one component (§5.3, §1.3) and appends it unchanged. Every occurrence of a bound property
// must bind, as in the reference deserializer; which properties are bound depends on the
// discriminator (a delete has no attributes, an insert no count, a retain no text).
Status ParseComponent(const RawJsonTree& tree, uint32_t index, size_t position, RichTextOp& op) {
  const RawJsonNode& node = tree.node(index);
  if (node.kind == JsonKind::kNull) return Invalid(ComponentName(position) + " is null.");
  if (node.kind != JsonKind::kObject) {
    return Invalid(ComponentName(position) + " must be an object, not " + std::string(json::KindArticle(node.kind)) +
                   ".");
  }
  int discriminators = 0;
  const RawJsonNode* discriminator = nullptr;
  int64_t count = 0;
  const RawJsonNode* bad_count = nullptr;
  bool has_text = false;
  std::string_view raw_text;
  const RawJsonNode* bad_text = nullptr;
  int64_t attributes_index = -1;  // last "attributes" object; -1 for null or absent
  const RawJsonNode* bad_attributes = nullptr;

  std::string scratch;
  uint32_t child = index + 1;
  for (uint32_t i = 0; i < node.child_count; ++i) {
    const RawJsonNode& member = tree.node(child);
    const uint32_t member_index = child;
    child = member.subtree_end;
    const std::string_view name = MemberName(member.raw_key, scratch);
    if (name == "$type") {  // exact and case-sensitive, accepted anywhere (D8)
      discriminator = &member;
      ++discriminators;
    } else if (AsciiIEquals(name, "count")) {
      if (!ReadInt32Token(member, count) && bad_count == nullptr) bad_count = &member;
    } else if (AsciiIEquals(name, "text")) {
      if (member.kind == JsonKind::kString) {
        has_text = true;
        raw_text = member.raw;
      } else if (member.kind == JsonKind::kNull) {
        has_text = false;
      } else if (bad_text == nullptr) {
        bad_text = &member;
      }
    } else if (AsciiIEquals(name, "attributes")) {
      if (member.kind == JsonKind::kObject) {
        attributes_index = member_index;
      } else if (member.kind == JsonKind::kNull) {
        attributes_index = -1;
      } else if (bad_attributes == nullptr) {
        bad_attributes = &member;
      }
    }
  }

  if (discriminators == 0) {
    return Invalid(ComponentName(position) + " has no \"$type\" discriminator (\"retain\", \"insert\" or \"delete\").");
  }
  if (discriminators > 1) return Invalid(ComponentName(position) + " has more than one \"$type\" property.");
  if (discriminator->kind != JsonKind::kString) {
    return Invalid(ComponentName(position) + ".$type must be a string, not " +
                   std::string(json::KindArticle(discriminator->kind)) + ".");
  }
  std::string type_scratch;
  json::AppendUnescapedString(discriminator->raw, type_scratch);
  const std::string_view type = type_scratch;
  const bool is_insert = type == "insert";
  const bool is_retain = type == "retain";
  if (!is_insert && !is_retain && type != "delete") {
    return Invalid(ComponentName(position) + " has unknown type \"" + type_scratch +
                   "\" (expected \"retain\", \"insert\" or \"delete\").");
  }
  if ((is_insert || is_retain) && bad_attributes != nullptr) {
    return Invalid(ComponentName(position) + ".attributes must be an object or null, not " +
                   std::string(json::KindArticle(bad_attributes->kind)) + ".");
  }
  RichTextAttributes attributes;
  if ((is_insert || is_retain) && attributes_index >= 0) {
    attributes = ReadAttributeObject(tree, static_cast<uint32_t>(attributes_index));
  }
  if (is_insert) {
    if (bad_text != nullptr) {
      return Invalid(ComponentName(position) + ".text must be a string, not " +
                     std::string(json::KindArticle(bad_text->kind)) + ".");
    }
    // D4 (§5.12): the reference stores a null text, which breaks every later transform.
    if (!has_text) return Invalid(ComponentName(position) + " is an insert without text.");
    scratch.clear();
    json::AppendUnescapedString(raw_text, scratch);
    op.AppendInsert(json::Utf8ToUtf16(scratch), std::move(attributes));
    return Status::Ok();
  }
  if (bad_count != nullptr) {
    return Invalid(ComponentName(position) + ".count must be a 32-bit integer literal, not " +
                   (bad_count->kind == JsonKind::kNumber ? std::string(bad_count->raw)
                                                         : std::string(json::KindArticle(bad_count->kind))) +
                   ".");
  }
  // §5.12: the reference ignores negative counts in Apply but mis-transforms them.
  if (count < 0) {
    return Invalid(ComponentName(position) + ".count must not be negative (got " + std::to_string(count) + ").");
  }
  if (is_retain) {
    op.AppendRetain(count, std::move(attributes));
  } else {
    op.AppendDelete(count);
  }
  return Status::Ok();
}

Status ParseComponents(const RawJsonTree& tree, uint32_t index, RichTextOp& op) {
  const RawJsonNode& node = tree.node(index);
  if (node.kind == JsonKind::kNull) return Invalid("\"components\" must not be null.");
  if (node.kind != JsonKind::kArray) {
    return Invalid("\"components\" must be an array, not " + std::string(json::KindArticle(node.kind)) + ".");
  }
  uint32_t child = index + 1;
  for (uint32_t i = 0; i < node.child_count; ++i) {
    Status status = ParseComponent(tree, child, i, op);
    if (!status.ok()) return status;
    child = tree.node(child).subtree_end;
  }
  return Status::Ok();
}

// Walks an op's components, possibly stopping inside one (the reference's slicing iterator).
class Slicer {
 public:
  explicit Slicer(const RichTextOp& op) noexcept : op_(op) { Load(); }

  bool done() const noexcept { return index_ >= op_.size(); }
  RichTextComponentKind kind() const noexcept { return current_.kind; }
  bool is(RichTextComponentKind kind) const noexcept { return !done() && current_.kind == kind; }
  int64_t remaining() const noexcept { return current_.count - offset_; }
  const RichTextAttributes& attributes() const noexcept { return *current_.attributes; }
  std::u16string_view rest_text() const noexcept { return current_.text.substr(static_cast<size_t>(offset_)); }
  std::u16string_view text(int64_t count) const noexcept {
    return current_.text.substr(static_cast<size_t>(offset_), static_cast<size_t>(count));
  }
  void Next() noexcept {
    ++index_;
    Load();
  }
  // Takes `count` (<= remaining()) units; taking the rest moves to the next component.
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

  static inline const RichTextAttributes kNone{};
  const RichTextOp& op_;
  size_t index_ = 0;
  int64_t offset_ = 0;
  RichTextComponentView current_{RichTextComponentKind::kRetain, 0, {}, &kNone};
};

// Appends the rest of the slicer's current component, compacting (used by Transform/Compose).
void PushRest(const Slicer& s, RichTextOp& out) {
  switch (s.kind()) {
    case RichTextComponentKind::kRetain:
      out.PushRetain(s.remaining(), s.attributes());
      break;
    case RichTextComponentKind::kInsert:
      out.PushInsert(s.rest_text(), s.attributes());
      break;
    case RichTextComponentKind::kDelete:
      out.PushDelete(s.remaining());
      break;
  }
}

// §5.8: the incoming keys, minus (with ExistingWins) those the existing op also formats.
RichTextAttributes TransformAttributes(const RichTextAttributes& incoming, const RichTextAttributes& existing,
                                       Priority priority) {
  if (existing == nullptr) return incoming;
  if (incoming == nullptr || incoming->entries.empty()) return nullptr;
  if (priority == Priority::kIncomingWins) return incoming;  // a copy with the same values is equal
  const auto& inc = incoming->entries;
  const auto& ext = existing->entries;
  // Both sorted: one merge pass finds the shared keys.
  std::vector<bool> drop(inc.size(), false);
  size_t dropped = 0;
  for (size_t i = 0, j = 0; i < inc.size() && j < ext.size();) {
    if (inc[i].key < ext[j].key) {
      ++i;
    } else if (ext[j].key < inc[i].key) {
      ++j;
    } else {
      drop[i] = true;
      ++dropped;
      ++i;
      ++j;
    }
  }
  if (dropped == 0) return incoming;
  if (dropped == inc.size()) return nullptr;
  auto map = std::make_shared<RichTextAttributeMap>();
  map->entries.reserve(inc.size() - dropped);
  for (size_t i = 0; i < inc.size(); ++i) {
    if (drop[i]) continue;
    map->entries.push_back(inc[i]);
    if (inc[i].value_id == 0) map->has_null_values = true;
  }
  return map;
}

// D10: composing two retains keeps removals (null values); `second` overrides `first` per key.
RichTextAttributes ComposeRetainAttributes(const RichTextAttributes& first, const RichTextAttributes& second) {
  if (first == nullptr && second == nullptr) return nullptr;
  if (first == nullptr || first->entries.empty()) {
    return second != nullptr && !second->entries.empty() ? second : nullptr;
  }
  if (second == nullptr || second->entries.empty()) return first;
  auto map = std::make_shared<RichTextAttributeMap>();
  const auto& a = first->entries;
  const auto& b = second->entries;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j >= b.size() || (i < a.size() && a[i].key < b[j].key)) {
      map->entries.push_back(a[i++]);
    } else {
      if (i < a.size() && !(b[j].key < a[i].key)) ++i;  // same key: the second op's value wins
      map->entries.push_back(b[j++]);
    }
  }
  map->has_null_values =
      std::any_of(map->entries.begin(), map->entries.end(), [](const auto& e) { return e.value_id == 0; });
  return map;
}

// §5.10: for every applied key, the original value, or null when the original lacked the key.
RichTextAttributes InvertAttributes(const RichTextAttributes& applied, const RichTextAttributes& original) {
  if (applied == nullptr || applied->entries.empty()) return nullptr;
  auto map = std::make_shared<RichTextAttributeMap>();
  map->entries.reserve(applied->entries.size());
  const RichTextAttribute* begin = original ? original->entries.data() : nullptr;
  const RichTextAttribute* end = original ? begin + original->entries.size() : nullptr;
  for (const RichTextAttribute& entry : applied->entries) {
    RichTextAttribute inverse;
    inverse.key = entry.key;
    const RichTextAttribute* found = std::lower_bound(
        begin, end, entry, [](const RichTextAttribute& x, const RichTextAttribute& y) { return x.key < y.key; });
    if (found != end && found->key == entry.key && found->value_id != 0) {
      inverse.value_id = found->value_id;
      inverse.value_json = found->value_json;
    } else {
      inverse.value_json = "null";
      map->has_null_values = true;
    }
    map->entries.push_back(std::move(inverse));
  }
  return map;
}

// Growing to the exact size on every op would copy the whole run list each time.
void ReserveGeometric(std::vector<RichTextRun>& runs, size_t needed) {
  if (runs.capacity() < needed) runs.reserve(std::max(needed, runs.capacity() * 2));
}

// A read-only cursor over a document's runs and text (Invert).
class RunReader {
 public:
  explicit RunReader(const RichTextDocument& document) : document_(document) {}
  bool has_text() const noexcept { return run_ < document_.run_count(); }
  // The next piece of at most `count` units, never crossing a run boundary.
  void Next(int64_t count, int64_t& length, const RichTextAttributes*& attributes, int64_t& position) {
    const RichTextRun& run = document_.run(run_);
    length = std::min(count, run.length - offset_);
    attributes = &run.attributes;
    position = position_;
    offset_ += length;
    position_ += length;
    if (offset_ >= run.length) {
      ++run_;
      offset_ = 0;
    }
  }

 private:
  const RichTextDocument& document_;
  size_t run_ = 0;
  int64_t offset_ = 0;
  int64_t position_ = 0;
};

// The text [position, position + length) of a gap buffer as two pieces (either may be empty).
std::pair<std::u16string_view, std::u16string_view> Slice(const Utf16GapBuffer& text, int64_t position,
                                                          int64_t length) {
  const std::u16string_view before = text.before();
  const std::u16string_view after = text.after();
  const auto pos = static_cast<size_t>(position);
  const auto len = static_cast<size_t>(length);
  if (pos + len <= before.size()) return {before.substr(pos, len), {}};
  if (pos >= before.size()) return {after.substr(pos - before.size(), len), {}};
  return {before.substr(pos), after.substr(0, pos + len - before.size())};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Attributes

bool RichTextAttributesEqual(const RichTextAttributes& a, const RichTextAttributes& b) noexcept {
  if (a == b) return true;
  if (a == nullptr || b == nullptr) return false;
  const auto& x = a->entries;
  const auto& y = b->entries;
  if (x.size() != y.size()) return false;
  for (size_t i = 0; i < x.size(); ++i) {
    if (x[i].value_id != y[i].value_id || x[i].key != y[i].key) return false;
  }
  return true;
}

RichTextAttributes MergeRichTextAttributes(const RichTextAttributes& base, const RichTextAttributes& update) {
  // Fast paths keep the same map object: same entries, same identities, hence equal.
  const bool base_clean = base == nullptr || (!base->has_null_values && !base->entries.empty());
  if (update == nullptr) {
    if (base_clean) return base;
  } else if (base == nullptr && !update->has_null_values) {
    return update->entries.empty() ? nullptr : update;
  }
  auto map = std::make_shared<RichTextAttributeMap>();
  static const std::vector<RichTextAttribute> kEmpty;
  const auto& a = base ? base->entries : kEmpty;
  const auto& b = update ? update->entries : kEmpty;
  map->entries.reserve(a.size() + b.size());
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j >= b.size() || (i < a.size() && a[i].key < b[j].key)) {
      if (a[i].value_id != 0) map->entries.push_back(a[i]);
      ++i;
    } else {
      if (i < a.size() && !(b[j].key < a[i].key)) ++i;
      if (b[j].value_id != 0) map->entries.push_back(b[j]);
      ++j;
    }
  }
  if (map->entries.empty()) return nullptr;
  return map;
}

Status ParseRichTextAttributes(std::string_view json_text, RichTextAttributes& out) {
  RawJsonTree& tree = ThreadTree();
  Status status = tree.Parse(json_text);
  if (!status.ok()) return status;
  if (tree.root().kind == JsonKind::kNull) {
    out = nullptr;
    return Status::Ok();
  }
  if (tree.root().kind != JsonKind::kObject) return Status::Error("attributes must be an object or null");
  out = ReadAttributeObject(tree, 0);
  return Status::Ok();
}

void AppendRichTextAttributes(std::string& out, const RichTextAttributes& attributes) {
  if (attributes == nullptr) {
    out.append("null");
    return;
  }
  out.push_back('{');
  bool first = true;
  for (const RichTextAttribute& entry : attributes->entries) {
    if (!first) out.push_back(',');
    first = false;
    json::AppendJsonString(out, entry.key);
    out.push_back(':');
    out.append(entry.value_json);
  }
  out.push_back('}');
}

// ---------------------------------------------------------------------------------------------
// RichTextOp

bool RichTextOp::AppendRetain(int64_t count, RichTextAttributes attributes) {
  if (count < 0) return false;
  components_.push_back({RichTextComponentKind::kRetain, 0, count, std::move(attributes)});
  return true;
}

bool RichTextOp::AppendDelete(int64_t count) {
  if (count < 0) return false;
  components_.push_back({RichTextComponentKind::kDelete, 0, count, nullptr});
  return true;
}

void RichTextOp::AppendInsert(std::u16string_view text, RichTextAttributes attributes) {
  components_.push_back({RichTextComponentKind::kInsert, static_cast<uint32_t>(text_.size()),
                         static_cast<int64_t>(text.size()), std::move(attributes)});
  text_.append(text);
}

void RichTextOp::PushRetain(int64_t count, const RichTextAttributes& attributes) {
  if (!components_.empty()) {
    Component& last = components_.back();
    if (last.kind == RichTextComponentKind::kRetain && RichTextAttributesEqual(last.attributes, attributes)) {
      last.count = SaturatingAdd(last.count, count);
      return;
    }
  }
  components_.push_back({RichTextComponentKind::kRetain, 0, count, attributes});
}

void RichTextOp::PushDelete(int64_t count) {
  if (!components_.empty() && components_.back().kind == RichTextComponentKind::kDelete) {
    components_.back().count = SaturatingAdd(components_.back().count, count);
    return;
  }
  components_.push_back({RichTextComponentKind::kDelete, 0, count, nullptr});
}

void RichTextOp::PushInsert(std::u16string_view text, const RichTextAttributes& attributes) {
  if (!components_.empty()) {
    Component& last = components_.back();
    // The last insert's text is the tail of text_, so appending extends it.
    if (last.kind == RichTextComponentKind::kInsert && RichTextAttributesEqual(last.attributes, attributes) &&
        last.text_offset + static_cast<size_t>(last.count) == text_.size()) {
      text_.append(text);
      last.count += static_cast<int64_t>(text.size());
      return;
    }
  }
  AppendInsert(text, attributes);
}

RichTextComponentView RichTextOp::operator[](size_t index) const noexcept {
  const Component& c = components_[index];
  std::u16string_view text;
  if (c.kind == RichTextComponentKind::kInsert) {
    text = std::u16string_view(text_.data() + c.text_offset, static_cast<size_t>(c.count));
  }
  return {c.kind, c.count, text, &c.attributes};
}

// ---------------------------------------------------------------------------------------------
// RichTextDocument

void RichTextDocument::AppendRun(std::u16string_view text, RichTextAttributes attributes) {
  if (text.empty()) return;
  // Appending at the end: move the editing position there first.
  Seek(static_cast<int64_t>(size()));
  text_.Reserve(text.size());
  text_.Insert(text_.size(), text.data(), text.size());
  PushLeft(static_cast<int64_t>(text.size()), std::move(attributes));
}

void RichTextDocument::Seek(int64_t position) {
  while (left_length_ > position) {
    right_.push_back(std::move(left_.back()));
    left_.pop_back();
    left_length_ -= right_.back().length;
  }
  while (!right_.empty() && left_length_ + right_.back().length <= position) {
    left_length_ += right_.back().length;
    left_.push_back(std::move(right_.back()));
    right_.pop_back();
  }
  if (left_length_ < position && !right_.empty()) {
    // Split: both halves share the attribute map, so they are equal and re-join in JoinAtPosition
    // unless an edit separates them.
    const int64_t piece = position - left_length_;
    left_.push_back({piece, right_.back().attributes});
    right_.back().length -= piece;
    left_length_ += piece;
  }
}

void RichTextDocument::PushLeft(int64_t length, RichTextAttributes attributes) {
  if (length <= 0) return;
  left_length_ += length;
  if (!left_.empty() && RichTextAttributesEqual(left_.back().attributes, attributes)) {
    left_.back().length += length;
    return;
  }
  left_.push_back({length, std::move(attributes)});
}

void RichTextDocument::JoinAtPosition() {
  if (left_.empty() || right_.empty()) return;
  if (!RichTextAttributesEqual(left_.back().attributes, right_.back().attributes)) return;
  left_.back().length += right_.back().length;
  left_length_ += right_.back().length;
  right_.pop_back();
}

// ---------------------------------------------------------------------------------------------
// Reading and writing

Status ParseRichTextOp(std::string_view payload_json, RichTextOp& out) {
  out.Clear();
  RawJsonTree& tree = ThreadTree();
  Status status = tree.Parse(payload_json);
  if (!status.ok()) return Invalid(status.message());
  const RawJsonNode& root = tree.root();
  if (root.kind != JsonKind::kObject) {
    return Invalid("the op must be a JSON object, not " + std::string(json::KindArticle(root.kind)) + ".");
  }
  bool found = false;
  std::string scratch;
  uint32_t child = 1;
  for (uint32_t i = 0; i < root.child_count; ++i) {
    const uint32_t member = child;
    child = tree.node(child).subtree_end;
    if (!AsciiIEquals(MemberName(tree.node(member).raw_key, scratch), "components")) continue;
    // The last occurrence wins, but each must bind.
    found = true;
    out.Clear();
    status = ParseComponents(tree, member, out);
    if (!status.ok()) {
      out.Clear();
      return status;
    }
  }
  if (!found) return Invalid("\"components\" is missing.");
  return Status::Ok();
}

void SerializeRichTextOp(const RichTextOp& op, std::string& out) {
  out.append(R"({"components":[)");
  for (size_t i = 0; i < op.size(); ++i) {
    if (i > 0) out.push_back(',');
    const RichTextComponentView c = op[i];
    switch (c.kind) {
      case RichTextComponentKind::kRetain:
        out.append(R"({"$type":"retain","count":)");
        json::AppendJsonInt(out, c.count);
        out.append(R"(,"attributes":)");
        AppendRichTextAttributes(out, *c.attributes);
        break;
      case RichTextComponentKind::kDelete:
        out.append(R"({"$type":"delete","count":)");
        json::AppendJsonInt(out, c.count);
        break;
      case RichTextComponentKind::kInsert:
        out.append(R"({"$type":"insert","text":)");
        json::AppendJsonString(out, c.text);
        out.append(R"(,"attributes":)");
        AppendRichTextAttributes(out, *c.attributes);
        break;
    }
    out.push_back('}');
  }
  out.append("]}");
}

// Snapshots are loaded normalized: empty runs dropped, null values and empty maps removed, and
// equal neighbours (only possible for runs without attributes) merged. The reference keeps a
// foreign snapshot as written until an Apply rebuilds the runs it passes; snapshots written by
// either server are already in this form.
Status LoadRichTextDocument(std::string_view snapshot_json, RichTextDocument& out) {
  RawJsonTree& tree = ThreadTree();
  Status status = tree.Parse(snapshot_json);
  if (!status.ok()) return InvalidSnapshot(status.message());
  const RawJsonNode& root = tree.root();
  if (root.kind != JsonKind::kObject) return InvalidSnapshot("not a JSON object.");
  std::string scratch;
  int64_t content = -1;  // absent or null: an empty document
  uint32_t child = 1;
  for (uint32_t i = 0; i < root.child_count; ++i) {
    const uint32_t member = child;
    const RawJsonNode& node = tree.node(member);
    child = node.subtree_end;
    if (!AsciiIEquals(MemberName(node.raw_key, scratch), "content")) continue;
    if (node.kind == JsonKind::kNull) {
      content = -1;
    } else if (node.kind == JsonKind::kArray) {
      content = member;
    } else {
      return InvalidSnapshot("\"content\" must be an array, not " + std::string(json::KindArticle(node.kind)) + ".");
    }
  }
  RichTextDocument document;
  if (content >= 0) {
    const RawJsonNode& array = tree.node(static_cast<uint32_t>(content));
    uint32_t run = static_cast<uint32_t>(content) + 1;
    std::u16string text;
    for (uint32_t i = 0; i < array.child_count; ++i) {
      const RawJsonNode& node = tree.node(run);
      const uint32_t run_index = run;
      run = node.subtree_end;
      if (node.kind != JsonKind::kObject) {
        return InvalidSnapshot("content[" + std::to_string(i) + "] must be an object, not " +
                               std::string(json::KindArticle(node.kind)) + ".");
      }
      text.clear();
      RichTextAttributes attributes;
      uint32_t member = run_index + 1;
      for (uint32_t m = 0; m < node.child_count; ++m) {
        const RawJsonNode& field = tree.node(member);
        const uint32_t field_index = member;
        member = field.subtree_end;
        const std::string_view name = MemberName(field.raw_key, scratch);
        if (AsciiIEquals(name, "text")) {
          text.clear();
          if (field.kind == JsonKind::kString) {
            scratch.clear();
            json::AppendUnescapedString(field.raw, scratch);
            json::AppendUtf8AsUtf16(scratch, text);
          } else if (field.kind != JsonKind::kNull) {
            return InvalidSnapshot("content[" + std::to_string(i) + "].text must be a string.");
          }
        } else if (AsciiIEquals(name, "attributes")) {
          if (field.kind == JsonKind::kObject) {
            attributes = ReadAttributeObject(tree, field_index);
          } else if (field.kind == JsonKind::kNull) {
            attributes = nullptr;
          } else {
            return InvalidSnapshot("content[" + std::to_string(i) + "].attributes must be an object or null.");
          }
        }
      }
      document.AppendRun(text, MergeRichTextAttributes(attributes, nullptr));
    }
  }
  out = std::move(document);
  return Status::Ok();
}

void SerializeRichTextDocument(const RichTextDocument& document, std::string& out) {
  out.reserve(out.size() + document.size() + 16 + document.run_count() * 32);
  out.append(R"({"content":[)");
  int64_t position = 0;
  for (size_t i = 0; i < document.run_count(); ++i) {
    const RichTextRun& run = document.run(i);
    if (i > 0) out.push_back(',');
    out.append(R"({"text":)");
    const auto [first, second] = Slice(document.text(), position, run.length);
    json::AppendJsonString(out, first, second);
    out.append(R"(,"attributes":)");
    AppendRichTextAttributes(out, run.attributes);
    out.push_back('}');
    position += run.length;
  }
  out.append("]}");
}

// ---------------------------------------------------------------------------------------------
// OT functions

Status ApplyRichTextOp(RichTextDocument& document, const RichTextOp& op) {
  const auto& components = op.components_;
  const Status out_of_memory = Status::Error("Not enough memory to apply the RichTextOp.");
  // Everything that can fail (memory only) happens before the first change: the text buffer and
  // the run stacks are reserved here, and phase 1 below computes every attribute map the walk
  // will store. A failure therefore leaves the document exactly as it was.
  size_t inserted = 0;
  for (const auto& c : components) {
    if (c.kind == RichTextComponentKind::kInsert) inserted += static_cast<size_t>(c.count);
  }
  const size_t runs = document.run_count();
  try {
    document.text_.Reserve(inserted);
    ReserveGeometric(document.left_, runs + 2 * components.size() + 2);
    ReserveGeometric(document.right_, runs + 1);
  } catch (const std::exception&) {
    return out_of_memory;
  }

  // Leading plain retains only move the editing position (§5.6 pushes those pieces unchanged: the
  // stored maps carry no null values, so merge(piece, null) is the piece's own map). Seek only
  // moves runs between the two stacks (reserved above), which changes no content.
  size_t first = 0;
  int64_t start = 0;
  const auto n = static_cast<int64_t>(document.size());
  while (first < components.size() && components[first].kind == RichTextComponentKind::kRetain &&
         components[first].attributes == nullptr) {
    start = std::min(n, SaturatingAdd(start, components[first].count));
    ++first;
  }
  document.Seek(start);
  auto& right = document.right_;

  // Phase 1 (read-only): the maps that phase 2 pushes, in the order it pushes them.
  thread_local std::vector<RichTextAttributes> merged;
  merged.clear();
  try {
    size_t next = right.size();  // the run being read is right[next - 1]
    int64_t offset = 0;          // units of it already read
    const auto piece = [&](int64_t k, const RichTextAttributes*& attributes) {
      const RichTextRun& run = right[next - 1];
      const int64_t length = std::min(k, run.length - offset);
      attributes = &run.attributes;
      offset += length;
      if (offset >= run.length) --next, offset = 0;
      return length;
    };
    for (size_t i = first; i < components.size(); ++i) {
      const auto& c = components[i];
      const RichTextAttributes* attributes = nullptr;
      int64_t k = c.count;
      switch (c.kind) {
        case RichTextComponentKind::kInsert:
          if (c.count > 0) merged.push_back(MergeRichTextAttributes(nullptr, c.attributes));
          break;
        case RichTextComponentKind::kRetain:
          while (k > 0 && next > 0) {
            k -= piece(k, attributes);
            if (c.attributes != nullptr) merged.push_back(MergeRichTextAttributes(*attributes, c.attributes));
          }
          break;
        case RichTextComponentKind::kDelete:
          while (k > 0 && next > 0) k -= piece(k, attributes);
          break;
      }
    }
  } catch (const std::exception&) {
    merged.clear();
    document.JoinAtPosition();  // re-joins a run Seek split; the content never changed
    return out_of_memory;
  }

  // Phase 2: the reference's run builder (§5.6) in place; nothing here allocates or throws.
  // Takes a piece of at most `count` units off the run after the editing position.
  const auto take = [&right](int64_t count, RichTextAttributes& attributes) noexcept -> int64_t {
    RichTextRun& next = right.back();
    if (count >= next.length) {
      const int64_t length = next.length;
      attributes = std::move(next.attributes);
      right.pop_back();
      return length;
    }
    next.length -= count;
    attributes = next.attributes;
    return count;
  };
  size_t m = 0;
  for (size_t i = first; i < components.size(); ++i) {
    const auto& c = components[i];
    switch (c.kind) {
      case RichTextComponentKind::kInsert: {
        if (c.count == 0) break;
        document.text_.Insert(static_cast<size_t>(document.left_length_), op.text_.data() + c.text_offset,
                              static_cast<size_t>(c.count));
        document.PushLeft(c.count, std::move(merged[m++]));
        break;
      }
      case RichTextComponentKind::kRetain: {
        int64_t k = c.count;
        while (k > 0 && !right.empty()) {
          RichTextAttributes piece;
          const int64_t length = take(k, piece);
          document.PushLeft(length, c.attributes == nullptr ? std::move(piece) : std::move(merged[m++]));
          k -= length;
        }
        break;
      }
      case RichTextComponentKind::kDelete: {
        int64_t k = c.count;
        while (k > 0 && !right.empty()) {
          RichTextAttributes piece;
          const int64_t length = take(k, piece);
          document.text_.Erase(static_cast<size_t>(document.left_length_), static_cast<size_t>(length));
          k -= length;
        }
        break;
      }
    }
  }
  merged.clear();
  document.JoinAtPosition();
  return Status::Ok();
}

bool TransformRichTextOp(const RichTextOp& incoming, const RichTextOp& existing, Priority priority, RichTextOp& out) {
  if (&out == &incoming || &out == &existing) {
    RichTextOp result;
    const bool has_result = TransformRichTextOp(incoming, existing, priority, result);
    out = std::move(result);
    return has_result;
  }
  out.Clear();
  static const RichTextAttributes kNone;
  Slicer a(incoming);
  Slicer b(existing);
  while (!a.done() || !b.done()) {
    const bool a_insert = a.is(RichTextComponentKind::kInsert);
    const bool b_insert = b.is(RichTextComponentKind::kInsert);
    if (a_insert && b_insert) {
      if (priority == Priority::kIncomingWins) {
        out.PushInsert(a.rest_text(), a.attributes());
        a.Next();
      } else {
        out.PushRetain(b.remaining(), kNone);
        b.Next();
      }
    } else if (b_insert) {
      out.PushRetain(b.remaining(), kNone);
      b.Next();
    } else if (a_insert) {
      out.PushInsert(a.rest_text(), a.attributes());  // verbatim, null-valued attributes included
      a.Next();
    } else if (a.done()) {
      break;
    } else if (b.done()) {
      PushRest(a, out);
      a.Next();
    } else {
      const int64_t k = std::min(a.remaining(), b.remaining());
      const bool b_delete = b.kind() == RichTextComponentKind::kDelete;
      if (a.kind() == RichTextComponentKind::kDelete) {
        if (!b_delete) out.PushDelete(k);
      } else if (!b_delete) {
        if (a.attributes() == nullptr) {
          out.PushRetain(k, kNone);
        } else {
          out.PushRetain(k, TransformAttributes(a.attributes(), b.attributes(), priority));
        }
      }
      a.Consume(k);
      b.Consume(k);
    }
  }
  return !out.empty();
}

bool ComposeRichTextOps(const RichTextOp& first, const RichTextOp& second, RichTextOp& out) {
  if (&out == &first || &out == &second) {
    RichTextOp result;
    const bool has_result = ComposeRichTextOps(first, second, result);
    out = std::move(result);
    return has_result;
  }
  out.Clear();
  Slicer a(first);
  Slicer b(second);
  while (!a.done() || !b.done()) {
    if (b.is(RichTextComponentKind::kInsert)) {
      PushRest(b, out);
      b.Next();
    } else if (a.is(RichTextComponentKind::kDelete)) {
      PushRest(a, out);
      a.Next();
    } else if (a.done()) {
      PushRest(b, out);
      b.Next();
    } else if (b.done()) {
      PushRest(a, out);
      a.Next();
    } else {
      const int64_t la = a.remaining();
      const int64_t lb = b.remaining();
      if (la == 0 && a.kind() == RichTextComponentKind::kInsert) {
        PushRest(a, out);
        a.Next();
        continue;
      }
      const int64_t k = std::min(la, lb);
      if (k <= 0) {
        if (la == 0) a.Next();
        if (lb == 0) b.Next();
        continue;
      }
      const bool b_retain = b.kind() == RichTextComponentKind::kRetain;
      if (a.kind() == RichTextComponentKind::kInsert) {
        if (b_retain) out.PushInsert(a.text(k), MergeRichTextAttributes(a.attributes(), b.attributes()));
      } else if (b_retain) {
        out.PushRetain(k, ComposeRetainAttributes(a.attributes(), b.attributes()));
      } else {
        out.PushDelete(k);
      }
      a.Consume(k);
      b.Consume(k);
    }
  }
  return !out.empty();
}

void InvertRichTextOp(const RichTextOp& op, const RichTextDocument& pre_state, RichTextOp& out) {
  if (&out == &op) {
    RichTextOp result;
    InvertRichTextOp(op, pre_state, result);
    out = std::move(result);
    return;
  }
  out.Clear();
  static const RichTextAttributes kNone;
  RunReader reader(pre_state);
  const Utf16GapBuffer& text = pre_state.text();
  std::u16string deleted;
  for (size_t i = 0; i < op.size(); ++i) {
    const RichTextComponentView c = op[i];
    int64_t k = c.count;
    int64_t length = 0, position = 0;
    const RichTextAttributes* attributes = nullptr;
    switch (c.kind) {
      case RichTextComponentKind::kInsert:
        out.PushDelete(c.count);
        break;
      case RichTextComponentKind::kRetain:
        if (*c.attributes == nullptr) {
          out.PushRetain(k, kNone);
          // D6: advance over every run the retain spans (the reference stops after one).
          while (k > 0 && reader.has_text()) {
            reader.Next(k, length, attributes, position);
            k -= length;
          }
          break;
        }
        while (k > 0 && reader.has_text()) {
          reader.Next(k, length, attributes, position);
          k -= length;
          out.PushRetain(length, InvertAttributes(*c.attributes, *attributes));
        }
        if (k > 0) out.PushRetain(k, InvertAttributes(*c.attributes, nullptr));
        break;
      case RichTextComponentKind::kDelete:
        while (k > 0 && reader.has_text()) {
          reader.Next(k, length, attributes, position);
          k -= length;
          deleted.clear();
          text.CopyTo(static_cast<size_t>(position), static_cast<size_t>(length), deleted);
          out.PushInsert(deleted, *attributes);
        }
        break;
    }
  }
}

bool IsRichTextNoOp(const RichTextOp& op) noexcept {
  for (size_t i = 0; i < op.size(); ++i) {
    const RichTextComponentView c = op[i];
    switch (c.kind) {
      case RichTextComponentKind::kRetain:
        if (*c.attributes != nullptr) return false;
        break;
      case RichTextComponentKind::kInsert:
      case RichTextComponentKind::kDelete:
        if (c.count != 0) return false;
        break;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Engine

const RichTextDocument* AsRichTextDocument(const DocumentState& state) noexcept {
  return ExactCast<RichTextDocument>(state);
}

const RichTextOp* AsRichTextOp(const Op& op) noexcept { return ExactCast<RichTextOp>(op); }

// The session layer expects no exceptions; only allocation can throw inside, and it becomes a
// rejection, a null result or nothing appended.

std::unique_ptr<DocumentState> RichTextEngine::CreateEmpty() const { return std::make_unique<RichTextDocument>(); }

Status RichTextEngine::LoadState(std::string_view snapshot_json, std::unique_ptr<DocumentState>& out) const {
  return ParseIntoNew<RichTextDocument>(snapshot_json, out, LoadRichTextDocument,
                                        "Not enough memory to load the rich-text snapshot.");
}

void RichTextEngine::SerializeState(const DocumentState& state, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const RichTextDocument* document = AsRichTextDocument(state)) SerializeRichTextDocument(*document, out);
  });
}

Status RichTextEngine::ParseOp(std::string_view payload_json, std::unique_ptr<Op>& out) const {
  return ParseIntoNew<RichTextOp>(payload_json, out, ParseRichTextOp,
                                  "Invalid RichTextOp: not enough memory to read the op.");
}

void RichTextEngine::SerializeOp(const Op& op, std::string& out) const {
  AppendOrRollBack(out, [&] {
    if (const RichTextOp* rich = AsRichTextOp(op)) SerializeRichTextOp(*rich, out);
  });
}

std::unique_ptr<Op> RichTextEngine::Transform(const Op& incoming, const Op& existing, Priority priority) const {
  const RichTextOp* a = AsRichTextOp(incoming);
  const RichTextOp* b = AsRichTextOp(existing);
  if (a == nullptr || b == nullptr) return nullptr;
  try {
    auto out = std::make_unique<RichTextOp>();
    if (!TransformRichTextOp(*a, *b, priority, *out)) return nullptr;
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

bool RichTextEngine::IsNoOp(const Op& op) const {
  const RichTextOp* rich = AsRichTextOp(op);
  return rich == nullptr || IsRichTextNoOp(*rich);
}

Status RichTextEngine::Apply(DocumentState& state, const Op& op) const {
  auto* document = ExactCast<RichTextDocument>(state);
  const RichTextOp* rich = AsRichTextOp(op);
  if (document == nullptr) return Status::Error("The rich-text engine cannot apply an op to this document.");
  if (rich == nullptr) return Status::Error("The rich-text engine can only apply a RichTextOp.");
  return ApplyRichTextOp(*document, *rich);
}

std::unique_ptr<Op> RichTextEngine::Compose(const Op& first, const Op& second) const {
  const RichTextOp* a = AsRichTextOp(first);
  const RichTextOp* b = AsRichTextOp(second);
  if (a == nullptr || b == nullptr) return nullptr;
  try {
    auto out = std::make_unique<RichTextOp>();
    if (!ComposeRichTextOps(*a, *b, *out)) return nullptr;
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::unique_ptr<Op> RichTextEngine::Invert(const Op& op, const DocumentState& pre_state) const {
  const RichTextOp* rich = AsRichTextOp(op);
  const RichTextDocument* document = AsRichTextDocument(pre_state);
  if (rich == nullptr || document == nullptr) return nullptr;
  try {
    auto out = std::make_unique<RichTextOp>();
    InvertRichTextOp(*rich, *document, *out);
    return out;
  } catch (const std::exception&) {
    return nullptr;
  }
}

std::shared_ptr<const Engine> MakeRichTextEngine() { return std::make_shared<const RichTextEngine>(); }

}  // namespace opstream::engines
