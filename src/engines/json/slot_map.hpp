#pragma once
// A string-keyed map that enumerates like the .NET Dictionary (engines.md §1.5): entries live in
// slots, a removal frees its slot onto a LIFO stack, a new key takes the most recently freed slot
// (or a new one at the end), and enumeration walks the slots in index order. Copies are compact.
//
// Exact lookups go through a hash index; keys can also be listed by prefix (the JSON engine's
// "descendants of p") through a sorted index, so that hierarchy checks cost O(log n + matches)
// instead of a scan. The hash index holds views of the sorted index's keys (its nodes are stable).
#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace opstream::engines::json {

template <typename V>
class SlotMap {
  using Index = std::map<std::string, uint32_t, std::less<>>;

 public:
  SlotMap() = default;
  SlotMap(SlotMap&&) noexcept = default;
  SlotMap& operator=(SlotMap&&) noexcept = default;
  // Compact copy in enumeration order, like copying a Dictionary.
  SlotMap(const SlotMap& other) {
    slots_.reserve(other.size());
    other.ForEach([&](std::string_view key, const V& value) { Insert(key, value); });
  }
  SlotMap& operator=(const SlotMap& other) {
    if (this != &other) *this = SlotMap(other);
    return *this;
  }

  size_t size() const noexcept { return index_.size(); }
  bool empty() const noexcept { return index_.empty(); }
  // Slots including free ones; slot indices are below this.
  uint32_t slot_count() const noexcept { return static_cast<uint32_t>(slots_.size()); }
  bool has_free_slots() const noexcept { return !free_.empty(); }

  V* Find(std::string_view key) noexcept {
    auto it = hash_.find(key);
    return it == hash_.end() ? nullptr : &*slots_[it->second].value;
  }
  const V* Find(std::string_view key) const noexcept {
    auto it = hash_.find(key);
    return it == hash_.end() ? nullptr : &*slots_[it->second].value;
  }
  bool Contains(std::string_view key) const noexcept { return hash_.find(key) != hash_.end(); }

  // Inserts a new key (in the most recently freed slot) or replaces the value in place.
  // Returns the slot.
  template <typename T>
  uint32_t InsertOrAssign(std::string_view key, T&& value) {
    auto it = hash_.find(key);
    if (it != hash_.end()) {
      slots_[it->second].value = std::forward<T>(value);
      return it->second;
    }
    return Insert(key, std::forward<T>(value));
  }

  // Removes `key` if present; its slot goes on the free stack.
  bool Erase(std::string_view key) {
    auto it = hash_.find(key);
    if (it == hash_.end()) return false;
    EraseSlot(it->second);
    return true;
  }
  void EraseSlot(uint32_t slot) {
    Slot& s = slots_[slot];
    if (!s.value) return;
    free_.push_back(slot);  // may throw before anything changed
    s.value.reset();
    hash_.erase(std::string_view(s.key->first));
    index_.erase(s.key);
    s.key = index_.end();
  }
  // Removes the slot at the end (the newest append) without touching the free stack; used to roll
  // back an insertion. Never throws.
  void PopBackSlot() noexcept {
    Slot& s = slots_.back();
    if (s.value) {
      hash_.erase(std::string_view(s.key->first));
      index_.erase(s.key);
    }
    slots_.pop_back();
  }

  bool IsUsed(uint32_t slot) const noexcept { return slot < slots_.size() && slots_[slot].value.has_value(); }
  const std::string& KeyAt(uint32_t slot) const noexcept { return slots_[slot].key->first; }
  V& ValueAt(uint32_t slot) noexcept { return *slots_[slot].value; }
  const V& ValueAt(uint32_t slot) const noexcept { return *slots_[slot].value; }
  // Slot of `key`, or nullopt.
  std::optional<uint32_t> SlotOf(std::string_view key) const noexcept {
    auto it = hash_.find(key);
    if (it == hash_.end()) return std::nullopt;
    return it->second;
  }

  // Enumeration order: fn(key, value).
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.value) fn(std::string_view(s.key->first), *s.value);
    }
  }

  // Slots of the keys that start with `prefix`, in enumeration order (appended to `out`).
  void SlotsWithPrefix(std::string_view prefix, std::vector<uint32_t>& out) const {
    const size_t first = out.size();
    for (auto it = index_.lower_bound(prefix); it != index_.end(); ++it) {
      if (std::string_view(it->first).substr(0, prefix.size()) != prefix) break;
      out.push_back(it->second);
    }
    std::sort(out.begin() + static_cast<std::ptrdiff_t>(first), out.end());
  }

  void Reserve(size_t n) {
    slots_.reserve(n);
    hash_.reserve(n);
  }

 private:
  struct Slot {
    typename Index::iterator key;
    std::optional<V> value;
  };

  template <typename T>
  uint32_t Insert(std::string_view key, T&& value) {
    uint32_t slot;
    if (!free_.empty()) {
      slot = free_.back();
      auto [it, inserted] = index_.emplace(std::string(key), slot);
      (void)inserted;
      try {
        hash_.emplace(std::string_view(it->first), slot);
        try {
          slots_[slot].value.emplace(std::forward<T>(value));
        } catch (...) {
          hash_.erase(std::string_view(it->first));
          throw;
        }
      } catch (...) {
        index_.erase(it);
        throw;
      }
      slots_[slot].key = it;
      free_.pop_back();
    } else {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.reserve(slots_.size() + 1 > slots_.capacity() ? slots_.capacity() * 2 + 8 : slots_.capacity());
      auto [it, inserted] = index_.emplace(std::string(key), slot);
      (void)inserted;
      try {
        hash_.emplace(std::string_view(it->first), slot);
        try {
          slots_.push_back(Slot{it, std::optional<V>(std::forward<T>(value))});
        } catch (...) {
          hash_.erase(std::string_view(it->first));
          throw;
        }
      } catch (...) {
        index_.erase(it);
        throw;
      }
    }
    return slot;
  }

  Index index_;
  std::unordered_map<std::string_view, uint32_t> hash_;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace opstream::engines::json
