#pragma once
// Conventions shared by the table and tree CRDT engines (engines.md §1):
//
// * Ids, peers and positions are kept as UTF-8 and compared in UTF-16 ordinal order (§1.2).
// * LWW registers compare (timestamp, peer) (§1.6); the wall clock is epoch milliseconds (§1.7).
// * SlotMap reproduces the .NET Dictionary enumeration order with slot reuse (§1.5).
// * Op and snapshot fields are read from a RawJsonTree with the binder's rules (§1.3): names
//   case-insensitive (last duplicate wins), integer literals only, opaque values re-emitted in the
//   reference's normalized form (§1.4).
//
// (These live in the table folder; the tree engine includes them too.)
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.hpp"
#include "engines/json/raw_json.hpp"

namespace opstream::engines::crdt {

// Ordinal comparison of two UTF-8 strings in UTF-16 code-unit order (§1.2). UTF-8 byte order is
// code-point order, which differs from UTF-16 order only where a BMP character U+E000–U+FFFF (lead
// byte 0xEE/0xEF) meets a supplementary one (lead byte 0xF0–0xF4, a surrogate pair in UTF-16):
// lifting 0xEE/0xEF above 0xF4 at the first difference restores UTF-16 order.
inline int OrdinalCompare(std::string_view a, std::string_view b) noexcept {
  const size_t n = a.size() < b.size() ? a.size() : b.size();
  for (size_t i = 0; i < n; ++i) {
    if (a[i] == b[i]) continue;
    auto x = static_cast<unsigned>(static_cast<unsigned char>(a[i]));
    auto y = static_cast<unsigned>(static_cast<unsigned char>(b[i]));
    if (x == 0xEE || x == 0xEF) x += 0x10;
    if (y == 0xEE || y == 0xEF) y += 0x10;
    return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// §1.6: the incoming write (ts, peer) wins against the stored (ts0, peer0); equal pairs do not win.
inline bool LwwWins(int64_t ts, std::string_view peer, int64_t ts0, std::string_view peer0) noexcept {
  if (ts != ts0) return ts > ts0;
  return OrdinalCompare(peer, peer0) > 0;
}

// §1.7: current UTC time in milliseconds since the Unix epoch.
int64_t WallClockMillis();

// `ts + 1` with .NET's unchecked (wrapping) long arithmetic.
inline int64_t WrappingIncrement(int64_t ts) noexcept { return static_cast<int64_t>(static_cast<uint64_t>(ts) + 1u); }

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// An ordered map with .NET Dictionary enumeration order (§1.5): new keys take the most recently
// freed slot, else a new one; updates keep the slot; removal frees the slot; enumeration walks
// slots in index order. Lookups are O(1) through a hash index.
template <typename V>
class SlotMap {
 public:
  struct Slot {
    std::string key;
    V value;
    bool used = false;
  };

  size_t size() const noexcept { return index_.size(); }
  bool empty() const noexcept { return index_.empty(); }
  bool has_free_slots() const noexcept { return !free_.empty(); }

  V* Find(std::string_view key) noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second].value;
  }
  const V* Find(std::string_view key) const noexcept {
    auto it = index_.find(key);
    return it == index_.end() ? nullptr : &slots_[it->second].value;
  }

  // Inserts or updates; returns the stored value.
  V& Set(std::string_view key, V value) {
    if (V* existing = Find(key)) {
      *existing = std::move(value);
      return *existing;
    }
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.key.assign(key);
    s.value = std::move(value);
    s.used = true;
    index_.emplace(s.key, slot);
    return s.value;
  }

  // Returns the value for `key`, inserting `make()` when absent.
  template <typename Make>
  V& GetOrInsert(std::string_view key, Make&& make) {
    if (V* existing = Find(key)) return *existing;
    return Set(key, make());
  }

  bool Remove(std::string_view key) {
    auto it = index_.find(key);
    if (it == index_.end()) return false;
    const uint32_t slot = it->second;
    index_.erase(it);
    slots_[slot].used = false;
    slots_[slot].key.clear();
    slots_[slot].value = V();
    free_.push_back(slot);
    return true;
  }

  // What copying the .NET dictionary does: the same entries, in enumeration order, no free slots.
  void Compact() {
    if (free_.empty()) return;
    std::vector<Slot> compacted;
    compacted.reserve(index_.size());
    for (auto& s : slots_) {
      if (s.used) compacted.push_back(std::move(s));
    }
    slots_ = std::move(compacted);
    free_.clear();
    index_.clear();
    for (uint32_t i = 0; i < slots_.size(); ++i) index_.emplace(slots_[i].key, i);
  }

  void Reserve(size_t n) {
    slots_.reserve(n);
    index_.reserve(n);
  }

  // Calls f(key, value) in enumeration order.
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& s : slots_) {
      if (s.used) f(std::string_view(s.key), s.value);
    }
  }

 private:
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
  // Keys are owned by the slots; std::string moves keep their heap buffers, but short strings live
  // inside the object, so the index owns copies rather than views. An open-addressing map keeps
  // lookups to about one cache miss on large documents.
  boost::unordered_flat_map<std::string, uint32_t, StringHash, std::equal_to<>> index_;
};

// Where a value sits, for error messages: `prefix`, then `[index]` or `["key"]` if given, then
// `suffix`, e.g. `Invalid TableOpBatch: operations[2]`. Built only when a message is needed, so
// reading valid input allocates nothing for it.
struct Location {
  std::string_view prefix;
  int64_t index = -1;
  std::string_view key = {};
  std::string_view suffix = {};
  bool has_key = false;

  static Location Indexed(std::string_view prefix, int64_t index, std::string_view suffix = {}) {
    return Location{prefix, index, {}, suffix, false};
  }
  static Location Keyed(std::string_view prefix, std::string_view key, std::string_view suffix = {}) {
    return Location{prefix, -1, key, suffix, true};
  }
  std::string Text() const;
};

// Field access on one object node of a parsed payload, with the §1.3 binder rules and error
// messages naming the field (e.g. "operations[2].rowId").
class FieldReader {
 public:
  FieldReader(const json::RawJsonTree& tree, uint32_t object, Location where);

  // Node of the field, or nullopt when absent.
  std::optional<uint32_t> Node(std::string_view name) const;
  // A required non-null string.
  Status RequiredString(std::string_view name, std::string& out) const;
  // A string that may be absent or null (then `fallback`).
  Status OptionalString(std::string_view name, std::string& out, std::string_view fallback) const;
  // An int64 integer literal; absent means 0 (the binder's default).
  Status Int64(std::string_view name, int64_t& out) const;
  // A boolean; absent means false.
  Status Bool(std::string_view name, bool& out) const;
  // A required opaque value (JSON null allowed, absent is not), normalized per §1.4.
  Status RequiredValue(std::string_view name, std::string& out) const;
  // An opaque value; absent means JSON null.
  void OptionalValue(std::string_view name, std::string& out) const;

  Status Error(std::string_view name, std::string_view problem) const;
  const Location& where() const noexcept { return where_; }

 private:
  // The members of a small object whose names have no escapes, scanned once so that each field
  // lookup compares names in place (snapshot rows and ops have 4–10 members). Other objects use
  // RawJsonTree::FindMemberIgnoreCase, which unescapes names.
  struct Member {
    std::string_view name;  // raw name without its quotes
    uint32_t node;
  };
  static constexpr uint32_t kIndexedMembers = 16;

  const json::RawJsonTree& tree_;
  uint32_t object_;
  Location where_;
  bool indexed_ = false;
  uint32_t member_count_ = 0;
  Member members_[kIndexedMembers];
};

// Normalized (§1.4) text of the opaque value at `node`.
std::string NormalizedValue(const json::RawJsonTree& tree, uint32_t node);

// Iterates the members (name unescaped, value node) of an object node.
template <typename F>
void ForEachMember(const json::RawJsonTree& tree, uint32_t object, F&& f) {
  const auto& o = tree.node(object);
  uint32_t child = object + 1;
  for (uint32_t k = 0; k < o.child_count; ++k) {
    f(json::UnescapeString(tree.node(child).raw_key), child);
    child = tree.node(child).subtree_end;
  }
}

template <typename F>
void ForEachElement(const json::RawJsonTree& tree, uint32_t array, F&& f) {
  const auto& a = tree.node(array);
  uint32_t child = array + 1;
  for (uint32_t k = 0; k < a.child_count; ++k) {
    f(k, child);
    child = tree.node(child).subtree_end;
  }
}

// The `operations` array of a batch payload: the root must be an object whose `operations`
// (case-insensitive) is an array. `type_name` names the op type in messages ("TableOpBatch").
Status FindOperations(const json::RawJsonTree& tree, std::string_view type_name, uint32_t& array);

// The "$type" discriminator of an op object (name and value exact, anywhere in the object: D8).
Status ReadDiscriminator(const json::RawJsonTree& tree, uint32_t object, const Location& where, std::string& out);

}  // namespace opstream::engines::crdt
