#pragma once
// UTF-16 text with a movable gap at the editing position. Edits near the previous one (typing,
// backspacing) cost O(1) plus the distance moved, which makes small in-place ops on large
// documents cheap.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace opstream::engines {

class Utf16GapBuffer {
 public:
  Utf16GapBuffer() = default;
  explicit Utf16GapBuffer(std::u16string_view text) { Assign(text); }
  Utf16GapBuffer(const Utf16GapBuffer& other) { *this = other; }
  Utf16GapBuffer& operator=(const Utf16GapBuffer& other);
  Utf16GapBuffer(Utf16GapBuffer&&) noexcept = default;
  Utf16GapBuffer& operator=(Utf16GapBuffer&&) noexcept = default;

  size_t size() const noexcept { return capacity_ - (gap_end_ - gap_begin_); }
  bool empty() const noexcept { return size() == 0; }
  char16_t at(size_t pos) const noexcept { return pos < gap_begin_ ? data_[pos] : data_[pos + gap_end_ - gap_begin_]; }

  // The text is before() followed by after().
  std::u16string_view before() const noexcept { return {data_.get(), gap_begin_}; }
  std::u16string_view after() const noexcept { return {data_.get() + gap_end_, capacity_ - gap_end_}; }
  std::u16string Text() const;
  // Appends units [pos, pos + count) (clipped to the text) to `out`.
  void CopyTo(size_t pos, size_t count, std::u16string& out) const;
  bool Equals(std::u16string_view text) const noexcept;

  void Assign(std::u16string_view text);
  // Ensures `extra` more units fit without reallocating. May throw std::bad_alloc; callers reserve
  // before they start modifying so that a failure leaves the text untouched.
  void Reserve(size_t extra);
  // Inserts at `pos` (<= size()). Requires Reserve(count) beforehand.
  void Insert(size_t pos, const char16_t* units, size_t count) noexcept;
  // Removes [pos, pos + count), which must lie inside the text.
  void Erase(size_t pos, size_t count) noexcept;

 private:
  void MoveGapTo(size_t pos) noexcept;

  std::unique_ptr<char16_t[]> data_;
  size_t capacity_ = 0;
  size_t gap_begin_ = 0;
  size_t gap_end_ = 0;
};

}  // namespace opstream::engines
